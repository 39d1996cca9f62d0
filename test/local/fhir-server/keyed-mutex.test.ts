import { KeyedMutex } from '../../../src/local/fhir-server/keyed-mutex';

/** Yields to the event loop a few times, so that sections that could overlap do. */
async function yieldSome(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('KeyedMutex', () => {
  test('runs sections on one key one at a time, in arrival order', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    await Promise.all(
      [1, 2, 3].map((n) =>
        mutex.run(['k'], async () => {
          events.push(`start ${n}`);
          await yieldSome();
          events.push(`end ${n}`);
        }),
      ),
    );
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect(mutex.size).toBe(0);
  });

  test('runs sections on different keys side by side', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    await Promise.all(
      ['a', 'b'].map((key) =>
        mutex.run([key], async () => {
          events.push(`start ${key}`);
          await yieldSome();
          events.push(`end ${key}`);
        }),
      ),
    );
    expect(events.slice(0, 2)).toEqual(['start a', 'start b']);
  });

  test('does not deadlock when sections take overlapping key sets in opposite orders', async () => {
    const mutex = new KeyedMutex();
    let inside = 0;
    let most = 0;
    const section = async (): Promise<void> => {
      inside++;
      most = Math.max(most, inside);
      await yieldSome();
      inside--;
    };
    await Promise.all([
      mutex.run(['x', 'y'], section),
      mutex.run(['y', 'x'], section),
      mutex.run(['y', 'x', 'x'], section),
    ]);
    expect(most).toBe(1);
    expect(mutex.size).toBe(0);
  });

  test('releases the keys when a section throws, and passes the error on', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run(['k'], () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(mutex.run(['k'], () => Promise.resolve(42))).resolves.toBe(42);
    expect(mutex.size).toBe(0);
  });

  test('runs a section with no keys at once', async () => {
    await expect(new KeyedMutex().run([], () => Promise.resolve('free'))).resolves.toBe('free');
  });
});
