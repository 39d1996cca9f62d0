/**
 * An in-memory {@link FhirStore}: versioned resources with their history, update-as-create PUT (201 vs 200),
 * `If-Match` (a stale or absent version is 412 → `FHIR_CONFLICT`), deletion, and exact identifier search through an
 * index (no scan of the store). The mapping debugger runs every session against a fresh one; tests extend it with
 * call logging and fault hooks (test/helpers/memory-fhir-store.ts).
 *
 * Semantics follow https://hl7.org/fhir/R4/http.html (update, vread, conditional update with If-Match). Like the
 * port, it does not validate resources.
 */
import type { Identifier, Resource, ResourceType } from '@medplum/fhirtypes';
import type {
  Clock,
  FhirResult,
  FhirStore,
  IdentifierQuery,
  PutOptions,
  PutRequest,
  PutResult,
  ResourceOf,
} from '../../pipeline';
import { ErrorCode, PipelineError } from '../../pipeline';

/** Options of {@link MemoryFhirStore}. */
export interface MemoryFhirStoreOptions {
  /** Gives `meta.lastUpdated` of every write. Default `Date.now`. */
  readonly clock?: Clock;
}

/** One resource's versions; a deleted version is `undefined`. versionId n is at index n - 1. */
type History = (Resource | undefined)[];

/** The in-memory store. Every resource handed in or out is a copy: callers never share state with the store. */
export class MemoryFhirStore implements FhirStore {
  /** Type → id → history, in creation order. */
  readonly #resources = new Map<string, Map<string, History>>();
  /** `type|value` of every identifier of a current resource → the ids carrying it. */
  readonly #identifiers = new Map<string, Set<string>>();
  readonly #clock: Clock;

  /** @param options - the clock of `meta.lastUpdated` */
  constructor(options: MemoryFhirStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * Stores a resource as a PUT would (it gets a new version), e.g. a Device or Patient that Lookup resolution needs.
   * @param resource - the resource, with an id
   * @returns the stored copy
   */
  seed<T extends Resource>(resource: T): T {
    return this.#write(resource, {}).resource;
  }

  /**
   * Deletes a resource: its history gets an empty version (a later read is `undefined`, a vread still works).
   * @param resourceType - the type
   * @param id - the id
   */
  delete(resourceType: ResourceType, id: string): void {
    const history = this.#resources.get(resourceType)?.get(id);
    if (history?.at(-1) !== undefined) {
      this.#index(history.at(-1), id, 'remove');
      history.push(undefined);
    }
  }

  /**
   * The current resources of a type, in creation order.
   * @param resourceType - the type
   */
  all<K extends ResourceType>(resourceType: K): ResourceOf<K>[] {
    const out: ResourceOf<K>[] = [];
    for (const history of this.#resources.get(resourceType)?.values() ?? []) {
      const current = history.at(-1);
      if (current !== undefined) {
        out.push(structuredClone(current) as ResourceOf<K>);
      }
    }
    return out;
  }

  /** The types that have at least one current resource, in order of their first write. */
  types(): ResourceType[] {
    return [...this.#resources]
      .filter(([, byId]) => [...byId.values()].some((h) => h.at(-1) !== undefined))
      .map(([type]) => type as ResourceType);
  }

  /**
   * The current version of a resource.
   * @param resourceType - the type
   * @param id - the id
   */
  current<K extends ResourceType>(resourceType: K, id: string): ResourceOf<K> | undefined {
    const r = this.#resources.get(resourceType)?.get(id)?.at(-1);
    return r === undefined ? undefined : (structuredClone(r) as ResourceOf<K>);
  }

  // ---- the port ----------------------------------------------------------------------------------------------------

  /** {@inheritDoc FhirStore.read} */
  read<K extends ResourceType>(resourceType: K, id: string): Promise<ResourceOf<K> | undefined> {
    return Promise.resolve(this.current(resourceType, id));
  }

  /** {@inheritDoc FhirStore.readVersion} */
  readVersion<K extends ResourceType>(
    resourceType: K,
    id: string,
    versionId: string,
  ): Promise<ResourceOf<K> | undefined> {
    const index = /^[1-9]\d*$/.test(versionId) ? Number(versionId) - 1 : -1;
    const r = index < 0 ? undefined : this.#resources.get(resourceType)?.get(id)?.[index];
    return Promise.resolve(r === undefined ? undefined : (structuredClone(r) as ResourceOf<K>));
  }

  /** {@inheritDoc FhirStore.searchByIdentifier} */
  searchByIdentifier<K extends ResourceType>(
    resourceType: K,
    identifier: Pick<Identifier, 'system' | 'value'>,
  ): Promise<ResourceOf<K>[]> {
    return Promise.resolve(this.findByIdentifier(resourceType, identifier) as ResourceOf<K>[]);
  }

  /** {@inheritDoc FhirStore.put} */
  put<T extends Resource>(resource: T, options: PutOptions = {}): Promise<PutResult<T>> {
    // The executor turns a thrown PipelineError into a rejection.
    return new Promise((resolve) => {
      resolve(this.putOne(resource, options));
    });
  }

  /** {@inheritDoc FhirStore.searchManyByIdentifier} */
  searchManyByIdentifier(queries: readonly IdentifierQuery[]): Promise<FhirResult<Resource[]>[]> {
    return Promise.resolve(
      queries.map((q) => ({ ok: true as const, value: this.findByIdentifier(q.resourceType, q.identifier) })),
    );
  }

  /** {@inheritDoc FhirStore.putMany} */
  putMany(requests: readonly PutRequest[]): Promise<FhirResult<PutResult<Resource>>[]> {
    return Promise.resolve(
      requests.map((r): FhirResult<PutResult<Resource>> => {
        try {
          return { ok: true, value: this.putOne(r.resource, r.ifMatch === undefined ? {} : { ifMatch: r.ifMatch }) };
        } catch (error) {
          if (error instanceof PipelineError) {
            return { ok: false, error };
          }
          throw error;
        }
      }),
    );
  }

  // ---- extension points (tests) ------------------------------------------------------------------------------------

  /**
   * One PUT, as `put` and every entry of `putMany` perform it. Throws a {@link PipelineError} on failure.
   * @param resource - the resource, with an id
   * @param options - `ifMatch`
   */
  protected putOne<T extends Resource>(resource: T, options: PutOptions): PutResult<T> {
    return this.#write(resource, options);
  }

  /**
   * The identifier search behind `searchByIdentifier` and `searchManyByIdentifier`: exact value; `system` omitted
   * matches any system, `''` only identifiers without one (the port's contract).
   * @param resourceType - the type
   * @param identifier - system and value
   */
  protected findByIdentifier(resourceType: ResourceType, identifier: Pick<Identifier, 'system' | 'value'>): Resource[] {
    const ids = this.#identifiers.get(indexKey(resourceType, identifier.value ?? ''));
    const byId = this.#resources.get(resourceType);
    const out: Resource[] = [];
    for (const id of ids ?? []) {
      const current = byId?.get(id)?.at(-1);
      if (current !== undefined && identifiersOf(current).some((i) => sameIdentifier(i, identifier))) {
        out.push(structuredClone(current));
      }
    }
    return out;
  }

  // ---- internals ---------------------------------------------------------------------------------------------------

  #write<T extends Resource>(resource: T, options: PutOptions): PutResult<T> {
    const { resourceType, id } = resource;
    if (id === undefined || id === '') {
      throw new PipelineError(ErrorCode.FhirResourceInvalid, `PUT ${resourceType} needs an id`);
    }
    let byId = this.#resources.get(resourceType);
    if (byId === undefined) {
      byId = new Map();
      this.#resources.set(resourceType, byId);
    }
    const history = byId.get(id) ?? [];
    const current = history.at(-1);
    if (options.ifMatch !== undefined && (current === undefined || current.meta?.versionId !== options.ifMatch)) {
      throw new PipelineError(ErrorCode.FhirConflict, `PUT ${resourceType}: version mismatch (412)`, {
        details: { status: 412 },
      });
    }
    const stored = structuredClone(resource);
    stored.meta = {
      ...stored.meta,
      versionId: String(history.length + 1),
      lastUpdated: new Date(this.#clock()).toISOString(),
    };
    this.#index(current, id, 'remove');
    this.#index(stored, id, 'add');
    history.push(stored);
    byId.set(id, history);
    return { resource: structuredClone(stored), created: current === undefined };
  }

  /** Adds or removes a resource version's identifiers in the index. */
  #index(resource: Resource | undefined, id: string, change: 'add' | 'remove'): void {
    if (resource === undefined) {
      return;
    }
    for (const identifier of identifiersOf(resource)) {
      const key = indexKey(resource.resourceType, identifier.value ?? '');
      const ids = this.#identifiers.get(key);
      if (change === 'add') {
        this.#identifiers.set(key, (ids ?? new Set()).add(id));
      } else if (ids !== undefined) {
        ids.delete(id);
        if (ids.size === 0) {
          this.#identifiers.delete(key);
        }
      }
    }
  }
}

function indexKey(resourceType: string, value: string): string {
  return `${resourceType}|${value}`;
}

function identifiersOf(resource: Resource): readonly Identifier[] {
  const identifier = (resource as { identifier?: unknown }).identifier;
  // Only arrays are R4 identifier lists; a few types have a single identifier, which MedTech never searches.
  return Array.isArray(identifier) ? (identifier as Identifier[]) : [];
}

function sameIdentifier(candidate: Identifier, wanted: Pick<Identifier, 'system' | 'value'>): boolean {
  if (candidate.value !== (wanted.value ?? '')) {
    return false;
  }
  if (wanted.system === undefined) {
    return true;
  }
  return wanted.system === '' ? candidate.system === undefined : candidate.system === wanted.system;
}
