/**
 * LocalPipeline with the intake journal: an event is complete (the journal may forget it) only once it was saved or
 * its dead letter was written. While the dead-letter store is down, the batch's events stay incomplete, so a hard kill
 * in that state processes them again at the next start.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type IntakeJournal, openIntakeJournal } from '../../../src/local/stack/intake-journal';
import { LocalPipeline } from '../../../src/local/stack/local-pipeline';
import { StackMetrics } from '../../../src/local/stack/stack-metrics';
import { createIdentityResolver, createNormalizer, loadDeviceMapping, loadFhirMapping } from '../../../src/pipeline';
import { MemoryDeadLetterStore } from '../../helpers/memory-dead-letter-store';
import { MemoryFhirStore } from '../../helpers/memory-fhir-store';
import { FakeTime, settle } from './fake-time';

const mapping = (name: string): string => readFileSync(join(__dirname, '../../../mappings', name), 'utf8');
const reading = (device: string, minute: number): string =>
  JSON.stringify({
    deviceId: device,
    patientId: `p-${device}`,
    measurementTime: `2024-03-10T14:${String(minute).padStart(2, '0')}:00Z`,
    heartRate: 60 + minute,
  });

let dir: string;
let journal: IntakeJournal;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iomt-pipeline-journal-'));
  ({ journal } = await openIntakeJournal({ directory: dir, autoCheckpoint: false }));
});

afterEach(async () => {
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
});

function setup() {
  const time = new FakeTime();
  time.now = Date.parse('2024-03-10T15:00:00Z');
  const store = new MemoryFhirStore({ clock: time.clock });
  const deadLetters = new MemoryDeadLetterStore();
  const pipeline = new LocalPipeline({
    mappings: () =>
      Promise.resolve({
        normalizer: createNormalizer(loadDeviceMapping(mapping('devicecontent.json')).mapping!, time.clock),
        fhirMapping: loadFhirMapping(mapping('fhirmapping.json')).mapping!,
        version: 'v1',
      }),
    store,
    identity: createIdentityResolver({ store, mode: 'Create', clock: time.clock }),
    deadLetters,
    metrics: new StackMetrics(time.clock),
    clock: time.clock,
    timers: time,
    maxEvents: 10,
    maxWaitMs: 1000,
    partitions: 1,
    retryDelayMs: 100,
    journal,
  });
  return { time, store, deadLetters, pipeline };
}

/** Flushes while moving the fake clock, so the pipeline's retry waits pass. */
async function flush(pipeline: LocalPipeline, time: FakeTime): Promise<void> {
  const state = { finished: false };
  const done = pipeline.flush().then(() => (state.finished = true));
  for (let i = 0; i < 50 && !state.finished; i++) {
    await settle();
    await time.advance(400);
  }
  await done;
}

/** Ingests and waits until the events are on disk. */
async function ingest(pipeline: LocalPipeline, bodies: readonly string[]): Promise<void> {
  const outcome = pipeline.ingest(bodies.map((body) => ({ event: { body } })));
  if (!('accepted' in outcome) || outcome.durable === undefined) {
    throw new Error(`expected a journaled acceptance, got ${JSON.stringify(outcome)}`);
  }
  await outcome.durable;
}

describe('LocalPipeline with the intake journal', () => {
  it('reports a saved batch complete', async () => {
    const { time, store, pipeline } = setup();
    await ingest(pipeline, [reading('d1', 1), reading('d2', 2)]);
    expect(journal.watermark).toBe(0);

    await flush(pipeline, time);

    expect(store.all('Observation')).toHaveLength(2);
    expect(journal.watermark).toBe(2);
  });

  it('keeps a batch incomplete while its dead letters are held, and completes it once they are written', async () => {
    const { time, store, deadLetters, pipeline } = setup();
    deadLetters.available = false;
    await ingest(pipeline, [reading('d1', 1), 'not json']);

    await flush(pipeline, time);

    // The good event is saved, but the batch is not complete: its dead letter exists only in memory.
    expect(store.all('Observation')).toHaveLength(1);
    expect(pipeline.unwrittenDeadLetters).toBe(1);
    expect(journal.watermark).toBe(0);

    // A later batch that needs no dead letter does not complete while entries are still held and the store is down.
    await ingest(pipeline, [reading('d2', 2)]);
    await flush(pipeline, time);
    expect(journal.watermark).toBe(0);

    deadLetters.available = true;
    await ingest(pipeline, [reading('d3', 3)]);
    await flush(pipeline, time);

    expect(pipeline.unwrittenDeadLetters).toBe(0);
    expect(deadLetters.entries).toHaveLength(1);
    expect(journal.watermark).toBe(4);
  });
});
