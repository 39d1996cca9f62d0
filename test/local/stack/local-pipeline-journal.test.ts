/**
 * LocalPipeline with the intake journal: an event is complete (the journal may forget it) only once it was saved or
 * its dead letter was written. While the dead-letter store is down, the batch's events stay incomplete, so a hard kill
 * in that state processes them again at the next start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type IntakeJournal, openIntakeJournal } from '../../../src/local/stack/intake-journal';
import type { LocalPipeline } from '../../../src/local/stack/local-pipeline';
import { flushMovingTime, pipelineFixture, reading } from './pipeline-fixture';

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

const setup = () => pipelineFixture({ now: Date.parse('2024-03-10T15:00:00Z'), journal });

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

    await flushMovingTime(pipeline, time);

    expect(store.all('Observation')).toHaveLength(2);
    expect(journal.watermark).toBe(2);
  });

  it('keeps a batch incomplete while its dead letters are held, and completes it once they are written', async () => {
    const { time, store, deadLetters, pipeline } = setup();
    deadLetters.available = false;
    await ingest(pipeline, [reading('d1', 1), 'not json']);

    await flushMovingTime(pipeline, time);

    // The good event is saved, but the batch is not complete: its dead letter exists only in memory.
    expect(store.all('Observation')).toHaveLength(1);
    expect(pipeline.unwrittenDeadLetters).toBe(1);
    expect(journal.watermark).toBe(0);

    // A later batch that needs no dead letter does not complete while entries are still held and the store is down.
    await ingest(pipeline, [reading('d2', 2)]);
    await flushMovingTime(pipeline, time);
    expect(journal.watermark).toBe(0);

    deadLetters.available = true;
    await ingest(pipeline, [reading('d3', 3)]);
    await flushMovingTime(pipeline, time);

    expect(pipeline.unwrittenDeadLetters).toBe(0);
    expect(deadLetters.entries).toHaveLength(1);
    expect(journal.watermark).toBe(4);
  });
});
