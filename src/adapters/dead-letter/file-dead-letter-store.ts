/**
 * The dead-letter store of the local stack: JSON lines files in one folder (by default `.iomt-data/dead-letters/`),
 * the same port as the Table-storage store, so `iomt deadletter list|replay` works on either.
 *
 * Layout: one append-only log per UTC day of the entry id (`yyyymmdd.jsonl`; ids that embed no day go to
 * `undated.jsonl`). Each line is one record, `{"op":"put","entry":{…}}` or `{"op":"remove","id":"…"}`. Reading
 * replays the log: the last put of an id wins (overwrite by id) and a later remove hides it.
 *
 * Durability: each call appends all its lines in one write to a file opened for appending, then fsyncs, so once
 * `put` resolved the entries survive a crash. Every append starts with a newline: a line torn by a crash mid-write
 * then stays alone on its line (and is skipped when read) instead of swallowing the next record. A log whose
 * replaced or removed lines outnumber its live entries is compacted on `remove`: rewritten to a temporary file that
 * is renamed over the log — unless the log grew in the meantime (another process appending), then it is left alone.
 *
 * Dead letters hold device data (patient identifiers, readings), so the folder is created `0700` and files `0600`.
 */
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  deadLetterIdDay,
  type DeadLetterStore,
  type DeadLetterSummary,
  matchesDeadLetterFilter,
  orderAndLimitDeadLetters,
  ErrorCode,
  PipelineError,
  summarizeDeadLetter,
} from '../../pipeline';

/** Options of {@link createFileDeadLetterStore}. */
export interface FileDeadLetterStoreOptions {
  /** The folder of the logs; created on first write. */
  readonly directory: string;
  /** Compact a log on `remove` once it holds at least this many dead lines, and more dead than live. Default 64. */
  readonly compactAfterDeadLines?: number;
}

/** The file name of logs whose entry ids embed no day. */
const UNDATED = 'undated';
const LOG_SUFFIX = '.jsonl';

type LogRecord =
  { readonly op: 'put'; readonly entry: DeadLetterEntry } | { readonly op: 'remove'; readonly id: string };

/** The state of one log after replaying it. */
interface LogState {
  /** Live entries by id, in order of their latest put. */
  readonly entries: Map<string, DeadLetterEntry>;
  /** Records that no longer count: replaced puts, removed puts, removes, unreadable lines. */
  readonly deadLines: number;
  /** The size of the log when it was read. */
  readonly size: number;
}

/**
 * A dead-letter store on JSON lines files.
 * @param options - the folder and the compaction threshold
 */
export function createFileDeadLetterStore(options: FileDeadLetterStoreOptions): DeadLetterStore {
  const { directory } = options;
  const compactAfter = Math.max(1, options.compactAfterDeadLines ?? 64);
  // Writes and compactions of this store run one at a time; readers never wait (they skip a torn last line).
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(operation: () => Promise<T>): Promise<T> => {
    const run = queue.then(operation, operation);
    queue = run.catch(() => undefined);
    return run;
  };
  const logOf = (id: string): string => join(directory, `${deadLetterIdDay(id) ?? UNDATED}${LOG_SUFFIX}`);

  const append = async (file: string, records: readonly LogRecord[]): Promise<void> => {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const text = `\n${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
    const handle = await open(file, 'a', 0o600);
    try {
      await handle.appendFile(text, 'utf8');
      await handle.datasync();
    } finally {
      await handle.close();
    }
  };

  const compact = async (file: string, state: LogState): Promise<void> => {
    const temporary = `${file}.${process.pid}.tmp`;
    const lines = [...state.entries.values()].map((entry) => JSON.stringify({ op: 'put', entry } satisfies LogRecord));
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(lines.length === 0 ? '' : `${lines.join('\n')}\n`, 'utf8');
      await handle.datasync();
    } finally {
      await handle.close();
    }
    // Only replace a log nobody appended to since it was read; otherwise try again on a later remove.
    if ((await stat(file)).size === state.size) {
      await rename(temporary, file);
    } else {
      await rm(temporary, { force: true });
    }
  };

  return {
    put: (entries) =>
      exclusive(() =>
        guard('write', async () => {
          const byLog = new Map<string, LogRecord[]>();
          for (const entry of entries) {
            const file = logOf(entry.id);
            byLog.set(file, [...(byLog.get(file) ?? []), { op: 'put', entry }]);
          }
          for (const [file, records] of byLog) {
            await append(file, records);
          }
        }),
      ),

    list: (filter: DeadLetterFilter = {}) =>
      guard('read', async () => {
        const summaries: DeadLetterSummary[] = [];
        for (const file of await logFiles(directory)) {
          for (const entry of (await readLog(file)).entries.values()) {
            if (matchesDeadLetterFilter(entry, filter)) {
              summaries.push(summarizeDeadLetter(entry));
            }
          }
        }
        return orderAndLimitDeadLetters(summaries, filter);
      }),

    get: (id) => guard('read', async () => (await readLog(logOf(id))).entries.get(id)),

    remove: (ids) =>
      exclusive(() =>
        guard('write', async () => {
          const byLog = new Map<string, Set<string>>();
          for (const id of ids) {
            const file = logOf(id);
            byLog.set(file, (byLog.get(file) ?? new Set<string>()).add(id));
          }
          let removed = 0;
          for (const [file, wanted] of byLog) {
            const state = await readLog(file);
            const present = [...wanted].filter((id) => state.entries.has(id));
            if (present.length === 0) {
              continue;
            }
            await append(
              file,
              present.map((id) => ({ op: 'remove', id })),
            );
            removed += present.length;
            for (const id of present) {
              state.entries.delete(id);
            }
            const dead = state.deadLines + 2 * present.length;
            if (dead >= compactAfter && dead > state.entries.size) {
              await compact(file, await readLog(file));
            }
          }
          return removed;
        }),
      ),

    ping: () =>
      guard('write', async () => {
        await mkdir(directory, { recursive: true, mode: 0o700 });
        await access(directory, constants.W_OK);
      }),
  };
}

/** The logs in the folder, oldest day first; none when the folder does not exist yet. */
async function logFiles(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory))
      .filter((name) => name.endsWith(LOG_SUFFIX))
      .sort()
      .map((name) => join(directory, name));
  } catch (error) {
    if (isNotFound(error)) {
      return [];
    }
    throw error;
  }
}

/** Replays one log; a missing log is empty. */
async function readLog(file: string): Promise<LogState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isNotFound(error)) {
      return { entries: new Map(), deadLines: 0, size: 0 };
    }
    throw error;
  }
  const entries = new Map<string, DeadLetterEntry>();
  let records = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    records++;
    const record = parseRecord(line);
    if (record?.op === 'put') {
      // Delete first so that the map's order is the order of the latest puts.
      entries.delete(record.entry.id);
      entries.set(record.entry.id, record.entry);
    } else if (record?.op === 'remove') {
      entries.delete(record.id);
    }
  }
  return { entries, deadLines: records - entries.size, size: Buffer.byteLength(text, 'utf8') };
}

/** A record, or undefined for a line that is torn or not ours. */
function parseRecord(line: string): LogRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const record = value as { op?: unknown; id?: unknown; entry?: unknown };
  if (record.op === 'remove' && typeof record.id === 'string') {
    return { op: 'remove', id: record.id };
  }
  if (record.op === 'put' && isEntry(record.entry)) {
    return { op: 'put', entry: record.entry };
  }
  return undefined;
}

function isEntry(value: unknown): value is DeadLetterEntry {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const entry = value as Partial<Record<keyof DeadLetterEntry, unknown>>;
  return (
    typeof entry.id === 'string' &&
    typeof entry.stage === 'string' &&
    typeof entry.createdAt === 'string' &&
    typeof entry.error === 'object' &&
    entry.error !== null &&
    typeof entry.payload === 'object' &&
    entry.payload !== null
  );
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT';
}

/** Runs a file operation; file-system failures become a retryable `STORAGE_UNAVAILABLE` error. */
async function guard<T>(what: 'read' | 'write', operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof PipelineError) {
      throw error;
    }
    const code = (error as { code?: unknown } | null)?.code;
    throw new PipelineError(ErrorCode.StorageUnavailable, `dead-letter file ${what} failed`, {
      cause: error,
      details: typeof code === 'string' ? { errno: code } : {},
    });
  }
}
