/**
 * FhirStore wrappers for reliability tests: a bound copy that can be spread and overridden, and a gate that holds
 * calls of one method until a number of them have arrived (to force two workers through a race deterministically).
 */
import type { FhirStore } from '../../../src/pipeline';

/**
 * The store's methods bound to it, as a plain object (FhirHttpStore keeps private fields, so its methods need their
 * receiver; a plain object can be spread and one method overridden).
 * @param store - the store
 */
export function bindStore(store: FhirStore): FhirStore {
  return {
    read: (type, id) => store.read(type, id),
    readVersion: (type, id, version) => store.readVersion(type, id, version),
    searchByIdentifier: (type, identifier) => store.searchByIdentifier(type, identifier),
    put: (resource, options) => store.put(resource, options),
    searchManyByIdentifier: (queries) => store.searchManyByIdentifier(queries),
    putMany: (requests) => store.putMany(requests),
  };
}

/** Methods a gate can hold. */
export type GatedMethod = 'searchManyByIdentifier' | 'putMany';

/**
 * A store whose first `count` calls of `method` complete (against the real store) and then wait until all `count`
 * have completed, so every caller has seen the same state before any of them goes on.
 * @param store - the real store
 * @param method - the method to gate
 * @param count - how many calls to hold together
 */
export function gatedStore(store: FhirStore, method: GatedMethod, count: number): { store: FhirStore } {
  let arrived = 0;
  let release: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (release = resolve));
  const hold = async <T>(result: Promise<T>): Promise<T> => {
    if (arrived >= count) {
      return result;
    }
    const value = await result;
    arrived++;
    if (arrived === count) {
      release();
    }
    await all;
    return value;
  };
  const bound = bindStore(store);
  const gated: FhirStore =
    method === 'searchManyByIdentifier'
      ? { ...bound, searchManyByIdentifier: (queries) => hold(bound.searchManyByIdentifier(queries)) }
      : { ...bound, putMany: (requests) => hold(bound.putMany(requests)) };
  return { store: gated };
}
