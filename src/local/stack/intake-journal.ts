/**
 * The intake journal of `iomt start`: a write-ahead log that makes an accepted event durable before the ingest
 * endpoint answers 202, as Event Hubs keeps an event until the consumer's checkpoint passes it.
 *
 * - `<dataDir>/intake/<first journal sequence, 20 digits>.jsonl`: segments of JSON lines, one accepted event a line:
 *   `{"j": journal sequence, "p": partition, "s": sequence number within the partition, "e": the event}`, the event
 *   stored by the core's `serializeDeadLetterEvent` (body bytes and property values kept as dead letters keep them).
 *   A segment rotates at `maxSegmentBytes`; segments are only ever appended to, and a new one is started at every open,
 *   so a line torn by a crash can only be the last of its segment (it is ignored: its request never got its 202).
 * - Appends share fsyncs (group commit): lines appended while a write + fdatasync is in progress go out together with
 *   the next one, so many concurrent requests cost one fsync.
 * - `checkpoint.json` (written to a temporary file, synced, renamed): every event below `next` is complete (saved or
 *   dead-lettered), plus the next sequence number of each partition, so numbers (and with them dead-letter ids) are
 *   never reused after the segments holding them are deleted. Events complete out of order (partitions run
 *   concurrently); the checkpoint is the lowest incomplete sequence. Segments wholly below it are deleted.
 * - At open, the events at or above the checkpoint are returned for processing again; saves are idempotent, so an
 *   event that had been saved before the crash adds nothing.
 */
import { Buffer } from 'node:buffer';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import type { DeadLetterEntry, DeadLetterEvent, DeviceEvent } from '../../pipeline';
import { deserializeDeadLetterEvent, serializeDeadLetterEvent } from '../../pipeline';

/** Default size at which a segment rotates: 16 MiB. */
export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;

const CHECKPOINT_FILE = 'checkpoint.json';
const SEGMENT_PATTERN = /^(\d{20})\.jsonl$/;

/** Options of {@link openIntakeJournal}. */
export interface IntakeJournalOptions {
  /** The journal's folder (`<dataDir>/intake`), created if missing. */
  readonly directory: string;
  /** Size at which a segment rotates. Default {@link DEFAULT_SEGMENT_BYTES}. */
  readonly maxSegmentBytes?: number;
  /**
   * Write the checkpoint whenever completed events move it (coalesced: one write at a time). Right when the FHIR
   * service is durable by itself; with the embedded server the owner calls {@link IntakeJournal.checkpoint} after
   * each FHIR snapshot instead.
   */
  readonly autoCheckpoint: boolean;
  /** Reports a problem worth a line on the terminal (never containing data values). */
  readonly onProblem?: (message: string) => void;
}

/** An event read back at open: not complete before the crash. */
export interface RecoveredEvent {
  readonly sequence: number;
  /** With its partition, sequence number and enqueued time as first accepted. */
  readonly event: DeviceEvent;
}

/** What {@link openIntakeJournal} found. */
export interface JournalRecovery {
  readonly journal: IntakeJournal;
  /** In journal order. */
  readonly recovered: readonly RecoveredEvent[];
  /** Lines that could not be read, other than a torn last line (they are skipped). */
  readonly unreadableLines: number;
}

interface Checkpoint {
  readonly version: 1;
  readonly next: number;
  readonly sequenceNumbers: Readonly<Record<string, number>>;
}

interface Line {
  readonly j: number;
  readonly p: string;
  readonly s: number;
  readonly e: DeadLetterEvent;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Opens the journal and reads back the events not yet complete.
 * @param options - folder, segment size, checkpoint policy
 */
export async function openIntakeJournal(options: IntakeJournalOptions): Promise<JournalRecovery> {
  const { directory } = options;
  await mkdir(directory, { recursive: true });
  const checkpoint = await readCheckpoint(directory);
  const names = (await readdir(directory)).filter((n) => SEGMENT_PATTERN.test(n)).sort();
  const recovered: RecoveredEvent[] = [];
  const sequenceNumbers = new Map(Object.entries(checkpoint.sequenceNumbers));
  let next = checkpoint.next;
  let unreadableLines = 0;
  const segments: number[] = [];
  for (const name of names) {
    segments.push(Number(name.slice(0, 20)));
    const text = await readFile(join(directory, name), 'utf8');
    const lines = text.split('\n');
    // The piece after the last newline is empty, or a line torn by a crash: never acknowledged, ignored.
    lines.pop();
    for (const text of lines) {
      const line = parseLine(text);
      if (line === undefined) {
        unreadableLines++;
        continue;
      }
      next = Math.max(next, line.j + 1);
      sequenceNumbers.set(line.p, Math.max(sequenceNumbers.get(line.p) ?? 0, line.s + 1));
      if (line.j >= checkpoint.next) {
        recovered.push({ sequence: line.j, event: toEvent(line) });
      }
    }
  }
  recovered.sort((a, b) => a.sequence - b.sequence);
  const journal = new IntakeJournal(options, { next, checkpointed: checkpoint.next, sequenceNumbers, segments });
  journal.track(recovered.map((r) => r.sequence));
  await journal.deleteCompleteSegments();
  if (unreadableLines > 0) {
    options.onProblem?.(`intake journal: ${unreadableLines} unreadable lines were skipped`);
  }
  return { journal, recovered, unreadableLines };
}

/** The journal; see the file comment. Made by {@link openIntakeJournal}. */
export class IntakeJournal {
  readonly #options: IntakeJournalOptions;
  readonly #maxSegmentBytes: number;
  readonly #sequenceNumbers: Map<string, number>;
  /** First journal sequence of each segment on disk, ascending; the last one is being written. */
  readonly #segments: number[];
  #next: number;
  #checkpointed: number;
  /** Sequences not yet known complete, ascending, from `#head` on. */
  #pending: number[] = [];
  #head = 0;
  readonly #done = new Set<number>();
  #buffer: string[] = [];
  #bufferFirst = 0;
  #waiters: Waiter[] = [];
  #flushing: Promise<void> | undefined;
  #file: FileHandle | undefined;
  #fileBytes = 0;
  #checkpointing: Promise<void> = Promise.resolve();
  #queuedCheckpoint: Promise<void> | undefined;
  #queuedLimit = Number.NEGATIVE_INFINITY;
  #closed = false;

  /**
   * @param options - see {@link IntakeJournalOptions}
   * @param state - what {@link openIntakeJournal} read
   * @internal
   */
  constructor(
    options: IntakeJournalOptions,
    state: { next: number; checkpointed: number; sequenceNumbers: Map<string, number>; segments: number[] },
  ) {
    this.#options = options;
    this.#maxSegmentBytes = options.maxSegmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.#next = state.next;
    this.#checkpointed = state.checkpointed;
    this.#sequenceNumbers = state.sequenceNumbers;
    this.#segments = state.segments;
  }

  /** Every event below this journal sequence is complete. */
  get watermark(): number {
    return this.#head < this.#pending.length ? (this.#pending[this.#head] as number) : this.#next;
  }

  /** The sequence the checkpoint on disk names. */
  get checkpointed(): number {
    return this.#checkpointed;
  }

  /** Segment files on disk. */
  get segments(): number {
    return this.#segments.length;
  }

  /**
   * Claims the next sequence number of a partition (as Event Hubs numbers a partition's events).
   * @param partitionId - the partition
   */
  nextSequenceNumber(partitionId: string): number {
    const n = this.#sequenceNumbers.get(partitionId) ?? 0;
    this.#sequenceNumbers.set(partitionId, n + 1);
    return n;
  }

  /**
   * Appends events (each with its `partitionId` and `sequenceNumber`). The lines are written by the next group
   * commit; `durable` resolves once they are on disk (written and fdatasync'ed), and rejects when that failed.
   * @param events - the events, in order
   * @returns the journal sequence of the first event (the others follow), and the durability promise
   */
  append(events: readonly DeviceEvent[]): { readonly first: number; readonly durable: Promise<void> } {
    if (this.#closed) {
      throw new Error('the intake journal is closed');
    }
    const first = this.#next;
    if (this.#buffer.length === 0) {
      this.#bufferFirst = first;
    }
    for (const event of events) {
      const j = this.#next++;
      const line: Line = {
        j,
        p: event.partitionId ?? '0',
        s: event.sequenceNumber ?? 0,
        e: serializeDeadLetterEvent(event),
      };
      this.#buffer.push(`${JSON.stringify(line)}\n`);
      this.#pending.push(j);
    }
    const durable = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    // Producers that do not wait (the simulator) must not turn a failed write into an unhandled rejection.
    durable.catch(() => undefined);
    this.#flushing ??= this.#flushLoop();
    return { first, durable };
  }

  /**
   * Marks events complete (saved, or dead-lettered and the dead letter written).
   * @param sequences - their journal sequences, in any order
   */
  complete(sequences: Iterable<number>): void {
    const before = this.watermark;
    for (const s of sequences) {
      if (s >= before) {
        this.#done.add(s);
      }
    }
    const pending = this.#pending;
    while (this.#head < pending.length && this.#done.delete(pending[this.#head] as number)) {
      this.#head++;
    }
    if (this.#head > 4096 && this.#head * 2 > pending.length) {
      this.#pending = pending.slice(this.#head);
      this.#head = 0;
    }
    if (this.#options.autoCheckpoint && this.watermark > before) {
      void this.checkpoint().catch(() => undefined);
    }
  }

  /**
   * Writes the checkpoint (coalesced with a write in progress), then deletes the segments wholly below it.
   * @param upTo - at most this sequence (a watermark captured before a FHIR snapshot); default the watermark
   * @returns resolves when a checkpoint at least this far is on disk
   */
  checkpoint(upTo = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.#queuedCheckpoint === undefined && Math.min(upTo, this.watermark) <= this.#checkpointed) {
      return this.#checkpointing;
    }
    this.#queuedLimit = Math.max(this.#queuedLimit, upTo);
    // Calls made while a write is in progress share the next one.
    this.#queuedCheckpoint ??= this.#checkpointing.then(async () => {
      this.#queuedCheckpoint = undefined;
      const next = Math.min(this.#queuedLimit, this.watermark);
      this.#queuedLimit = Number.NEGATIVE_INFINITY;
      if (next <= this.#checkpointed) {
        return;
      }
      try {
        await this.#writeCheckpoint(next);
        this.#checkpointed = next;
        await this.deleteCompleteSegments();
      } catch (error) {
        this.#options.onProblem?.(`intake journal: the checkpoint could not be written (${errorCode(error)})`);
        throw error;
      }
    });
    const run = this.#queuedCheckpoint;
    this.#checkpointing = run.catch(() => undefined);
    return run;
  }

  /**
   * Waits for appends in progress, writes the checkpoint when it advances by itself, and closes the segment.
   * Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#flushing;
    if (this.#options.autoCheckpoint) {
      await this.checkpoint().catch(() => undefined);
    }
    await this.#checkpointing;
    const file = this.#file;
    this.#file = undefined;
    await file?.close();
  }

  /**
   * Tracks recovered events as not complete.
   * @param sequences - ascending journal sequences
   * @internal
   */
  track(sequences: readonly number[]): void {
    this.#pending.push(...sequences);
  }

  /**
   * Deletes the segments whose events are all below the checkpoint (never the one being written).
   * @internal
   */
  async deleteCompleteSegments(): Promise<void> {
    while (this.#segments.length > 1 && (this.#segments[1] as number) <= this.#checkpointed) {
      const first = this.#segments.shift() as number;
      await rm(join(this.#options.directory, segmentName(first)), { force: true });
    }
    // The last segment on disk is not being written after a restart: it goes too once wholly below.
    const only = this.#segments[0];
    if (
      this.#segments.length === 1 &&
      this.#file === undefined &&
      only !== undefined &&
      this.#next <= this.#checkpointed
    ) {
      this.#segments.shift();
      await rm(join(this.#options.directory, segmentName(only)), { force: true });
    }
  }

  async #flushLoop(): Promise<void> {
    while (this.#buffer.length > 0) {
      const bytes = Buffer.from(this.#buffer.join(''), 'utf8');
      const first = this.#bufferFirst;
      const waiters = this.#waiters;
      this.#buffer = [];
      this.#waiters = [];
      try {
        await this.#write(bytes, first);
        for (const w of waiters) {
          w.resolve();
        }
      } catch (error) {
        // The segment may end in a partial line now: later lines go to a fresh one.
        const file = this.#file;
        this.#file = undefined;
        await file?.close().catch(() => undefined);
        this.#options.onProblem?.(
          `intake journal: ${waiters.length} appends could not be written (${errorCode(error)})`,
        );
        for (const w of waiters) {
          w.reject(error);
        }
      }
    }
    this.#flushing = undefined;
  }

  async #write(bytes: Buffer, first: number): Promise<void> {
    if (this.#file !== undefined && this.#fileBytes > 0 && this.#fileBytes + bytes.length > this.#maxSegmentBytes) {
      const file = this.#file;
      this.#file = undefined;
      await file.close();
    }
    if (this.#file === undefined) {
      // 'w': a segment of this name can only hold a torn line (its first sequence was never completely written).
      this.#file = await open(join(this.#options.directory, segmentName(first)), 'w');
      this.#fileBytes = 0;
      if (this.#segments[this.#segments.length - 1] !== first) {
        this.#segments.push(first);
      }
      await syncDirectory(this.#options.directory);
    }
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await this.#file.write(bytes, offset, bytes.length - offset);
      offset += bytesWritten;
    }
    this.#fileBytes += bytes.length;
    await this.#file.datasync();
  }

  async #writeCheckpoint(next: number): Promise<void> {
    const { directory } = this.#options;
    const checkpoint: Checkpoint = { version: 1, next, sequenceNumbers: Object.fromEntries(this.#sequenceNumbers) };
    const temporary = join(directory, `${CHECKPOINT_FILE}.tmp`);
    const file = await open(temporary, 'w');
    try {
      await file.writeFile(`${JSON.stringify(checkpoint)}\n`);
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(temporary, join(directory, CHECKPOINT_FILE));
    // The rename must be on disk before segments below it are deleted.
    await syncDirectory(directory);
  }
}

function segmentName(first: number): string {
  return `${String(first).padStart(20, '0')}.jsonl`;
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readCheckpoint(directory: string): Promise<Checkpoint> {
  let text: string;
  try {
    text = await readFile(join(directory, CHECKPOINT_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { version: 1, next: 0, sequenceNumbers: {} };
    }
    throw error;
  }
  const value = JSON.parse(text) as { version?: unknown; next?: unknown; sequenceNumbers?: unknown } | null;
  if (
    value?.version !== 1 ||
    !Number.isSafeInteger(value.next) ||
    typeof value.sequenceNumbers !== 'object' ||
    value.sequenceNumbers === null
  ) {
    throw new Error(`${join(directory, CHECKPOINT_FILE)} is not an intake journal checkpoint`);
  }
  return value as Checkpoint;
}

function parseLine(text: string): Line | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const line = value as { j?: unknown; p?: unknown; s?: unknown; e?: unknown } | null;
  return line !== null &&
    typeof line === 'object' &&
    Number.isSafeInteger(line.j) &&
    typeof line.p === 'string' &&
    Number.isSafeInteger(line.s) &&
    typeof line.e === 'object' &&
    line.e !== null
    ? (line as unknown as Line)
    : undefined;
}

function toEvent(line: Line): DeviceEvent {
  // deserializeDeadLetterEvent reads only the payload, partition and sequence number of an entry.
  return deserializeDeadLetterEvent({
    id: `journal-${line.j}`,
    payload: { kind: 'event', event: line.e },
    partitionId: line.p,
    sequenceNumber: line.s,
  } as DeadLetterEntry);
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}
