/**
 * The local stack's engine: the ingest path, partitions, batching and the pipeline, with the Functions app's
 * semantics and without its host.
 *
 * - `ingest` stamps each event's enqueued time (unless it carries one: replayed recordings) and partition, and
 *   queues it; events with the same partition key share a partition and keep their order.
 * - Each partition's {@link Batcher} closes a batch at `maxEvents` events or `maxWaitMs` after its oldest event,
 *   and runs batches one at a time through {@link processBatch} — the same code the Functions app runs, split across
 *   its trigger, orchestrator and activity. Partitions run concurrently.
 * - Nothing accepted is lost: events that fail normalization and groups that fail saving go to the dead-letter
 *   store. While that store cannot be written, their entries are held (counting towards the queue bound, so
 *   producers are refused rather than entries dropped) and written with the next batch or flush. Groups that fail
 *   with a retryable error (FHIR throttled, unavailable, timed out) are saved again after
 *   a backoff first, as the orchestrator retries its activities — except while stopping, when they are
 *   dead-lettered at once so that Ctrl+C ends promptly (`iomt deadletter replay` takes them up later).
 * - The ingest path refuses events (`overloaded`) instead of queueing without bound.
 * - With an {@link IntakeJournal}, every accepted event is journaled with its partition and a sequence number within
 *   it (durable once `durable` of the outcome resolves), and reported complete to the journal once saved or
 *   dead-lettered — a batch whose dead letters are held counts as complete only once they are written. Events the
 *   journal recovered at start are queued again with {@link LocalPipeline.resume}.
 */
import type {
  Clock,
  DeadLetterEntry,
  DeadLetterStore,
  DeviceEvent,
  FailedGroup,
  FhirMapping,
  FhirStore,
  IdentityResolver,
  Normalizer,
  ObservationCache,
  PipelineErrorJson,
} from '../../pipeline';
import {
  ErrorCode,
  eventDeadLetterEntry,
  groupDeadLetterEntry,
  Metric,
  processBatch,
  recordDeviceToFhirLatency,
  saveObservationGroups,
  toPipelineError,
} from '../../pipeline';
import { Batcher, type Timers } from './batcher';
import type { IngestEvent } from './ingest-request';
import type { IntakeJournal, RecoveredEvent } from './intake-journal';
import { createPartitionAssigner, type PartitionAssigner } from './partitioning';
import type { StackMetrics } from './stack-metrics';

/** The mappings a batch runs with, and their version (recorded with dead letters). */
export interface LoadedMappings {
  readonly normalizer: Normalizer;
  readonly fhirMapping: FhirMapping;
  readonly version: string;
}

/** Options of {@link LocalPipeline}. */
export interface LocalPipelineOptions {
  /** The current mappings; asked once per batch (so edited mapping files take effect on the next batch). */
  readonly mappings: () => Promise<LoadedMappings>;
  readonly store: FhirStore;
  readonly identity: IdentityResolver;
  readonly cache?: ObservationCache;
  readonly deadLetters: DeadLetterStore;
  readonly metrics: StackMetrics;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Events per batch at most. */
  readonly maxEvents: number;
  /** How long the oldest event of a partition waits for its batch to fill, ms. */
  readonly maxWaitMs: number;
  readonly partitions: number;
  /** Accepted events not yet processed, at most; beyond, `ingest` refuses with `overloaded`. Default 100 000. */
  readonly maxQueuedEvents?: number;
  /** Save attempts for a group failing with a retryable error. Default 3. */
  readonly saveAttempts?: number;
  /** Wait before the first retry, doubled for each further one. Default 1000 ms. */
  readonly retryDelayMs?: number;
  /** Groups per save call, chunks saved at once, writes per Observation (see processBatch). */
  readonly chunkSize?: number;
  readonly concurrency?: number;
  readonly maxAttempts?: number;
  /** Reports a problem worth a line on the terminal (never containing data values). */
  readonly onProblem?: (message: string) => void;
  /** Where accepted events are made durable and their completion recorded; none: memory only. */
  readonly journal?: IntakeJournal;
}

/** The answer of {@link LocalPipeline.ingest}. */
export type IngestOutcome =
  | {
      readonly accepted: number;
      /** With a journal: resolves once the events are on disk, rejects when they could not be written. */
      readonly durable?: Promise<void>;
    }
  | { readonly refused: 'overloaded' | 'stopping'; readonly message: string };

/** The last failure of the infrastructure (FHIR service, dead-letter store), for `/health`. */
export interface InfrastructureFailure {
  readonly code: string;
  readonly medtechErrorType: string;
  /** Epoch ms. */
  readonly at: number;
}

/** Default bound of the queue. */
export const DEFAULT_MAX_QUEUED_EVENTS = 100_000;

/** The local stack's engine. */
export class LocalPipeline {
  readonly #options: LocalPipelineOptions;
  readonly #assigner: PartitionAssigner;
  readonly #batchers: Batcher<DeviceEvent>[];
  readonly #maxQueued: number;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #roomWaiters: { readonly needed: number; readonly resolve: () => void }[] = [];
  #infrastructureFailures = 0;
  #lastInfrastructureFailure: InfrastructureFailure | undefined;
  /** Dead letters whose write failed, by id, written again with the next batch or flush. */
  readonly #unwritten = new Map<string, DeadLetterEntry>();
  /** With a journal: the journal sequences of each partition's queued events, in batcher order. */
  readonly #sequences: SequenceQueue[] | undefined;
  /** Journal sequences of batches whose dead letters are held; complete once nothing is held. */
  #deferred: (readonly number[])[] = [];

  /**
   * @param options - mappings, ports, batching and retry settings
   */
  constructor(options: LocalPipelineOptions) {
    this.#options = options;
    this.#assigner = createPartitionAssigner(options.partitions);
    this.#maxQueued = options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS;
    this.#batchers = Array.from(
      { length: options.partitions },
      (_, partition) =>
        new Batcher<DeviceEvent>({
          maxEvents: options.maxEvents,
          maxWaitMs: options.maxWaitMs,
          clock: options.clock,
          timers: options.timers,
          process: (events) => this.#processBatch(partition, events),
          onError: (error) => {
            // #processBatch catches everything; reaching this is a bug, reported without data.
            options.onProblem?.(`batch of partition ${partition} failed unexpectedly: ${toPipelineError(error).code}`);
          },
          afterBatch: () => {
            this.#wakeRoomWaiters();
          },
        }),
    );
    this.#sequences =
      options.journal === undefined ? undefined : Array.from({ length: options.partitions }, () => new SequenceQueue());
    options.metrics.observeQueue(() => this.queued);
  }

  /** Events accepted and not yet processed, and dead letters not yet written. */
  get queued(): number {
    let n = this.#unwritten.size;
    for (const b of this.#batchers) {
      n += b.pending;
    }
    return n;
  }

  /** Dead letters held because the dead-letter store could not be written. */
  get unwrittenDeadLetters(): number {
    return this.#unwritten.size;
  }

  /** Events, groups and dead-letter writes that failed because of the infrastructure (not the data). */
  get infrastructureFailures(): number {
    return this.#infrastructureFailures;
  }

  /** The most recent infrastructure failure, if any. */
  get lastInfrastructureFailure(): InfrastructureFailure | undefined {
    return this.#lastInfrastructureFailure;
  }

  /** True once {@link stop} was called. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Accepts one send: events without a partition key go to one partition together (round-robin across sends).
   * @param events - the events, in order
   */
  ingest(events: readonly IngestEvent[]): IngestOutcome {
    if (this.#stopping) {
      return { refused: 'stopping', message: 'the stack is stopping' };
    }
    if (this.queued + events.length > this.#maxQueued) {
      return {
        refused: 'overloaded',
        message: `${this.queued} events are waiting to be processed (at most ${this.#maxQueued}); retry shortly`,
      };
    }
    const { journal } = this.#options;
    const enqueuedTimeUtc = new Date(this.#options.clock()).toISOString();
    const byPartition = new Map<number, DeviceEvent[]>();
    const all: DeviceEvent[] = [];
    const partitions: number[] = [];
    let keyless: number | undefined;
    for (const { event, partitionKey } of events) {
      const partition =
        partitionKey === undefined
          ? (keyless ??= this.#assigner.assign(undefined))
          : this.#assigner.assign(partitionKey);
      const partitionId = String(partition);
      const stamped: DeviceEvent = {
        ...event,
        enqueuedTimeUtc: event.enqueuedTimeUtc ?? enqueuedTimeUtc,
        partitionId,
        ...(journal === undefined ? {} : { sequenceNumber: journal.nextSequenceNumber(partitionId) }),
      };
      if (journal !== undefined) {
        all.push(stamped);
        partitions.push(partition);
      }
      const list = byPartition.get(partition);
      if (list === undefined) {
        byPartition.set(partition, [stamped]);
      } else {
        list.push(stamped);
      }
    }
    let durable: Promise<void> | undefined;
    if (journal !== undefined) {
      const appended = journal.append(all);
      durable = appended.durable;
      // Batchers take each partition's events in push order: the same order as these sequences.
      for (let i = 0; i < partitions.length; i++) {
        this.#sequences?.[partitions[i] as number]?.push(appended.first + i);
      }
    }
    for (const [partition, list] of byPartition) {
      this.#batchers[partition]?.push(list);
    }
    this.#options.metrics.accepted(events.length);
    return durable === undefined ? { accepted: events.length } : { accepted: events.length, durable };
  }

  /**
   * Queues events recovered from the journal (already journaled: not appended again), beyond the queue bound if
   * need be — they were accepted before. Each goes to the partition it was accepted in (modulo the partitions now).
   * @param recovered - the events, in journal order
   */
  resume(recovered: readonly RecoveredEvent[]): void {
    const { partitions } = this.#options;
    for (const { sequence, event } of recovered) {
      const id = Number(event.partitionId);
      const partition = Number.isSafeInteger(id) && id >= 0 ? id % partitions : 0;
      this.#sequences?.[partition]?.push(sequence);
      this.#batchers[partition]?.push([event]);
    }
    this.#options.metrics.accepted(recovered.length);
  }

  /**
   * Resolves once `n` more events fit in the queue (for producers that wait instead of being refused).
   * @param n - events about to be ingested
   */
  waitForRoom(n: number): Promise<void> {
    const needed = Math.min(n, this.#maxQueued);
    if (this.queued + needed <= this.#maxQueued) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#roomWaiters.push({ needed, resolve }));
  }

  /** Processes everything queued without waiting for batches to fill; resolves when all of it is done. */
  async flush(): Promise<void> {
    await Promise.all(this.#batchers.map((b) => b.flush()));
    await this.#deadLetter([]);
  }

  /** Refuses further events and processes the queued ones. Idempotent. */
  stop(): Promise<void> {
    this.#stopping = true;
    return (this.#stopped ??= this.flush());
  }

  async #processBatch(index: number, events: DeviceEvent[]): Promise<void> {
    const { metrics, clock } = this.#options;
    const partition = String(index);
    const sequences = this.#sequences?.[index]?.take(events.length);
    let version = 'unknown';
    let written: boolean;
    try {
      const mappings = await this.#options.mappings();
      version = mappings.version;
      const deps = {
        normalizer: mappings.normalizer,
        fhirMapping: mappings.fhirMapping,
        store: this.#options.store,
        identity: this.#options.identity,
        clock,
        metrics,
        partition,
        ...(this.#options.cache === undefined ? {} : { cache: this.#options.cache }),
        ...(this.#options.chunkSize === undefined ? {} : { chunkSize: this.#options.chunkSize }),
        ...(this.#options.concurrency === undefined ? {} : { concurrency: this.#options.concurrency }),
        ...(this.#options.maxAttempts === undefined ? {} : { maxAttempts: this.#options.maxAttempts }),
      };
      const report = await processBatch(events, deps);
      const { failures, attempts } = await this.#retrySaves(report.save.failures, mappings);
      const context = { mappingVersion: version, now: clock() };
      const entries = [
        ...report.failures.map((f) => eventDeadLetterEntry(f.event, f.error, context)),
        ...failures.map((f) => groupDeadLetterEntry(f.group, f.error, { ...context, attempts })),
      ];
      for (const f of failures) {
        this.#noteFailure(f.error);
      }
      written = await this.#deadLetter(entries);
    } catch (error) {
      // Only a bug or a mapping source failure gets here: keep every event of the batch.
      const failure = toPipelineError(error);
      this.#noteFailure(failure.toJSON());
      this.#options.onProblem?.(
        `batch of partition ${partition} failed (${failure.code}); its events are dead-lettered`,
      );
      const context = { mappingVersion: version, now: clock() };
      written = await this.#deadLetter(events.map((e) => eventDeadLetterEntry(e, failure, context)));
    } finally {
      metrics.batchProcessed();
    }
    if (sequences !== undefined) {
      if (written) {
        this.#options.journal?.complete(sequences);
      } else {
        this.#deferred.push(sequences);
      }
    }
  }

  /** Saves groups that failed with a retryable error again, with backoff, unless stopping. */
  async #retrySaves(
    initial: readonly FailedGroup[],
    mappings: LoadedMappings,
  ): Promise<{ failures: FailedGroup[]; attempts: number }> {
    const maxAttempts = Math.max(1, this.#options.saveAttempts ?? 3);
    let failures = [...initial];
    let attempts = 1;
    while (attempts < maxAttempts && !this.#stopping && failures.some((f) => f.error.retryable)) {
      await this.#sleep((this.#options.retryDelayMs ?? 1000) * 2 ** (attempts - 1));
      attempts++;
      const retry = failures.filter((f) => f.error.retryable);
      const again = await saveObservationGroups(
        retry.map((f) => f.group),
        {
          store: this.#options.store,
          mapping: mappings.fhirMapping,
          identity: this.#options.identity,
          clock: this.#options.clock,
          metrics: this.#options.metrics,
          ...(this.#options.cache === undefined ? {} : { cache: this.#options.cache }),
          ...(this.#options.maxAttempts === undefined ? {} : { maxAttempts: this.#options.maxAttempts }),
        },
      );
      recordDeviceToFhirLatency(again.saved, this.#options.metrics);
      failures = [...failures.filter((f) => !f.error.retryable), ...again.failures];
    }
    return { failures, attempts };
  }

  /**
   * Writes `entries` and every held one; on failure holds them all (same id: the newer entry wins).
   * @returns whether `entries` were written
   */
  async #deadLetter(entries: readonly DeadLetterEntry[]): Promise<boolean> {
    const held = new Map(this.#unwritten);
    const batch = new Map(held);
    for (const entry of entries) {
      batch.set(entry.id, entry);
    }
    if (batch.size === 0) {
      return true;
    }
    const writing = [...batch.values()];
    const { metrics } = this.#options;
    const maxAttempts = Math.max(1, this.#options.saveAttempts ?? 3);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.deadLetters.put(writing);
        break;
      } catch (error) {
        if (attempt >= maxAttempts || this.#stopping) {
          const failure = toPipelineError(error);
          this.#noteFailure(failure.toJSON());
          if (entries.length > 0) {
            metrics.deadLetterWriteFailed(entries.length);
          }
          for (const entry of writing) {
            // Unless another batch held a newer entry with this id meanwhile.
            const current = this.#unwritten.get(entry.id);
            if (current === undefined || current === held.get(entry.id)) {
              this.#unwritten.set(entry.id, entry);
            }
          }
          const fate = !this.#stopping
            ? 'they are kept and written with the next batch'
            : this.#options.journal === undefined
              ? 'the stack is stopping, they are lost'
              : 'the stack is stopping; their events are processed again from the intake journal at the next start';
          this.#options.onProblem?.(
            `${writing.length} dead letters could not be written (${failure.code}: ${failure.message}); ${fate}; their ids: ${writing.map((e) => e.id).join(', ')}`,
          );
          return false;
        }
        await this.#sleep((this.#options.retryDelayMs ?? 1000) * 2 ** (attempt - 1));
      }
    }
    for (const entry of writing) {
      // A newer entry with the same id may have been held meanwhile: only what was written leaves.
      if (this.#unwritten.get(entry.id) === entry) {
        this.#unwritten.delete(entry.id);
      }
      metrics.count(Metric.DeadLetteredItems, 1, { stage: entry.stage });
    }
    if (this.#unwritten.size === 0 && this.#deferred.length > 0) {
      const deferred = this.#deferred;
      this.#deferred = [];
      for (const sequences of deferred) {
        this.#options.journal?.complete(sequences);
      }
    }
    this.#wakeRoomWaiters();
    return true;
  }

  #noteFailure(error: PipelineErrorJson): void {
    if (isInfrastructureError(error)) {
      this.#infrastructureFailures++;
      this.#lastInfrastructureFailure = {
        code: error.code,
        medtechErrorType: error.medtechErrorType,
        at: this.#options.clock(),
      };
    }
  }

  #wakeRoomWaiters(): void {
    if (this.#roomWaiters.length === 0) {
      return;
    }
    const waiting = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const waiter of waiting) {
      if (this.queued + waiter.needed <= this.#maxQueued) {
        waiter.resolve();
      } else {
        this.#roomWaiters.push(waiter);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#options.timers.set(resolve, ms));
  }
}

/** A FIFO of journal sequences that does not copy on every take. */
class SequenceQueue {
  #items: number[] = [];
  #head = 0;

  push(sequence: number): void {
    this.#items.push(sequence);
  }

  take(count: number): number[] {
    const taken = this.#items.slice(this.#head, this.#head + count);
    this.#head += taken.length;
    if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return taken;
  }
}

/**
 * True when a failure lies with the infrastructure — the FHIR service (unreachable, throttling, refusing our
 * credentials), storage, or a bug — rather than with the data or the mappings.
 * @param error - the failure
 */
export function isInfrastructureError(error: PipelineErrorJson): boolean {
  return (
    error.category === 'FHIRServiceError' ||
    error.category === 'AuthenticationError' ||
    error.code === ErrorCode.StorageUnavailable ||
    error.code === ErrorCode.Internal
  );
}
