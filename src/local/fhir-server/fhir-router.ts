import { allOk, badRequest, created, preconditionFailed, singularize } from '@medplum/core';
import type { FhirRequest, FhirRouteHandler, HttpMethod } from '@medplum/fhir-router';
import { FhirRouter } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import { parseIdentifierTokens } from './identifier-index';
import type { IndexedMemoryRepository } from './indexed-memory-repository';
import { KeyedMutex } from './keyed-mutex';

/** FHIR R4 `id`: https://hl7.org/fhir/R4/datatypes.html#id (our Observation ids are 64 hex characters). */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A parsed `If-Match` header. */
type Precondition =
  | { readonly kind: 'none' }
  | { readonly kind: 'any' }
  | { readonly kind: 'version'; readonly versionId: string }
  | { readonly kind: 'invalid' };

/**
 * Parses `If-Match`. medplum's own parser ignores a value without quotes, which would turn a client's version check
 * into a blind overwrite; here a bare version id is accepted and anything else is a 400.
 * @param header - the header value
 * @returns the precondition
 */
export function parseIfMatch(header: string | string[] | undefined): Precondition {
  const value = header === undefined ? undefined : singularize(header)?.trim();
  if (value === undefined || value === '') {
    return { kind: 'none' };
  }
  if (value === '*') {
    return { kind: 'any' };
  }
  const match = /^(?:W\/)?"([^"]+)"$/.exec(value) ?? /^([A-Za-z0-9\-.]+)$/.exec(value);
  return match?.[1] === undefined ? { kind: 'invalid' } : { kind: 'version', versionId: match[1] };
}

/** The lock key of one identifier value: every form of identifier search on that value shares it. */
function identifierKey(resourceType: string, value: string): string {
  return `${resourceType}|identifier|${value}`;
}

/** Keys of the identifiers a resource body carries (a write that may create a match of those identifiers). */
function bodyKeys(resourceType: string, body: unknown): string[] {
  const identifier = (body as { identifier?: unknown } | undefined)?.identifier;
  const identifiers: unknown[] = Array.isArray(identifier) ? identifier : [identifier];
  return identifiers.flatMap((item) => {
    const value = (item as { value?: unknown } | undefined)?.value;
    return typeof value === 'string' ? [identifierKey(resourceType, value)] : [];
  });
}

/**
 * Keys of a conditional request's criteria. Criteria with an `identifier` token lock its values (any resource they
 * match carries one of them, and every write of such a resource locks it through {@link bodyKeys}); other criteria
 * lock their own canonical text, so identical criteria run one at a time.
 */
function criteriaKeys(resourceType: string, criteria: URLSearchParams): string[] {
  const tokens = criteria.getAll('identifier').map(parseIdentifierTokens);
  if (tokens.length > 0 && tokens.every((t) => t !== undefined)) {
    return tokens.flat().map((token) => identifierKey(resourceType, token.value));
  }
  const canonical = [...criteria.entries()].map(([name, value]) => `${name}=${value}`).sort();
  return [`${resourceType}?${canonical.join('&')}`];
}

function queryParams(query: FhirRequest['query']): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value ?? '']) {
      params.append(name, item);
    }
  }
  return params;
}

function header(req: FhirRequest, name: string): string | undefined {
  const value = req.headers?.[name];
  return value === undefined ? undefined : singularize(value);
}

/**
 * Replaces the handler of one of FhirRouter's routes. Everything else (URL parsing, batch processing, conditional
 * logic) stays medplum's; `routes` is FhirRouter's public routing table.
 */
function replaceRoute(
  router: FhirRouter,
  method: HttpMethod,
  path: string,
  replace: (original: FhirRouteHandler) => FhirRouteHandler,
): void {
  const route = router.router.routes.find(
    (r) => r.method === method && r.path.map((s) => (s.param === true ? `:${s.value}` : s.value)).join('/') === path,
  );
  if (route === undefined) {
    throw new Error(`@medplum/fhir-router has no route ${method} ${path} any more`);
  }
  route.handler = replace(route.handler);
}

/**
 * Builds medplum's FhirRouter over the repository, with writes serialized per identity: conditional create
 * (`If-None-Exist`), conditional update/delete/patch, create, and update/delete/patch by id each hold the lock keys
 * of the identities they touch (the resource `Type/id`, the identifier values of the body and of the criteria)
 * for their whole read-check-write. Batch and transaction entries go through the same handlers, so they take the
 * same locks. MemoryRepository alone gives no isolation (16 concurrent conditional creates make 16 resources,
 * platform-notes §7).
 *
 * `PUT [type]/[id]` is replaced: 201 when it creates (update-as-create with the client's id), 200 when it updates;
 * a strict `If-Match` (a stale version or a missing resource gives 412).
 *
 * @param repository - the store
 * @returns the router
 */
export function createFhirRouter(repository: IndexedMemoryRepository): FhirRouter {
  const router = new FhirRouter();
  const locks = new KeyedMutex();

  // Create: https://hl7.org/fhir/R4/http.html#create — "If an id is provided, the server SHALL ignore it".
  // (MemoryRepository would otherwise overwrite the resource with that id without a version check.)
  replaceRoute(router, 'POST', ':resourceType', (create) => async (req, repo, fhirRouter, options) => {
    const { resourceType = '' } = req.params;
    const body = req.body as Partial<Resource> | undefined;
    if (options?.batch !== true && body !== undefined && 'id' in body) {
      delete body.id;
    }
    const ifNoneExist = header(req, 'if-none-exist');
    const keys = bodyKeys(resourceType, body);
    if (ifNoneExist !== undefined) {
      keys.push(...criteriaKeys(resourceType, new URLSearchParams(ifNoneExist)));
    }
    return locks.run(keys, () => create(req, repo, fhirRouter, options));
  });

  replaceRoute(router, 'PUT', ':resourceType/:id', () => async (req) => {
    const { resourceType = '', id = '' } = req.params;
    const resource = req.body as Resource | undefined;
    if (!FHIR_ID.test(id)) {
      return [badRequest('Invalid resource id', `${resourceType}.id`)];
    }
    if (resource?.resourceType !== resourceType) {
      return [badRequest('Incorrect resource type')];
    }
    if (resource.id !== id) {
      return [badRequest('Incorrect resource ID', `${resourceType}.id`)];
    }
    const precondition = parseIfMatch(req.headers?.['if-match']);
    if (precondition.kind === 'invalid') {
      return [badRequest('If-Match must be an ETag such as W/"<versionId>"')];
    }
    const keys = [`${resourceType}/${id}`, ...bodyKeys(resourceType, resource)];
    return locks.run(keys, async () => {
      const exists = repository.current(resourceType, id) !== undefined;
      // RFC 9110 §13.1.1: If-Match fails when there is no current representation.
      if (precondition.kind !== 'none' && !exists) {
        return [preconditionFailed];
      }
      const ifMatch = precondition.kind === 'version' ? precondition.versionId : undefined;
      const stored = await repository.updateResource(resource, { ifMatch });
      return [exists ? allOk : created, stored];
    });
  });

  for (const method of ['PUT', 'DELETE', 'PATCH'] as const) {
    replaceRoute(router, method, ':resourceType', (handler) => (req, repo, fhirRouter, options) => {
      const { resourceType = '' } = req.params;
      const keys = [...criteriaKeys(resourceType, queryParams(req.query)), ...bodyKeys(resourceType, req.body)];
      return locks.run(keys, () => handler(req, repo, fhirRouter, options));
    });
  }
  for (const method of ['DELETE', 'PATCH'] as const) {
    replaceRoute(router, method, ':resourceType/:id', (handler) => (req, repo, fhirRouter, options) => {
      const { resourceType = '', id = '' } = req.params;
      return locks.run([`${resourceType}/${id}`], () => handler(req, repo, fhirRouter, options));
    });
  }

  return router;
}
