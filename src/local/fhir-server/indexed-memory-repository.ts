import type { Filter, SearchRequest, WithId } from '@medplum/core';
import {
  badRequest,
  DEFAULT_MAX_SEARCH_COUNT,
  DEFAULT_SEARCH_COUNT,
  deepClone,
  evalFhirPath,
  formatSearchQuery,
  globalSchema,
  isResourceType,
  matchesSearchRequest,
  Operator,
  OperationOutcomeError,
  validateResource,
} from '@medplum/core';
import type { ReadHistoryOptions } from '@medplum/fhir-router';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import { IdentifierIndex, parseIdentifierTokens } from './identifier-index';

/** MemoryRepository's private stores (see {@link internalsOf}). */
interface MemoryRepositoryInternals {
  readonly resources: Map<string, Map<string, Resource>>;
  readonly history: Map<string, Map<string, Resource[]>>;
}

/**
 * Reaches MemoryRepository's stores. Two of its methods cannot be used as they are: `search` deep-copies every
 * match before paging (a full copy of the store for `GET /Observation`), and `readHistory` reverses its stored
 * array in place, so every other call lists versions oldest first. Reading the maps directly lets this subclass
 * page before copying; stored objects are never mutated by MemoryRepository (each write stores a fresh object), so
 * references to them are safe to hold. The layout is checked once so a medplum upgrade fails here, loudly.
 */
function internalsOf(repository: MemoryRepository): MemoryRepositoryInternals {
  const candidate = repository as unknown as Record<keyof MemoryRepositoryInternals, unknown>;
  if (!(candidate.resources instanceof Map) || !(candidate.history instanceof Map)) {
    throw new Error('@medplum/fhir-router MemoryRepository no longer has the 4.5.x layout this server relies on');
  }
  return candidate as MemoryRepositoryInternals;
}

/** Resource types whose `identifier` search parameter reads exactly `<Type>.identifier` (and nothing else). */
const indexableTypes = new Map<string, boolean>();

function isIndexable(resourceType: string): boolean {
  let indexable = indexableTypes.get(resourceType);
  if (indexable === undefined) {
    const expression = globalSchema.types[resourceType]?.searchParams?.identifier?.expression ?? '';
    const paths = expression
      .split('|')
      .map((path) => path.trim())
      .filter((path) => path.startsWith(`${resourceType}.`));
    indexable = paths.length === 1 && paths[0] === `${resourceType}.identifier`;
    indexableTypes.set(resourceType, indexable);
  }
  return indexable;
}

function isIdentifierEquals(filter: Filter): boolean {
  return filter.code === 'identifier' && filter.operator === Operator.EQUALS;
}

/** Compares precomputed sort keys; `undefined` (no value) sorts last either way, as missing values do in FHIR. */
function compareKeys(a: string | undefined, b: string | undefined, descending: boolean): number {
  if (a === b) {
    return 0;
  }
  if (a === undefined) {
    return 1;
  }
  if (b === undefined) {
    return -1;
  }
  return (a < b ? -1 : 1) * (descending ? -1 : 1);
}

/** Options of {@link IndexedMemoryRepository}. */
export interface IndexedMemoryRepositoryOptions {
  /** Validate every written resource with @medplum/core `validateResource` (400 OperationOutcome on failure). */
  readonly validate: boolean;
  /** Called after every write or delete (the snapshot scheduler listens). */
  readonly onChange?: () => void;
}

/**
 * medplum's MemoryRepository with what a FHIR server for the pipeline needs on top (platform-notes §7):
 * - an exact identifier index answering `identifier=[system|]value` in O(1), kept right on every write and delete;
 *   other filters of the same search are evaluated by medplum on the few candidates;
 * - validation of every written resource (create, update, conditional writes, patch, batch entries);
 * - searches that page before they copy, with `_count` (default 20, at most 1000), `_offset`, `_sort` and
 *   `self`/`first`/`previous`/`next` links;
 * - history listed newest first, with `_count`/`_offset`.
 *
 * Writes are serialized per identity by the routes (see fhir-router.ts), not here.
 */
export class IndexedMemoryRepository extends MemoryRepository {
  /** The server's base URL, for `fullUrl` and search links (known once the server listens). */
  baseUrl = '';
  private readonly store: MemoryRepositoryInternals;
  private readonly identifiers = new IdentifierIndex();
  private readonly validate: boolean;
  private readonly onChange: () => void;

  /** @param options - validation and change notification */
  constructor(options: IndexedMemoryRepositoryOptions) {
    super();
    this.store = internalsOf(this);
    this.validate = options.validate;
    this.onChange = options.onChange ?? ((): void => undefined);
  }

  /**
   * Stores a resource version; every write path of MemoryRepository (create, update, patch) ends here.
   * @param resource - the resource (its id, when present, is kept; medplum's create options are ignored, as
   * MemoryRepository ignores them)
   * @returns the stored version
   */
  override async createResource<T extends Resource>(resource: T): Promise<WithId<T>> {
    // Batch entries reach here without the HTTP layer's check; MemoryRepository would store any type.
    if (!isResourceType(resource.resourceType)) {
      throw new OperationOutcomeError(badRequest('Unknown resource type', 'resourceType'));
    }
    if (this.validate) {
      validateResource(resource);
    }
    // Computed and handed to MemoryRepository in the same synchronous step, so no other write can take the number.
    const versioned = { ...resource, meta: { ...resource.meta, versionId: this.nextVersionId(resource) } };
    const stored = await super.createResource(versioned);
    this.afterWrite(stored);
    this.onChange();
    return stored;
  }

  /**
   * Deletes the current version (MemoryRepository keeps no deleted marker: a read then gives 404).
   * @param resourceType - the resource type
   * @param id - the resource id
   */
  override async deleteResource(resourceType: string, id: string): Promise<void> {
    await super.deleteResource(resourceType, id);
    this.identifiers.remove(resourceType, id);
    this.onChange();
  }

  /**
   * Stores resources exactly as given (id and meta kept), without validation or change notification: for
   * loading a snapshot that this server wrote.
   * @param resources - the resources
   */
  async restore(resources: Iterable<Resource>): Promise<void> {
    for (const resource of resources) {
      this.afterWrite(await super.createResource(resource));
    }
  }

  /**
   * The current version of a resource, as stored (not a copy: callers must not mutate it).
   * @param resourceType - the resource type
   * @param id - the resource id
   * @returns the resource, or undefined when it does not exist or was deleted
   */
  current(resourceType: string, id: string): Resource | undefined {
    return this.store.resources.get(resourceType)?.get(id);
  }

  /**
   * The current versions of one type, or of every type, as stored (not copies: callers must not mutate them).
   * @param resourceType - the type, or undefined for all types
   * @returns the stored resources, in creation order
   */
  *all(resourceType?: string): Generator<Resource> {
    const maps = resourceType === undefined ? this.store.resources.values() : [this.store.resources.get(resourceType)];
    for (const resources of maps) {
      if (resources !== undefined) {
        yield* resources.values();
      }
    }
  }

  /**
   * FHIR search: the identifier index when the request has an `identifier` token filter, medplum's matcher for
   * every other filter; then sort, page, and copy only the page.
   * @param searchRequest - the parsed search
   * @returns a searchset Bundle with `total` and paging links
   */
  override async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const count = Math.min(searchRequest.count ?? DEFAULT_SEARCH_COUNT, DEFAULT_MAX_SEARCH_COUNT);
    const offset = searchRequest.offset ?? 0;
    if (!Number.isInteger(count) || count < 0 || !Number.isInteger(offset) || offset < 0) {
      throw new OperationOutcomeError(badRequest('_count and _offset must be non-negative integers'));
    }
    const matches = this.matchAll(searchRequest);
    const page = matches.slice(offset, offset + count);
    // Synchronous work in an async method, so that what it throws reaches callers as a rejection.
    return Promise.resolve({
      resourceType: 'Bundle',
      type: 'searchset',
      total: matches.length,
      link: this.searchLinks(searchRequest, offset, count, matches.length),
      entry: page.map((resource) => this.entryOf(deepClone(resource) as WithId<T>, { search: { mode: 'match' } })),
    });
  }

  /**
   * Every match of a search, sorted, not paged, as stored (not copies).
   * @param searchRequest - the parsed search (its `_count`/`_offset` are ignored)
   * @returns the matching resources
   */
  matchAll(searchRequest: SearchRequest): Resource[] {
    const { resourceType } = searchRequest;
    const filters = searchRequest.filters ?? [];
    const stored = this.store.resources.get(resourceType);
    if (stored === undefined) {
      return [];
    }
    let candidates: Iterable<Resource> = stored.values();
    let rest = filters;
    const at = isIndexable(resourceType) ? filters.findIndex(isIdentifierEquals) : -1;
    const tokens = at >= 0 ? parseIdentifierTokens(filters[at]?.value ?? '') : undefined;
    if (tokens !== undefined) {
      const ids = this.identifiers.find(resourceType, tokens);
      candidates = [...ids].flatMap((id) => stored.get(id) ?? []);
      rest = filters.filter((_, i) => i !== at);
    }
    const request: SearchRequest = { resourceType, filters: rest };
    const matches: Resource[] = [];
    for (const resource of candidates) {
      if (rest.length === 0 || matchesSearchRequest(resource, request)) {
        matches.push(resource);
      }
    }
    return searchRequest.sortRules?.length ? this.sorted(matches, searchRequest) : matches;
  }

  /**
   * History of one resource, newest version first (MemoryRepository keeps every version in memory).
   * @param resourceType - the resource type
   * @param id - the resource id
   * @param options - `_offset` and `_count`
   * @returns a history Bundle
   */
  override async readHistory<T extends Resource>(
    resourceType: string,
    id: string,
    options?: ReadHistoryOptions,
  ): Promise<Bundle<T>> {
    await this.readResource(resourceType, id);
    const versions = this.store.history.get(resourceType)?.get(id) ?? [];
    // The router passes parseInt() of `_offset`/`_count`: NaN when they are not numbers.
    const offset = Number.isInteger(options?.offset) ? (options?.offset ?? 0) : 0;
    const limit = Number.isInteger(options?.limit) ? (options?.limit ?? 0) : versions.length;
    const page = [...versions].reverse().slice(offset, offset + limit);
    return {
      resourceType: 'Bundle',
      type: 'history',
      total: versions.length,
      entry: page.map((version) => this.entryOf(deepClone(version) as T)),
    };
  }

  /**
   * The version id of the next write of a resource: `1` for a new resource, else the last version's number plus one
   * (the history is kept across deletes, so a re-created resource continues its count). Azure Health Data Services
   * and HAPI number versions this way, and clients rely on it: the pipeline's create-race repair reads the version its
   * blind create replaced as `versionId − 1` (src/pipeline/persist/save-observations.ts). MemoryRepository's own ids
   * are random UUIDs. A last version whose id is not a number (a snapshot written before this numbering) counts as
   * the history's length.
   */
  private nextVersionId(resource: Resource): string {
    const versions =
      resource.id === undefined ? undefined : this.store.history.get(resource.resourceType)?.get(resource.id);
    const last = versions?.[versions.length - 1]?.meta?.versionId;
    if (versions === undefined || versions.length === 0) {
      return '1';
    }
    return String(last !== undefined && /^[1-9][0-9]{0,14}$/.test(last) ? Number(last) + 1 : versions.length + 1);
  }

  private afterWrite(stored: Resource & { id: string }): void {
    if (isIndexable(stored.resourceType)) {
      this.identifiers.put(stored.resourceType, stored.id, stored);
    }
  }

  private entryOf<T extends Resource>(resource: T, extra?: Omit<BundleEntry<T>, 'resource'>): BundleEntry<T> {
    return { fullUrl: `${this.baseUrl}/${resource.resourceType}/${resource.id ?? ''}`, resource, ...extra };
  }

  /** Sorts on keys computed once per resource (medplum re-evaluates FHIRPath on every comparison). */
  private sorted(matches: Resource[], searchRequest: SearchRequest): Resource[] {
    const rules = (searchRequest.sortRules ?? []).map((rule) => ({
      expression: globalSchema.types[searchRequest.resourceType]?.searchParams?.[rule.code]?.expression,
      descending: rule.descending === true,
    }));
    const unknown = searchRequest.sortRules?.find((_, i) => rules[i]?.expression === undefined);
    if (unknown !== undefined) {
      throw new OperationOutcomeError(badRequest(`Unknown sort parameter: ${unknown.code}`));
    }
    const keyed = matches.map((resource) => ({
      resource,
      keys: rules.map(({ expression }) => {
        const values = evalFhirPath(expression ?? '', resource);
        return values.length === 0 ? undefined : JSON.stringify(values);
      }),
    }));
    keyed.sort((a, b) => {
      for (let i = 0; i < rules.length; i++) {
        const order = compareKeys(a.keys[i], b.keys[i], rules[i]?.descending ?? false);
        if (order !== 0) {
          return order;
        }
      }
      return 0;
    });
    return keyed.map(({ resource }) => resource);
  }

  private searchLinks(searchRequest: SearchRequest, offset: number, count: number, total: number): BundleLink[] {
    const url = (pageOffset: number): string =>
      `${this.baseUrl}/${searchRequest.resourceType}${formatSearchQuery({ ...searchRequest, offset: pageOffset, count })}`;
    const links: BundleLink[] = [
      { relation: 'self', url: url(offset) },
      { relation: 'first', url: url(0) },
    ];
    if (count > 0 && offset > 0) {
      links.push({ relation: 'previous', url: url(Math.max(0, offset - count)) });
    }
    if (count > 0 && offset + count < total) {
      links.push({ relation: 'next', url: url(offset + count) });
    }
    return links;
  }
}
