import type { Observation } from '@medplum/fhirtypes';
import { LruTtlCache } from '../../../src/pipeline/persist/lru-ttl-cache';
import { createObservationCache } from '../../../src/pipeline/persist/observation-cache';
import { ManualClock } from '../../helpers/fhir-stage-fixtures';

const obs = (id: string): Observation => ({ resourceType: 'Observation', id, status: 'final', code: {} });

describe('Observation cache: LRU with absolute expiry (MedTech: 1 h, 5000 entries)', () => {
  it('expires an entry 1 h after it was set, however often it is read', () => {
    const clock = new ManualClock();
    const cache = createObservationCache({ clock: clock.now });
    cache.set('a', obs('a'));
    clock.advance(3_599_999);
    expect(cache.get('a')?.id).toBe('a');
    clock.advance(1);
    expect(cache.get('a')).toBeUndefined();
  });

  it('evicts the least recently used beyond the limit', () => {
    const clock = new ManualClock();
    const cache = createObservationCache({ clock: clock.now, maxEntries: 2 });
    cache.set('a', obs('a'));
    cache.set('b', obs('b'));
    cache.get('a');
    cache.set('c', obs('c'));
    expect([cache.get('a')?.id, cache.get('b')?.id, cache.get('c')?.id]).toEqual(['a', undefined, 'c']);
    expect(cache.size).toBe(2);
  });

  it('replaces and deletes entries', () => {
    const cache = createObservationCache({ clock: new ManualClock().now });
    cache.set('a', obs('1'));
    cache.set('a', obs('2'));
    expect(cache.get('a')?.id).toBe('2');
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
  });
});

describe('sliding expiry (identity cache: 2 h)', () => {
  it('extends an entry on every read', () => {
    const clock = new ManualClock();
    const cache = new LruTtlCache<string>({ clock: clock.now, ttlMs: 1000, maxEntries: 10, expiry: 'sliding' });
    cache.set('k', 'v');
    for (let i = 0; i < 5; i++) {
      clock.advance(999);
      expect(cache.get('k')).toBe('v');
    }
    clock.advance(1000);
    expect(cache.get('k')).toBeUndefined();
  });
});
