/**
 * The dead-letter store unreachable: whatever should be dead-lettered meanwhile is not lost.
 *
 * - Functions app: the Event Hubs invocation (and the save activity) throws while the store is down, so the platform
 *   redelivers the batch (Durable retries the activity); once the store is back, the redelivery dead-letters the bad
 *   events and hands the good ones on. Every event of the batch is accounted for, exactly once.
 * - Local stack: the entries are held (counting towards the queue bound, so producers are refused rather than entries
 *   dropped) and written with the next batch or flush once the store is back.
 */
import { InvocationContext } from '@azure/functions';
import { ingestDeviceEvents } from '../../src/functions/ingest-device-events';
import { saveObservations } from '../../src/functions/save-observations.activity';
import { setComposition } from '../../src/functions/shared/composition';
import { readGroupingInput } from '../../src/functions/shared/orchestration-io';
import { ErrorCode, type DeviceEvent } from '../../src/pipeline';
import { groupsFor, measurement } from '../helpers/fhir-stage-fixtures';
import { eventHubInvocation, FakeDurableClient, testComposition, type TestEvent } from '../functions/helpers';
import { flushMovingTime, pipelineFixture, reading } from '../local/stack/pipeline-fixture';

/** Ten events, every third one unreadable. */
const batch = (): TestEvent[] =>
  Array.from({ length: 10 }, (_, i) => ({
    body: Buffer.from(i % 3 === 2 ? `{"deviceId":"d${i}","heartRate":` : reading(`d${i}`, i)),
    sequenceNumber: 1000 + i,
    enqueuedTimeUtc: `2024-03-10T14:${String(i).padStart(2, '0')}:30Z`,
  }));

describe('Functions app with the dead-letter store unreachable', () => {
  afterEach(() => {
    setComposition(undefined);
  });

  it('the ingest invocation fails until the store is back; then every event is either handed on or dead-lettered', async () => {
    const t = testComposition();
    setComposition(t.composition);
    const client = new FakeDurableClient();
    t.deadLetters.available = false;

    // The platform redelivers the same batch after each failed invocation (INGEST_RETRY: unlimited).
    for (const retryCount of [0, 1, 2]) {
      const { messages, context } = eventHubInvocation(batch(), { retryCount });
      await expect(ingestDeviceEvents(messages, client, context)).rejects.toMatchObject({
        code: ErrorCode.StorageUnavailable,
      });
    }
    expect(client.started).toHaveLength(0);

    t.deadLetters.available = true;
    const { messages, context } = eventHubInvocation(batch(), { retryCount: 3 });
    const summary = await ingestDeviceEvents(messages, client, context);

    expect(summary).toMatchObject({ events: 10, deadLettered: 3, outcome: 'Started' });
    expect(client.started).toHaveLength(1);
    const handedOn = readGroupingInput(client.started[0]?.input).measurements.map((m) => m.deviceId);
    const deadLettered = t.deadLetters.entries.map((e) => e.sequenceNumber);
    expect(t.deadLetters.entries.every((e) => e.attempts === 4)).toBe(true);
    // Each event exactly once: devices d0..d9 map to sequence numbers 1000..1009.
    const accounted = [...handedOn.map((d) => 1000 + Number(d.slice(1))), ...deadLettered].sort();
    expect(accounted).toEqual(batch().map((e) => e.sequenceNumber));
  });

  it('the save activity fails (and is retried) until a failed group can be dead-lettered', async () => {
    const t = testComposition();
    setComposition(t.composition);
    const { value: mapping } = await t.composition.fhirMappings.get();
    const groups = groupsFor(mapping, [
      measurement({ type: 'heartrate', deviceId: 'd1', values: { hr: '70' } }),
      measurement({ type: 'notmapped', deviceId: 'd2', values: { x: '1' } }),
    ]);
    const input: unknown = JSON.parse(JSON.stringify({ partitionId: '0', groups }));
    const context = new InvocationContext({ functionName: 'saveObservations', logHandler: () => undefined });
    t.deadLetters.available = false;

    await expect(saveObservations(input, context)).rejects.toMatchObject({ code: ErrorCode.StorageUnavailable });
    t.deadLetters.available = true;
    await expect(saveObservations(input, context)).resolves.toMatchObject({ failed: 1, deadLettered: 1 });

    expect(t.fhir.all('Observation')).toHaveLength(1);
    expect(t.deadLetters.entries.map((e) => e.error.code)).toEqual([ErrorCode.TemplateNotFound]);
  });
});

describe('local stack with the dead-letter store unreachable', () => {
  const setup = (maxQueuedEvents = 100) =>
    pipelineFixture({ now: Date.parse('2024-03-10T14:00:00Z'), maxQueuedEvents });

  const event = (body: string): { event: DeviceEvent } => ({ event: { body } });

  it('holds the dead letters, refuses producers at the bound, and writes them once the store is back', async () => {
    const { time, store, deadLetters, pipeline, problems } = setup(3);
    deadLetters.available = false;

    expect(pipeline.ingest([event(reading('d1', 1)), event('not json'), event('{"half":')])).toEqual({ accepted: 3 });
    await flushMovingTime(pipeline, time);

    // The good event is saved; the two bad ones are held, not dropped, and still count as queued.
    expect(store.all('Observation')).toHaveLength(1);
    expect(deadLetters.entries).toEqual([]);
    expect(pipeline.unwrittenDeadLetters).toBe(2);
    expect(pipeline.queued).toBe(2);
    expect(problems.join('\n')).toContain('they are kept and written with the next batch');
    expect(problems.join('\n')).not.toContain('not json');
    // Producers are refused rather than the held entries dropped.
    expect(pipeline.ingest([event('x'), event('y')])).toMatchObject({ refused: 'overloaded' });

    deadLetters.available = true;
    expect(pipeline.ingest([event(reading('d2', 2))])).toEqual({ accepted: 1 });
    await flushMovingTime(pipeline, time);

    expect(pipeline.unwrittenDeadLetters).toBe(0);
    expect(deadLetters.entries.map((e) => e.error.code).sort()).toEqual([
      ErrorCode.BodyInvalidJson,
      ErrorCode.BodyInvalidJson,
    ]);
    expect(store.all('Observation')).toHaveLength(2);
  });

  it('a flush alone writes the held entries once the store is back', async () => {
    const { time, deadLetters, pipeline } = setup();
    deadLetters.available = false;
    pipeline.ingest([event('not json')]);
    await flushMovingTime(pipeline, time);
    expect(pipeline.unwrittenDeadLetters).toBe(1);

    deadLetters.available = true;
    await flushMovingTime(pipeline, time);
    expect(pipeline.unwrittenDeadLetters).toBe(0);
    expect(deadLetters.entries).toHaveLength(1);
  });
});
