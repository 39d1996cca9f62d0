/**
 * An in-memory {@link FhirStore} for tests: versioned resources with history, `If-Match` (412 → `FHIR_CONFLICT`),
 * update-as-create PUT (201 vs 200), deletion, exact or loose (prefix) identifier search, a log of every call (to
 * count round trips) and hooks to inject faults or to interleave concurrent callers.
 */
import type { Identifier, Resource, ResourceType } from '@medplum/fhirtypes';
import { ErrorCode, PipelineError } from '../../src/pipeline/errors';
import type {
  FhirResult,
  FhirStore,
  IdentifierQuery,
  PutOptions,
  PutRequest,
  PutResult,
  ResourceOf,
} from '../../src/pipeline/persist/fhir-store';

/** One call to the store, as logged. */
export type StoreCall =
  | { readonly op: 'read' | 'vread'; readonly resourceType: string; readonly id: string; readonly versionId?: string }
  | { readonly op: 'search'; readonly resourceType: string; readonly identifier: Pick<Identifier, 'system' | 'value'> }
  | { readonly op: 'put'; readonly resourceType: string; readonly id: string; readonly ifMatch?: string }
  | { readonly op: 'searchMany'; readonly queries: readonly IdentifierQuery[] }
  | { readonly op: 'putMany'; readonly requests: readonly { resourceType: string; id: string; ifMatch?: string }[] };

/** Options of {@link MemoryFhirStore}. */
export interface MemoryFhirStoreOptions {
  /**
   * How identifier values are compared in searches: `exact` (default), or by their first `prefixLength` characters
   * (the FHIR service quirk of matching on a 128-character prefix, medtech-reference §9.7).
   */
  readonly identifierMatch?: 'exact' | { readonly prefixLength: number };
  /** Epoch ms for `meta.lastUpdated`; default a counter from 2024-01-01. */
  readonly now?: () => number;
}

interface Version {
  readonly resource: Resource | undefined;
}

/** The in-memory store. */
export class MemoryFhirStore implements FhirStore {
  /** Every call, in order (a many-operation is one call: one round trip). */
  readonly calls: StoreCall[] = [];
  /**
   * Runs before every call (after it is logged). Throw to fail the call; await to hold it (interleaving tests).
   */
  beforeCall: ((call: StoreCall) => void | Promise<void>) | undefined;
  /**
   * Runs before each single PUT, including every entry of a putMany. Return an error to fail just that write.
   */
  beforePut: ((resource: Resource, options: PutOptions) => PipelineError | undefined) | undefined;

  readonly #histories = new Map<string, Version[]>();
  readonly #match: MemoryFhirStoreOptions['identifierMatch'];
  readonly #now: () => number;

  /** @param options - identifier matching and clock */
  constructor(options: MemoryFhirStoreOptions = {}) {
    this.#match = options.identifierMatch ?? 'exact';
    let tick = Date.UTC(2024, 0, 1);
    this.#now = options.now ?? (() => (tick += 1000));
  }

  // ---- test conveniences -------------------------------------------------------------------------------------------

  /**
   * Stores a resource directly (no call logged); returns the stored copy.
   * @param resource - the resource, with an id
   */
  seed<T extends Resource>(resource: T): T {
    return this.#write(resource, {}).resource;
  }

  /**
   * Deletes a resource (a new, empty version in its history).
   * @param resourceType - the type
   * @param id - the id
   */
  delete(resourceType: ResourceType, id: string): void {
    this.#history(resourceType, id).push({ resource: undefined });
  }

  /**
   * The current resources of a type (no call logged).
   * @param resourceType - the type
   */
  all<K extends ResourceType>(resourceType: K): ResourceOf<K>[] {
    const out: ResourceOf<K>[] = [];
    for (const [key, history] of this.#histories) {
      const current = history[history.length - 1]?.resource;
      if (key.startsWith(`${resourceType}/`) && current !== undefined) {
        out.push(structuredClone(current) as ResourceOf<K>);
      }
    }
    return out;
  }

  /**
   * The current version of a resource (no call logged).
   * @param resourceType - the type
   * @param id - the id
   */
  current<K extends ResourceType>(resourceType: K, id: string): ResourceOf<K> | undefined {
    const r = this.#histories.get(`${resourceType}/${id}`)?.at(-1)?.resource;
    return r === undefined ? undefined : (structuredClone(r) as ResourceOf<K>);
  }

  /**
   * Calls of one kind.
   * @param op - the operation
   */
  callsOf(op: StoreCall['op']): StoreCall[] {
    return this.calls.filter((c) => c.op === op);
  }

  // ---- the port ----------------------------------------------------------------------------------------------------

  async read<K extends ResourceType>(resourceType: K, id: string): Promise<ResourceOf<K> | undefined> {
    await this.#enter({ op: 'read', resourceType, id });
    return this.current(resourceType, id);
  }

  async readVersion<K extends ResourceType>(
    resourceType: K,
    id: string,
    versionId: string,
  ): Promise<ResourceOf<K> | undefined> {
    await this.#enter({ op: 'vread', resourceType, id, versionId });
    const r = this.#histories.get(`${resourceType}/${id}`)?.[Number(versionId) - 1]?.resource;
    return r === undefined ? undefined : (structuredClone(r) as ResourceOf<K>);
  }

  async searchByIdentifier<K extends ResourceType>(
    resourceType: K,
    identifier: Pick<Identifier, 'system' | 'value'>,
  ): Promise<ResourceOf<K>[]> {
    await this.#enter({ op: 'search', resourceType, identifier });
    return this.#search(resourceType, identifier) as ResourceOf<K>[];
  }

  async put<T extends Resource>(resource: T, options: PutOptions = {}): Promise<PutResult<T>> {
    await this.#enter({
      op: 'put',
      resourceType: resource.resourceType,
      id: resource.id ?? '',
      ...(options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch }),
    });
    const injected = this.beforePut?.(resource, options);
    if (injected !== undefined) {
      throw injected;
    }
    return this.#write(resource, options);
  }

  async searchManyByIdentifier(queries: readonly IdentifierQuery[]): Promise<FhirResult<Resource[]>[]> {
    await this.#enter({ op: 'searchMany', queries: structuredClone(queries) });
    return queries.map((q) => ({ ok: true, value: this.#search(q.resourceType, q.identifier) }));
  }

  async putMany(requests: readonly PutRequest[]): Promise<FhirResult<PutResult<Resource>>[]> {
    await this.#enter({
      op: 'putMany',
      requests: requests.map((r) => ({
        resourceType: r.resource.resourceType,
        id: r.resource.id ?? '',
        ...(r.ifMatch === undefined ? {} : { ifMatch: r.ifMatch }),
      })),
    });
    return requests.map((r): FhirResult<PutResult<Resource>> => {
      const options = r.ifMatch === undefined ? {} : { ifMatch: r.ifMatch };
      const injected = this.beforePut?.(r.resource, options);
      if (injected !== undefined) {
        return { ok: false, error: injected };
      }
      try {
        return { ok: true, value: this.#write(r.resource, options) };
      } catch (error) {
        return { ok: false, error: error as PipelineError };
      }
    });
  }

  // ---- internals ---------------------------------------------------------------------------------------------------

  async #enter(call: StoreCall): Promise<void> {
    this.calls.push(call);
    await this.beforeCall?.(call);
  }

  #history(resourceType: string, id: string): Version[] {
    const key = `${resourceType}/${id}`;
    let history = this.#histories.get(key);
    if (history === undefined) {
      history = [];
      this.#histories.set(key, history);
    }
    return history;
  }

  #write<T extends Resource>(resource: T, options: PutOptions): PutResult<T> {
    if (resource.id === undefined || resource.id === '') {
      throw new PipelineError(ErrorCode.FhirResourceInvalid, `PUT ${resource.resourceType} needs an id`);
    }
    const history = this.#history(resource.resourceType, resource.id);
    const current = history.at(-1)?.resource;
    if (options.ifMatch !== undefined && (current === undefined || current.meta?.versionId !== options.ifMatch)) {
      throw new PipelineError(ErrorCode.FhirConflict, `PUT ${resource.resourceType}: version mismatch (412)`, {
        details: { status: 412 },
      });
    }
    const stored = structuredClone(resource);
    stored.meta = {
      ...stored.meta,
      versionId: String(history.length + 1),
      lastUpdated: new Date(this.#now()).toISOString(),
    };
    history.push({ resource: stored });
    return { resource: structuredClone(stored), created: current === undefined };
  }

  #search(resourceType: ResourceType, identifier: Pick<Identifier, 'system' | 'value'>): Resource[] {
    const wanted = identifier.value ?? '';
    const sameValue =
      this.#match === 'exact'
        ? (v: string | undefined) => v === wanted
        : (v: string | undefined, n = (this.#match as { prefixLength: number }).prefixLength) =>
            v !== undefined && v.slice(0, n) === wanted.slice(0, n);
    return this.all(resourceType).filter((r) =>
      ((r as { identifier?: Identifier[] }).identifier ?? []).some(
        (id) =>
          sameValue(id.value) &&
          (identifier.system === undefined ||
            (identifier.system === '' ? id.system === undefined : id.system === identifier.system)),
      ),
    );
  }
}
