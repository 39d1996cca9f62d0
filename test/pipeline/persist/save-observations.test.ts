import type { Observation } from '@medplum/fhirtypes';
import { ErrorCode, PipelineError } from '../../../src/pipeline/errors';
import {
  createIdentityResolver,
  type IdentityResolver,
  type IdentitySource,
} from '../../../src/pipeline/identity/resolve-identity';
import type { CodeValueFhirTemplate } from '../../../src/pipeline/mapping/fhir-template';
import type { Dimensions, Metric, MetricsSink } from '../../../src/pipeline/metrics';
import type { MeasurementGroup } from '../../../src/pipeline/model/measurement-group';
import { createObservationCache, type ObservationCache } from '../../../src/pipeline/persist/observation-cache';
import { saveObservationGroups, type SaveReport } from '../../../src/pipeline/persist/save-observations';
import { SERVICE_SYSTEM } from '../../../src/pipeline/transform/observation-identity';
import {
  ManualClock,
  groupsFor,
  mappingOf,
  measurement,
  template,
  type MeasurementInput,
} from '../../helpers/fhir-stage-fixtures';
import { MemoryFhirStore, type StoreCall } from '../../helpers/memory-fhir-store';

class RecordingMetrics implements MetricsSink {
  readonly entries: { metric: Metric; value: number; dimensions: Dimensions | undefined }[] = [];
  count(metric: Metric, value: number, dimensions?: Dimensions): void {
    this.entries.push({ metric, value, dimensions });
  }
  record(metric: Metric, value: number, dimensions?: Dimensions): void {
    this.entries.push({ metric, value, dimensions });
  }
  total(metric: Metric, filter: Partial<Dimensions> = {}): number {
    return this.entries
      .filter(
        (e) =>
          e.metric === metric && Object.entries(filter).every(([k, v]) => e.dimensions?.[k as keyof Dimensions] === v),
      )
      .reduce((sum, e) => sum + e.value, 0);
  }
}

/** Every device `device-N` belongs to patient `pat-N`; `unknown-*` devices are not found. */
const stubIdentity: IdentityResolver = {
  resolve: (g: IdentitySource) =>
    g.deviceId.startsWith('unknown')
      ? Promise.reject(new PipelineError(ErrorCode.DeviceNotFound, 'no device'))
      : Promise.resolve({ deviceId: `dev-${g.deviceId}`, patientId: `pat-${g.deviceId}` }),
};

const heartRate = template({
  typeName: 'HeartRate',
  value: { valueType: 'Quantity', valueName: 'hr', unit: 'count/min', aggregation: 'first' },
});
const ecg = template({
  typeName: 'Ecg',
  codes: [],
  value: { valueType: 'SampledData', valueName: 'mv', defaultPeriod: 60_000 },
});
const single = template({
  typeName: 'Spot',
  periodInterval: 0,
  value: { valueType: 'Quantity', valueName: 'v', aggregation: 'first' },
});
const correlated = template({ typeName: 'Session', periodInterval: -1 });
const mapping = mappingOf(heartRate, ecg, single, correlated);

interface Worker {
  readonly store: MemoryFhirStore;
  readonly clock: ManualClock;
  readonly metrics: RecordingMetrics;
  readonly cache: ObservationCache;
  save(groups: MeasurementGroup[]): Promise<SaveReport>;
}

function worker(
  store: MemoryFhirStore,
  options: { templates?: CodeValueFhirTemplate[]; identity?: IdentityResolver } = {},
): Worker {
  const clock = new ManualClock();
  const metrics = new RecordingMetrics();
  const cache = createObservationCache({ clock: clock.now });
  const m = options.templates === undefined ? mapping : mappingOf(...options.templates);
  return {
    store,
    clock,
    metrics,
    cache,
    save: (groups) =>
      saveObservationGroups(groups, {
        store,
        mapping: m,
        identity: options.identity ?? stubIdentity,
        clock: clock.now,
        metrics,
        cache,
      }),
  };
}

const groups = (...inputs: MeasurementInput[]) => groupsFor(mapping, inputs.map(measurement));
const ecgAt = (minute: number, mv: string, over: MeasurementInput = {}): MeasurementInput => ({
  type: 'Ecg',
  time: `2024-03-10T14:${String(minute).padStart(2, '0')}:00.0000000Z`,
  values: { mv },
  ...over,
});
const hrAt = (minute: number, hr: string, over: MeasurementInput = {}): MeasurementInput => ({
  type: 'HeartRate',
  time: `2024-03-10T14:${String(minute).padStart(2, '0')}:00.0000000Z`,
  values: { hr },
  ...over,
});

const count = (calls: StoreCall[], op: StoreCall['op']) => calls.filter((c) => c.op === op).length;
const observations = (store: MemoryFhirStore) => store.all('Observation');
const dataOf = (o: Observation): string => o.valueSampledData?.data ?? '';
const onlyObservation = (store: MemoryFhirStore): Observation => {
  const all = observations(store);
  expect(all).toHaveLength(1);
  return all[0] as Observation;
};

describe('saveObservationGroups: create, merge, skip', () => {
  it('creates one Observation per window and reports each group', async () => {
    const w = worker(new MemoryFhirStore());
    w.clock.nowMs = Date.UTC(2024, 2, 10, 15, 0, 7);
    const report = await w.save(
      groups(hrAt(5, '72'), hrAt(5, '61', { deviceId: 'device-2' }), {
        ...hrAt(5, '80'),
        time: '2024-03-10T15:05:00.0000000Z',
      }),
    );
    expect(report).toMatchObject({ created: 3, updated: 0, unchanged: 0, failed: 0, failures: [] });
    expect(report.saved.map((s) => [s.group.deviceId, s.outcome, s.savedAt])).toEqual([
      ['device-1', 'Created', '2024-03-10T15:00:07.000Z'],
      ['device-1', 'Created', '2024-03-10T15:00:07.000Z'],
      ['device-2', 'Created', '2024-03-10T15:00:07.000Z'],
    ]);
    expect(
      observations(w.store)
        .map((o) => [o.identifier?.[0]?.value, o.status, o.valueQuantity?.value])
        .sort(),
    ).toEqual([
      ['pat-device-1.dev-device-1.HeartRate.20240310140000Z.20240310145959Z', 'final', 72],
      ['pat-device-1.dev-device-1.HeartRate.20240310150000Z.20240310155959Z', 'final', 80],
      ['pat-device-2.dev-device-2.HeartRate.20240310140000Z.20240310145959Z', 'final', 61],
    ]);
    expect(w.metrics.total('FhirResourcesSaved', { outcome: 'Created', stage: 'FHIRConversion' })).toBe(3);
  });

  it('uses O(1) round trips per chunk: one search and one write for any number of groups', async () => {
    const w = worker(new MemoryFhirStore());
    const batch = Array.from({ length: 40 }, (_, i) => hrAt(i % 60, String(60 + i), { deviceId: `device-${i % 10}` }));
    const report = await w.save(groups(...batch));
    expect(report.created).toBe(10);
    expect(w.store.calls.map((c) => c.op)).toEqual(['searchMany', 'putMany']);
  });

  it('is idempotent: the same groups again write nothing and leave the same state (warm or cold cache)', async () => {
    const store = new MemoryFhirStore();
    const batch = groups(ecgAt(0, '1'), ecgAt(10, '2'), hrAt(3, '70'), hrAt(3, '71', { deviceId: 'device-2' }));
    await worker(store).save(batch);
    const state = observations(store);

    const warm = worker(store);
    await warm.save(batch);
    const again = await warm.save(batch);
    expect(batch).toHaveLength(3);
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 3, failed: 0 });

    const cold = worker(store);
    store.calls.length = 0;
    await cold.save(batch);
    expect(count(store.calls, 'putMany')).toBe(0);
    expect(count(store.calls, 'searchMany')).toBe(1);
    expect(observations(store)).toEqual(state);
  });

  it('merges a later batch into the stored Observation: amended, SampledData slots kept', async () => {
    const w = worker(new MemoryFhirStore());
    await w.save(groups(ecgAt(0, 'a'), ecgAt(10, 'b')));
    const report = await w.save(groups(ecgAt(5, 'c'), ecgAt(10, 'B')));
    expect(report).toMatchObject({ updated: 1, unchanged: 0 });
    const o = onlyObservation(w.store);
    expect(o).toMatchObject({ status: 'amended', meta: { versionId: '2' } });
    expect(o.valueSampledData?.data).toBe('a E E E E c E E E E B' + ' E'.repeat(49));
  });

  it('a batch that brings nothing new is NoOperation and not written', async () => {
    const w = worker(new MemoryFhirStore());
    await w.save(groups(ecgAt(0, 'a'), ecgAt(10, 'b')));
    w.store.calls.length = 0;
    const report = await w.save(groups(ecgAt(10, 'b')));
    expect(report).toMatchObject({ unchanged: 1, updated: 0 });
    expect(count(w.store.calls, 'putMany')).toBe(0);
    expect(onlyObservation(w.store)).toMatchObject({ status: 'final', meta: { versionId: '1' } });
  });

  it('groups that land in one Observation are applied in order and written once', async () => {
    const w = worker(new MemoryFhirStore());
    // Different encounter ids: two measurement groups, one hourly identifier.
    const report = await w.save(groups(ecgAt(0, 'a', { encounterId: 'e1' }), ecgAt(1, 'b', { encounterId: 'e2' })));
    expect(report.saved.map((s) => s.outcome)).toEqual(['Created', 'Updated']);
    expect(count(w.store.calls, 'putMany')).toBe(1);
    expect(dataOf(onlyObservation(w.store)).startsWith('a b E')).toBe(true);
  });
});

describe('saveObservationGroups: errors are per window', () => {
  it('a failing window does not stop the later windows of its group (fix of MedTech)', async () => {
    const w = worker(new MemoryFhirStore());
    const report = await w.save(
      groups(
        { ...hrAt(0, 'not-a-number'), time: '2024-03-10T13:00:00.0000000Z' },
        hrAt(5, '72'),
        { type: 'Spot', time: '2024-03-10T14:05:00.1000000Z', values: { v: 'bad' } },
        { type: 'Spot', time: '2024-03-10T14:05:00.2000000Z', values: { v: '5' } },
      ),
    );
    expect(report).toMatchObject({ created: 2, failed: 2 });
    expect(report.failures.map((f) => [f.group.window?.start, f.error.code])).toEqual([
      ['2024-03-10T13:00:00.0000000Z', 'INVALID_QUANTITY_VALUE'],
      ['2024-03-10T14:05:00.1000000Z', 'INVALID_QUANTITY_VALUE'],
    ]);
    // The second Single reading of the same second creates the Observation the first could not.
    expect(observations(w.store).find((o) => o.code.text === 'Spot')?.valueQuantity?.value).toBe(5);
  });

  it.each([
    ['no template', { type: 'Unmapped', values: {} }, 'TEMPLATE_NOT_FOUND', 'TemplateNotFoundException'],
    ['no Device', { deviceId: 'unknown-1', values: { hr: '1' } }, 'DEVICE_NOT_FOUND', 'DeviceNotFoundException'],
    [
      'identity errors come before template errors',
      { type: 'Unmapped', deviceId: 'unknown-2', values: {} },
      'DEVICE_NOT_FOUND',
      'DeviceNotFoundException',
    ],
    [
      'a CorrelationId group without correlation id',
      { type: 'Session', values: {} },
      'CORRELATION_ID_NOT_DEFINED',
      'CorrelationIdNotDefinedException',
    ],
  ])('%s', async (_name, input, code, medtechErrorType) => {
    const w = worker(new MemoryFhirStore());
    const report = await w.save(groups(input, hrAt(1, '60', { deviceId: 'device-9' })));
    expect(report).toMatchObject({ created: 1, failed: 1 });
    expect(report.failures[0]?.error).toMatchObject({ code, medtechErrorType });
    expect(w.metrics.total('TotalErrors', { errorType: medtechErrorType, stage: 'FHIRConversion' })).toBe(1);
  });

  it('MultipleObservationFound when two stored Observations carry the identifier', async () => {
    const store = new MemoryFhirStore();
    const value = 'pat-device-1.dev-device-1.HeartRate.20240310140000Z.20240310145959Z';
    for (const id of ['x', 'y']) {
      store.seed({
        resourceType: 'Observation',
        id,
        status: 'final',
        code: {},
        identifier: [{ system: SERVICE_SYSTEM, value }],
      });
    }
    const report = await worker(store).save(groups(hrAt(1, '60')));
    expect(report.failures[0]?.error).toMatchObject({
      code: 'MULTIPLE_RESOURCES_FOUND',
      medtechErrorType: 'MultipleObservationFoundException',
    });
  });

  it('keeps only exact identifier matches when the server matches on a prefix', async () => {
    const store = new MemoryFhirStore({ identifierMatch: { prefixLength: 20 } });
    const report1 = await worker(store).save(groups(hrAt(1, '60')));
    const report2 = await worker(store).save(groups({ ...hrAt(1, '70'), time: '2024-03-10T18:01:00.0000000Z' }));
    expect([report1.created, report2.created]).toEqual([1, 1]);
    expect(observations(store)).toHaveLength(2);
  });

  it('a failed search fails the chunk with the (retryable) FHIR error', async () => {
    const w = worker(new MemoryFhirStore());
    w.store.beforeCall = (call) => {
      if (call.op === 'searchMany') {
        throw new PipelineError(ErrorCode.FhirUnavailable, 'service unavailable');
      }
    };
    const report = await w.save(groups(hrAt(1, '60'), ecgAt(1, '1')));
    expect(report.failed).toBe(2);
    expect(report.failures.map((f) => [f.error.code, f.error.retryable])).toEqual([
      ['FHIR_UNAVAILABLE', true],
      ['FHIR_UNAVAILABLE', true],
    ]);
  });

  it('a failed write fails only its Observation', async () => {
    const w = worker(new MemoryFhirStore());
    w.store.beforePut = (r) =>
      (r as Observation).code.text === 'Ecg' ? new PipelineError(ErrorCode.FhirResourceInvalid, 'rejected') : undefined;
    const report = await w.save(groups(hrAt(1, '60'), ecgAt(1, '1')));
    expect(report).toMatchObject({ created: 1, failed: 1 });
    expect(report.failures[0]?.error.code).toBe('FHIR_RESOURCE_INVALID');
  });
});

describe('saveObservationGroups: concurrency', () => {
  it('a stale cached version conflicts, is read again, re-merged and written (bounded retry)', async () => {
    const store = new MemoryFhirStore();
    const a = worker(store);
    const b = worker(store);
    await a.save(groups(ecgAt(0, 'a')));
    await b.save(groups(ecgAt(1, 'b')));
    store.calls.length = 0;

    const report = await a.save(groups(ecgAt(2, 'c')));
    expect(report).toMatchObject({ updated: 1, failed: 0 });
    expect(store.calls.map((c) => c.op)).toEqual(['putMany', 'searchMany', 'putMany']);
    expect(dataOf(onlyObservation(store)).startsWith('a b c E')).toBe(true);
    expect(a.metrics.total('FhirContention', { resourceType: 'Observation' })).toBe(1);
  });

  it('gives up after 3 writes with FHIR_CONFLICT', async () => {
    const w = worker(new MemoryFhirStore());
    await w.save(groups(ecgAt(0, 'a')));
    w.store.beforePut = () => new PipelineError(ErrorCode.FhirConflict, 'always');
    w.store.calls.length = 0;
    const report = await w.save(groups(ecgAt(1, 'b')));
    expect(report.failures.map((f) => f.error.code)).toEqual(['FHIR_CONFLICT']);
    expect(count(w.store.calls, 'putMany')).toBe(3);
  });

  it('re-creates an Observation deleted behind the cache', async () => {
    const w = worker(new MemoryFhirStore());
    await w.save(groups(ecgAt(0, 'a')));
    const id = onlyObservation(w.store).id as string;
    w.store.delete('Observation', id);
    const report = await w.save(groups(ecgAt(1, 'b')));
    expect(report).toMatchObject({ created: 1, failed: 0 });
    expect(dataOf(onlyObservation(w.store)).startsWith('b E')).toBe(false);
    expect(dataOf(onlyObservation(w.store)).startsWith('E b E')).toBe(true);
  });

  it('two savers creating the same Observation at once lose no SampledData slot (create race)', async () => {
    const store = new MemoryFhirStore();
    const a = worker(store);
    const b = worker(store);
    // Both searches happen before either write: both see no Observation and both PUT it as new.
    let arrived = 0;
    let release: () => void = () => undefined;
    const bothSearched = new Promise<void>((resolve) => (release = resolve));
    store.beforeCall = async (call) => {
      if (call.op === 'searchMany' && arrived < 2) {
        arrived++;
        if (arrived === 2) {
          release();
        }
        await bothSearched;
      }
    };
    const [ra, rb] = await Promise.all([
      a.save(groups(ecgAt(0, 'a0'), ecgAt(2, 'a2'))),
      b.save(groups(ecgAt(1, 'b1'), ecgAt(2, 'b2'))),
    ]);
    expect([ra.failed, rb.failed]).toEqual([0, 0]);
    const o = onlyObservation(store);
    // b's PUT replaced a's version; b folded it back in. At the shared slot, b's own (newest) reading stays.
    expect(dataOf(o).split(' ').slice(0, 4)).toEqual(['a0', 'b1', 'b2', 'E']);
    expect(count(store.calls, 'vread')).toBe(1);
    expect(b.metrics.total('FhirContention')).toBe(1);
    expect(o.status).toBe('amended');
  });

  it('a folded-back version survives a conflict on the repair write', async () => {
    const store = new MemoryFhirStore();
    const a = worker(store);
    const b = worker(store);
    const c = worker(store);
    let searches = 0;
    let release: () => void = () => undefined;
    const bothSearched = new Promise<void>((resolve) => (release = resolve));
    let cRan = false;
    store.beforeCall = async (call) => {
      if (call.op === 'searchMany' && searches < 2) {
        searches++;
        if (searches === 2) {
          release();
        }
        await bothSearched;
      }
      if (call.op === 'vread' && !cRan) {
        // Before b repairs its blind create, c merges into b's (incomplete) version.
        cRan = true;
        await c.save(groups(ecgAt(3, 'c3')));
      }
    };
    await Promise.all([a.save(groups(ecgAt(0, 'a0'))), b.save(groups(ecgAt(1, 'b1')))]);
    expect(dataOf(onlyObservation(store)).split(' ').slice(0, 5)).toEqual(['a0', 'b1', 'E', 'c3', 'E']);
  });

  it('works with the real identity resolver in Create mode', async () => {
    const store = new MemoryFhirStore();
    const clock = new ManualClock();
    const w = worker(store, { identity: createIdentityResolver({ store, mode: 'Create', clock: clock.now }) });
    const report = await w.save(groups(hrAt(1, '60'), hrAt(2, '61', { deviceId: 'device-2', patientId: 'patient-2' })));
    expect(report.created).toBe(2);
    expect(store.all('Patient')).toHaveLength(2);
    expect(store.all('Device')).toHaveLength(2);
    const refs = observations(store).map((o) => [o.subject?.reference, o.device?.reference]);
    expect(refs.every(([s, d]) => s?.startsWith('Patient/') === true && d?.startsWith('Device/') === true)).toBe(true);
  });
});
