/**
 * Scale curve, with the embedded FHIR server in its own process (as a FHIR service would be):
 * - throughput at 1, 2 and 4 batches in flight: the realistic mix of 100 devices split over that many partitions
 *   (a device always lands in the same partition, as Event Hubs partition keys do), each partition processing its
 *   batches one after another, all sharing one worker's caches and FHIR client;
 * - events per second as the number of devices grows from 10 to 10,000, for per-reading Quantity Observations (one
 *   write per event whatever the device count: the curve should be flat) and hourly SampledData (fewer readings
 *   per device and window per batch as devices grow, so more writes per event: reported alongside).
 *
 * Every point starts a fresh worker, measured after a warm-up pass over every device (identity and Observation caches
 * hold what a long-running worker would hold); concurrency points get a fresh server each, the device curves one
 * server per device count (seeding 10,000 Patients and Devices takes a while), shared by the two workloads.
 */
import type { BatchDependencies, DeviceEvent } from '../../src/pipeline';
import { createNormalizer, processBatch } from '../../src/pipeline';
import { RequestCounter, httpStore, pipelineDeps } from '../lib/fhir';
import type { ServerProcess } from '../lib/fhir-server-process';
import { startServerProcess } from '../lib/fhir-server-process';
import { exampleDeviceMapping, exampleFhirMapping } from '../lib/mappings';
import { spread } from '../lib/measure';
import type { EventKind } from '../lib/workload';
import { EventKind as Kind, REALISTIC_MIX, deviceEvents } from '../lib/workload';
import type { SuiteOptions } from '../lib/suite';

/** Throughput with a number of batches in flight. */
export interface ConcurrencyPoint {
  readonly batchesInFlight: number;
  readonly eventsPerSec: number;
  /** Relative to one batch in flight. */
  readonly speedup: number;
}

/** Throughput at a number of devices. */
export interface DevicePoint {
  readonly devices: number;
  readonly eventsPerSec: number;
  /** Observation writes per event (the FHIR work an event causes). */
  readonly observationWritesPerEvent: number;
  /** HTTP requests per 1,000 events. */
  readonly requestsPer1000Events: number;
}

/** What the scale benchmark reports. */
export interface ScaleResult {
  readonly concurrency: readonly ConcurrencyPoint[];
  readonly devices: { readonly quantity: readonly DevicePoint[]; readonly sampledDataHourly: readonly DevicePoint[] };
}

const BATCH_SIZE = 300;
const START = Date.UTC(2024, 2, 10, 8, 0, 0);

function splitBatches(events: readonly DeviceEvent[], partitions: number, devices: number): DeviceEvent[][][] {
  const streams: DeviceEvent[][] = Array.from({ length: partitions }, () => []);
  events.forEach((event, i) => {
    (streams[(i % devices) % partitions] as DeviceEvent[]).push(event);
  });
  return streams.map((stream) => {
    const batches: DeviceEvent[][] = [];
    for (let i = 0; i < stream.length; i += BATCH_SIZE) {
      batches.push(stream.slice(i, i + BATCH_SIZE));
    }
    return batches;
  });
}

async function runStreams(streams: readonly DeviceEvent[][][], deps: BatchDependencies): Promise<void> {
  await Promise.all(
    streams.map(async (batches) => {
      for (const batch of batches) {
        const report = await processBatch(batch, deps);
        if (report.failures.length > 0 || report.save.failed > 0) {
          throw new Error(
            `the pipeline failed in the scale benchmark: ${report.failures[0]?.error.message ?? report.save.failures[0]?.error.message ?? ''}`,
          );
        }
      }
    }),
  );
}

interface Measured {
  readonly eventsPerSec: number;
  readonly writes: number;
  readonly requests: number;
}

/**
 * One point: a fresh worker on a server, a warm-up stream, then the timed stream.
 * @param server - the server (its base URL)
 * @param devices - devices
 * @param kinds - the event mix
 * @param warmUpEvents - events before timing
 * @param events - timed events
 * @param partitions - batches in flight
 */
async function measurePoint(
  server: { readonly url: string },
  devices: number,
  kinds: readonly EventKind[],
  warmUpEvents: number,
  events: number,
  partitions: number,
): Promise<Measured> {
  const counter = new RequestCounter();
  const store = httpStore(server, counter);
  const deps = pipelineDeps(store, createNormalizer(exampleDeviceMapping(), Date.now), exampleFhirMapping());
  const stream = deviceEvents({
    devices,
    count: warmUpEvents + events,
    startMs: START,
    intervalMs: 60_000,
    mix: kinds,
  });
  await runStreams(splitBatches(stream.slice(0, warmUpEvents), partitions, devices), deps);
  counter.reset();
  let writes = 0;
  const counting: BatchDependencies = {
    ...deps,
    store: {
      read: (t, id) => store.read(t, id),
      readVersion: (t, id, v) => store.readVersion(t, id, v),
      searchByIdentifier: (t, identifier) => store.searchByIdentifier(t, identifier),
      put: (r, o) => store.put(r, o),
      searchManyByIdentifier: (q) => store.searchManyByIdentifier(q),
      putMany: (requests) => {
        writes += requests.length;
        return store.putMany(requests);
      },
    },
  };
  const timed = splitBatches(stream.slice(warmUpEvents), partitions, devices);
  const started = performance.now();
  await runStreams(timed, counting);
  const ms = performance.now() - started;
  return { eventsPerSec: (events / ms) * 1000, writes, requests: counter.requests };
}

async function withServer<T>(devices: number, work: (server: ServerProcess) => Promise<T>): Promise<T> {
  const server = await startServerProcess(devices);
  try {
    return await work(server);
  } finally {
    await server.close();
  }
}

function devicePoint(devices: number, events: number, measured: Measured): DevicePoint {
  return {
    devices,
    eventsPerSec: Math.round(measured.eventsPerSec),
    observationWritesPerEvent: Math.round((measured.writes / events) * 1000) / 1000,
    requestsPer1000Events: Math.round((measured.requests / events) * 1000 * 10) / 10,
  };
}

/**
 * Runs the scale benchmark.
 * @param options - `quick` for a smoke run
 */
export async function runScale(options: SuiteOptions): Promise<ScaleResult> {
  const events = options.quick ? 600 : 4_500;
  const rounds = options.quick ? 1 : 3;

  const levels = [1, 2, 4];
  const rates = new Map<number, number[]>(levels.map((l) => [l, []]));
  for (let round = 0; round < rounds; round++) {
    for (const level of round % 2 === 0 ? levels : [...levels].reverse()) {
      const point = await withServer(100, (server) =>
        measurePoint(server, 100, REALISTIC_MIX, options.quick ? 300 : 1_200, events, level),
      );
      rates.get(level)?.push(point.eventsPerSec);
    }
  }
  const base = spread(rates.get(1) ?? []).median;
  const concurrency = levels.map((level) => {
    const eventsPerSec = spread(rates.get(level) ?? []).median;
    return {
      batchesInFlight: level,
      eventsPerSec: Math.round(eventsPerSec),
      speedup: Math.round((eventsPerSec / base) * 100) / 100,
    };
  });

  // One server per device count, seeded once; each workload gets its own fresh worker (types never share windows).
  const deviceCounts = options.quick ? [10, 100, 1_000] : [10, 100, 1_000, 10_000];
  const quantity: DevicePoint[] = [];
  const sampledDataHourly: DevicePoint[] = [];
  for (const devices of deviceCounts) {
    const warmUp = Math.max(devices, options.quick ? 300 : 1_200);
    await withServer(devices, async (server) => {
      quantity.push(devicePoint(devices, events, await measurePoint(server, devices, [Kind.Spo2], warmUp, events, 1)));
      sampledDataHourly.push(
        devicePoint(devices, events, await measurePoint(server, devices, [Kind.HeartRate], warmUp, events, 1)),
      );
    });
  }
  return { concurrency, devices: { quantity, sampledDataHourly } };
}
