import type { IngestEvent } from '../../../src/local/stack/ingest-request';
import { partitionForKey } from '../../../src/local/stack/partitioning';
import { type DeviceEvent, ErrorCode, type Normalizer, PipelineError } from '../../../src/pipeline';
import { settle } from './fake-time';
import { pipelineFixture } from './pipeline-fixture';

const T0 = Date.parse('2026-11-28T10:00:00.000Z');

const heartRate = (device: string, minute: number, hr: number): IngestEvent => ({
  event: {
    body: JSON.stringify({
      deviceId: device,
      patientId: `p-${device}`,
      measurementTime: new Date(T0 + minute * 60_000).toISOString(),
      heartRate: hr,
    }),
  },
  partitionKey: device,
});

function setup(
  options: { maxEvents?: number; maxWaitMs?: number; partitions?: number; maxQueuedEvents?: number } = {},
) {
  const seen: { partition: string | undefined; body: string }[] = [];
  // Records the order in which each partition's events reach normalization.
  const normalizer = (inner: Normalizer): Normalizer => ({
    isAsync: inner.isAsync,
    normalize: (event: DeviceEvent) => {
      seen.push({ partition: event.partitionId, body: event.body as string }); // the tests send JSON text
      return inner.normalize(event);
    },
  });
  const fixture = pipelineFixture({
    now: T0,
    maxEvents: 3,
    partitions: 4,
    version: 'test-version',
    normalizer,
    ...options,
  });
  return { ...fixture, seen };
}

describe('LocalPipeline', () => {
  it('keeps the order of one partition key across batches, and uses the Event Hubs partition of the key', async () => {
    const { pipeline, seen } = setup({ maxEvents: 2 });
    const events = Array.from({ length: 9 }, (_, i) => heartRate('device-a', i, 60 + i));
    for (let i = 0; i < events.length; i += 2) {
      pipeline.ingest(events.slice(i, i + 2));
      pipeline.ingest([heartRate(`other-${i}`, i, 80)]);
    }
    await pipeline.flush();
    const mine = seen.filter((s) => s.body.includes('"device-a"'));
    expect(mine.map((s) => JSON.parse(s.body).heartRate)).toEqual(events.map((_, i) => 60 + i));
    expect(new Set(mine.map((s) => s.partition))).toEqual(new Set([String(partitionForKey('device-a', 4))]));
  });

  it('sends one keyless request to one partition, and the next one to the next partition', async () => {
    const { pipeline, seen } = setup();
    const keyless = (request: number, n: number): IngestEvent[] =>
      Array.from({ length: n }, (_, i) => ({ event: { body: JSON.stringify({ request, i }) } }));
    pipeline.ingest(keyless(1, 3));
    pipeline.ingest(keyless(2, 2));
    await pipeline.flush();
    const partitionsOf = (request: number): (string | undefined)[] =>
      seen.filter((s) => (JSON.parse(s.body) as { request: number }).request === request).map((s) => s.partition);
    expect(partitionsOf(1)).toEqual(['0', '0', '0']);
    expect(partitionsOf(2)).toEqual(['1', '1']);
  });

  it('processes partitions concurrently: a slow partition does not hold up the others', async () => {
    const { pipeline, store, metrics } = setup({ maxEvents: 1, maxWaitMs: 0 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = 'device-slow';
    store.beforeCall = async (call) => {
      if (call.op === 'search' && call.identifier.value === slow) {
        await held;
      }
    };
    const other = ['device-1', 'device-2', 'device-3', 'device-4', 'device-5'].find(
      (d) => partitionForKey(d, 4) !== partitionForKey(slow, 4),
    )!;
    pipeline.ingest([heartRate(slow, 0, 70)]);
    pipeline.ingest([heartRate(other, 0, 71)]);
    for (let i = 0; i < 50 && metrics.snapshot().observations.created === 0; i++) {
      await settle();
    }
    expect(metrics.snapshot().observations.created).toBe(1); // the other partition's Observation
    expect(pipeline.queued).toBe(1);
    release();
    await pipeline.flush();
    expect(metrics.snapshot().observations.created).toBe(2);
  });

  it('closes batches at maxEvents or maxWaitMs', async () => {
    const { pipeline, time, metrics } = setup({ maxEvents: 3, maxWaitMs: 1000, partitions: 1 });
    pipeline.ingest([heartRate('d', 0, 60), heartRate('d', 1, 61), heartRate('d', 2, 62), heartRate('d', 3, 63)]);
    await settle();
    expect(metrics.snapshot().events.processed).toBe(3);
    await time.advance(999);
    expect(metrics.snapshot().events.processed).toBe(3);
    await time.advance(1);
    await settle();
    expect(metrics.snapshot().events.processed).toBe(4);
    expect(metrics.snapshot().batches).toBe(2);
  });

  it('dead-letters an event that fails normalization and saves the rest of its batch', async () => {
    const { pipeline, deadLetters, store, metrics } = setup();
    const bad: IngestEvent = {
      event: { body: '{"deviceId":"d1","patientId":"p","heartRate":70}' },
      partitionKey: 'd1',
    };
    pipeline.ingest([heartRate('d1', 0, 72), bad, heartRate('d1', 1, 73)]);
    await pipeline.flush();
    expect(deadLetters.entries).toHaveLength(1);
    expect(deadLetters.entries[0]).toMatchObject({
      stage: 'Normalization',
      mappingVersion: 'test-version',
      error: { medtechErrorType: expect.any(String) },
      payload: { kind: 'event', event: { bodyJson: { deviceId: 'd1', heartRate: 70 } } },
    });
    const observations = [...store.all('Observation')];
    expect(observations).toHaveLength(1);
    expect(observations[0]!.valueSampledData?.data).toContain('72');
    expect(metrics.snapshot().deadLettered).toMatchObject({ total: 1, byStage: { Normalization: 1 } });
  });

  it('stamps the enqueued time of acceptance, but keeps a recorded one', async () => {
    const { pipeline, deadLetters, time } = setup();
    const invalid = (enqueuedTimeUtc?: string): IngestEvent => ({
      event: { body: 'not json', ...(enqueuedTimeUtc === undefined ? {} : { enqueuedTimeUtc }) },
    });
    time.now = T0 + 5000;
    pipeline.ingest([invalid(), invalid('2026-01-01T00:00:00.000Z')]);
    await pipeline.flush();
    expect(deadLetters.entries.map((e) => e.enqueuedTimeUtc).sort()).toEqual([
      '2026-01-01T00:00:00.000Z',
      new Date(T0 + 5000).toISOString(),
    ]);
  });

  it('saves again groups that failed with a retryable error, then saves them', async () => {
    const { pipeline, store, deadLetters, time } = setup();
    let failures = 1;
    store.beforePut = (resource) =>
      resource.resourceType === 'Observation' && failures-- > 0
        ? new PipelineError(ErrorCode.FhirUnavailable, 'FHIR service unavailable (503)')
        : undefined;
    pipeline.ingest([heartRate('d1', 0, 72)]);
    const flushed = pipeline.flush();
    await settle();
    await time.advance(100); // the retry delay
    await flushed;
    expect(deadLetters.entries).toEqual([]);
    expect([...store.all('Observation')]).toHaveLength(1);
  });

  it('dead-letters a group that keeps failing, with its attempts, and notes the infrastructure failure', async () => {
    const { pipeline, store, deadLetters, time } = setup();
    store.beforePut = (resource) =>
      resource.resourceType === 'Observation'
        ? new PipelineError(ErrorCode.FhirUnavailable, 'FHIR service unavailable (503)')
        : undefined;
    pipeline.ingest([heartRate('d1', 0, 72)]);
    const flushed = pipeline.flush();
    for (let i = 0; i < 5; i++) {
      await settle();
      await time.advance(400);
    }
    await flushed;
    expect(deadLetters.entries).toMatchObject([
      { stage: 'FHIRConversion', attempts: 3, error: { code: ErrorCode.FhirUnavailable, retryable: true } },
    ]);
    expect(pipeline.infrastructureFailures).toBe(1);
    expect(pipeline.lastInfrastructureFailure).toMatchObject({ code: ErrorCode.FhirUnavailable });
  });

  it('dead-letters a group that fails for its data at once, without retries', async () => {
    const { pipeline, deadLetters, store } = setup();
    // No patient id: Create resolution cannot make the Patient.
    pipeline.ingest([
      {
        event: { body: JSON.stringify({ deviceId: 'd9', measurementTime: new Date(T0).toISOString(), heartRate: 70 }) },
      },
    ]);
    await pipeline.flush();
    expect(deadLetters.entries).toMatchObject([
      { stage: 'FHIRConversion', attempts: 1, error: { code: ErrorCode.PatientIdentityNotDefined } },
    ]);
    expect(store.callsOf('putMany')).toEqual([]);
    expect(pipeline.infrastructureFailures).toBe(0);
  });

  it('reports, and counts, dead letters it cannot store', async () => {
    const { pipeline, deadLetters, metrics, problems, time } = setup();
    deadLetters.available = false;
    pipeline.ingest([{ event: { body: 'not json' } }]);
    const flushed = pipeline.flush();
    for (let i = 0; i < 5; i++) {
      await settle();
      await time.advance(400);
    }
    await flushed;
    expect(metrics.snapshot().deadLettered).toMatchObject({ total: 0, writeFailures: 1 });
    expect(problems.join('\n')).toMatch(/1 dead letters could not be written \(STORAGE_UNAVAILABLE/);
    expect(problems.join('\n')).not.toContain('not json');
  });

  it('refuses events beyond the queue bound; waitForRoom resolves once there is room', async () => {
    const { pipeline } = setup({ maxQueuedEvents: 3, maxEvents: 10, maxWaitMs: 60_000, partitions: 1 });
    expect(pipeline.ingest([heartRate('d', 0, 60), heartRate('d', 1, 61)])).toEqual({ accepted: 2 });
    expect(pipeline.ingest([heartRate('d', 2, 62), heartRate('d', 3, 63)])).toMatchObject({ refused: 'overloaded' });
    let room = false;
    const waiting = pipeline.waitForRoom(2).then(() => (room = true));
    await settle();
    expect(room).toBe(false);
    await pipeline.flush();
    await waiting;
    expect(room).toBe(true);
  });

  it('stop refuses new events and processes every queued one', async () => {
    const { pipeline, metrics, store } = setup({ maxEvents: 100, maxWaitMs: 3_600_000 });
    pipeline.ingest([heartRate('d1', 0, 72), heartRate('d2', 0, 74)]);
    await settle();
    expect(metrics.snapshot().events.processed).toBe(0);
    await pipeline.stop();
    expect(metrics.snapshot().events.processed).toBe(2);
    expect([...store.all('Observation')]).toHaveLength(2);
    expect(pipeline.ingest([heartRate('d1', 1, 75)])).toMatchObject({ refused: 'stopping' });
  });
});
