/**
 * The FHIR store port (house-style convention 1): everything the core needs from a FHIR R4 server. The HTTP adapter
 * (src/adapters/fhir/fhir-http-store.ts) implements it over the network; src/adapters/fhir/memory-fhir-store.ts in
 * memory (the tests extend it with fault hooks in test/helpers/). Failures are {@link PipelineError}s with FHIR_* codes (409/412 → `FHIR_CONFLICT`).
 *
 * See: https://hl7.org/fhir/R4/http.html
 */
import type { ExtractResource, Identifier, Resource, ResourceType } from '@medplum/fhirtypes';
import type { PipelineError } from '../errors';

/** A resource of type K. */
export type ResourceOf<K extends ResourceType> = ExtractResource<K>;

/** An identifier search. */
export interface IdentifierQuery {
  readonly resourceType: ResourceType;
  /** `system` omitted: any system matches; `''`: only identifiers without a system. */
  readonly identifier: Pick<Identifier, 'system' | 'value'>;
}

/** Options of a PUT. */
export interface PutOptions {
  /** The versionId the resource must still have (`If-Match`); a mismatch is `FHIR_CONFLICT`. */
  readonly ifMatch?: string;
}

/** One PUT of a {@link FhirStore.putMany}. */
export interface PutRequest extends PutOptions {
  /** The resource, with its id. */
  readonly resource: Resource;
}

/** What a PUT produced. */
export interface PutResult<T extends Resource> {
  /** The stored resource, with `meta.versionId`. */
  readonly resource: T;
  /** True when the PUT created the resource (201), false when it replaced an existing one (200). */
  readonly created: boolean;
}

/** A per-item result of a many-operation: one item's failure does not fail the others. */
export type FhirResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: PipelineError };

/** The port. */
export interface FhirStore {
  /**
   * Reads a resource; `undefined` when it does not exist or was deleted.
   * @param resourceType - the type
   * @param id - the logical id
   */
  read<K extends ResourceType>(resourceType: K, id: string): Promise<ResourceOf<K> | undefined>;
  /**
   * Reads one version of a resource (`vread`); `undefined` when that version does not exist.
   * @param resourceType - the type
   * @param id - the logical id
   * @param versionId - the version
   */
  readVersion<K extends ResourceType>(
    resourceType: K,
    id: string,
    versionId: string,
  ): Promise<ResourceOf<K> | undefined>;
  /**
   * All resources of a type carrying the identifier (exact match, over all result pages).
   * @param resourceType - the type
   * @param identifier - `system` (omit to match any system, `''` for none) and `value`
   */
  searchByIdentifier<K extends ResourceType>(
    resourceType: K,
    identifier: Pick<Identifier, 'system' | 'value'>,
  ): Promise<ResourceOf<K>[]>;
  /**
   * Creates or updates a resource at its id (`PUT [type]/[id]`, update-as-create).
   * @param resource - the resource, with an id
   * @param options - `ifMatch`: the expected current versionId
   */
  put<T extends Resource>(resource: T, options?: PutOptions): Promise<PutResult<T>>;
  /**
   * Runs several identifier searches in one round trip where the server allows (a batch Bundle). One result per
   * query, in order.
   * @param queries - the searches
   */
  searchManyByIdentifier(queries: readonly IdentifierQuery[]): Promise<FhirResult<Resource[]>[]>;
  /**
   * Runs several PUTs in one round trip where the server allows (a batch Bundle, not a transaction: entries succeed
   * or fail independently). One result per request, in order.
   * @param requests - the resources and their expected versions
   */
  putMany(requests: readonly PutRequest[]): Promise<FhirResult<PutResult<Resource>>[]>;
}
