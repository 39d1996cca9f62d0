/**
 * The create race against the embedded FHIR server over HTTP: two workers search for the same Observation, both find
 * none, both PUT it as new. The second PUT replaces the first worker's version, and the save path folds that version
 * back in by reading its predecessor (`vread` of versionId − 1). That needs the server to number versions 1, 2, 3…
 * as Azure Health Data Services and HAPI do — which the embedded server does (see
 * test/local/fhir-server/version-ids.test.ts); with opaque version ids the first worker's readings would be lost.
 */
import type { Observation } from '@medplum/fhirtypes';
import { FhirHttpStore } from '../../src/adapters/fhir/fhir-http-store';
import { startFhirServer, type EmbeddedFhirServer } from '../../src/local/fhir-server';
import type { FhirStore, IdentityResolver, MeasurementGroup, PutRequest, SaveReport } from '../../src/pipeline';
import { createObservationCache, ErrorCode, PipelineError, saveObservationGroups } from '../../src/pipeline';
import { groupsFor, ManualClock, mappingOf, measurement, template } from '../helpers/fhir-stage-fixtures';
import { bindStore, gatedStore } from './support/store-wrappers';

const ecg = template({
  typeName: 'Ecg',
  codes: [],
  value: { valueType: 'SampledData', valueName: 'mv', defaultPeriod: 60_000 },
});
const mapping = mappingOf(ecg);
const identity: IdentityResolver = {
  resolve: (g) => Promise.resolve({ deviceId: `dev-${g.deviceId}`, patientId: `pat-${g.deviceId}` }),
};

const ecgGroups = (...readings: [minute: number, mv: string][]): MeasurementGroup[] =>
  groupsFor(
    mapping,
    readings.map(([minute, mv]) =>
      measurement({
        type: 'Ecg',
        time: `2024-03-10T14:${String(minute).padStart(2, '0')}:00.0000000Z`,
        values: { mv },
      }),
    ),
  );

function save(store: FhirStore, groups: MeasurementGroup[]): Promise<SaveReport> {
  const clock = new ManualClock();
  return saveObservationGroups(groups, {
    store,
    mapping,
    identity,
    clock: clock.now,
    cache: createObservationCache({ clock: clock.now }),
  });
}

describe('create race over HTTP against the embedded FHIR server', () => {
  let server: EmbeddedFhirServer;
  beforeEach(async () => {
    server = await startFhirServer({ port: 0 });
  });
  afterEach(async () => {
    await server.close();
  });

  it('two workers creating the same hourly Observation at once keep every reading of both', async () => {
    const http = new FhirHttpStore({ baseUrl: server.url });
    // Both searches are answered before either worker writes: both see no Observation and PUT it as new.
    const gate = gatedStore(http, 'searchManyByIdentifier', 2);
    const [a, b] = await Promise.all([
      save(gate.store, ecgGroups([0, 'a0'], [2, 'a2'])),
      save(gate.store, ecgGroups([1, 'b1'], [3, 'b3'])),
    ]);
    expect([a.failed, b.failed]).toEqual([0, 0]);
    const observations = server.repository.all('Observation');
    expect(observations).toHaveLength(1);
    const o = observations[0] as Observation;
    expect(o.valueSampledData?.data?.split(' ').slice(0, 5)).toEqual(['a0', 'b1', 'a2', 'b3', 'E']);
    // The race happened: one PUT replaced the other's version, and the repair wrote a third.
    expect(Number(o.meta?.versionId)).toBeGreaterThanOrEqual(3);
  });

  it('a worker whose create was applied but whose response was lost converges on retry', async () => {
    const http = new FhirHttpStore({ baseUrl: server.url });
    // The first putMany reaches the server, then the worker sees a failure: the write happened, the client erred.
    let lost = false;
    const store: FhirStore = {
      ...bindStore(http),
      putMany: async (requests) => {
        const results = await http.putMany(requests);
        if (!lost) {
          lost = true;
          throw new Error('connection reset after the write was applied');
        }
        return results;
      },
    };
    const first = await save(store, ecgGroups([0, 'a0'], [1, 'a1']));
    expect(first.failed).toBe(1);
    const again = await save(store, ecgGroups([0, 'a0'], [1, 'a1']));
    expect(again).toMatchObject({ failed: 0, created: 0 });
    const observations = server.repository.all('Observation');
    expect(observations).toHaveLength(1);
    expect(observations[0]?.valueSampledData?.data?.split(' ').slice(0, 3)).toEqual(['a0', 'a1', 'E']);
  });

  /**
   * Races worker A against worker B after both searched and found nothing: B's first `putMany` waits until A wrote,
   * then does `firstWrite` (B's later writes go straight through). Both workers' readings must end in one Observation.
   */
  async function raceAgainstFirstWrite(
    firstWrite: (store: FhirStore, requests: readonly PutRequest[]) => ReturnType<FhirStore['putMany']>,
  ): Promise<void> {
    const http = new FhirHttpStore({ baseUrl: server.url });
    const gate = gatedStore(http, 'searchManyByIdentifier', 2);
    let aWrote: () => void = () => undefined;
    const aDone = new Promise<void>((resolve) => (aWrote = resolve));
    const a: FhirStore = {
      ...gate.store,
      putMany: async (requests) => {
        const results = await gate.store.putMany(requests);
        aWrote();
        return results;
      },
    };
    let first = true;
    const b: FhirStore = {
      ...gate.store,
      putMany: async (requests) => {
        if (!first) {
          return gate.store.putMany(requests);
        }
        first = false;
        await aDone;
        return firstWrite(gate.store, requests);
      },
    };
    const [ra, rb] = await Promise.all([
      save(a, ecgGroups([0, 'a0'], [2, 'a2'])),
      save(b, ecgGroups([1, 'b1'], [3, 'b3'])),
    ]);
    expect([ra.failed, rb.failed]).toEqual([0, 0]);
    const observations = server.repository.all('Observation');
    expect(observations).toHaveLength(1);
    const o = observations[0] as Observation;
    expect(o.valueSampledData?.data?.split(' ').slice(0, 5)).toEqual(['a0', 'b1', 'a2', 'b3', 'E']);
  }

  /**
   * Worker B's create is applied, its answer is lost, and the client sends it again: B's second PUT replaces B's own
   * first one, so the version right before B's is B's — worker A's readings are two versions back.
   */
  it("a create applied twice (answer lost, request resent) still folds the other worker's version back", async () => {
    await raceAgainstFirstWrite(async (store, requests) => {
      await store.putMany(requests); // applied; the answer never arrives
      return store.putMany(requests); // the resend: 200, not 201
    });
  });

  it('a create whose attempts all failed after one was applied is repaired at once', async () => {
    await raceAgainstFirstWrite(async (store, requests) => {
      await store.putMany(requests); // applied, replacing A's version
      return requests.map(() => ({
        ok: false as const,
        error: new PipelineError(ErrorCode.FhirUnavailable, 'FHIR PUT Observation failed: connection error'),
      }));
    });
  });
});
