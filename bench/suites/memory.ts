/**
 * Memory: resident set size after 100,000 and after 1,000,000 events through normalize → group → save (the whole
 * `processBatch`) into an in-memory store that keeps only current versions. The stream repeats the same 200 minutes
 * of readings of 100 devices with changing values, so the set of Observations stops growing after the first 20,000
 * events: whatever RSS still gains after that is the pipeline's (caches are bounded), not the data's.
 *
 * Needs `--expose-gc` (the runner starts every suite with it): garbage is collected before each reading.
 */
import type { DeviceEvent } from '../../src/pipeline';
import { createNormalizer, processBatch } from '../../src/pipeline';
import { identityResources, pipelineDeps } from '../lib/fhir';
import { LatestOnlyStore } from '../lib/latest-only-store';
import { exampleDeviceMapping, exampleFhirMapping } from '../lib/mappings';
import type { WorkloadOptions } from '../lib/workload';
import { REALISTIC_MIX, deviceEvent } from '../lib/workload';
import type { SuiteOptions } from '../lib/suite';

/** RSS and heap at one point of the stream. */
export interface MemoryCheckpoint {
  readonly events: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** Resources in the store. */
  readonly storedResources: number;
}

/** What the memory benchmark reports. */
export interface MemoryResult {
  /** RSS after 100k events, MB. */
  readonly at100k: number;
  /** RSS after 1M events, MB (`null` in a quick run, which stops earlier). */
  readonly at1M: number | null;
  /** Growth from the first to the last checkpoint, percent. */
  readonly growthPercent: number;
  readonly checkpoints: readonly MemoryCheckpoint[];
  /** Events per second through the whole pipeline into memory (a by-product, not a target). */
  readonly inMemoryEventsPerSec: number;
}

const BATCH_SIZE = 300;
const MB = 1024 * 1024;

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    throw new Error('the memory benchmark needs node --expose-gc');
  }
  // Twice: the first pass may only promote what the second frees.
  gc();
  gc();
}

/**
 * Runs the memory benchmark.
 * @param options - `quick` stops at 300k events
 */
export async function runMemory(options: SuiteOptions): Promise<MemoryResult> {
  const stops = options.quick ? [100_000, 300_000] : [100_000, 250_000, 500_000, 750_000, 1_000_000];
  const store = new LatestOnlyStore();
  for (const resource of identityResources(100)) {
    await store.put(resource);
  }
  const deps = pipelineDeps(store, createNormalizer(exampleDeviceMapping(), Date.now), exampleFhirMapping());
  const stream: WorkloadOptions = {
    devices: 100,
    count: 0,
    startMs: Date.UTC(2024, 2, 10, 8, 0, 0),
    intervalMs: 60_000,
    mix: REALISTIC_MIX,
    cycleReadings: 200,
  };
  const checkpoints: MemoryCheckpoint[] = [];
  let next = 0;
  let processingMs = 0;
  for (const stop of stops) {
    while (next < stop) {
      const batch: DeviceEvent[] = [];
      for (const end = Math.min(stop, next + BATCH_SIZE); next < end; next++) {
        batch.push(deviceEvent(next, stream));
      }
      const t = performance.now();
      const report = await processBatch(batch, deps);
      processingMs += performance.now() - t;
      if (report.failures.length > 0 || report.save.failed > 0) {
        throw new Error(
          `the pipeline failed in the memory benchmark: ${report.failures[0]?.error.message ?? report.save.failures[0]?.error.message ?? ''}`,
        );
      }
    }
    collect();
    const usage = process.memoryUsage();
    checkpoints.push({
      events: stop,
      rssMb: Math.round((usage.rss / MB) * 10) / 10,
      heapUsedMb: Math.round((usage.heapUsed / MB) * 10) / 10,
      storedResources: store.size,
    });
  }
  const first = checkpoints[0] as MemoryCheckpoint;
  const last = checkpoints[checkpoints.length - 1] as MemoryCheckpoint;
  return {
    at100k: first.rssMb,
    at1M: last.events === 1_000_000 ? last.rssMb : null,
    growthPercent: Math.round(((last.rssMb - first.rssMb) / first.rssMb) * 1000) / 10,
    checkpoints,
    inMemoryEventsPerSec: Math.round((next / processingMs) * 1000),
  };
}
