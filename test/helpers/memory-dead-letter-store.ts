import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterStore,
  type DeadLetterSummary,
  matchesDeadLetterFilter,
  orderAndLimitDeadLetters,
  summarizeDeadLetter,
} from '../../src/pipeline/dead-letter';
import { ErrorCode, PipelineError } from '../../src/pipeline/errors';

/**
 * An in-memory {@link DeadLetterStore} with the Table store's semantics: entries are stored as JSON (so a
 * non-serializable entry fails here too), the same id replaces, `list` is newest first. Set `available = false` to
 * simulate an outage (every call rejects with a retryable `STORAGE_UNAVAILABLE`).
 */
export class MemoryDeadLetterStore implements DeadLetterStore {
  /** Stored entries by id, as JSON text. */
  private readonly rows = new Map<string, string>();
  /** When false, every operation fails as if storage were unreachable. */
  available = true;

  /** The stored entries, parsed (for assertions). */
  get entries(): DeadLetterEntry[] {
    return [...this.rows.values()].map((text) => JSON.parse(text) as DeadLetterEntry);
  }

  put(entries: readonly DeadLetterEntry[]): Promise<void> {
    return this.run(() => {
      for (const entry of entries) {
        this.rows.set(entry.id, JSON.stringify(entry));
      }
    });
  }

  list(filter: DeadLetterFilter = {}): Promise<DeadLetterSummary[]> {
    return this.run(() =>
      orderAndLimitDeadLetters(
        this.entries.filter((e) => matchesDeadLetterFilter(e, filter)).map(summarizeDeadLetter),
        filter,
      ),
    );
  }

  get(id: string): Promise<DeadLetterEntry | undefined> {
    return this.run(() => {
      const text = this.rows.get(id);
      return text === undefined ? undefined : (JSON.parse(text) as DeadLetterEntry);
    });
  }

  remove(ids: readonly string[]): Promise<number> {
    return this.run(() => [...new Set(ids)].filter((id) => this.rows.delete(id)).length);
  }

  ping(): Promise<void> {
    return this.run(() => undefined);
  }

  /** Runs an operation as the real store would: asynchronously, failing while unavailable. */
  private run<T>(operation: () => T): Promise<T> {
    if (!this.available) {
      return Promise.reject(
        new PipelineError(ErrorCode.StorageUnavailable, 'Storage dead-letter store unavailable (simulated)'),
      );
    }
    try {
      return Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
