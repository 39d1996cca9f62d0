import type { Clock } from '../clock';
import type { PipelineError } from '../errors';
import type { MetricsSink } from '../metrics';
import { Metric, noopMetrics } from '../metrics';
import type { DeviceEvent } from '../model/device-event';
import type { Measurement } from '../model/measurement';
import type { Normalizer } from './normalize';

/** One event that failed normalization. */
export interface NormalizeFailure {
  /** Index of the event in the batch. */
  readonly index: number;
  readonly event: DeviceEvent;
  readonly error: PipelineError;
}

/** What normalizing a batch produced. */
export interface BatchNormalizeResult {
  /** All measurements, in event order then emission order. */
  readonly measurements: Measurement[];
  /** Events that failed (each in isolation: a bad event never affects the others). */
  readonly failures: NormalizeFailure[];
  /** Events that produced nothing and did not fail (MedTech's `DroppedEvent`). */
  readonly dropped: number;
}

/**
 * Normalizes a batch, one event at a time in isolation, and reports MedTech's normalization metrics
 * (IncomingMessages, NormalizedMessages, DroppedMessages, Measurements, TotalErrors, NormalizeLatencyMs).
 *
 * @param normalizer - built from the current device mapping
 * @param events - the batch
 * @param options - metrics sink, clock for the stage latency, and the partition (a metric dimension)
 */
export async function normalizeBatch(
  normalizer: Normalizer,
  events: readonly DeviceEvent[],
  options: { metrics?: MetricsSink; clock?: Clock; partition?: string } = {},
): Promise<BatchNormalizeResult> {
  const metrics = options.metrics ?? noopMetrics;
  const started = options.clock?.();
  const measurements: Measurement[] = [];
  const failures: NormalizeFailure[] = [];
  let dropped = 0;
  let normalized = 0;
  for (let index = 0; index < events.length; index++) {
    const event = events[index] as DeviceEvent;
    const pending = normalizer.normalize(event);
    // Awaiting only real promises: even an asynchronous mapping answers most events synchronously.
    const result = pending instanceof Promise ? await pending : pending;
    for (const measurement of result.measurements) {
      measurements.push(measurement);
    }
    if (result.error !== undefined) {
      failures.push({ index, event, error: result.error });
      metrics.count(Metric.TotalErrors, 1, {
        stage: 'Normalization',
        errorType: result.error.medtechErrorType,
        errorCategory: result.error.category,
        severity: result.error.severity,
        ...(options.partition === undefined ? {} : { partition: options.partition }),
      });
    } else if (result.measurements.length === 0) {
      dropped++;
    }
    if (result.measurements.length > 0) {
      normalized++;
    }
  }
  const partition = options.partition === undefined ? {} : { partition: options.partition };
  metrics.count(Metric.IncomingMessages, events.length, partition);
  metrics.count(Metric.NormalizedMessages, normalized, partition);
  metrics.count(Metric.DroppedMessages, dropped, partition);
  metrics.count(Metric.Measurements, measurements.length, partition);
  if (started !== undefined && options.clock !== undefined) {
    metrics.record(Metric.NormalizeLatencyMs, options.clock() - started, { stage: 'Normalization', ...partition });
  }
  return { measurements, failures, dropped };
}
