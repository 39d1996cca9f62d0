import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { type LoadedMappings, LocalPipeline, type LocalPipelineOptions } from '../../../src/local/stack/local-pipeline';
import { StackMetrics } from '../../../src/local/stack/stack-metrics';
import {
  createIdentityResolver,
  createNormalizer,
  loadDeviceMapping,
  loadFhirMapping,
  type Normalizer,
} from '../../../src/pipeline';
import { MemoryDeadLetterStore } from '../../helpers/memory-dead-letter-store';
import { MemoryFhirStore } from '../../helpers/memory-fhir-store';
import { FakeTime, settle } from './fake-time';

const mapping = (name: string): string => readFileSync(join(__dirname, '../../../mappings', name), 'utf8');
const DEVICE = loadDeviceMapping(mapping('devicecontent.json')).mapping!;
const FHIR = loadFhirMapping(mapping('fhirmapping.json')).mapping!;

/**
 * A heart-rate reading for the example device mapping, measured at a minute of 2024-03-10T14:00Z.
 * @param device - the device id (the patient id is `p-` and the device id)
 * @param minute - the minute of the hour (the heart rate is 60 plus the minute)
 */
export const reading = (device: string, minute: number): string =>
  JSON.stringify({
    deviceId: device,
    patientId: `p-${device}`,
    measurementTime: `2024-03-10T14:${String(minute).padStart(2, '0')}:00Z`,
    heartRate: 60 + minute,
  });

/** How {@link pipelineFixture} builds its pipeline: the start time, and any pipeline option to change. */
export interface PipelineFixtureOptions extends Partial<
  Omit<LocalPipelineOptions, 'mappings' | 'store' | 'identity' | 'deadLetters' | 'metrics' | 'clock' | 'timers'>
> {
  /** The fake clock's start, epoch ms. */
  readonly now: number;
  /** Wraps the normalizer of the example device mapping (to observe what reaches normalization). */
  readonly normalizer?: (inner: Normalizer) => Normalizer;
  /** The mappings' version. Default `v1`. */
  readonly version?: string;
}

/** A LocalPipeline on fake time, with in-memory stores and the example mappings of `mappings/`. */
export interface PipelineFixture {
  readonly time: FakeTime;
  readonly store: MemoryFhirStore;
  readonly deadLetters: MemoryDeadLetterStore;
  readonly metrics: StackMetrics;
  readonly pipeline: LocalPipeline;
  /** What the pipeline reported through `onProblem`. */
  readonly problems: string[];
}

/**
 * Builds a LocalPipeline with the example mappings, memory stores and FakeTime. Unless changed: batches of 10 events
 * or 1000 ms, one partition, retries after 100 ms, Create identity resolution.
 * @param options - the start time and the pipeline options to change
 */
export function pipelineFixture(options: PipelineFixtureOptions): PipelineFixture {
  const { now, normalizer: wrap, version = 'v1', ...overrides } = options;
  const time = new FakeTime();
  time.now = now;
  const store = new MemoryFhirStore({ clock: time.clock });
  const deadLetters = new MemoryDeadLetterStore();
  const metrics = new StackMetrics(time.clock);
  const problems: string[] = [];
  const normalizer = createNormalizer(DEVICE, time.clock);
  const mappings: LoadedMappings = { normalizer: wrap?.(normalizer) ?? normalizer, fhirMapping: FHIR, version };
  const pipeline = new LocalPipeline({
    mappings: () => Promise.resolve(mappings),
    store,
    identity: createIdentityResolver({ store, mode: 'Create', clock: time.clock }),
    deadLetters,
    metrics,
    clock: time.clock,
    timers: time,
    maxEvents: 10,
    maxWaitMs: 1000,
    partitions: 1,
    retryDelayMs: 100,
    onProblem: (message) => problems.push(message),
    ...overrides,
  });
  return { time, store, deadLetters, metrics, pipeline, problems };
}

/**
 * Flushes while moving the fake clock, so the pipeline's retry waits pass.
 * @param pipeline - the pipeline to flush
 * @param time - its fake time
 */
export async function flushMovingTime(pipeline: LocalPipeline, time: FakeTime): Promise<void> {
  const state = { finished: false };
  const done = pipeline.flush().then(() => (state.finished = true));
  for (let i = 0; i < 50 && !state.finished; i++) {
    await settle();
    await time.advance(400);
  }
  await done;
}
