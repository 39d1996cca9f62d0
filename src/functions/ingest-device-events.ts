/**
 * The Event Hubs trigger: normalizes a batch of device events (each in isolation), settles the events that failed,
 * and hands the measurements to ONE grouping orchestration per batch, whose instance id is derived from the batch.
 *
 * Failure semantics: the invocation throws — and the retry policy below redelivers the same batch — when the
 * mappings cannot be loaded, the dead-letter store is unreachable, or the orchestration cannot be started. A
 * redelivered batch dead-letters the same entries again (same ids) and finds its orchestration already started.
 */
import type { InvocationContext, RetryOptions } from '@azure/functions';
import * as df from 'durable-functions';

import { normalizeBatch, type PeriodInterval, type FhirMapping, type Measurement } from '../pipeline';
import { getComposition } from './shared/composition';
import { toDeviceEvents } from './shared/event-hub-envelope';
import { GROUP_MEASUREMENTS, INGEST_DEVICE_EVENTS } from './shared/function-names';
import { settleEventFailures } from './shared/invocation-outcome';
import type { GroupingInput } from './shared/orchestration-io';
import {
  batchInstanceId,
  type OrchestrationClient,
  type StartOutcome,
  startOrchestrationOnce,
} from './shared/start-orchestration';

export { INGEST_DEVICE_EVENTS };

/**
 * The trigger binding. `dataType: 'binary'` hands over each body's exact bytes (MedTech parses the raw bytes, §2);
 * without it a body that is not JSON fails the binding of the whole batch. The @azure/functions typings omit
 * `dataType`, the binding accepts it. Setting names in `%…%` resolve from app settings.
 */
export const EVENT_HUB_TRIGGER = {
  connection: 'EventHubConnection',
  eventHubName: '%EventHubName%',
  consumerGroup: '%EventHubConsumerGroup%',
  cardinality: 'many',
  dataType: 'binary',
} as const;

/**
 * Retry a failed invocation with the same batch, without limit: the Event Hubs trigger checkpoints after every
 * invocation, failed or not, so a batch that is not retried here is gone.
 * See: https://learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages#retries
 */
export const INGEST_RETRY: RetryOptions = {
  strategy: 'exponentialBackoff',
  maxRetryCount: -1,
  minimumInterval: { seconds: 5 },
  maximumInterval: { minutes: 5 },
};

/** What one invocation did (returned for tests and logs; the trigger has no output binding). */
export interface IngestSummary {
  readonly events: number;
  readonly measurements: number;
  readonly deadLettered: number;
  readonly instanceId?: string;
  readonly outcome?: StartOutcome;
}

/**
 * Handles one batch.
 * @param messages - the bodies (Buffers with `dataType: 'binary'`)
 * @param client - the Durable client of the input binding
 * @param context - the invocation, with the Event Hubs trigger metadata
 */
export async function ingestDeviceEvents(
  messages: unknown,
  client: OrchestrationClient,
  context: InvocationContext,
): Promise<IngestSummary> {
  const c = getComposition();
  const batch = toDeviceEvents(messages, context.triggerMetadata);
  const partition = batch.partitionId === undefined ? {} : { partition: batch.partitionId };
  const device = await c.deviceMappings.get();
  const normalized = await normalizeBatch(device.value.normalizer, batch.events, {
    metrics: c.metrics,
    clock: c.clock,
    ...partition,
  });
  const deadLettered = await settleEventFailures(c, normalized.failures, {
    mappingVersion: device.version,
    attempts: (context.retryContext?.retryCount ?? 0) + 1,
    invocationId: context.invocationId,
    ...partition,
  });
  const summary = { events: batch.events.length, measurements: normalized.measurements.length, deadLettered };
  if (normalized.measurements.length === 0) {
    return summary;
  }
  const fhir = await c.fhirMappings.get();
  const input: GroupingInput = {
    ...(batch.partitionId === undefined ? {} : { partitionId: batch.partitionId }),
    deviceMappingVersion: device.version,
    fhirMappingVersion: fhir.version,
    periodByType: periodsOf(normalized.measurements, fhir.value),
    chunkSize: c.settings.persistChunkSize,
    maxAttempts: c.settings.persistMaxAttempts,
    measurements: normalized.measurements,
  };
  const started = await startOrchestrationOnce(client, GROUP_MEASUREMENTS, batchInstanceId(batch), input);
  c.logger.info('batch handed to the grouping orchestration', {
    ...partition,
    instanceId: started.instanceId,
    invocationId: context.invocationId,
    count: normalized.measurements.length,
  });
  return { ...summary, ...started };
}

/** The interval of each measurement type of the batch, looked up once here so the orchestrator reads no mapping. */
function periodsOf(measurements: readonly Measurement[], mapping: FhirMapping): Record<string, PeriodInterval | null> {
  const periods = new Map<string, PeriodInterval | null>();
  for (const m of measurements) {
    if (!periods.has(m.type)) {
      periods.set(m.type, mapping.templateFor(m.type)?.periodInterval ?? null);
    }
  }
  // fromEntries defines own properties, so a type named `__proto__` stays data.
  return Object.fromEntries(periods);
}

df.app.client.eventHub(INGEST_DEVICE_EVENTS, {
  ...EVENT_HUB_TRIGGER,
  retry: INGEST_RETRY,
  handler: ingestDeviceEvents,
});
