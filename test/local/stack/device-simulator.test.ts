import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { createDeviceSimulator, runSimulator, type SimulatedEvent } from '../../../src/local/stack/device-simulator';
import {
  createIdentityResolver,
  createNormalizer,
  loadDeviceMapping,
  loadFhirMapping,
  processBatch,
} from '../../../src/pipeline';
import { MemoryFhirStore } from '../../helpers/memory-fhir-store';
import { FakeTime } from './fake-time';

const T0 = Date.parse('2026-11-28T23:58:00.000Z');
const mapping = (name: string): string => readFileSync(join(__dirname, '../../../mappings', name), 'utf8');

/** `count` events, one every 200 ms from T0. */
function simulate(seed: number, count: number, devices = 10): SimulatedEvent[] {
  const simulator = createDeviceSimulator({ devices, seed });
  return Array.from({ length: count }, (_, i) => simulator.next(T0 + i * 200));
}

const bodyOf = (e: SimulatedEvent): Record<string, unknown> => JSON.parse(e.event.body as string);

describe('device simulator', () => {
  it('is deterministic: the same seed and times give the same events', () => {
    expect(simulate(42, 300)).toEqual(simulate(42, 300));
  });

  it('another seed gives other readings from the same devices', () => {
    const [a, b] = [simulate(1, 100), simulate(2, 100)];
    expect(a.map((e) => e.partitionKey)).toEqual(b.map((e) => e.partitionKey));
    expect(a.map((e) => e.event.body)).not.toEqual(b.map((e) => e.event.body));
  });

  it('speaks all three shapes, device by device in turn, keyed by device id', () => {
    const events = simulate(7, 10);
    expect(events.map((e) => e.shape)).toEqual([
      'direct',
      'direct',
      'direct',
      'iotHub',
      'iotCentral',
      'direct',
      'direct',
      'direct',
      'iotHub',
      'iotCentral',
    ]);
    expect(events.map((e) => e.partitionKey)).toEqual(
      Array.from({ length: 10 }, (_, i) => `sim-device-${String(i + 1).padStart(2, '0')}`),
    );
    expect(events[3]!.event.systemProperties).toMatchObject({ 'iothub-connection-device-id': 'sim-device-04' });
    expect(events[3]!.event.properties).toHaveProperty('iothub-creation-time-utc');
    expect(bodyOf(events[4]!)).toMatchObject({
      deviceId: 'sim-device-05',
      enrichments: { patientId: 'sim-patient-05' },
    });
  });

  it('sends realistic values', () => {
    const events = simulate(3, 5000);
    const values = (key: string): number[] =>
      events.flatMap((e) => {
        const v = bodyOf(e)[key];
        return typeof v === 'number' ? [v] : [];
      });
    const within = (key: string, min: number, max: number): void => {
      const v = values(key);
      expect(v.length).toBeGreaterThan(0);
      expect(Math.min(...v)).toBeGreaterThanOrEqual(min);
      expect(Math.max(...v)).toBeLessThanOrEqual(max);
    };
    within('heartRate', 40, 120);
    within('spo2', 95, 99);
    within('systolic', 85, 170);
    within('temperatureF', 96, 101);
    within('glucoseMmolL', 3.9, 11);
    within('HeartRate', 40, 120);
    within('RespiratoryRate', 8, 30);
    const resting = values('heartRate').reduce((a, b) => a + b, 0) / values('heartRate').length;
    expect(resting).toBeGreaterThan(58);
    expect(resting).toBeLessThan(82);
    const bp = events.map(bodyOf).filter((b) => typeof b.systolic === 'number');
    expect(bp.every((b) => (b.diastolic as number) < (b.systolic as number) - 15)).toBe(true);
    expect(values('glucoseMmolL').length).toBeLessThan(values('heartRate').length / 4); // only now and then
  });

  it('counts steps up through the day and starts again at UTC midnight', () => {
    const events = simulate(5, 3000, 1); // one device, 10 minutes spanning midnight
    const steps = events.map(bodyOf).filter((b) => typeof b.steps === 'number');
    const byDay = new Map<string, number[]>();
    for (const b of steps) {
      const day = (b.measurementTime as string).slice(0, 10);
      byDay.set(day, [...(byDay.get(day) ?? []), b.steps as number]);
    }
    expect([...byDay.keys()]).toEqual(['2026-11-28', '2026-11-29']);
    for (const counts of byDay.values()) {
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
    }
    expect(byDay.get('2026-11-29')![0]).toBeLessThan(byDay.get('2026-11-28')!.at(-1)!);
  });

  it('every simulated event normalizes without error through the example mappings, into every FHIR template', async () => {
    const device = loadDeviceMapping(mapping('devicecontent.json')).mapping!;
    const fhir = loadFhirMapping(mapping('fhirmapping.json')).mapping!;
    const normalizer = createNormalizer(device, () => T0);
    const types = new Set<string>();
    for (const [index, { event }] of simulate(11, 2000).entries()) {
      const result = await normalizer.normalize({ ...event, enqueuedTimeUtc: new Date(T0).toISOString() });
      expect({ index, error: result.error?.message }).toEqual({ index, error: undefined });
      expect(result.measurements.length).toBeGreaterThan(0);
      for (const m of result.measurements) {
        types.add(m.type);
        expect(fhir.templateFor(m.type)).toBeDefined();
      }
    }
    expect([...types].sort()).toEqual([
      'bloodglucose',
      'bloodpressure',
      'bodytemperature',
      'heartrate',
      'oxygensaturation',
      'respiratoryrate',
      'stepcount',
    ]);
  });

  it('and the FHIR stage saves every group of them (Create resolution)', async () => {
    const store = new MemoryFhirStore();
    const clock = (): number => T0;
    const report = await processBatch(
      simulate(13, 400).map((e) => e.event),
      {
        normalizer: createNormalizer(loadDeviceMapping(mapping('devicecontent.json')).mapping!, clock),
        fhirMapping: loadFhirMapping(mapping('fhirmapping.json')).mapping!,
        store,
        identity: createIdentityResolver({ store, mode: 'Create', clock }),
        clock,
      },
    );
    expect(report.failures).toEqual([]);
    expect(report.save.failures).toEqual([]);
    expect(report.save.created).toBeGreaterThan(0);
  });

  it('runSimulator sends at the set rate and stops', async () => {
    const time = new FakeTime();
    const sent: SimulatedEvent[] = [];
    const run = runSimulator(createDeviceSimulator({ devices: 3, seed: 1 }), {
      rate: 5,
      send: (events) => sent.push(...events),
      clock: time.clock,
      timers: time,
    });
    await time.advance(2000);
    expect(sent).toHaveLength(10);
    run.stop();
    await time.advance(2000);
    expect(sent).toHaveLength(10);
    expect(time.timerCount).toBe(0);
  });

  it('runSimulator does not burst after a stall', async () => {
    const time = new FakeTime();
    const batches: number[] = [];
    runSimulator(createDeviceSimulator({ devices: 3, seed: 1 }), {
      rate: 10,
      send: (events) => batches.push(events.length),
      clock: time.clock,
      timers: time,
    });
    time.now = 60_000; // the process was paused for a minute
    await time.advance(100);
    expect(Math.max(...batches)).toBeLessThanOrEqual(10);
  });

  it('refuses no devices', () => {
    expect(() => createDeviceSimulator({ devices: 0, seed: 1 })).toThrow(RangeError);
  });
});
