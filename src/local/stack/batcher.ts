/**
 * The batching of one partition, as Event Hubs delivers to a Functions trigger (and MedTech's
 * `EventBatchingService` batches, medtech-reference §1): items queue up, and a batch closes on whichever comes
 * first — `maxEvents` items, or `maxWaitMs` after the oldest queued item arrived. Batches are handed over one at a
 * time in arrival order; while one is processed, new items keep queueing (the next batch takes them, up to
 * `maxEvents`). Time and timers are injected, so the rules are tested without waiting.
 */
import type { Clock } from '../../pipeline';

/** Timers, injected (the real ones, or a fake in tests). */
export interface Timers {
  /**
   * Calls `callback` once after `ms` milliseconds.
   * @param callback - what to call
   * @param ms - the delay
   * @returns a handle for {@link Timers.clear}
   */
  set(callback: () => void, ms: number): unknown;
  /**
   * Cancels a pending call.
   * @param handle - what {@link Timers.set} returned
   */
  clear(handle: unknown): void;
}

/** The process's timers. */
export const systemTimers: Timers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** Options of {@link Batcher}. */
export interface BatcherOptions<T> {
  /** Items per batch at most (at least 1). */
  readonly maxEvents: number;
  /** How long the oldest queued item waits for the batch to fill, ms. */
  readonly maxWaitMs: number;
  readonly clock: Clock;
  readonly timers: Timers;
  /**
   * Processes one batch. The next batch is handed over only after the returned promise settles. A rejection is
   * passed to `onError`; the items are not queued again.
   */
  readonly process: (batch: T[]) => Promise<void>;
  /** Called with what `process` rejected with. */
  readonly onError?: (error: unknown) => void;
  /** Called after each batch, once its items no longer count as pending. */
  readonly afterBatch?: () => void;
}

interface Segment<T> {
  readonly items: readonly T[];
  readonly arrivedAt: number;
  /** Items of this segment already taken. */
  taken: number;
}

/** The queue and batch loop of one partition. */
export class Batcher<T> {
  readonly #options: BatcherOptions<T>;
  readonly #segments: Segment<T>[] = [];
  #queued = 0;
  #inFlight = 0;
  #busy = false;
  #timer: unknown;
  #timerDue = Number.NaN;
  #flushing = 0;
  #idleWaiters: (() => void)[] = [];

  /**
   * @param options - limits, time, and the batch processor
   */
  constructor(options: BatcherOptions<T>) {
    if (!Number.isInteger(options.maxEvents) || options.maxEvents < 1) {
      throw new RangeError('maxEvents must be a positive integer');
    }
    if (!(options.maxWaitMs >= 0)) {
      throw new RangeError('maxWaitMs must not be negative');
    }
    this.#options = options;
  }

  /** Items queued or in the batch being processed. */
  get pending(): number {
    return this.#queued + this.#inFlight;
  }

  /**
   * Queues items (one send: they arrive together, in this order).
   * @param items - the items
   */
  push(items: readonly T[]): void {
    if (items.length === 0) {
      return;
    }
    this.#segments.push({ items, arrivedAt: this.#options.clock(), taken: 0 });
    this.#queued += items.length;
    this.#schedule();
  }

  /**
   * Closes batches without waiting until every item queued so far has been processed.
   * @returns resolves when the queue is empty and no batch is being processed
   */
  flush(): Promise<void> {
    this.#flushing++;
    const done = this.idle();
    this.#schedule();
    return done.finally(() => {
      this.#flushing--;
    });
  }

  /** Resolves when the queue is empty and no batch is being processed. */
  idle(): Promise<void> {
    if (this.pending === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #schedule(): void {
    if (this.#busy) {
      return; // the running batch reschedules when it ends
    }
    const first = this.#segments[0];
    if (first === undefined) {
      this.#cancelTimer();
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) {
        resolve();
      }
      return;
    }
    const due = first.arrivedAt + this.#options.maxWaitMs;
    if (this.#queued >= this.#options.maxEvents || this.#flushing > 0 || this.#options.clock() >= due) {
      this.#cancelTimer();
      void this.#run();
      return;
    }
    if (this.#timerDue !== due) {
      this.#cancelTimer();
      this.#timerDue = due;
      this.#timer = this.#options.timers.set(
        () => {
          this.#timer = undefined;
          this.#timerDue = Number.NaN;
          this.#schedule();
        },
        Math.max(0, due - this.#options.clock()),
      );
    }
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) {
      this.#options.timers.clear(this.#timer);
      this.#timer = undefined;
    }
    this.#timerDue = Number.NaN;
  }

  #take(): T[] {
    const batch: T[] = [];
    while (batch.length < this.#options.maxEvents) {
      const segment = this.#segments[0];
      if (segment === undefined) {
        break;
      }
      const count = Math.min(segment.items.length - segment.taken, this.#options.maxEvents - batch.length);
      for (let i = 0; i < count; i++) {
        batch.push(segment.items[segment.taken + i] as T);
      }
      segment.taken += count;
      if (segment.taken === segment.items.length) {
        this.#segments.shift();
      }
    }
    this.#queued -= batch.length;
    return batch;
  }

  async #run(): Promise<void> {
    this.#busy = true;
    const batch = this.#take();
    this.#inFlight = batch.length;
    try {
      await this.#options.process(batch);
    } catch (error) {
      this.#options.onError?.(error);
    } finally {
      this.#inFlight = 0;
      this.#busy = false;
      this.#options.afterBatch?.();
      this.#schedule();
    }
  }
}
