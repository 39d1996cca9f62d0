/**
 * The save activity: transforms one chunk of measurement groups into Observations and saves them through the FHIR
 * client (idempotently: a retried chunk writes nothing twice). Groups that failed for good are dead-lettered from
 * here, with their precise error; if any group failed with a retryable error (FHIR 429/5xx after the client's own
 * retries) the activity throws, and Durable retries the chunk.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import { Metric, recordDeviceToFhirLatency, saveObservationGroups } from '../pipeline';
import { getComposition } from './shared/composition';
import { SAVE_OBSERVATIONS } from './shared/function-names';
import { settleGroupFailures } from './shared/invocation-outcome';
import { readSaveChunkInput, type SaveChunkResult } from './shared/orchestration-io';

export { SAVE_OBSERVATIONS };

/**
 * Saves one chunk.
 * @param input - a {@link SaveChunkInput}
 * @param context - the invocation
 */
export async function saveObservations(input: unknown, context: InvocationContext): Promise<SaveChunkResult> {
  const { groups, partitionId } = readSaveChunkInput(input);
  const c = getComposition();
  const fhir = await c.fhirMappings.get();
  const started = c.clock();
  const report = await saveObservationGroups(groups, {
    store: c.fhirStore,
    mapping: fhir.value,
    identity: c.identity,
    clock: c.clock,
    metrics: c.metrics,
    cache: c.observationCache,
  });
  c.metrics.record(Metric.PersistLatencyMs, c.clock() - started, {
    stage: 'FHIRConversion',
    ...(partitionId === undefined ? {} : { partition: partitionId }),
  });
  recordDeviceToFhirLatency(report.saved, c.metrics);
  const deadLettered = await settleGroupFailures(c, report.failures, groups.length, {
    mappingVersion: fhir.version,
    attempts: 1,
    invocationId: context.invocationId,
    ...(partitionId === undefined ? {} : { partition: partitionId }),
  });
  return {
    created: report.created,
    updated: report.updated,
    unchanged: report.unchanged,
    failed: report.failed,
    deadLettered,
  };
}

df.app.activity(SAVE_OBSERVATIONS, { handler: saveObservations });
