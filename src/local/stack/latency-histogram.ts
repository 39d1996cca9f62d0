/**
 * A fixed-memory latency histogram with log-linear buckets (16 per doubling, so any quantile is within about 2.2 %
 * of the true value), for the p50/p99 device-to-FHIR latency of the progress line and `/metrics`. Recording is
 * O(1) and allocation-free.
 */

/** Buckets per doubling of the value. */
const SUB_BUCKETS = 16;
/** Bucket 0 holds [0, 1) ms; bucket k ≥ 1 holds [2^((k-1)/16), 2^(k/16)) ms; the last one everything above. */
const BUCKETS = 1 + 32 * SUB_BUCKETS;

/** Counts of values (milliseconds) by bucket, with exact count, sum, min and max. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  /**
   * Adds one value. Negative and non-finite values are ignored.
   * @param ms - the value, milliseconds
   */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      return;
    }
    const index = ms < 1 ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log2(ms) * SUB_BUCKETS));
    this.#counts[index] = (this.#counts[index] ?? 0) + 1;
    this.#count++;
    this.#sum += ms;
    if (ms < this.#min) {
      this.#min = ms;
    }
    if (ms > this.#max) {
      this.#max = ms;
    }
  }

  /** Values recorded. */
  get count(): number {
    return this.#count;
  }

  /** Sum of the values recorded. */
  get sum(): number {
    return this.#sum;
  }

  /** The smallest value, or undefined when empty. */
  get min(): number | undefined {
    return this.#count === 0 ? undefined : this.#min;
  }

  /** The largest value, or undefined when empty. */
  get max(): number | undefined {
    return this.#count === 0 ? undefined : this.#max;
  }

  /**
   * The value below which a fraction `q` of the values lie (nearest rank), or undefined when empty.
   * @param q - the quantile, 0..1
   */
  quantile(q: number): number | undefined {
    if (this.#count === 0) {
      return undefined;
    }
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.#count));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.#counts[index] ?? 0;
      if (seen >= rank) {
        // The bucket's geometric midpoint, kept within the values actually seen.
        const estimate = index === 0 ? 0.5 : 2 ** ((index - 0.5) / SUB_BUCKETS);
        return Math.min(this.#max, Math.max(this.#min, estimate));
      }
    }
    return this.#max;
  }
}
