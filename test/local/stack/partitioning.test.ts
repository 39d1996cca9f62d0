import { join } from 'node:path';

import fc from 'fast-check';

import { createPartitionAssigner, hashPartitionKey, partitionForKey } from '../../../src/local/stack/partitioning';

/** The Event Hubs SDK's own implementation (internal module, loaded by path) — the reference to agree with. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- an internal module the package does not export
const sdk = require(
  join(
    require.resolve('@azure/event-hubs').replace(/dist[\\/]commonjs[\\/].*$/, ''),
    'dist/commonjs/impl/partitionKeyToIdMapper.js',
  ),
) as { hashPartitionKey(key: string): number; mapPartitionKeyToId(key: string, count: number): number };

describe('partitionForKey', () => {
  it.each([
    '',
    'a',
    'device-01',
    'abcdefghijkl',
    'abcdefghijklm',
    'a much longer partition key of 37 chars',
    'Zürich ✓',
  ])('hashes %j as the Event Hubs SDK does', (key) => {
    expect(hashPartitionKey(key)).toBe(sdk.hashPartitionKey(key));
  });

  it('agrees with the Event Hubs SDK on any key and partition count', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), fc.integer({ min: 1, max: 32 }), (key, count) => {
        expect(partitionForKey(key, count)).toBe(sdk.mapPartitionKeyToId(key, count));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives a partition in range', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 32 }), (key, count) => {
        const p = partitionForKey(key, count);
        expect(p >= 0 && p < count && Number.isInteger(p)).toBe(true);
      }),
    );
  });
});

describe('createPartitionAssigner', () => {
  it('sends one key always to one partition', () => {
    const assigner = createPartitionAssigner(4);
    const first = assigner.assign('device-07');
    for (let i = 0; i < 10; i++) {
      assigner.assign(undefined);
      expect(assigner.assign('device-07')).toBe(first);
    }
  });

  it('spreads keyless sends round-robin', () => {
    const assigner = createPartitionAssigner(3);
    expect([0, 1, 2, 3, 4].map(() => assigner.assign(undefined))).toEqual([0, 1, 2, 0, 1]);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses %p partitions', (count) => {
    expect(() => createPartitionAssigner(count)).toThrow(RangeError);
  });
});
