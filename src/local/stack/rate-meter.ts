import type { Clock } from '../../pipeline';

/**
 * A per-second rate over a sliding window (default the last 10 s), from one-second buckets. Fixed memory.
 */
export class RateMeter {
  readonly #clock: Clock;
  readonly #seconds: number;
  readonly #startedAt: number;
  /** Count per second slot, and which second each slot currently holds. */
  readonly #counts: Float64Array;
  readonly #slotSecond: Float64Array;

  /**
   * @param clock - time source
   * @param windowSeconds - the window, whole seconds (at least 1)
   */
  constructor(clock: Clock, windowSeconds = 10) {
    this.#clock = clock;
    this.#seconds = Math.max(1, Math.floor(windowSeconds));
    this.#startedAt = clock();
    this.#counts = new Float64Array(this.#seconds);
    this.#slotSecond = new Float64Array(this.#seconds).fill(Number.NaN);
  }

  /**
   * Counts `n` occurrences now.
   * @param n - how many
   */
  add(n: number): void {
    const second = Math.floor(this.#clock() / 1000);
    const slot = second % this.#seconds;
    if (this.#slotSecond[slot] !== second) {
      this.#slotSecond[slot] = second;
      this.#counts[slot] = 0;
    }
    this.#counts[slot] = (this.#counts[slot] ?? 0) + n;
  }

  /** Occurrences per second over the window (or over the time since creation, when shorter). */
  rate(): number {
    const now = this.#clock();
    const second = Math.floor(now / 1000);
    let total = 0;
    for (let slot = 0; slot < this.#seconds; slot++) {
      const at = this.#slotSecond[slot] ?? Number.NaN;
      if (at <= second && at > second - this.#seconds) {
        total += this.#counts[slot] ?? 0;
      }
    }
    const spanSeconds = Math.min(this.#seconds, Math.max(1, (now - this.#startedAt) / 1000));
    return total / spanSeconds;
  }
}
