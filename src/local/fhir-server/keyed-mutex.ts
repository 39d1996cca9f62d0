/**
 * Runs async critical sections one at a time per key, first come first served.
 *
 * A section may hold several keys; it takes them all before it starts, in sorted order, so two sections that share
 * keys can never wait on each other in a cycle. Sections must not take keys again from inside (no nesting): the
 * FHIR routes take every key of a request once, at the top.
 */
export class KeyedMutex {
  /** key → the promise that settles when the last section queued on it releases it. */
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `section` once it holds every key.
   * @param keys - the keys (duplicates are ignored; none runs the section at once)
   * @param section - the critical section
   * @returns what the section returns
   */
  async run<T>(keys: Iterable<string>, section: () => Promise<T>): Promise<T> {
    const releases: (() => void)[] = [];
    try {
      for (const key of [...new Set(keys)].sort()) {
        releases.push(await this.acquire(key));
      }
      return await section();
    } finally {
      for (const release of releases) {
        release();
      }
    }
  }

  /** How many keys are held or waited for (for tests: zero once everything settled). */
  get size(): number {
    return this.tails.size;
  }

  private async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous === undefined ? released : previous.then(() => released);
    this.tails.set(key, tail);
    await previous;
    return () => {
      release();
      if (this.tails.get(key) === tail) {
        this.tails.delete(key);
      }
    };
  }
}
