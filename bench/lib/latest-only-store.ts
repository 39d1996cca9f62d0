/**
 * An in-memory {@link FhirStore} that keeps only the current version of each resource (no history, no call log), so
 * that a long run's memory reflects the pipeline and a bounded working set, not an ever-growing history. Versions
 * are counted 1, 2, 3…; `If-Match` is honoured; identifier search is exact, through an index.
 */
import type { Identifier, Resource, ResourceType } from '@medplum/fhirtypes';

import type {
  FhirResult,
  FhirStore,
  IdentifierQuery,
  PutOptions,
  PutRequest,
  PutResult,
  ResourceOf,
} from '../../src/pipeline';
import { ErrorCode, PipelineError } from '../../src/pipeline';

/** The store. Resources are stored and returned as they are (the pipeline never mutates what it gets). */
export class LatestOnlyStore implements FhirStore {
  readonly #resources = new Map<string, Resource>();
  /** `type|system|value` → `type/id`. */
  readonly #identifiers = new Map<string, string>();

  /** Resources held. */
  get size(): number {
    return this.#resources.size;
  }

  read<K extends ResourceType>(resourceType: K, id: string): Promise<ResourceOf<K> | undefined> {
    return Promise.resolve(this.#resources.get(`${resourceType}/${id}`) as ResourceOf<K> | undefined);
  }

  readVersion<K extends ResourceType>(
    resourceType: K,
    id: string,
    versionId: string,
  ): Promise<ResourceOf<K> | undefined> {
    const current = this.#resources.get(`${resourceType}/${id}`);
    return Promise.resolve(current?.meta?.versionId === versionId ? (current as ResourceOf<K>) : undefined);
  }

  searchByIdentifier<K extends ResourceType>(
    resourceType: K,
    identifier: Pick<Identifier, 'system' | 'value'>,
  ): Promise<ResourceOf<K>[]> {
    return Promise.resolve(this.#find(resourceType, identifier) as ResourceOf<K>[]);
  }

  put<T extends Resource>(resource: T, options: PutOptions = {}): Promise<PutResult<T>> {
    const key = `${resource.resourceType}/${resource.id ?? ''}`;
    const current = this.#resources.get(key);
    if (options.ifMatch !== undefined && current?.meta?.versionId !== options.ifMatch) {
      return Promise.reject(new PipelineError(ErrorCode.FhirConflict, 'version conflict'));
    }
    const version = Number(current?.meta?.versionId ?? '0') + 1;
    const stored = { ...resource, meta: { versionId: String(version), lastUpdated: '2024-01-01T00:00:00Z' } };
    this.#resources.set(key, stored);
    for (const id of (stored as { identifier?: Identifier[] }).identifier ?? []) {
      this.#identifiers.set(`${stored.resourceType}|${id.system ?? ''}|${id.value ?? ''}`, key);
      this.#identifiers.set(`${stored.resourceType}||*${id.value ?? ''}`, key);
    }
    return Promise.resolve({ resource: stored, created: current === undefined });
  }

  searchManyByIdentifier(queries: readonly IdentifierQuery[]): Promise<FhirResult<Resource[]>[]> {
    return Promise.resolve(queries.map((q) => ({ ok: true, value: this.#find(q.resourceType, q.identifier) })));
  }

  async putMany(requests: readonly PutRequest[]): Promise<FhirResult<PutResult<Resource>>[]> {
    const results: FhirResult<PutResult<Resource>>[] = [];
    for (const r of requests) {
      try {
        results.push({
          ok: true,
          value: await this.put(r.resource, r.ifMatch === undefined ? {} : { ifMatch: r.ifMatch }),
        });
      } catch (error) {
        results.push({ ok: false, error: error as PipelineError });
      }
    }
    return results;
  }

  #find(resourceType: string, identifier: Pick<Identifier, 'system' | 'value'>): Resource[] {
    const key =
      identifier.system === undefined
        ? `${resourceType}||*${identifier.value ?? ''}`
        : `${resourceType}|${identifier.system}|${identifier.value ?? ''}`;
    const target = this.#identifiers.get(key);
    const resource = target === undefined ? undefined : this.#resources.get(target);
    return resource === undefined ? [] : [resource];
  }
}
