/**
 * Decides when to write the snapshot: some time after the first write since the last snapshot (so a burst of writes
 * costs one snapshot, and a steady stream of writes still gets one every `delayMs`), and whenever asked. Snapshots
 * never overlap. A failed background write leaves the store marked dirty: the next write schedules another
 * attempt, and an explicit {@link SnapshotScheduler.flush} reports the error.
 */
export class SnapshotScheduler {
  private readonly write: () => Promise<void>;
  private readonly delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private stopped = false;
  private queue: Promise<void> = Promise.resolve();

  /**
   * @param write - writes one snapshot
   * @param delayMs - how long after a change the snapshot is written
   */
  constructor(write: () => Promise<void>, delayMs: number) {
    this.write = write;
    this.delayMs = delayMs;
  }

  /** Notes a change and schedules a snapshot unless one is already scheduled. */
  markDirty(): void {
    this.dirty = true;
    if (this.timer !== undefined || this.stopped) {
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // The store stays dirty on failure; the next change or flush tries again.
      this.flush(false).catch(() => undefined);
    }, this.delayMs);
    // A pending snapshot must not keep the process alive; close() flushes explicitly.
    this.timer.unref();
  }

  /**
   * Writes a snapshot now (after any snapshot in progress).
   * @param always - write even when nothing changed since the last snapshot
   */
  flush(always = true): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const run = this.queue.then(async () => {
      if (!always && !this.dirty) {
        return;
      }
      this.dirty = false;
      try {
        await this.write();
      } catch (error) {
        this.dirty = true;
        throw error;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops scheduling background snapshots (explicit flushes still work). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
