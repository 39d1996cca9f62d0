/**
 * The grouping orchestrator (house-style convention 10): groups one batch's measurements into observation windows
 * with the pure grouping module, splits them into chunks and fans the save activity out over the chunks, a bounded
 * number at a time, each with Durable retries. A chunk that still fails after its last attempt goes to the
 * dead-letter activity, so nothing is lost. Returns the counts.
 *
 * Deterministic: it reads only its input (the mapping's intervals travel in it), takes time only from
 * `currentUtcDateTime`, and makes the same calls in the same order on every replay. Its one side channel, the
 * grouping metrics, is written on the first execution only (`isReplaying` is false then).
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';

import { chunkGroups, groupMeasurements, type MeasurementGroup, Metric, type PeriodInterval } from '../pipeline';
import { getComposition } from './shared/composition';
import { DEAD_LETTER_GROUPS, GROUP_MEASUREMENTS, SAVE_OBSERVATIONS } from './shared/function-names';
import { activityFailureCode } from './shared/invocation-outcome';
import {
  type DeadLetterGroupsInput,
  type GroupingInput,
  type GroupingResult,
  readCount,
  readGroupingInput,
  readSaveChunkResult,
  type SaveChunkInput,
} from './shared/orchestration-io';

export { GROUP_MEASUREMENTS };

/** Save activities in flight at once per orchestration (as many as host.json lets one worker run). */
export const MAX_CHUNKS_IN_FLIGHT = 16;
/** First retry of a failed save activity; later ones back off exponentially up to {@link MAX_RETRY_INTERVAL_MS}. */
export const FIRST_RETRY_INTERVAL_MS = 5000;
/** Longest wait between two attempts of a save activity. */
export const MAX_RETRY_INTERVAL_MS = 60_000;

/** The orchestration's custom status while it runs. */
export interface GroupingProgress extends GroupingResult {
  readonly phase: 'saving' | 'dead-lettering' | 'done';
  readonly chunksDone: number;
  readonly chunksFailed: number;
  /** When the orchestration started (`currentUtcDateTime`), ISO-8601. */
  readonly startedAt: string;
}

interface FailedChunk {
  readonly groups: readonly MeasurementGroup[];
  readonly error: unknown;
}

/**
 * The orchestrator.
 * @param context - the orchestration context; its input is a {@link GroupingInput}
 */
export const groupMeasurementsOrchestrator: OrchestrationHandler = function* (
  context: OrchestrationContext,
): Generator<Task, GroupingResult, unknown> {
  const input = readGroupingInput(context.df.getInput());
  const startedAt = context.df.currentUtcDateTime.toISOString();
  const groups = group(input, context.df.isReplaying);
  const chunks = chunkGroups(groups, input.chunkSize);
  const retry = new df.RetryOptions(FIRST_RETRY_INTERVAL_MS, input.maxAttempts);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = MAX_RETRY_INTERVAL_MS;

  const totals = { groups: groups.length, chunks: chunks.length, created: 0, updated: 0, unchanged: 0, failed: 0 };
  let deadLettered = 0;
  let chunksDone = 0;
  const failedChunks: FailedChunk[] = [];
  const progress = (phase: GroupingProgress['phase']): GroupingProgress => ({
    phase,
    ...totals,
    deadLettered,
    chunksDone,
    chunksFailed: failedChunks.length,
    startedAt,
  });
  context.df.setCustomStatus(progress('saving'));

  for (let start = 0; start < chunks.length; start += MAX_CHUNKS_IN_FLIGHT) {
    const wave = chunks.slice(start, start + MAX_CHUNKS_IN_FLIGHT);
    const tasks = wave.map((chunk) =>
      context.df.callActivityWithRetry(SAVE_OBSERVATIONS, retry, saveInput(input, chunk)),
    );
    try {
      // Schedules the whole wave at once; a failure ends the wait early, the loop below collects every outcome.
      yield context.df.Task.all(tasks);
    } catch {
      // Inspected task by task below.
    }
    for (const [i, task] of tasks.entries()) {
      try {
        const saved = readSaveChunkResult(yield task);
        totals.created += saved.created;
        totals.updated += saved.updated;
        totals.unchanged += saved.unchanged;
        totals.failed += saved.failed;
        deadLettered += saved.deadLettered;
      } catch (error) {
        failedChunks.push({ groups: wave[i] ?? [], error });
      }
      chunksDone++;
    }
    context.df.setCustomStatus(progress('saving'));
  }

  if (failedChunks.length > 0) {
    context.df.setCustomStatus(progress('dead-lettering'));
    const written = yield context.df.Task.all(
      failedChunks.map((chunk) =>
        context.df.callActivityWithRetry(DEAD_LETTER_GROUPS, retry, deadLetterInput(input, chunk)),
      ),
    );
    for (const count of written as unknown[]) {
      deadLettered += readCount(count);
    }
    totals.failed += failedChunks.reduce((n, chunk) => n + chunk.groups.length, 0);
  }
  const result: GroupingResult = { ...totals, deadLettered };
  context.df.setCustomStatus(progress('done'));
  return result;
};

function group(input: GroupingInput, isReplaying: boolean): MeasurementGroup[] {
  const periods = input.periodByType;
  const periodFor = (type: string): PeriodInterval | undefined =>
    Object.hasOwn(periods, type) ? (periods[type] ?? undefined) : undefined;
  if (isReplaying) {
    return groupMeasurements(input.measurements, periodFor);
  }
  // First execution: also report MedTech's grouping metrics (replays would count them again).
  const { metrics, clock } = getComposition();
  const started = clock();
  const groups = groupMeasurements(input.measurements, periodFor);
  const partition = input.partitionId === undefined ? {} : { partition: input.partitionId };
  metrics.count(Metric.MessageGroups, groups.length, partition);
  metrics.record(Metric.GroupLatencyMs, clock() - started, { stage: 'Grouping', ...partition });
  return groups;
}

function saveInput(input: GroupingInput, groups: readonly MeasurementGroup[]): SaveChunkInput {
  return { ...(input.partitionId === undefined ? {} : { partitionId: input.partitionId }), groups };
}

function deadLetterInput(input: GroupingInput, chunk: FailedChunk): DeadLetterGroupsInput {
  const reason = chunk.error instanceof Error ? chunk.error.message : 'the save activity failed';
  return {
    groups: chunk.groups,
    code: activityFailureCode(chunk.error),
    // Durable appends the stack to the reason; keep the first line, which is the activity's own message.
    message: `Saving failed on all ${input.maxAttempts} attempt(s): ${firstLine(reason)}`,
    mappingVersion: input.fhirMappingVersion,
    attempts: input.maxAttempts,
  };
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]?.trim() ?? '';
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}

df.app.orchestration(GROUP_MEASUREMENTS, groupMeasurementsOrchestrator);
