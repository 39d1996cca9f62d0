import { Buffer } from 'node:buffer';

import { EVENT_HUB_TRIGGER, ingestDeviceEvents, INGEST_RETRY } from '../../src/functions/ingest-device-events';
import { setComposition } from '../../src/functions/shared/composition';
import { readGroupingInput } from '../../src/functions/shared/orchestration-io';
import { deserializeDeadLetterEvent, Metric } from '../../src/pipeline';
import { eventHubInvocation, FakeDurableClient, type TestEvent, testComposition } from './helpers';

const heartRate = (deviceId: string, minute: number, hr: number) => ({
  deviceId,
  patientId: `patient-${deviceId}`,
  measurementTime: `2024-03-10T14:${String(minute).padStart(2, '0')}:00Z`,
  heartRate: hr,
});

/** A batch mixing body encodings, with a malformed event in the middle. */
const mixedBatch = (): TestEvent[] => [
  {
    body: Buffer.from(JSON.stringify(heartRate('d1', 1, 70))),
    sequenceNumber: 500,
    enqueuedTimeUtc: '2024-03-10T14:01:01Z',
  },
  { body: JSON.stringify(heartRate('d2', 2, 80)), sequenceNumber: 501, enqueuedTimeUtc: '2024-03-10T14:02:01Z' },
  {
    body: Buffer.from('{"deviceId": "d3", "heartRate": '),
    sequenceNumber: 502,
    enqueuedTimeUtc: '2024-03-10T14:03:01Z',
  },
  { body: heartRate('d1', 4, 75), sequenceNumber: 503, enqueuedTimeUtc: '2024-03-10T14:04:01Z' },
];

describe('ingestDeviceEvents (Event Hubs trigger)', () => {
  afterEach(() => {
    setComposition(undefined);
  });

  it('binds the trigger to setting names, with exact bytes, batches and unlimited retries', () => {
    expect(EVENT_HUB_TRIGGER).toEqual({
      connection: 'EventHubConnection',
      eventHubName: '%EventHubName%',
      consumerGroup: '%EventHubConsumerGroup%',
      cardinality: 'many',
      dataType: 'binary',
    });
    expect(INGEST_RETRY).toMatchObject({ strategy: 'exponentialBackoff', maxRetryCount: -1 });
  });

  it('normalizes each event in isolation, dead-letters the malformed one and starts one orchestration', async () => {
    const t = testComposition();
    setComposition(t.composition);
    const client = new FakeDurableClient();
    const { messages, context } = eventHubInvocation(mixedBatch(), { partitionId: '3' });

    const summary = await ingestDeviceEvents(messages, client, context);

    expect(summary).toEqual({
      events: 4,
      measurements: 3,
      deadLettered: 1,
      instanceId: 'ingest-p3-s500-503-t1710079261000',
      outcome: 'Started',
    });
    // The bad event is kept byte for byte, with where it came from.
    const [entry] = t.deadLetters.entries;
    expect(entry).toMatchObject({
      id: 'evt-20240310-3-502',
      stage: 'Normalization',
      partitionId: '3',
      sequenceNumber: 502,
      error: { code: 'BODY_INVALID_JSON', medtechErrorType: 'InvalidDataFormatException' },
    });
    expect(Buffer.from(deserializeDeadLetterEvent(entry!).body as Uint8Array).toString()).toBe(
      '{"deviceId": "d3", "heartRate": ',
    );
    // One orchestration for the whole batch, with everything grouping needs.
    expect(client.started).toHaveLength(1);
    const input = readGroupingInput(client.started[0]!.input);
    expect(client.started[0]!.name).toBe('groupMeasurements');
    expect(input.measurements.map((m) => [m.deviceId, m.properties[0]?.value])).toEqual([
      ['d1', '70'],
      ['d2', '80'],
      ['d1', '75'],
    ]);
    expect(input.periodByType).toEqual({ heartrate: 60 });
    expect(input).toMatchObject({ partitionId: '3', chunkSize: 50, maxAttempts: 5 });
    expect(input.deviceMappingVersion).toMatch(/^sha256:/);
    expect(input.fhirMappingVersion).toMatch(/^sha256:/);
    // MedTech's normalization metrics, with the partition as the only identifier.
    expect(t.metrics.total(Metric.IncomingMessages)).toBe(4);
    expect(t.metrics.total(Metric.Measurements)).toBe(3);
    expect(t.metrics.total(Metric.DeadLetteredItems)).toBe(1);
    expect(t.metrics.calls.every((c) => c.dimensions?.partition === undefined || c.dimensions.partition === '3')).toBe(
      true,
    );
  });

  it('starts nothing twice for a redelivered batch', async () => {
    const t = testComposition();
    setComposition(t.composition);
    const client = new FakeDurableClient();
    const first = eventHubInvocation(mixedBatch(), { invocationId: 'first' });
    const again = eventHubInvocation(mixedBatch(), { invocationId: 'again', retryCount: 1 });

    await ingestDeviceEvents(first.messages, client, first.context);
    const second = await ingestDeviceEvents(again.messages, client, again.context);

    expect(second.outcome).toBe('AlreadyStarted');
    expect(client.started).toHaveLength(1);
    // The dead letter of the redelivery replaced the first one (same id), recording the second attempt.
    expect(t.deadLetters.entries).toHaveLength(1);
    expect(t.deadLetters.entries[0]?.attempts).toBe(2);
  });

  it('throws when the dead-letter store is unreachable, so the batch is retried and nothing is lost', async () => {
    const t = testComposition();
    t.deadLetters.available = false;
    setComposition(t.composition);
    const client = new FakeDurableClient();
    const { messages, context } = eventHubInvocation(mixedBatch());

    await expect(ingestDeviceEvents(messages, client, context)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(client.started).toHaveLength(0);
    expect(t.logger.entries.some((e) => e.level === 'error' && e.fields?.code === 'STORAGE_UNAVAILABLE')).toBe(true);
  });

  it('throws instead of dead-lettering under ErrorPolicy=Retry', async () => {
    const t = testComposition({ settings: { ErrorPolicy: 'Retry' } });
    setComposition(t.composition);
    const client = new FakeDurableClient();
    const { messages, context } = eventHubInvocation(mixedBatch());

    await expect(ingestDeviceEvents(messages, client, context)).rejects.toMatchObject({
      code: 'BODY_INVALID_JSON',
      retryable: true,
    });
    expect(t.deadLetters.entries).toHaveLength(0);
    expect(client.started).toHaveLength(0);
  });

  it('starts no orchestration for a batch without measurements', async () => {
    const t = testComposition();
    setComposition(t.composition);
    const client = new FakeDurableClient();
    const { messages, context } = eventHubInvocation([
      { body: '{"unrelated": true}', sequenceNumber: 1, enqueuedTimeUtc: '2024-03-10T14:00:00Z' },
    ]);

    expect(await ingestDeviceEvents(messages, client, context)).toEqual({
      events: 1,
      measurements: 0,
      deadLettered: 0,
    });
    expect(client.started).toHaveLength(0);
    expect(t.metrics.total(Metric.DroppedMessages)).toBe(1);
  });

  it('records a type without a FHIR template as null, for the FHIR stage to report', async () => {
    const t = testComposition();
    t.fhirSource.text = JSON.stringify({ templateType: 'CollectionFhir', template: [] });
    setComposition(t.composition);
    const client = new FakeDurableClient();
    const { messages, context } = eventHubInvocation(mixedBatch().slice(0, 1));

    await ingestDeviceEvents(messages, client, context);

    expect(readGroupingInput(client.started[0]!.input).periodByType).toEqual({ heartrate: null });
  });

  it('fails the invocation while no valid device mapping was ever loaded', async () => {
    const t = testComposition();
    t.deviceSource.text = '{"templateType": "CollectionContent", "template": [{}]}';
    setComposition(t.composition);
    const { messages, context } = eventHubInvocation(mixedBatch());

    await expect(ingestDeviceEvents(messages, new FakeDurableClient(), context)).rejects.toMatchObject({
      code: 'TEMPLATE_INVALID',
    });
    expect(t.logger.entries.some((e) => e.message.startsWith('device mapping version rejected'))).toBe(true);
  });
});
