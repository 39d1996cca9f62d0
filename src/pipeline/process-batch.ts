import type { Clock } from './clock';
import { chunkGroups } from './group/chunk-groups';
import { groupMeasurements } from './group/group-measurements';
import type { IdentityResolver } from './identity/resolve-identity';
import type { FhirMapping } from './mapping/fhir-template';
import type { MetricsSink } from './metrics';
import { Metric, noopMetrics } from './metrics';
import type { DeviceEvent } from './model/device-event';
import type { MeasurementGroup } from './model/measurement-group';
import type { BatchNormalizeResult } from './normalize/normalize-batch';
import { normalizeBatch } from './normalize/normalize-batch';
import type { Normalizer } from './normalize/normalize';
import type { FhirStore } from './persist/fhir-store';
import type { ObservationCache } from './persist/observation-cache';
import type { FailedGroup, SavedGroup, SaveReport } from './persist/save-observations';
import { saveObservationGroups } from './persist/save-observations';

/** What {@link processBatch} works with: the loaded mappings and the ports. */
export interface BatchDependencies {
  readonly normalizer: Normalizer;
  readonly fhirMapping: FhirMapping;
  readonly store: FhirStore;
  readonly identity: IdentityResolver;
  readonly clock: Clock;
  readonly metrics?: MetricsSink;
  readonly cache?: ObservationCache;
  /**
   * Groups per save call (one FHIR search round and one write round each, batch Bundles of up to 500 entries).
   * Default 500: an Event Hubs batch in two round trips. Smaller chunks saved at once overlap one chunk's searches
   * with another's writes, which pays off only against a server that works on several Bundles in parallel; against
   * the embedded server they cost a fifth more time for per-reading Observations (`npm run bench`).
   */
  readonly chunkSize?: number;
  /** Chunks saved at once. Default 4. */
  readonly concurrency?: number;
  /** Writes per Observation at most. Default 3. */
  readonly maxAttempts?: number;
  /** Source partition (a metric dimension). */
  readonly partition?: string;
}

/** Everything one batch produced, stage by stage. */
export interface BatchReport extends BatchNormalizeResult {
  readonly groups: readonly MeasurementGroup[];
  readonly save: SaveReport;
}

/**
 * Runs one batch through normalize → group → transform → persist in-process: the Functions app's semantics (one
 * Event Hubs batch, grouped and fanned out in chunks) without the host. Used by the local stack, the replay and
 * debug commands and the benchmarks; the Functions app runs the same stages split across trigger, orchestrator and
 * activity.
 *
 * Failures never throw: failed events and groups are reported for the dead-letter store. Transient FHIR failures
 * are reported too (with `retryable: true`); re-running the batch is safe because saving is idempotent.
 *
 * @param events - one batch, in delivery order
 * @param deps - mappings and ports
 */
export async function processBatch(events: readonly DeviceEvent[], deps: BatchDependencies): Promise<BatchReport> {
  const metrics = deps.metrics ?? noopMetrics;
  const partition = deps.partition === undefined ? {} : { partition: deps.partition };
  const normalized = await normalizeBatch(deps.normalizer, events, {
    metrics,
    clock: deps.clock,
    ...(deps.partition === undefined ? {} : { partition: deps.partition }),
  });
  const groupingStarted = deps.clock();
  const groups = groupMeasurements(
    normalized.measurements,
    (type) => deps.fhirMapping.templateFor(type)?.periodInterval,
  );
  metrics.count(Metric.MessageGroups, groups.length, partition);
  metrics.record(Metric.GroupLatencyMs, deps.clock() - groupingStarted, { stage: 'Grouping', ...partition });
  const save = await saveChunks(groups, deps, metrics);
  return { ...normalized, groups, save };
}

async function saveChunks(
  groups: readonly MeasurementGroup[],
  deps: BatchDependencies,
  metrics: MetricsSink,
): Promise<SaveReport> {
  const chunks = chunkGroups(groups, deps.chunkSize ?? 500);
  const reports: SaveReport[] = new Array<SaveReport>(chunks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < chunks.length) {
      const index = next++;
      const started = deps.clock();
      reports[index] = await saveObservationGroups(chunks[index] as MeasurementGroup[], {
        store: deps.store,
        mapping: deps.fhirMapping,
        identity: deps.identity,
        clock: deps.clock,
        metrics,
        ...(deps.cache === undefined ? {} : { cache: deps.cache }),
        ...(deps.maxAttempts === undefined ? {} : { maxAttempts: deps.maxAttempts }),
      });
      metrics.record(Metric.PersistLatencyMs, deps.clock() - started, { stage: 'FHIRConversion' });
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, deps.concurrency ?? 4), chunks.length) }, worker));
  const report = mergeSaveReports(reports);
  recordDeviceToFhirLatency(report.saved, metrics);
  return report;
}

/**
 * Combines the reports of several chunks.
 * @param reports - chunk reports, in chunk order
 */
export function mergeSaveReports(reports: readonly SaveReport[]): SaveReport {
  const saved: SavedGroup[] = [];
  const failures: FailedGroup[] = [];
  let created = 0;
  let updated = 0;
  let unchanged = 0;
  let failed = 0;
  for (const r of reports) {
    created += r.created;
    updated += r.updated;
    unchanged += r.unchanged;
    failed += r.failed;
    saved.push(...r.saved);
    failures.push(...r.failures);
  }
  return { created, updated, unchanged, failed, saved, failures };
}

/**
 * Device-to-FHIR latency: from the earliest enqueued time of a window's measurements to the moment it was saved.
 * @param saved - saved groups
 * @param metrics - where to record
 */
export function recordDeviceToFhirLatency(saved: readonly SavedGroup[], metrics: MetricsSink): void {
  for (const s of saved) {
    // Ingestion times are round-trip UTC texts of one fixed width, so the earliest is the least text: only that one
    // is parsed.
    let earliestText: string | undefined;
    for (const m of s.group.measurements) {
      if (earliestText === undefined || m.ingestionTimeUtc < earliestText) {
        earliestText = m.ingestionTimeUtc;
      }
    }
    const earliest = earliestText === undefined ? Number.NaN : Date.parse(earliestText.slice(0, 23) + 'Z');
    const savedAt = Date.parse(s.savedAt);
    if (Number.isFinite(earliest) && Number.isFinite(savedAt)) {
      metrics.record(Metric.DeviceToFhirLatencyMs, Math.max(0, savedAt - earliest), { stage: 'FHIRConversion' });
    }
  }
}
