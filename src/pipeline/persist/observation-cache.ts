/**
 * The per-worker cache of saved Observations, keyed by identifier value (the system is always the service system).
 * MedTech caches every saved Observation for 1 h (absolute) with at most 5000 entries (§9.7), which saves the
 * search before merging the next window of the same Observation. A stale entry is harmless: the write carries
 * `If-Match`, a conflict evicts the entry and the Observation is read again.
 */
import type { Observation } from '@medplum/fhirtypes';
import type { Clock } from '../clock';
import { LruTtlCache } from './lru-ttl-cache';

/** The Observation cache. */
export type ObservationCache = LruTtlCache<Observation>;

/** Options of {@link createObservationCache}. */
export interface ObservationCacheOptions {
  readonly clock: Clock;
  /** Default 1 h. */
  readonly ttlMs?: number;
  /** Default 5000. */
  readonly maxEntries?: number;
}

/**
 * A new Observation cache (absolute expiry).
 * @param options - clock, lifetime and size
 */
export function createObservationCache(options: ObservationCacheOptions): ObservationCache {
  return new LruTtlCache<Observation>({
    clock: options.clock,
    ttlMs: options.ttlMs ?? 3_600_000,
    maxEntries: options.maxEntries ?? 5000,
    expiry: 'absolute',
  });
}
