import { mapWithConcurrency, Semaphore } from '../../../src/adapters/fhir/concurrency';

/** A promise with its resolver exposed. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Semaphore', () => {
  test('admits up to the limit, queues the rest and serves them in arrival order', async () => {
    const semaphore = new Semaphore(2);
    const order: string[] = [];
    const a = await semaphore.acquire();
    const b = await semaphore.acquire();
    const waiting = ['c', 'd'].map((name) => semaphore.acquire().then((release) => (order.push(name), release)));
    await tick();
    expect(order).toEqual([]);
    expect(semaphore.inUse).toBe(2);
    expect(semaphore.waiting).toBe(2);
    a();
    await tick();
    expect(order).toEqual(['c']);
    b();
    await tick();
    expect(order).toEqual(['c', 'd']);
    for (const release of await Promise.all(waiting)) {
      release();
    }
    expect(semaphore.inUse).toBe(0);
  });

  test('releasing twice frees one slot only', async () => {
    const semaphore = new Semaphore(1);
    const release = await semaphore.acquire();
    release();
    release();
    await semaphore.acquire();
    expect(semaphore.inUse).toBe(1);
  });

  test('run releases the slot when the task fails', async () => {
    const semaphore = new Semaphore(1);
    await expect(semaphore.run(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(semaphore.inUse).toBe(0);
  });

  test.each([0, -1, 1.5, Number.NaN])('rejects limit %d', (limit) => {
    expect(() => new Semaphore(limit)).toThrow(RangeError);
  });
});

describe('mapWithConcurrency', () => {
  test('keeps input order and never runs more than the limit at once', async () => {
    let running = 0;
    let maxRunning = 0;
    const gates = Array.from({ length: 20 }, deferred);
    const result = mapWithConcurrency(gates, 3, async (gate, i) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await gate.promise;
      running--;
      return i * 2;
    });
    // Release in reverse order so completion order differs from input order.
    for (const gate of [...gates].reverse()) {
      gate.resolve();
      await tick();
    }
    expect(await result).toEqual(gates.map((_, i) => i * 2));
    expect(maxRunning).toBe(3);
  });

  test('stops starting work after a failure and reports it', async () => {
    const started: number[] = [];
    const run = mapWithConcurrency([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      await tick();
      if (i === 1) {
        throw new Error('failed');
      }
      return i;
    });
    await expect(run).rejects.toThrow('failed');
    expect(started.length).toBeLessThan(6);
  });

  test('an empty input gives an empty result', async () => {
    await expect(mapWithConcurrency([], 4, () => Promise.resolve(1))).resolves.toEqual([]);
  });
});
