/**
 * What happens to what failed (house-style convention 9), decided in one place for the trigger and the activities:
 *
 * - `ErrorPolicy=DeadLetter` (default): an item that failed for a reason retrying cannot fix (device data, mapping)
 *   is written to the dead-letter store, counted and logged, and the rest carries on. If the store cannot be
 *   reached the invocation fails instead, so the platform redelivers the batch (or Durable retries the activity) and
 *   nothing is lost.
 * - `ErrorPolicy=Retry`: any failure fails the invocation (MedTech's behaviour for unhandled errors).
 * - Transient failures (FHIR 429/5xx after the client's own retries) always fail the invocation; saving is idempotent,
 *   so a retried activity is safe.
 *
 * Activity errors cross Durable Functions as text; {@link activityFailure} puts the error code in front (`[CODE] …`)
 * so the orchestrator can recover it with {@link activityFailureCode}.
 */
import {
  type DeadLetterEntry,
  ErrorCode,
  ErrorPolicy,
  eventDeadLetterEntry,
  type FailedGroup,
  groupDeadLetterEntry,
  Metric,
  type NormalizeFailure,
  PipelineError,
  type Stage,
  toPipelineError,
} from '../../pipeline';
import type { Composition } from './composition';

/** Where the failures come from. */
export interface FailureContext {
  /** The version of the mapping in force (device mapping for events, FHIR mapping for groups). */
  readonly mappingVersion: string;
  /** Attempts made so far, this one included. */
  readonly attempts: number;
  readonly partition?: string;
  readonly invocationId?: string;
}

const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/**
 * Settles the events of a batch that failed normalization.
 * @param c - the composition
 * @param failures - the failed events
 * @param context - mapping version, attempts, partition
 * @returns how many were dead-lettered
 * @throws PipelineError under `ErrorPolicy=Retry`, or when the dead-letter store is unreachable
 */
export async function settleEventFailures(
  c: Composition,
  failures: readonly NormalizeFailure[],
  context: FailureContext,
): Promise<number> {
  const first = failures[0];
  if (first === undefined) {
    return 0;
  }
  if (c.settings.errorPolicy === ErrorPolicy.Retry) {
    c.logger.error('events failed normalization; ErrorPolicy is Retry, so the batch fails', {
      ...fields(context),
      code: first.error.code,
      count: failures.length,
    });
    throw new PipelineError(
      first.error.code,
      `${failures.length} event(s) of the batch failed normalization (first: ${first.error.code}); ErrorPolicy is Retry`,
      { retryable: true, cause: first.error },
    );
  }
  const now = c.clock();
  const entries = failures.map((f) =>
    eventDeadLetterEntry(f.event, f.error, { mappingVersion: context.mappingVersion, now, attempts: context.attempts }),
  );
  await putDeadLetters(c, entries, 'Normalization', context);
  failures.forEach((f, i) => {
    c.logger.warn('event failed normalization and was dead-lettered', {
      ...fields(context),
      code: f.error.code,
      errorType: f.error.medtechErrorType,
      ...(f.error.details.template === undefined ? {} : { template: f.error.details.template }),
      ...(typeof f.error.details.field === 'string' ? { field: f.error.details.field } : {}),
      ...(f.event.sequenceNumber === undefined ? {} : { sequenceNumber: f.event.sequenceNumber }),
      ...(entries[i] === undefined ? {} : { deadLetterId: entries[i].id }),
    });
  });
  return entries.length;
}

/**
 * Settles the groups of a chunk that failed to save: dead-letters the permanent failures, then throws if any
 * failure may succeed on retry (or if `ErrorPolicy=Retry`).
 * @param c - the composition
 * @param failures - the failed groups
 * @param total - groups in the chunk (for the message)
 * @param context - mapping version, attempts, partition
 * @returns how many were dead-lettered
 */
export async function settleGroupFailures(
  c: Composition,
  failures: readonly FailedGroup[],
  total: number,
  context: FailureContext,
): Promise<number> {
  const retryAll = c.settings.errorPolicy === ErrorPolicy.Retry;
  const permanent = retryAll ? [] : failures.filter((f) => !f.error.retryable);
  const transient = retryAll ? failures : failures.filter((f) => f.error.retryable);
  const now = c.clock();
  const entries = permanent.map((f) =>
    groupDeadLetterEntry(f.group, f.error, { mappingVersion: context.mappingVersion, now, attempts: context.attempts }),
  );
  await putDeadLetters(c, entries, 'FHIRConversion', context);
  permanent.forEach((f, i) => {
    c.logger.warn('measurement group could not be saved and was dead-lettered', {
      ...fields(context),
      code: f.error.code,
      errorType: f.error.medtechErrorType,
      ...(entries[i] === undefined ? {} : { deadLetterId: entries[i].id }),
    });
  });
  const first = transient[0];
  if (first !== undefined) {
    c.logger.warn('measurement groups failed with retryable errors; the chunk is retried', {
      ...fields(context),
      code: first.error.code,
      count: transient.length,
    });
    throw activityFailure(
      first.error.code,
      `${transient.length} of ${total} measurement group(s) failed with ${retryAll ? 'errors (ErrorPolicy is Retry)' : 'retryable errors'}`,
    );
  }
  return entries.length;
}

/**
 * An activity failure whose message starts with its code, so the code survives Durable's text-only error transport.
 * @param code - the error code
 * @param message - what failed, without data values
 */
export function activityFailure(code: ErrorCode, message: string): PipelineError {
  return new PipelineError(code, `[${code}] ${message}`, { retryable: true });
}

/**
 * The error code of a failed activity as the orchestrator sees it: the `[CODE]` that {@link activityFailure} put in
 * front, else `INTERNAL` (the activity threw something unexpected).
 * @param error - what the failed task yielded
 */
export function activityFailureCode(error: unknown): ErrorCode {
  const message = error instanceof Error ? error.message : '';
  const code = /\[([A-Z][A-Z_]*)\]/.exec(message)?.[1];
  return code !== undefined && ERROR_CODES.has(code) ? (code as ErrorCode) : ErrorCode.Internal;
}

async function putDeadLetters(
  c: Composition,
  entries: readonly DeadLetterEntry[],
  stage: Stage,
  context: FailureContext,
): Promise<void> {
  if (entries.length === 0) {
    return;
  }
  try {
    await c.deadLetters.put(entries);
  } catch (error) {
    const e = toPipelineError(error, ErrorCode.StorageUnavailable);
    c.logger.error('dead-letter store unreachable; failing the invocation so nothing is lost', {
      ...fields(context),
      stage,
      code: e.code,
      count: entries.length,
    });
    throw e;
  }
  c.metrics.count(Metric.DeadLetteredItems, entries.length, {
    stage,
    ...(context.partition === undefined ? {} : { partition: context.partition }),
  });
}

function fields(context: FailureContext): { partition?: string; invocationId?: string; mappingVersion: string } {
  return {
    mappingVersion: context.mappingVersion,
    ...(context.partition === undefined ? {} : { partition: context.partition }),
    ...(context.invocationId === undefined ? {} : { invocationId: context.invocationId }),
  };
}
