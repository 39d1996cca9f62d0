/**
 * The local stack's in-memory metrics: a {@link MetricsSink} the pipeline reports to, plus the stack's own ingest
 * counters. One snapshot of it feeds the progress line, the exit summary and `GET /metrics`, so all three agree.
 */
import type { Clock, DeadLetterStage, Dimensions, MetricsSink } from '../../pipeline';
import { Metric } from '../../pipeline';
import { LatencyHistogram } from './latency-histogram';
import { RateMeter } from './rate-meter';

/** Why an ingest request was refused (the `reason` of `rejectedRequests`). */
export type RejectReason =
  | 'malformed'
  | 'invalid_event'
  | 'too_large'
  | 'too_many_events'
  | 'unsupported_media_type'
  | 'overloaded'
  | 'stopping'
  | 'journal_unavailable';

/** A point-in-time view of every counter. Plain JSON (the body of `GET /metrics`). */
export interface StackSnapshot {
  readonly uptimeSeconds: number;
  readonly events: {
    /** Accepted by the ingest path (HTTP, simulator, replay). */
    readonly accepted: number;
    /** Run through the pipeline (MedTech `IncomingMessages`). */
    readonly processed: number;
    /** Processed per second over the last 10 s. */
    readonly perSecond: number;
    /** Accepted and not yet processed. */
    readonly queued: number;
    /** Events that produced no measurement and no error (MedTech `DroppedEvent`). */
    readonly dropped: number;
  };
  readonly batches: number;
  readonly measurements: number;
  readonly groups: number;
  readonly observations: { readonly created: number; readonly updated: number; readonly unchanged: number };
  readonly errors: { readonly total: number; readonly byType: Readonly<Record<string, number>> };
  readonly deadLettered: {
    readonly total: number;
    readonly byStage: Readonly<Record<DeadLetterStage, number>>;
    /** Items that could not be written to the dead-letter store (they are reported on stderr). */
    readonly writeFailures: number;
  };
  readonly rejectedRequests: {
    readonly total: number;
    readonly byReason: Readonly<Partial<Record<RejectReason, number>>>;
  };
  /** Device-to-FHIR latency of saved windows: enqueued time of the earliest event → saved. */
  readonly latencyMs: {
    readonly count: number;
    readonly p50?: number;
    readonly p99?: number;
    readonly max?: number;
    readonly sum: number;
  };
}

/** The stack's metrics. */
export class StackMetrics implements MetricsSink {
  readonly #clock: Clock;
  readonly #startedAt: number;
  readonly #totals = new Map<Metric, number>();
  readonly #errorsByType = new Map<string, number>();
  readonly #saved = { Created: 0, Updated: 0, NoOperation: 0 };
  readonly #deadLettered: Record<DeadLetterStage, number> = { Normalization: 0, FHIRConversion: 0 };
  readonly #rejected = new Map<RejectReason, number>();
  readonly #latency = new LatencyHistogram();
  readonly #rate: RateMeter;
  #accepted = 0;
  #batches = 0;
  #deadLetterWriteFailures = 0;
  #queued: () => number = () => 0;

  /**
   * @param clock - time source (uptime, rates)
   */
  constructor(clock: Clock) {
    this.#clock = clock;
    this.#startedAt = clock();
    this.#rate = new RateMeter(clock);
  }

  /** @inheritdoc */
  count(metric: Metric, value: number, dimensions?: Dimensions): void {
    this.#totals.set(metric, (this.#totals.get(metric) ?? 0) + value);
    if (metric === Metric.IncomingMessages) {
      this.#rate.add(value);
    } else if (metric === Metric.TotalErrors) {
      const type = dimensions?.errorType ?? 'Unknown';
      this.#errorsByType.set(type, (this.#errorsByType.get(type) ?? 0) + value);
    } else if (metric === Metric.FhirResourcesSaved && dimensions?.outcome !== undefined) {
      this.#saved[dimensions.outcome] += value;
    } else if (
      metric === Metric.DeadLetteredItems &&
      (dimensions?.stage === 'Normalization' || dimensions?.stage === 'FHIRConversion')
    ) {
      this.#deadLettered[dimensions.stage] += value;
    }
  }

  /** @inheritdoc */
  record(metric: Metric, value: number): void {
    if (metric === Metric.DeviceToFhirLatencyMs) {
      this.#latency.record(value);
    }
  }

  /**
   * Counts events accepted by the ingest path.
   * @param n - how many
   */
  accepted(n: number): void {
    this.#accepted += n;
  }

  /**
   * Counts a refused ingest request.
   * @param reason - why
   */
  rejected(reason: RejectReason): void {
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1);
  }

  /** Counts a processed batch. */
  batchProcessed(): void {
    this.#batches++;
  }

  /**
   * Counts dead letters that could not be stored.
   * @param n - how many
   */
  deadLetterWriteFailed(n: number): void {
    this.#deadLetterWriteFailures += n;
  }

  /**
   * Where the queue depth comes from.
   * @param queued - returns the events accepted and not yet processed
   */
  observeQueue(queued: () => number): void {
    this.#queued = queued;
  }

  /** The current values. */
  snapshot(): StackSnapshot {
    const total = (metric: Metric): number => this.#totals.get(metric) ?? 0;
    const p50 = this.#latency.quantile(0.5);
    const p99 = this.#latency.quantile(0.99);
    const max = this.#latency.max;
    return {
      uptimeSeconds: Math.max(0, (this.#clock() - this.#startedAt) / 1000),
      events: {
        accepted: this.#accepted,
        processed: total(Metric.IncomingMessages),
        perSecond: this.#rate.rate(),
        queued: this.#queued(),
        dropped: total(Metric.DroppedMessages),
      },
      batches: this.#batches,
      measurements: total(Metric.Measurements),
      groups: total(Metric.MessageGroups),
      observations: { created: this.#saved.Created, updated: this.#saved.Updated, unchanged: this.#saved.NoOperation },
      errors: {
        total: total(Metric.TotalErrors),
        byType: Object.fromEntries([...this.#errorsByType].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
      },
      deadLettered: {
        total: total(Metric.DeadLetteredItems),
        byStage: { ...this.#deadLettered },
        writeFailures: this.#deadLetterWriteFailures,
      },
      rejectedRequests: {
        total: [...this.#rejected.values()].reduce((a, b) => a + b, 0),
        byReason: Object.fromEntries(this.#rejected),
      },
      latencyMs: {
        count: this.#latency.count,
        sum: this.#latency.sum,
        ...(p50 === undefined ? {} : { p50 }),
        ...(p99 === undefined ? {} : { p99 }),
        ...(max === undefined ? {} : { max }),
      },
    };
  }
}
