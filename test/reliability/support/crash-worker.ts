/**
 * A pipeline worker run as a child process by test/reliability/crash.test.ts: it saves one batch of the reliability
 * scenario against a FHIR server with processBatch and FhirHttpStore, as a Functions worker does. When told to crash
 * at a point, its FHIR store wrapper stops there, tells the parent over IPC (`{ type: 'crash-point' }`) and waits to
 * be killed (SIGKILL). Otherwise it reports `{ type: 'done' }` with its counts and exits.
 *
 * The config is the first argument, as JSON ({@link CrashWorkerConfig}).
 */
import type { FhirStore, PutRequest } from '../../../src/pipeline';
import { processBatch } from '../../../src/pipeline';
import { FhirHttpStore } from '../../../src/adapters/fhir/fhir-http-store';
import { buildScenario, workerDependencies, type ScenarioOptions } from './scenario';
import { bindStore } from './store-wrappers';

/** Where the worker stops. `call` counts putMany calls from 1. */
export type CrashPoint =
  /** The Patient was written, the Device not yet (inside identity resolution). */
  | { readonly at: 'identity-after-patient' }
  /** Identities resolved (Patients and Devices written), before the first Observation search. */
  | { readonly at: 'after-identity' }
  /** Half of a putMany's writes applied, the rest never sent. */
  | { readonly at: 'mid-putMany'; readonly call: number }
  /** A putMany fully applied; the worker dies before it learns the results. */
  | { readonly at: 'after-putMany-applied'; readonly call: number }
  /** Before a putMany is sent: the chunks before it are saved. */
  | { readonly at: 'before-putMany'; readonly call: number };

/** The worker's configuration. */
export interface CrashWorkerConfig {
  readonly fhirUrl: string;
  readonly scenario: ScenarioOptions;
  readonly batch: number;
  readonly chunkSize: number;
  readonly crash?: CrashPoint;
}

/** Messages to the parent. */
export type CrashWorkerMessage =
  | { readonly type: 'crash-point'; readonly at: CrashPoint['at'] }
  | {
      readonly type: 'done';
      readonly created: number;
      readonly updated: number;
      readonly unchanged: number;
      readonly failed: number;
      readonly normalizationFailures: number;
    };

function send(message: CrashWorkerMessage): void {
  process.send?.(message);
}

/** Signals the parent and never returns: the parent kills the process. */
async function crash(at: CrashPoint['at']): Promise<never> {
  send({ type: 'crash-point', at });
  // The IPC channel and this timer keep the process alive until SIGKILL arrives.
  setInterval(() => undefined, 1000);
  return new Promise<never>(() => undefined);
}

function crashingStore(store: FhirStore, point: CrashPoint | undefined): FhirStore {
  if (point === undefined) {
    return store;
  }
  let putManyCalls = 0;
  let searched = false;
  return {
    ...store,
    put: async (resource, options) => {
      if (point.at === 'identity-after-patient' && resource.resourceType === 'Device') {
        return crash(point.at);
      }
      return store.put(resource, options);
    },
    searchManyByIdentifier: async (queries) => {
      if (point.at === 'after-identity' && !searched && queries.some((q) => q.resourceType === 'Observation')) {
        searched = true;
        return crash(point.at);
      }
      return store.searchManyByIdentifier(queries);
    },
    putMany: async (requests: readonly PutRequest[]) => {
      putManyCalls++;
      if ('call' in point && putManyCalls === point.call) {
        switch (point.at) {
          case 'before-putMany':
            return crash(point.at);
          case 'mid-putMany':
            await store.putMany(requests.slice(0, Math.ceil(requests.length / 2)));
            return crash(point.at);
          case 'after-putMany-applied':
            await store.putMany(requests);
            return crash(point.at);
        }
      }
      return store.putMany(requests);
    },
  };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as CrashWorkerConfig;
  const store = crashingStore(bindStore(new FhirHttpStore({ baseUrl: config.fhirUrl })), config.crash);
  // One chunk at a time, so "after N chunks" means the same thing on every run.
  const deps = workerDependencies(store, { chunkSize: config.chunkSize, concurrency: 1 });
  const events = buildScenario(config.scenario).batches[config.batch] ?? [];
  const report = await processBatch(events, deps);
  send({
    type: 'done',
    created: report.save.created,
    updated: report.save.updated,
    unchanged: report.save.unchanged,
    failed: report.save.failed,
    normalizationFailures: report.failures.length,
  });
  disconnect();
}

/** Closes the IPC channel so the process can exit. */
function disconnect(): void {
  if (process.connected) {
    process.disconnect();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`crash-worker failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
  disconnect();
});
