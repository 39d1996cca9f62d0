/**
 * The embedded FHIR R4 server of the local stack, the CLI debugger and the tests.
 *
 * It is @medplum/fhir-router 4.5.2 (FhirRouter + MemoryRepository: FHIR REST semantics from a maintained library)
 * behind node:http, with what platform-notes §7 measured as missing:
 * - an identifier index: `GET [type]?identifier=[system|]value` in O(1) (exact token semantics: `system|value`,
 *   `|value` for no system, `value` for any system), kept right on every write and delete; other searches go to
 *   medplum (`subject=`, `device=`, `code=`, `date=`, `_sort`, …), paged with `_count` (default 20, max 1000)
 *   and `next` links;
 * - per-identity serialization of writes: conditional create (`If-None-Exist`), conditional update
 *   (`PUT [type]?identifier=…`), create, and PUT by id hold locks on the identifier values and `Type/id` they touch,
 *   so concurrent conditional creates of one identifier make one resource and concurrent PUTs with one `If-Match`
 *   let exactly one through;
 * - validation of every written resource with @medplum/core `validateResource` (400 OperationOutcome);
 * - version ids numbered 1, 2, 3… per resource, as Azure Health Data Services and HAPI number them (medplum's are
 *   random UUIDs; the pipeline's create-race repair reads the replaced version as `versionId − 1`);
 * - `ETag: W/"<versionId>"`, `Last-Modified`, `Location` on 201, strict `If-Match` (412 when stale or when the
 *   resource does not exist), `Prefer: return=minimal|representation|OperationOutcome`;
 * - `PUT [type]/[id]` with a client id (FHIR ids up to 64 characters, e.g. SHA-256 hex) gives 201 then 200;
 * - batch Bundles of up to 500 entries (Azure Health Data Services' limit), each entry through the same locks and
 *   validation, with `etag`/`lastModified` in each response entry;
 * - optional snapshot persistence of the current versions (`<dataDir>/fhir-snapshot.json`, atomic rename).
 *
 * Known limits, by design of a dev server:
 * - **Transactions are not atomic.** A transaction Bundle fails as a whole on its first failing entry (and medplum
 *   refuses more than 50 updates, or more than 8 entries when it holds conditional writes), but the entries written
 *   before the failure stay written: MemoryRepository cannot roll back. The pipeline uses `batch`.
 * - Every version stays in memory (history and vread work); a snapshot keeps current versions only, so after a
 *   restart the history starts at the current version (version ids, hence ETags, survive).
 * - A delete leaves no tombstone: reading a deleted resource gives 404 (not 410).
 * - Criteria without an `identifier` serialize only against identical criteria.
 * - No authentication: it binds 127.0.0.1 unless told otherwise.
 */
export type { EmbeddedFhirRepository, EmbeddedFhirServer, FhirServerOptions } from './start-fhir-server';
export { startFhirServer } from './start-fhir-server';
export { MAX_BUNDLE_ENTRIES } from './http-handler';
