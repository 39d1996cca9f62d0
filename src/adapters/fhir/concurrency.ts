/**
 * Bounding in-flight FHIR requests. Without a bound, a fan-out of thousands of saves opens thousands of sockets and
 * turns the FHIR service's throttling into a storm of 429s; with one, requests queue here in FIFO order.
 */

/** A counting semaphore with a FIFO queue of waiters. */
export class Semaphore {
  readonly limit: number;
  #available: number;
  readonly #waiters: (() => void)[] = [];

  /** @param limit - how many holders at once, at least 1 */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError('Semaphore limit must be a positive integer');
    }
    this.limit = limit;
    this.#available = limit;
  }

  /** How many holders there are now. */
  get inUse(): number {
    return this.limit - this.#available;
  }

  /** How many callers wait. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Waits for a slot and returns its release function (idempotent). */
  async acquire(): Promise<() => void> {
    if (this.#available > 0) {
      this.#available--;
    } else {
      // The releaser hands its slot straight to us, so #available is not touched on this path.
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.#release();
      }
    };
  }

  /**
   * Runs `task` holding a slot.
   * @param task - the work
   */
  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }

  #release(): void {
    const next = this.#waiters.shift();
    if (next === undefined) {
      this.#available++;
    } else {
      next();
    }
  }
}

/**
 * Maps `items` through `task` with at most `limit` tasks running, keeping input order. A pool of `limit` workers
 * pulls items, so a large input never creates one pending promise per item up front.
 * @param items - the inputs
 * @param limit - the most tasks at once
 * @param task - the work for one item and its index
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, index);
      } catch (error) {
        failed = true; // stop the other workers from starting more work; Promise.all reports the first error
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}
