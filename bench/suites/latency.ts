/**
 * Device-to-FHIR latency at a steady rate well below saturation: a producer enqueues the realistic event mix at a
 * fixed rate (stamping each event's enqueued time with the wall clock), the local stack's batcher closes batches at
 * 300 events or 1 s after the oldest event, and each batch runs through the pipeline into the embedded FHIR server.
 * The latency of a measurement is the time its Observation write completed (`savedAt`) minus its event's enqueued
 * time, so it includes the wait for the batch to close, queueing behind the previous batch, and the processing.
 */
import { Batcher, systemTimers } from '../../src/local/stack/batcher';
import type { BatchDependencies, DeviceEvent } from '../../src/pipeline';
import { createNormalizer, processBatch } from '../../src/pipeline';
import { httpStore, pipelineDeps, startSeededServer } from '../lib/fhir';
import { exampleDeviceMapping, exampleFhirMapping } from '../lib/mappings';
import { percentile } from '../lib/measure';
import type { WorkloadOptions } from '../lib/workload';
import { REALISTIC_MIX, deviceEvent } from '../lib/workload';
import type { SuiteOptions } from '../lib/suite';

/** What the latency benchmark reports. */
export interface LatencyResult {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** Events per second offered. */
  readonly rate: number;
  readonly durationSec: number;
  readonly measurements: number;
  readonly batches: number;
  readonly maxEvents: number;
  readonly maxWaitMs: number;
}

const DEVICES = 100;
const MAX_EVENTS = 300;
const MAX_WAIT_MS = 1000;
const TICK_MS = 20;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Offers `rate` events per second for `durationMs`, in ticks of {@link TICK_MS}.
 * @param rate - events per second
 * @param durationMs - how long
 * @param push - receives each tick's events
 */
async function produce(rate: number, durationMs: number, push: (events: DeviceEvent[]) => void): Promise<number> {
  const started = Date.now();
  const stream: WorkloadOptions = {
    devices: DEVICES,
    count: 0,
    startMs: started,
    intervalMs: Math.round((DEVICES * 1000) / rate),
    mix: REALISTIC_MIX,
  };
  let sent = 0;
  for (;;) {
    const elapsed = Date.now() - started;
    if (elapsed >= durationMs) {
      return sent;
    }
    const due = Math.floor((elapsed * rate) / 1000);
    if (due > sent) {
      const enqueuedTimeUtc = new Date().toISOString();
      const events: DeviceEvent[] = [];
      for (; sent < due; sent++) {
        events.push({ ...deviceEvent(sent, stream), enqueuedTimeUtc });
      }
      push(events);
    }
    await sleep(TICK_MS);
  }
}

/**
 * Runs the latency benchmark.
 * @param options - `quick` for a smoke run
 */
export async function runLatency(options: SuiteOptions): Promise<LatencyResult> {
  const rate = 200;
  const durationMs = options.quick ? 5_000 : 30_000;
  const server = await startSeededServer(DEVICES);
  try {
    const deps: BatchDependencies = pipelineDeps(
      httpStore(server),
      createNormalizer(exampleDeviceMapping(), Date.now),
      exampleFhirMapping(),
    );
    const latencies: number[] = [];
    let batches = 0;
    let failure: string | undefined;
    const batcher = new Batcher<DeviceEvent>({
      maxEvents: MAX_EVENTS,
      maxWaitMs: MAX_WAIT_MS,
      clock: Date.now,
      timers: systemTimers,
      process: async (batch) => {
        const report = await processBatch(batch, deps);
        batches++;
        if (report.failures.length > 0 || report.save.failed > 0) {
          failure ??= report.failures[0]?.error.message ?? report.save.failures[0]?.error.message;
        }
        for (const saved of report.save.saved) {
          const savedAt = Date.parse(saved.savedAt);
          for (const m of saved.group.measurements) {
            latencies.push(savedAt - Date.parse(m.ingestionTimeUtc));
          }
        }
      },
      onError: (error) => {
        failure ??= String(error);
      },
    });
    // Warm-up: identity look-ups and JIT, then the measured period.
    await produce(rate, options.quick ? 1_000 : 3_000, (events) => {
      batcher.push(events);
    });
    await batcher.flush();
    latencies.length = 0;
    batches = 0;
    await produce(rate, durationMs, (events) => {
      batcher.push(events);
    });
    await batcher.flush();
    if (failure !== undefined) {
      throw new Error(`the pipeline failed in the latency benchmark: ${failure}`);
    }
    latencies.sort((a, b) => a - b);
    return {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1] ?? Number.NaN,
      rate,
      durationSec: durationMs / 1000,
      measurements: latencies.length,
      batches,
      maxEvents: MAX_EVENTS,
      maxWaitMs: MAX_WAIT_MS,
    };
  } finally {
    await server.close();
  }
}
