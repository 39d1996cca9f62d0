/**
 * Starting the grouping orchestration of a batch exactly once (house-style convention 10). The instance id is derived
 * from the batch, so when Event Hubs redelivers a batch (the trigger threw after starting, the worker crashed before
 * its checkpoint) the second delivery finds the first orchestration instead of starting a twin.
 *
 * The id covers the partition, the first AND last sequence numbers and the first event's enqueued time:
 * - a redelivery after a crash may cut the partition's events into batches differently; a batch that starts at the
 *   same event but holds more events then gets its own orchestration (saving is idempotent, so the overlap is
 *   harmless) instead of being skipped as a duplicate, which would lose the extra events;
 * - sequence numbers start again at 0 when an event hub is re-created while old instances stay in the task hub;
 *   the enqueued time keeps the new batches from colliding with them.
 */
import { createHash } from 'node:crypto';

import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';

import type { EventHubBatch } from './event-hub-envelope';

/** What the trigger needs of the Durable client (the real `DurableClient` in the app, a fake in tests). */
export type OrchestrationClient = Pick<DurableClient, 'startNew' | 'getStatus'>;

/** What {@link startOrchestrationOnce} did. */
export type StartOutcome =
  /** A new instance was started. */
  | 'Started'
  /** An instance with the id already exists (pending, running or completed): nothing was started. */
  | 'AlreadyStarted'
  /** An instance with the id had failed or was terminated: it was started again (saving is idempotent). */
  | 'Restarted';

/** Statuses of an existing instance that a redelivered batch starts again rather than skips. */
const RESTARTABLE: ReadonlySet<string> = new Set(['Failed', 'Terminated', 'Canceled']);

/**
 * The instance id of a batch's orchestration: `ingest-p{partition}-s{first}-{last}-t{enqueued ms}`, or undefined
 * when the events carry no sequence numbers (not an Event Hubs delivery: no redelivery to guard against).
 * @param batch - the batch
 */
export function batchInstanceId(batch: EventHubBatch): string | undefined {
  const first = batch.events[0];
  const last = batch.events[batch.events.length - 1];
  if (first?.sequenceNumber === undefined || last?.sequenceNumber === undefined) {
    return undefined;
  }
  const partition = batch.partitionId ?? first.partitionId ?? 'none';
  // Instance ids become Table row keys: keep them to characters that need no escaping.
  const safePartition = /^[A-Za-z0-9_.-]{1,32}$/.test(partition)
    ? partition
    : `h${createHash('sha256').update(partition).digest('hex').slice(0, 16)}`;
  const enqueued = first.enqueuedTimeUtc === undefined ? Number.NaN : Date.parse(zoned(first.enqueuedTimeUtc));
  const time = Number.isNaN(enqueued) ? '' : `-t${enqueued}`;
  return `ingest-p${safePartition}-s${first.sequenceNumber}-${last.sequenceNumber}${time}`;
}

/**
 * Starts an orchestration unless an instance with the same id exists. Checks the status first; if a concurrent
 * delivery starts the same id in between (the extension then refuses the start), the start error is swallowed once
 * the instance is seen to exist.
 * @param client - the Durable client
 * @param orchestrator - the orchestrator function's name
 * @param instanceId - the derived id; undefined lets Durable pick one (no de-duplication possible)
 * @param input - the orchestration input
 * @returns the instance id and what was done
 */
export async function startOrchestrationOnce(
  client: OrchestrationClient,
  orchestrator: string,
  instanceId: string | undefined,
  input: unknown,
): Promise<{ instanceId: string; outcome: StartOutcome }> {
  if (instanceId === undefined) {
    return { instanceId: await client.startNew(orchestrator, { input }), outcome: 'Started' };
  }
  const existing = await findInstance(client, instanceId);
  if (existing !== undefined && !RESTARTABLE.has(existing)) {
    return { instanceId, outcome: 'AlreadyStarted' };
  }
  try {
    await client.startNew(orchestrator, { instanceId, input });
  } catch (error) {
    const now = await findInstance(client, instanceId);
    if (now !== undefined && !RESTARTABLE.has(now)) {
      return { instanceId, outcome: 'AlreadyStarted' };
    }
    throw error;
  }
  return { instanceId, outcome: existing === undefined ? 'Started' : 'Restarted' };
}

/** The runtime status of an instance, or undefined when there is none (the client reports a 404 as an error). */
async function findInstance(client: OrchestrationClient, instanceId: string): Promise<string | undefined> {
  let status: DurableOrchestrationStatus | undefined;
  try {
    status = await client.getStatus(instanceId, { showInput: false });
  } catch (error) {
    if (error instanceof Error && /\b404\b/.test(error.message)) {
      return undefined;
    }
    throw error;
  }
  // Older extensions answer an unknown id with an empty status instead of a 404.
  const runtimeStatus = (status as { runtimeStatus?: unknown } | undefined)?.runtimeStatus;
  return typeof runtimeStatus === 'string' && runtimeStatus !== '' ? runtimeStatus : undefined;
}

function zoned(iso: string): string {
  return /(?:Z|[+-]\d{2}:?\d{2})$/i.test(iso) ? iso : `${iso}Z`;
}
