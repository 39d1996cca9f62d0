/**
 * End to end: events per second through the local pipeline (`processBatch`: normalize → group → identity →
 * build/merge → `FhirHttpStore` batch Bundles) into the embedded FHIR server, against writing the very Observations
 * the pipeline wrote, batch by batch, straight to the same server with the same client (`putMany`). The difference is
 * what the pipeline costs on top of the store's own cost.
 *
 * Two workloads of 100 devices sending one reading a minute, in steps of 300 events (an Event Hubs batch):
 * - SampledData: heart rate into hourly SampledData Observations (a step updates one Observation per device);
 * - Quantity: SpO2 readings, one Observation each (every reading is a new Observation).
 *
 * The headline runs as the product does: the server in its own process (a FHIR service runs elsewhere) and the
 * local stack's four partitions, each with one batch in flight (a step split by device, as partition keys split it);
 * the direct side gets the same server process and four writers, each writing its partition's batches in order.
 * The earlier method (everything in one process, one batch at a time) is measured alongside.
 *
 * Every timed run starts from a freshly seeded server holding only the devices' Patients and Devices, and a fresh
 * worker (cold identity and Observation caches), so both sides do the same work in every round. A recording run
 * counts the HTTP requests per 1,000 events.
 */
import type { Observation, Resource } from '@medplum/fhirtypes';

import type { EmbeddedFhirServer } from '../../src/local/fhir-server';
import type { BatchReport, DeviceEvent, FhirStore, PutRequest } from '../../src/pipeline';
import { createNormalizer, processBatch } from '../../src/pipeline';
import type { RequestCounter } from '../lib/fhir';
import { httpStore, pipelineDeps, RequestCounter as Counter, startSeededServer } from '../lib/fhir';
import { exampleDeviceMapping, exampleFhirMapping } from '../lib/mappings';
import { startServerProcess } from '../lib/fhir-server-process';
import type { Comparison, RatioSummary, Spread } from '../lib/measure';
import { compare } from '../lib/measure';
import type { ProfileSummary } from '../lib/profile';
import { profile, summarizeProfile } from '../lib/profile';
import type { SuiteOptions } from '../lib/suite';
import type { EventKind } from '../lib/workload';
import { EventKind as Kind, deviceEvents } from '../lib/workload';

/** Events per step: an Event Hubs batch (host.json `maxEventBatchSize`), split over the partitions. */
export const BATCH_SIZE = 300;
/** Partitions of the headline, as the local stack runs by default (`src/local/stack/stack-options.ts`). */
export const PARTITIONS = 4;
const DEVICES = 100;
const START = Date.UTC(2024, 2, 10, 8, 0, 0);

/** A workload of the end-to-end benchmark. */
export interface Workload {
  readonly name: 'sampledDataHourly' | 'quantity';
  readonly kind: EventKind;
}

/** The two workloads. */
export const WORKLOADS: readonly Workload[] = [
  { name: 'sampledDataHourly', kind: Kind.HeartRate },
  { name: 'quantity', kind: Kind.Spo2 },
];

/** HTTP requests a run made, per 1,000 events. */
export interface RequestCounts {
  /** Requests per 1,000 events (a batch Bundle counts as one). */
  readonly requests: number;
  /** Entries per 1,000 events (batch entries plus single requests). */
  readonly entries: number;
  /** Observation writes (PUT entries) per 1,000 events. */
  readonly observationWrites: number;
  /** Observations that changed, summed over batches, per 1,000 events: the floor for writes. */
  readonly changedObservations: number;
  /** Identifier searches for Observations the cache did not hold, per 1,000 events. */
  readonly observationSearches: number;
  /** Device look-ups (identity cache misses), per 1,000 events. */
  readonly identityLookups: number;
  /** Requests and entries by interaction, per run. */
  readonly byInteraction: Record<string, { requests: number; entries: number }>;
}

/** Rates of the pipeline and of direct writes, and their ratio. */
export interface EndToEndRates {
  readonly eventsPerSec: number;
  readonly directWritesEventsPerSec: number;
  readonly ratio: number;
  readonly ratioSpread: Spread;
  /** The same ratio from this process's CPU time: when it differs from `ratio`, the machine was busy. */
  readonly cpuTimeRatio: Spread;
  readonly eventsPerSecSpread: Spread;
  readonly directWritesEventsPerSecSpread: Spread;
}

/**
 * Results of one workload. The headline rates are the steady state: every batch after the first, when the worker's
 * identity and Observation caches hold what a running worker holds. `withColdStart` counts the first batch too (Device
 * look-ups, the first searches and creates of a freshly started worker).
 */
export interface EndToEndWorkloadResult extends EndToEndRates {
  readonly withColdStart: EndToEndRates;
  /**
   * The earlier method: the server in the benchmark's process and one batch at a time, for both sides. The pipeline's
   * CPU work then adds to the server's instead of overlapping it; its CPU-time ratio is the ratio of the whole cost.
   */
  readonly sameProcessOneBatchAtATime: EndToEndRates & { readonly withColdStart: EndToEndRates };
  /** Partitions (batches in flight) of the headline, and direct writers in flight. */
  readonly partitions: number;
  readonly events: number;
  /** Batches the pipeline processed (over all partitions). */
  readonly batches: number;
  readonly observationWrites: number;
  readonly requestsPer1000Events: RequestCounts;
  readonly rounds: number;
  /** The heaviest functions of the pipeline's process in the headline's steady state (`--profile`). */
  readonly profile?: ProfileSummary;
  /** The same with the server in the process and one batch at a time: the server's share shows (`--profile`). */
  readonly sameProcessProfile?: ProfileSummary;
}

/** What the pipeline asked of the store, counted at the port (batch Bundles hide it from the HTTP hook). */
interface StoreLog {
  /** The resources of every `putMany` since the log was last cleared. */
  readonly writes: Resource[];
  observationSearches: number;
  identityLookups: number;
}

/** A FhirStore that logs what the pipeline asks of it, delegating everything. */
function recording(store: FhirStore, log: StoreLog): FhirStore {
  return {
    read: (type, id) => store.read(type, id),
    readVersion: (type, id, version) => store.readVersion(type, id, version),
    searchByIdentifier: (type, identifier) => {
      if (type === 'Observation') {
        log.observationSearches++;
      } else {
        log.identityLookups++;
      }
      return store.searchByIdentifier(type, identifier);
    },
    put: (resource, options) => store.put(resource, options),
    searchManyByIdentifier: (queries) => {
      for (const q of queries) {
        if (q.resourceType === 'Observation') {
          log.observationSearches++;
        } else {
          log.identityLookups++;
        }
      }
      return store.searchManyByIdentifier(queries);
    },
    putMany: (requests: readonly PutRequest[]) => {
      for (const r of requests) {
        log.writes.push(r.resource);
      }
      return store.putMany(requests);
    },
  };
}

/** A resource as a direct writer would send it: without the server-managed `meta`. */
function withoutMeta(resource: Resource): Observation {
  const copy = { ...(resource as Observation) };
  delete copy.meta;
  return copy;
}

function assertClean(report: BatchReport): void {
  if (report.failures.length > 0 || report.save.failed > 0) {
    const error = report.failures[0]?.error.message ?? report.save.failures[0]?.error.message ?? '';
    throw new Error(`the pipeline failed in the benchmark: ${error}`);
  }
}

/**
 * The workload's batches as the partitions receive them: `steps[k][p]` is what partition `p` gets of the k-th 300
 * events. A device always lands in the same partition (Event Hubs partition keys), the devices spread evenly, so every
 * partition's batch holds the same minutes of readings as the whole batch, for a share of the devices: whatever the
 * number of partitions, the same Observations change, the same number of times.
 * @param kind - the event kind
 * @param batches - 300-event batches
 * @param partitions - partitions
 */
function stepsOf(kind: EventKind, batches: number, partitions: number): DeviceEvent[][][] {
  const events = deviceEvents({
    devices: DEVICES,
    count: batches * BATCH_SIZE,
    startMs: START,
    intervalMs: 60_000,
    mix: [kind],
  });
  const steps: DeviceEvent[][][] = [];
  for (let i = 0; i < events.length; i += BATCH_SIZE) {
    const step: DeviceEvent[][] = Array.from({ length: partitions }, () => []);
    events.slice(i, i + BATCH_SIZE).forEach((event, j) => {
      // Event i comes from device i mod DEVICES (bench/lib/workload.ts), and BATCH_SIZE is a multiple of DEVICES.
      (step[((i + j) % DEVICES) % partitions] as DeviceEvent[]).push(event);
    });
    steps.push(step);
  }
  return steps;
}

/**
 * Runs the steps as the local stack does: partitions concurrently, each one batch at a time; `lap` after the first
 * step (every partition's first batch), which ends the cold start.
 * @param steps - `steps[k][p]`: the k-th batch of partition p
 * @param work - what to do with one batch
 * @param lap - marks the end of the first step
 */
async function inPartitions<T>(
  steps: readonly (readonly T[])[],
  work: (batch: T) => Promise<void>,
  lap: () => Promise<void>,
): Promise<void> {
  const first = steps[0] ?? [];
  await Promise.all(first.map(work));
  await lap();
  await Promise.all(
    first.map(async (_, p) => {
      for (const step of steps.slice(1)) {
        await work(step[p] as T);
      }
    }),
  );
}

/**
 * Runs the steps through the pipeline on a fresh server, one batch after another, recording the writes of each batch
 * and counting requests. Partitions hold disjoint devices, so what a batch writes does not depend on the order.
 * @param steps - `steps[k][p]`: the k-th batch of partition p
 */
async function recordRun(
  steps: readonly DeviceEvent[][][],
): Promise<{ writes: Observation[][][]; counts: RequestCounts }> {
  const server = await startSeededServer(DEVICES);
  const counter = new Counter();
  try {
    const normalizer = createNormalizer(exampleDeviceMapping(), Date.now);
    const fhirMapping = exampleFhirMapping();
    const writes: Observation[][][] = [];
    let changed = 0;
    let events = 0;
    let totalWrites = 0;
    const log: StoreLog = { writes: [], observationSearches: 0, identityLookups: 0 };
    const deps = pipelineDeps(recording(httpStore(server, counter), log), normalizer, fhirMapping);
    for (const step of steps) {
      const stepWrites: Observation[][] = [];
      for (const batch of step) {
        log.writes.length = 0;
        const report = await processBatch(batch, deps);
        assertClean(report);
        changed += new Set(report.save.saved.filter((s) => s.outcome !== 'NoOperation').map((s) => s.observationId))
          .size;
        stepWrites.push(log.writes.map(withoutMeta));
        events += batch.length;
        totalWrites += log.writes.length;
      }
      writes.push(stepWrites);
    }
    return { writes, counts: perThousand(counter, log, totalWrites, changed, events) };
  } finally {
    await server.close();
  }
}

function perThousand(
  counter: RequestCounter,
  log: StoreLog,
  writes: number,
  changed: number,
  events: number,
): RequestCounts {
  const scale = (n: number): number => Math.round((n * 1000 * 100) / events) / 100;
  return {
    requests: scale(counter.requests),
    entries: scale(counter.entries),
    observationWrites: scale(writes),
    changedObservations: scale(changed),
    observationSearches: scale(log.observationSearches),
    identityLookups: scale(log.identityLookups),
    byInteraction: Object.fromEntries(counter.byInteraction),
  };
}

/** Where the server runs and how many batches are in flight: both sides of a comparison get the same. */
interface Setup {
  /** The server in a child process (as a FHIR service runs elsewhere) or in the benchmark's own process. */
  readonly serverInOwnProcess: boolean;
  /** Partitions, each with one batch in flight; the direct side gets as many writers. */
  readonly partitions: number;
}

/** The headline: the server in its own process, the local stack's partitions (and as many direct writers). */
const HEADLINE: Setup = { serverInOwnProcess: true, partitions: PARTITIONS };
/** The earlier method, reported alongside: everything in one process, one batch at a time. */
const SAME_PROCESS: Setup = { serverInOwnProcess: false, partitions: 1 };

/** A fresh seeded server before every run, in the place the setup says. */
interface Servers {
  readonly fresh: () => Promise<void>;
  readonly current: () => { readonly url: string };
  /** CPU time of the server's process, when that is not this one. */
  readonly otherCpuMs?: () => Promise<number>;
  readonly close: () => Promise<void>;
  /** Ends the server process, if any. */
  readonly dispose: () => Promise<void>;
}

async function servers(setup: Setup): Promise<Servers> {
  if (setup.serverInOwnProcess) {
    // One process for both sides, reset before every run: the data starts afresh, the server's JIT state stays warm.
    const child = await startServerProcess(DEVICES);
    return {
      fresh: () => child.reset(),
      current: () => child,
      otherCpuMs: () => child.cpuMs(),
      close: async () => {},
      dispose: () => child.close(),
    };
  }
  let server: EmbeddedFhirServer | undefined;
  return {
    fresh: async () => {
      server = await startSeededServer(DEVICES);
    },
    current: () => {
      if (server === undefined) {
        throw new Error('no server');
      }
      return server;
    },
    close: async () => {
      await server?.close();
      server = undefined;
    },
    dispose: async () => {},
  };
}

/**
 * One comparison of the pipeline with direct writes of the Observations it wrote, both in the same setup.
 * @param setup - server placement and partitions
 * @param workload - which workload
 * @param options - `quick` for a smoke run
 */
async function compareIn(
  setup: Setup,
  workload: Workload,
  options: SuiteOptions,
): Promise<{ comparison: Comparison; counts: RequestCounts; writes: number; steps: DeviceEvent[][][] }> {
  const steps = stepsOf(workload.kind, options.quick ? 4 : 20, setup.partitions);
  const events = steps.length * BATCH_SIZE;
  const { writes, counts } = await recordRun(steps);
  const normalizer = createNormalizer(exampleDeviceMapping(), Date.now);
  const fhirMapping = exampleFhirMapping();
  const place = await servers(setup);
  try {
    const comparison = await compare(
      {
        name: 'pipeline',
        units: events,
        coldUnits: BATCH_SIZE,
        setUp: place.fresh,
        run: async (stopwatch) => {
          const deps = pipelineDeps(httpStore(place.current()), normalizer, fhirMapping);
          await inPartitions(
            steps,
            async (batch) => {
              assertClean(await processBatch(batch, deps));
            },
            stopwatch.lap,
          );
        },
        tearDown: place.close,
        ...(place.otherCpuMs === undefined ? {} : { otherCpuMs: place.otherCpuMs }),
      },
      {
        name: 'direct writes',
        units: events,
        coldUnits: BATCH_SIZE,
        setUp: place.fresh,
        run: async (stopwatch) => {
          const store = httpStore(place.current());
          await inPartitions(
            writes,
            async (batch) => {
              const results = await store.putMany(batch.map((resource) => ({ resource })));
              const failed = results.find((r) => !r.ok);
              if (failed?.ok === false) {
                throw new Error(`a direct write failed: ${failed.error.message}`);
              }
            },
            stopwatch.lap,
          );
        },
        tearDown: place.close,
        ...(place.otherCpuMs === undefined ? {} : { otherCpuMs: place.otherCpuMs }),
      },
      { rounds: options.quick ? 2 : 8, warmUp: 1 },
    );
    return { comparison, counts, writes: writes.flat().reduce((n, w) => n + w.length, 0), steps };
  } finally {
    await place.dispose();
  }
}

/**
 * Profiles the pipeline side's steady state (every step after the first) in a setup.
 * @param setup - server placement and partitions
 * @param steps - the batches
 * @param dir - where profiles go
 * @param name - the profile's file name
 */
async function profileIn(
  setup: Setup,
  steps: readonly DeviceEvent[][][],
  dir: string,
  name: string,
): Promise<ProfileSummary> {
  const place = await servers(setup);
  try {
    await place.fresh();
    const deps = pipelineDeps(
      httpStore(place.current()),
      createNormalizer(exampleDeviceMapping(), Date.now),
      exampleFhirMapping(),
    );
    const work = async (batch: DeviceEvent[]): Promise<void> => {
      assertClean(await processBatch(batch, deps));
    };
    await Promise.all((steps[0] ?? []).map(work));
    const summary = summarizeProfile(
      await profile(dir, name, () => inPartitions(steps.slice(1), work, async () => {})),
    );
    await place.close();
    return summary;
  } finally {
    await place.dispose();
  }
}

/**
 * Runs one workload: the headline setup, then the earlier one (one process, one batch at a time).
 * @param workload - which
 * @param options - `quick` for a smoke run
 */
export async function runEndToEndWorkload(workload: Workload, options: SuiteOptions): Promise<EndToEndWorkloadResult> {
  const headline = await compareIn(HEADLINE, workload, options);
  const same = await compareIn(SAME_PROCESS, workload, options);
  if (headline.comparison.steady === undefined || same.comparison.steady === undefined) {
    throw new Error('both sides mark the end of their first batch');
  }
  const dir = options.profileDir;
  const profiles =
    dir === undefined
      ? {}
      : {
          // The pipeline's process only: the server's CPU is in its own process.
          profile: await profileIn(HEADLINE, headline.steps, dir, `end-to-end-${workload.name}`),
          // The server shares the process here, so its share of the cost shows.
          sameProcessProfile: await profileIn(
            SAME_PROCESS,
            same.steps,
            dir,
            `end-to-end-${workload.name}-same-process`,
          ),
        };
  return {
    ...rates(headline.comparison.steady),
    withColdStart: rates(headline.comparison),
    sameProcessOneBatchAtATime: { ...rates(same.comparison.steady), withColdStart: rates(same.comparison) },
    partitions: HEADLINE.partitions,
    events: headline.steps.length * BATCH_SIZE,
    batches: headline.steps.length * HEADLINE.partitions,
    observationWrites: headline.writes,
    requestsPer1000Events: headline.counts,
    rounds: headline.comparison.rounds,
    ...profiles,
  };
}

function rates(summary: RatioSummary): EndToEndRates {
  return {
    eventsPerSec: Math.round(summary.a.median),
    directWritesEventsPerSec: Math.round(summary.b.median),
    ratio: summary.ratio.median,
    ratioSpread: summary.ratio,
    cpuTimeRatio: summary.cpuRatio,
    eventsPerSecSpread: summary.a,
    directWritesEventsPerSecSpread: summary.b,
  };
}

/** What the end-to-end benchmark reports: the workload with the lower ratio as the headline, and both workloads. */
export interface EndToEndResult {
  readonly eventsPerSec: number;
  readonly directWritesEventsPerSec: number;
  readonly ratio: number;
  /** Which workload the headline numbers are from. */
  readonly headline: Workload['name'];
  readonly workloads: Readonly<Record<Workload['name'], EndToEndWorkloadResult>>;
}

/**
 * Runs both workloads.
 * @param options - `quick` for a smoke run
 */
export async function runEndToEnd(options: SuiteOptions): Promise<EndToEndResult> {
  const sampledDataHourly = await runEndToEndWorkload(WORKLOADS[0] as Workload, options);
  const quantity = await runEndToEndWorkload(WORKLOADS[1] as Workload, options);
  const worst = sampledDataHourly.ratio <= quantity.ratio ? 'sampledDataHourly' : 'quantity';
  const headline = worst === 'sampledDataHourly' ? sampledDataHourly : quantity;
  return {
    eventsPerSec: headline.eventsPerSec,
    directWritesEventsPerSec: headline.directWritesEventsPerSec,
    ratio: headline.ratio,
    headline: worst,
    workloads: { sampledDataHourly, quantity },
  };
}
