/**
 * End to end: events per second through the local pipeline (`processBatch`: normalize → group → identity →
 * build/merge → `FhirHttpStore` batch Bundles) into the embedded FHIR server, against writing the very Observations
 * the pipeline wrote, batch by batch, straight to the same kind of server with the same client (`putMany`). The
 * difference is what the pipeline costs on top of the store's own cost.
 *
 * Two workloads of 100 devices sending one reading a minute, in Event Hubs batches of 300:
 * - SampledData: heart rate into hourly SampledData Observations (a batch updates one Observation per device);
 * - Quantity: SpO2 readings, one Observation each (every reading is a new Observation).
 *
 * Every timed run starts from a fresh server holding only the devices' Patients and Devices, and a fresh worker
 * (cold identity and Observation caches), so both sides do the same work in every round. The same runs count the
 * HTTP requests per 1,000 events.
 */
import type { Observation, Resource } from '@medplum/fhirtypes';

import type { EmbeddedFhirServer } from '../../src/local/fhir-server';
import type { BatchReport, DeviceEvent, FhirStore, PutRequest } from '../../src/pipeline';
import { createNormalizer, processBatch } from '../../src/pipeline';
import type { RequestCounter } from '../lib/fhir';
import { httpStore, pipelineDeps, RequestCounter as Counter, startSeededServer } from '../lib/fhir';
import { exampleDeviceMapping, exampleFhirMapping } from '../lib/mappings';
import type { RatioSummary, Spread } from '../lib/measure';
import { compare } from '../lib/measure';
import type { ProfileSummary } from '../lib/profile';
import { profile, summarizeProfile } from '../lib/profile';
import type { SuiteOptions } from '../lib/suite';
import type { EventKind } from '../lib/workload';
import { EventKind as Kind, deviceEvents } from '../lib/workload';

/** Events per Event Hubs batch (host.json `maxEventBatchSize`). */
export const BATCH_SIZE = 300;
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
  readonly events: number;
  readonly batches: number;
  readonly observationWrites: number;
  readonly requestsPer1000Events: RequestCounts;
  readonly rounds: number;
  /** The heaviest functions of the pipeline side in steady state, server included (`--profile`). */
  readonly profile?: ProfileSummary;
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

function batchesOf(kind: EventKind, batches: number): DeviceEvent[][] {
  const events = deviceEvents({
    devices: DEVICES,
    count: batches * BATCH_SIZE,
    startMs: START,
    intervalMs: 60_000,
    mix: [kind],
  });
  const out: DeviceEvent[][] = [];
  for (let i = 0; i < events.length; i += BATCH_SIZE) {
    out.push(events.slice(i, i + BATCH_SIZE));
  }
  return out;
}

/**
 * Runs the batches through the pipeline on a fresh server, recording the writes of each batch and counting requests.
 * @param batches - the batches
 */
async function recordRun(
  batches: readonly DeviceEvent[][],
): Promise<{ writes: Observation[][]; counts: RequestCounts }> {
  const server = await startSeededServer(DEVICES);
  const counter = new Counter();
  try {
    const normalizer = createNormalizer(exampleDeviceMapping(), Date.now);
    const fhirMapping = exampleFhirMapping();
    const writes: Observation[][] = [];
    let changed = 0;
    const log: StoreLog = { writes: [], observationSearches: 0, identityLookups: 0 };
    const deps = pipelineDeps(recording(httpStore(server, counter), log), normalizer, fhirMapping);
    for (const batch of batches) {
      log.writes.length = 0;
      const report = await processBatch(batch, deps);
      assertClean(report);
      changed += new Set(report.save.saved.filter((s) => s.outcome !== 'NoOperation').map((s) => s.observationId)).size;
      writes.push(log.writes.map(withoutMeta));
    }
    const events = batches.length * BATCH_SIZE;
    const totalWrites = writes.reduce((n, w) => n + w.length, 0);
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

/**
 * Runs one workload.
 * @param workload - which
 * @param options - `quick` for a smoke run
 */
export async function runEndToEndWorkload(workload: Workload, options: SuiteOptions): Promise<EndToEndWorkloadResult> {
  const batches = batchesOf(workload.kind, options.quick ? 4 : 20);
  const events = batches.length * BATCH_SIZE;
  const { writes, counts } = await recordRun(batches);
  const normalizer = createNormalizer(exampleDeviceMapping(), Date.now);
  const fhirMapping = exampleFhirMapping();

  let server: EmbeddedFhirServer | undefined;
  const fresh = async (): Promise<void> => {
    server = await startSeededServer(DEVICES);
  };
  const close = async (): Promise<void> => {
    await server?.close();
    server = undefined;
  };
  const current = (): EmbeddedFhirServer => {
    if (server === undefined) {
      throw new Error('no server');
    }
    return server;
  };

  const comparison = await compare(
    {
      name: 'pipeline',
      units: events,
      coldUnits: BATCH_SIZE,
      setUp: fresh,
      run: async (stopwatch) => {
        const deps = pipelineDeps(httpStore(current()), normalizer, fhirMapping);
        for (const [i, batch] of batches.entries()) {
          assertClean(await processBatch(batch, deps));
          if (i === 0) {
            stopwatch.lap();
          }
        }
      },
      tearDown: close,
    },
    {
      name: 'direct writes',
      units: events,
      coldUnits: BATCH_SIZE,
      setUp: fresh,
      run: async (stopwatch) => {
        const store = httpStore(current());
        for (const [i, batch] of writes.entries()) {
          const results = await store.putMany(batch.map((resource) => ({ resource })));
          const failed = results.find((r) => !r.ok);
          if (failed?.ok === false) {
            throw new Error(`a direct write failed: ${failed.error.message}`);
          }
          if (i === 0) {
            stopwatch.lap();
          }
        }
      },
      tearDown: close,
    },
    { rounds: options.quick ? 2 : 6, warmUp: 1 },
  );
  if (comparison.steady === undefined) {
    throw new Error('both sides mark the end of their first batch');
  }
  let pipelineProfile: ProfileSummary | undefined;
  if (options.profileDir !== undefined) {
    // The steady state of the pipeline side, server included (it shares the process, as in the timed rounds).
    await fresh();
    const deps = pipelineDeps(httpStore(current()), normalizer, fhirMapping);
    assertClean(await processBatch(batches[0] as DeviceEvent[], deps));
    pipelineProfile = summarizeProfile(
      await profile(options.profileDir, `end-to-end-${workload.name}`, async () => {
        for (const batch of batches.slice(1)) {
          assertClean(await processBatch(batch, deps));
        }
      }),
    );
    await close();
  }
  return {
    ...rates(comparison.steady),
    withColdStart: rates(comparison),
    events,
    batches: batches.length,
    observationWrites: writes.reduce((n, w) => n + w.length, 0),
    requestsPer1000Events: counts,
    rounds: comparison.rounds,
    ...(pipelineProfile === undefined ? {} : { profile: pipelineProfile }),
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
