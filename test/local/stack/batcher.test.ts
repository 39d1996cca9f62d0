import { Batcher } from '../../../src/local/stack/batcher';
import { deferred, FakeTime, settle } from './fake-time';

function setup(options: { maxEvents?: number; maxWaitMs?: number; hold?: boolean } = {}) {
  const time = new FakeTime();
  const batches: number[][] = [];
  const gates: { resolve: () => void }[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const batcher = new Batcher<number>({
    maxEvents: options.maxEvents ?? 3,
    maxWaitMs: options.maxWaitMs ?? 1000,
    clock: time.clock,
    timers: time,
    process: async (batch) => {
      batches.push(batch);
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      if (options.hold === true) {
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
      }
      concurrent--;
    },
  });
  return { time, batcher, batches, gates, maxConcurrent: () => maxConcurrent };
}

describe('Batcher', () => {
  it('closes a batch as soon as it holds maxEvents items; the rest waits', async () => {
    const { batcher, batches } = setup({ maxEvents: 3 });
    batcher.push([1, 2, 3, 4, 5]);
    await settle();
    expect(batches).toEqual([[1, 2, 3]]);
    expect(batcher.pending).toBe(2);
  });

  it('closes a partial batch maxWaitMs after its oldest item arrived, not before', async () => {
    const { time, batcher, batches } = setup({ maxEvents: 10, maxWaitMs: 1000 });
    batcher.push([1]);
    await time.advance(500);
    batcher.push([2]);
    await time.advance(499);
    expect(batches).toEqual([]);
    await time.advance(1);
    expect(batches).toEqual([[1, 2]]);
    expect(time.timerCount).toBe(0);
  });

  it('measures the wait of the next batch from its own oldest item', async () => {
    const { time, batcher, batches } = setup({ maxEvents: 10, maxWaitMs: 1000 });
    batcher.push([1]);
    await time.advance(1000);
    await time.advance(200);
    batcher.push([2]);
    await time.advance(999);
    expect(batches).toEqual([[1]]);
    await time.advance(1);
    expect(batches).toEqual([[1], [2]]);
  });

  it('hands over one batch at a time; items keep queueing meanwhile', async () => {
    const { batcher, batches, gates, maxConcurrent } = setup({ maxEvents: 2, hold: true });
    batcher.push([1, 2, 3, 4, 5]);
    await settle();
    expect(batches).toEqual([[1, 2]]);
    batcher.push([6]);
    gates[0]!.resolve();
    await settle();
    expect(batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    gates[1]!.resolve();
    await settle();
    expect(batches.at(-1)).toEqual([5, 6]);
    gates[2]!.resolve();
    await settle();
    expect(maxConcurrent()).toBe(1);
    expect(batcher.pending).toBe(0);
  });

  it('processes at once the items that became overdue while a batch was processed', async () => {
    const { time, batcher, batches, gates } = setup({ maxEvents: 10, maxWaitMs: 1000, hold: true });
    batcher.push([1]);
    await time.advance(1000);
    batcher.push([2]);
    await time.advance(1500); // [2] is overdue by now
    gates[0]!.resolve();
    await settle();
    expect(batches).toEqual([[1], [2]]);
  });

  it('keeps item order across batches', async () => {
    const { time, batcher, batches } = setup({ maxEvents: 4 });
    const items = Array.from({ length: 23 }, (_, i) => i);
    for (let i = 0; i < items.length; i += 5) {
      batcher.push(items.slice(i, i + 5));
    }
    await time.advance(1000);
    expect(batches.flat()).toEqual(items);
    expect(batches.every((b) => b.length <= 4)).toBe(true);
  });

  it('flush processes everything without waiting and resolves when idle', async () => {
    const { time, batcher, batches } = setup({ maxEvents: 2, maxWaitMs: 60_000 });
    batcher.push([1, 2, 3]);
    await batcher.flush();
    expect(batches).toEqual([[1, 2], [3]]);
    expect(time.now).toBe(0);
    expect(batcher.pending).toBe(0);
    expect(time.timerCount).toBe(0);
  });

  it('flush waits for the batch in processing', async () => {
    const { batcher, gates } = setup({ hold: true });
    batcher.push([1]);
    let flushed = false;
    const flushing = batcher.flush().then(() => (flushed = true));
    await settle();
    expect(flushed).toBe(false);
    gates[0]!.resolve();
    await flushing;
    expect(flushed).toBe(true);
  });

  it('a failing batch is reported and does not stop the next one', async () => {
    const time = new FakeTime();
    const errors: unknown[] = [];
    const seen: number[][] = [];
    const batcher = new Batcher<number>({
      maxEvents: 1,
      maxWaitMs: 0,
      clock: time.clock,
      timers: time,
      process: (batch) => {
        seen.push(batch);
        return batch[0] === 1 ? Promise.reject(new Error('boom')) : Promise.resolve();
      },
      onError: (e) => errors.push(e),
    });
    batcher.push([1, 2]);
    await batcher.flush();
    expect(seen).toEqual([[1], [2]]);
    expect(errors).toEqual([new Error('boom')]);
  });

  it.each([[{ maxEvents: 0, maxWaitMs: 0 }], [{ maxEvents: 1.5, maxWaitMs: 0 }], [{ maxEvents: 1, maxWaitMs: -1 }]])(
    'refuses limits %j',
    (limits) => {
      const time = new FakeTime();
      expect(
        () => new Batcher({ ...limits, clock: time.clock, timers: time, process: () => Promise.resolve() }),
      ).toThrow(RangeError);
    },
  );
});
