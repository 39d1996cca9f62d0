import type { Timers } from '../../../src/local/stack/batcher';

/** A manual clock and timers: time moves only when the test advances it. */
export class FakeTime implements Timers {
  now = 0;
  private nextHandle = 1;
  private readonly pending = new Map<number, { due: number; callback: () => void }>();

  readonly clock = (): number => this.now;

  set(callback: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.pending.set(handle, { due: this.now + ms, callback });
    return handle;
  }

  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Timers not yet fired. */
  get timerCount(): number {
    return this.pending.size;
  }

  /** Moves time forward, firing due timers in order (and letting promise callbacks run after each). */
  async advance(ms: number): Promise<void> {
    const target = this.now + ms;
    for (;;) {
      const next = [...this.pending.entries()].sort((a, b) => a[1].due - b[1].due)[0];
      if (next === undefined || next[1].due > target) {
        break;
      }
      this.pending.delete(next[0]);
      this.now = Math.max(this.now, next[1].due);
      next[1].callback();
      await settle();
    }
    this.now = target;
    await settle();
  }
}

/** Lets queued promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** A promise with its resolve function, to hold a batch "in processing" until the test releases it. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
