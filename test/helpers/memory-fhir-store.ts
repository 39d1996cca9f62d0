/**
 * The production in-memory store (src/adapters/fhir/memory-fhir-store.ts) with what tests add: a log of every call
 * (to count round trips), hooks to inject faults or to interleave concurrent callers, and loose (prefix) identifier
 * matching. Tests import `MemoryFhirStore` from here.
 */
import type { Identifier, Resource, ResourceType } from '@medplum/fhirtypes';
import type { MemoryFhirStoreOptions as BaseOptions } from '../../src/adapters/fhir/memory-fhir-store';
import { MemoryFhirStore as BaseMemoryFhirStore } from '../../src/adapters/fhir/memory-fhir-store';
import type { PipelineError } from '../../src/pipeline/errors';
import type {
  FhirResult,
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

/** Options of the test {@link MemoryFhirStore}. */
export interface MemoryFhirStoreOptions extends BaseOptions {
  /**
   * How identifier values are compared in searches: `exact` (default), or by their first `prefixLength` characters
   * (the FHIR service quirk of matching on a 128-character prefix, medtech-reference §9.7).
   */
  readonly identifierMatch?: 'exact' | { readonly prefixLength: number };
  /** Epoch ms for `meta.lastUpdated`; default a counter from 2024-01-01 (deterministic). */
  readonly now?: () => number;
}

/** The in-memory store, instrumented. */
export class MemoryFhirStore extends BaseMemoryFhirStore {
  /** Every call, in order (a many-operation is one call: one round trip). */
  readonly calls: StoreCall[] = [];
  /** Runs before every call (after it is logged). Throw to fail the call; await to hold it (interleaving tests). */
  beforeCall: ((call: StoreCall) => void | Promise<void>) | undefined;
  /** Runs before each single PUT, including every entry of a putMany. Return an error to fail just that write. */
  beforePut: ((resource: Resource, options: PutOptions) => PipelineError | undefined) | undefined;

  readonly #prefixLength: number | undefined;

  /** @param options - identifier matching and clock */
  constructor(options: MemoryFhirStoreOptions = {}) {
    let tick = Date.UTC(2024, 0, 1);
    super({ clock: options.now ?? options.clock ?? (() => (tick += 1000)) });
    const match = options.identifierMatch ?? 'exact';
    this.#prefixLength = match === 'exact' ? undefined : match.prefixLength;
  }

  /**
   * Calls of one kind.
   * @param op - the operation
   */
  callsOf(op: StoreCall['op']): StoreCall[] {
    return this.calls.filter((c) => c.op === op);
  }

  override async read<K extends ResourceType>(resourceType: K, id: string): Promise<ResourceOf<K> | undefined> {
    await this.#enter({ op: 'read', resourceType, id });
    return super.read(resourceType, id);
  }

  override async readVersion<K extends ResourceType>(
    resourceType: K,
    id: string,
    versionId: string,
  ): Promise<ResourceOf<K> | undefined> {
    await this.#enter({ op: 'vread', resourceType, id, versionId });
    return super.readVersion(resourceType, id, versionId);
  }

  override async searchByIdentifier<K extends ResourceType>(
    resourceType: K,
    identifier: Pick<Identifier, 'system' | 'value'>,
  ): Promise<ResourceOf<K>[]> {
    await this.#enter({ op: 'search', resourceType, identifier });
    return super.searchByIdentifier(resourceType, identifier);
  }

  override async put<T extends Resource>(resource: T, options: PutOptions = {}): Promise<PutResult<T>> {
    await this.#enter({
      op: 'put',
      resourceType: resource.resourceType,
      id: resource.id ?? '',
      ...(options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch }),
    });
    return super.put(resource, options);
  }

  override async searchManyByIdentifier(queries: readonly IdentifierQuery[]): Promise<FhirResult<Resource[]>[]> {
    await this.#enter({ op: 'searchMany', queries: structuredClone(queries) });
    return super.searchManyByIdentifier(queries);
  }

  override async putMany(requests: readonly PutRequest[]): Promise<FhirResult<PutResult<Resource>>[]> {
    await this.#enter({
      op: 'putMany',
      requests: requests.map((r) => ({
        resourceType: r.resource.resourceType,
        id: r.resource.id ?? '',
        ...(r.ifMatch === undefined ? {} : { ifMatch: r.ifMatch }),
      })),
    });
    return super.putMany(requests);
  }

  protected override putOne<T extends Resource>(resource: T, options: PutOptions): PutResult<T> {
    const injected = this.beforePut?.(resource, options);
    if (injected !== undefined) {
      throw injected;
    }
    return super.putOne(resource, options);
  }

  protected override findByIdentifier(
    resourceType: ResourceType,
    identifier: Pick<Identifier, 'system' | 'value'>,
  ): Resource[] {
    const n = this.#prefixLength;
    if (n === undefined) {
      return super.findByIdentifier(resourceType, identifier);
    }
    const wanted = (identifier.value ?? '').slice(0, n);
    return this.all(resourceType).filter((r) =>
      ((r as { identifier?: Identifier[] }).identifier ?? []).some(
        (id) =>
          id.value?.slice(0, n) === wanted &&
          (identifier.system === undefined ||
            (identifier.system === '' ? id.system === undefined : id.system === identifier.system)),
      ),
    );
  }

  async #enter(call: StoreCall): Promise<void> {
    this.calls.push(call);
    await this.beforeCall?.(call);
  }
}
