import { groupMeasurementsOrchestrator } from '../../src/functions/group-measurements.orchestrator';
import type { GroupingInput, SaveChunkResult } from '../../src/functions/shared/orchestration-io';
import { Metric } from '../../src/pipeline';
import { measurement } from '../helpers/fhir-stage-fixtures';
import { useTestComposition } from '../functions/helpers';
import { type Episode, HistoryBuilder, replay } from './replay-harness';

const CALL_ACTIVITY_WITH_RETRY = 1;

/** Two devices' heart rates (Hourly): two groups, one per chunk with chunkSize 1. */
const input: GroupingInput = {
  partitionId: '3',
  deviceMappingVersion: 'sha256:device',
  fhirMappingVersion: 'sha256:fhir',
  periodByType: { heartrate: 60 },
  chunkSize: 1,
  maxAttempts: 2,
  measurements: [
    measurement({ type: 'heartrate', deviceId: 'd1', values: { hr: '70' } }),
    measurement({ type: 'heartrate', deviceId: 'd2', values: { hr: '80' } }),
  ],
};

const saved = (created: number): SaveChunkResult => ({ created, updated: 0, unchanged: 0, failed: 0, deadLettered: 0 });
const throttled = "Activity function 'saveObservations' failed: [FHIR_THROTTLED] 1 of 1 measurement group(s) failed";

/** The first episode: the orchestration starts and schedules both chunks (task ids 0 and 1). */
const started = (): HistoryBuilder =>
  new HistoryBuilder(input).nextEpisode().scheduled(0, 'saveObservations').scheduled(1, 'saveObservations');

describe('groupMeasurements orchestrator (replayed by durable-functions)', () => {
  const t = useTestComposition();

  it('groups the batch and fans the save activity out over the chunks, with Durable retries', async () => {
    const first = await replay(groupMeasurementsOrchestrator, input, new HistoryBuilder(input).events);

    expect(first.isDone).toBe(false);
    expect(first.actions).toHaveLength(2);
    for (const [i, action] of first.actions.entries()) {
      expect(action).toMatchObject({
        actionType: CALL_ACTIVITY_WITH_RETRY,
        functionName: 'saveObservations',
        retryOptions: { firstRetryIntervalInMilliseconds: 5000, maxNumberOfAttempts: 2, backoffCoefficient: 2 },
      });
      const chunk = action.input as { partitionId: string; groups: { deviceId: string; window: unknown }[] };
      expect(chunk.partitionId).toBe('3');
      expect(chunk.groups.map((g) => g.deviceId)).toEqual([`d${i + 1}`]);
      expect(chunk.groups[0]?.window).toEqual({
        start: '2024-03-10T14:00:00.0000000Z',
        end: '2024-03-10T14:59:59.9999999Z',
      });
    }
    expect(first.customStatus).toMatchObject({ phase: 'saving', groups: 2, chunks: 2, chunksDone: 0 });
  });

  it('completes with the summed counts when every chunk is saved', async () => {
    const history = started().nextEpisode().completed(0, saved(1)).completed(1, saved(1));

    const done = await replay(groupMeasurementsOrchestrator, input, history.events);

    expect(done.isDone).toBe(true);
    expect(done.actions).toHaveLength(2); // nothing beyond the chunks was ever scheduled
    expect(done.output).toEqual({
      groups: 2,
      chunks: 2,
      created: 2,
      updated: 0,
      unchanged: 0,
      failed: 0,
      deadLettered: 0,
    });
    expect(done.customStatus).toMatchObject({ phase: 'done', chunksDone: 2, chunksFailed: 0 });
  });

  it('waits for a retried chunk and completes when its second attempt succeeds', async () => {
    // Chunk 0 fails (task 0), the extension waits (timer 2) and runs it again (task 3), which succeeds.
    const waiting = started().nextEpisode().failed(0, throttled).completed(1, saved(1)).retryTimer(2);
    const mid = await replay(groupMeasurementsOrchestrator, input, waiting.events);
    expect(mid.isDone).toBe(false);
    expect(mid.error).toBeUndefined();

    const history = waiting.scheduled(3, 'saveObservations').nextEpisode().completed(3, saved(1));
    const done = await replay(groupMeasurementsOrchestrator, input, history.events);

    expect(done.isDone).toBe(true);
    expect(done.output).toMatchObject({ created: 2, failed: 0, deadLettered: 0 });
    expect(done.actions.map((a) => a.functionName)).toEqual(['saveObservations', 'saveObservations']);
  });

  it('dead-letters the groups of a chunk that fails on every attempt, with the code it failed with', async () => {
    const exhausted = started()
      .nextEpisode()
      .completed(1, saved(1))
      .failed(0, throttled)
      .retryTimer(2)
      .scheduled(3, 'saveObservations')
      .nextEpisode()
      .failed(3, throttled)
      .retryTimer(4);

    const deadLettering = await replay(groupMeasurementsOrchestrator, input, exhausted.events);

    expect(deadLettering.isDone).toBe(false);
    const deadLetter = deadLettering.actions.at(-1);
    expect(deadLetter).toMatchObject({ actionType: CALL_ACTIVITY_WITH_RETRY, functionName: 'deadLetterGroups' });
    expect(deadLetter?.input).toMatchObject({
      code: 'FHIR_THROTTLED',
      mappingVersion: 'sha256:fhir',
      attempts: 2,
      groups: [{ deviceId: 'd1' }],
    });
    expect((deadLetter?.input as { message: string }).message).toBe(`Saving failed on all 2 attempt(s): ${throttled}`);
    expect(deadLettering.customStatus).toMatchObject({ phase: 'dead-lettering', chunksFailed: 1 });

    const history = exhausted.scheduled(5, 'deadLetterGroups').nextEpisode().completed(5, 1);
    const done = await replay(groupMeasurementsOrchestrator, input, history.events);

    expect(done.isDone).toBe(true);
    expect(done.output).toEqual({
      groups: 2,
      chunks: 2,
      created: 1,
      updated: 0,
      unchanged: 0,
      failed: 1,
      deadLettered: 1,
    });
  });

  it('still collects the other chunks of a wave when one fails for good first', async () => {
    const exhausted = started()
      .nextEpisode()
      .failed(0, throttled)
      .retryTimer(2)
      .scheduled(3, 'saveObservations')
      .nextEpisode()
      .failed(3, throttled)
      .retryTimer(4);
    // Chunk 1 is still running: nothing new may be scheduled yet, and nothing twice.
    const waiting = await replay(groupMeasurementsOrchestrator, input, exhausted.events);
    expect(waiting.isDone).toBe(false);
    expect(waiting.actions.map((a) => a.functionName)).toEqual(['saveObservations', 'saveObservations']);

    const chunkOneDone = exhausted.nextEpisode().completed(1, saved(1));
    const deadLettering = await replay(groupMeasurementsOrchestrator, input, chunkOneDone.events);
    expect(deadLettering.actions.map((a) => a.functionName)).toEqual([
      'saveObservations',
      'saveObservations',
      'deadLetterGroups',
    ]);

    const done = await replay(
      groupMeasurementsOrchestrator,
      input,
      chunkOneDone.scheduled(5, 'deadLetterGroups').nextEpisode().completed(5, 1).events,
    );
    expect(done.output).toMatchObject({ created: 1, failed: 1, deadLettered: 1 });
  });

  it('recovers INTERNAL when a failed activity carries no code', async () => {
    const history = started()
      .nextEpisode()
      .completed(1, saved(1))
      .failed(0, 'Activity function failed: TypeError: x is undefined')
      .retryTimer(2)
      .scheduled(3, 'saveObservations')
      .nextEpisode()
      .failed(3, 'Activity function failed: TypeError: x is undefined')
      .retryTimer(4);

    const episode = await replay(groupMeasurementsOrchestrator, input, history.events);

    expect(episode.actions.at(-1)?.input).toMatchObject({ code: 'INTERNAL' });
  });

  it('is deterministic: replaying the same history yields the same actions, status and output', async () => {
    const histories = [
      new HistoryBuilder(input),
      started().nextEpisode().failed(0, throttled).completed(1, saved(1)).retryTimer(2),
      started().nextEpisode().completed(0, saved(1)).completed(1, saved(1)),
    ];
    for (const history of histories) {
      const runs: Episode[] = [];
      for (let i = 0; i < 3; i++) {
        runs.push(await replay(groupMeasurementsOrchestrator, input, history.events));
      }
      expect(runs[1]).toEqual(runs[0]);
      expect(runs[2]).toEqual(runs[0]);
    }
  });

  it('reports the grouping metrics once, on the first execution, not on replays', async () => {
    await replay(groupMeasurementsOrchestrator, input, new HistoryBuilder(input).events);
    await replay(groupMeasurementsOrchestrator, input, started().nextEpisode().completed(0, saved(1)).events);
    await replay(
      groupMeasurementsOrchestrator,
      input,
      started().nextEpisode().completed(0, saved(1)).completed(1, saved(1)).events,
    );

    expect(t().metrics.total(Metric.MessageGroups)).toBe(2);
    expect(t().metrics.observations(Metric.GroupLatencyMs)).toHaveLength(1);
  });

  it('bounds the fan-out: at most 16 chunks are scheduled before the first wave is done', async () => {
    const many: GroupingInput = {
      ...input,
      measurements: Array.from({ length: 20 }, (_, i) => measurement({ type: 'heartrate', deviceId: `d${i}` })),
    };
    const first = await replay(groupMeasurementsOrchestrator, many, new HistoryBuilder(many).events);
    expect(first.actions).toHaveLength(16);

    const wave = new HistoryBuilder(many).nextEpisode();
    for (let id = 0; id < 16; id++) {
      wave.scheduled(id, 'saveObservations');
    }
    wave.nextEpisode();
    for (let id = 0; id < 16; id++) {
      wave.completed(id, saved(1));
    }
    const second = await replay(groupMeasurementsOrchestrator, many, wave.events);
    expect(second.actions).toHaveLength(20);
    expect(second.customStatus).toMatchObject({ chunksDone: 16, chunks: 20 });
  });

  it('fails the orchestration on an input it cannot read, naming the field', async () => {
    const bad = { ...input, chunkSize: 0 };
    const episode = await replay(groupMeasurementsOrchestrator, bad, new HistoryBuilder(bad).events);

    expect(episode.isDone).toBe(false);
    expect(episode.error).toContain('/chunkSize must be a whole number from 1 to 500');
    expect(episode.actions).toEqual([]);
  });
});
