/**
 * FHIR faults: the same events are saved once on a clean server and once through a fault-injecting proxy (429 with
 * Retry-After, 500, 503, timeouts before and after the write was applied, connection resets mid-request and after the
 * write was applied, 409/412, failed batch entries) while a second worker saves overlapping batches of the same events
 * and a third party keeps bumping Observation versions. Failed chunks are re-run as the Functions app re-runs them.
 * Afterwards both stores must hold the same Observations, Patients and Devices: nothing lost, nothing duplicated,
 * every SampledData slot right.
 *
 * Retries sleep for one tick (injected), so a run takes seconds; only the client's timeouts take real time.
 */
import { writeFileSync } from 'node:fs';
import type { Observation } from '@medplum/fhirtypes';
import { FhirHttpStore } from '../../src/adapters/fhir/fhir-http-store';
import { startFhirServer, type EmbeddedFhirServer } from '../../src/local/fhir-server';
import { Metric, type DeviceEvent } from '../../src/pipeline';
import { ENTRY_FAULTS, FaultProxy, REQUEST_FAULTS, seededRandom } from '../helpers/fault-proxy';
import {
  buildScenario,
  CountingMetrics,
  fhirState,
  oracleMismatches,
  readingCount,
  runLikeFunctionsApp,
  workerDependencies,
  type DeliveryOutcome,
  type Scenario,
} from './support/scenario';

const fastSleep = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Saves every batch in order with one worker; returns what each delivery did. */
async function deliverAll(
  batches: readonly DeviceEvent[][],
  store: FhirHttpStore,
  chunkSize: number,
  metrics = new CountingMetrics(),
) {
  const deps = workerDependencies(store, { chunkSize, concurrency: 2, metrics });
  const outcomes: DeliveryOutcome[] = [];
  for (const batch of batches) {
    outcomes.push(await runLikeFunctionsApp(batch, deps));
  }
  return outcomes;
}

/**
 * Re-PUTs random Observations unchanged with If-Match (a new version, same content) until stopped: every write of the
 * workers that read the previous version now meets a real 412.
 */
async function bumpVersions(server: EmbeddedFhirServer, seed: number, done: () => boolean): Promise<number> {
  const store = new FhirHttpStore({ baseUrl: server.url });
  const random = seededRandom(seed);
  let bumped = 0;
  while (!done()) {
    const all = server.repository.all('Observation');
    const target = all[Math.floor(random() * all.length)];
    if (target?.meta?.versionId !== undefined) {
      try {
        await store.put<Observation>(target, { ifMatch: target.meta.versionId });
        bumped++;
      } catch {
        // A worker wrote in between: this bump lost, which is what If-Match is for.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return bumped;
}

interface Run {
  readonly name: string;
  readonly seed: number;
  readonly useBatch: boolean;
}

const runs: Run[] = [
  { name: 'batch Bundles', seed: 20240310, useBatch: true },
  { name: 'single requests', seed: 7, useBatch: false },
];

describe.each(runs)('FHIR faults and a concurrent writer ($name)', ({ seed, useBatch }) => {
  const scenario: Scenario = buildScenario({ devices: 4, hours: 2, batches: 8, seed });
  let clean: EmbeddedFhirServer;
  let faulty: EmbeddedFhirServer;
  let proxy: FaultProxy;

  beforeAll(async () => {
    clean = await startFhirServer({ port: 0 });
    faulty = await startFhirServer({ port: 0 });
    proxy = await FaultProxy.start({ target: faulty.url, seed, rate: 0.3, entryRate: 0.15 });
  });
  afterAll(async () => {
    await proxy.close();
    await Promise.all([clean.close(), faulty.close()]);
  });

  it('ends in the same FHIR state as a fault-free run: 0 lost, 0 duplicated, every slot right', async () => {
    // The reference run, without faults.
    const reference = await deliverAll(scenario.batches, new FhirHttpStore({ baseUrl: clean.url, useBatch }), 6);
    expect(reference.every((o) => o.chunkRetries === 0 && o.permanent.length === 0)).toBe(true);
    expect(oracleMismatches(clean, scenario)).toEqual([]);

    // The faulty run: worker A saves every batch; worker B (another instance of the Functions app, as after a
    // rebalance) saves the same batches at the same time, so both create the same Observations at once; worker C
    // saves the odd batches again in reverse order; and a third party bumps versions.
    const viaProxy = () =>
      new FhirHttpStore({
        baseUrl: proxy.url,
        useBatch,
        batchSize: 5,
        requestTimeoutMs: 250,
        batchTimeoutMs: 250,
        retry: { maxAttempts: 3 },
        environment: { sleep: fastSleep },
      });
    let finished = false;
    const metrics = new CountingMetrics();
    const writers = Promise.all([
      deliverAll(scenario.batches, viaProxy(), 6, metrics),
      deliverAll(scenario.batches, viaProxy(), 4, metrics),
      deliverAll(scenario.batches.filter((_, i) => i % 2 === 1).reverse(), viaProxy(), 5, metrics),
    ]).finally(() => {
      finished = true;
    });
    const [[a, b, c], bumped] = await Promise.all([writers, bumpVersions(faulty, seed, () => finished)]);

    const outcomes = [...a, ...b, ...c];
    expect(outcomes.flatMap((o) => o.permanent.map((f) => f.error.code))).toEqual([]);
    expect(outcomes.flatMap((o) => o.exhausted.map((f) => f.error.code))).toEqual([]);
    expect(outcomes.every((o) => o.normalizationFailures === 0)).toBe(true);

    const expected = fhirState(clean);
    const actual = fhirState(faulty);
    expect(actual.duplicates).toEqual({ Observation: [], Patient: [], Device: [] });
    expect(expected.readings).toBe(readingCount(scenario.readings));
    expect(actual.readings).toBe(expected.readings);
    expect(actual.patients).toEqual(expected.patients);
    expect(actual.devices).toEqual(expected.devices);
    expect([...actual.observations.keys()].sort()).toEqual([...expected.observations.keys()].sort());
    for (const [identifier, content] of expected.observations) {
      expect({ identifier, content: actual.observations.get(identifier) }).toEqual({ identifier, content });
    }
    expect(oracleMismatches(faulty, scenario)).toEqual([]);

    // The faults really happened: at least 20 % of requests, every kind at least once.
    const { stats } = proxy;
    expect(stats.faultedRequests / stats.requests).toBeGreaterThanOrEqual(0.2);
    // With batch Bundles the only single PUTs are the version bumper's, and how many of them run before the workers
    // finish depends on timing; conflicts are then required as Bundle entries (below), not as whole requests.
    const requestFaults = useBatch ? REQUEST_FAULTS.filter((f) => f !== 'conflict') : REQUEST_FAULTS;
    for (const fault of requestFaults) {
      expect({ fault, injected: stats.byFault[fault] > 0 }).toEqual({ fault, injected: true });
    }
    if (useBatch) {
      for (const fault of ENTRY_FAULTS) {
        expect({ fault, injected: stats.byEntryFault[fault] > 0 }).toEqual({ fault, injected: true });
      }
    }
    expect(stats.appliedButLost).toBeGreaterThan(0);
    // Writes met real contention too (version bumps, the other workers), and the save path resolved it.
    expect(metrics.total(Metric.FhirContention)).toBeGreaterThan(0);

    const report = process.env.RELIABILITY_REPORT_DIR;
    if (report !== undefined) {
      writeFileSync(
        `${report}/faults-${useBatch ? 'batch' : 'single'}.json`,
        JSON.stringify(
          {
            seed,
            events: scenario.batches.flat().length,
            readings: readingCount(scenario.readings),
            observations: expected.observations.size,
            proxy: stats,
            chunkRetries: outcomes.reduce((n, o) => n + o.chunkRetries, 0),
            versionBumps: bumped,
            contention: metrics.total(Metric.FhirContention),
            lost: expected.readings - actual.readings,
            duplicates: actual.duplicates,
          },
          null,
          2,
        ),
      );
    }
  }, 120_000);
});
