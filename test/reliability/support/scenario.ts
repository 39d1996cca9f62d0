/**
 * A realistic event set for reliability tests, the pipeline wired as the Functions app wires it, an independent
 * oracle of what the FHIR store must hold, and a canonical view of a FHIR store's state to compare runs.
 *
 * Events use the example mappings (mappings/devicecontent.json, mappings/fhirmapping.json) in the direct message
 * shape: heart rate every minute (hourly SampledData, 60 slots), SpO2 every 10 minutes (a Quantity per reading) and
 * blood pressure every 20 minutes (systolic and diastolic components), for several devices, shuffled into batches so
 * that one hourly Observation is written by many batches.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Device, Observation, Patient } from '@medplum/fhirtypes';
import type { EmbeddedFhirServer } from '../../../src/local/fhir-server';
import {
  chunkGroups,
  createIdentityResolver,
  createNormalizer,
  createObservationCache,
  loadDeviceMapping,
  loadFhirMapping,
  processBatch,
  saveObservationGroups,
  type BatchDependencies,
  type Clock,
  type DeviceEvent,
  type FailedGroup,
  type FhirMapping,
  type FhirStore,
  type MeasurementGroup,
  type Metric,
  type MetricsSink,
  type Normalizer,
} from '../../../src/pipeline';
import { seededRandom } from '../../helpers/fault-proxy';

const ROOT = path.resolve(__dirname, '../../..');

/** The example mappings, loaded once per test file. */
export function exampleMappings(clock: Clock): { normalizer: Normalizer; fhirMapping: FhirMapping } {
  const device = loadDeviceMapping(readFileSync(path.join(ROOT, 'mappings/devicecontent.json'), 'utf8'));
  const fhir = loadFhirMapping(readFileSync(path.join(ROOT, 'mappings/fhirmapping.json'), 'utf8'));
  if (device.mapping === undefined || fhir.mapping === undefined) {
    throw new Error('the example mappings do not load');
  }
  return { normalizer: createNormalizer(device.mapping, clock), fhirMapping: fhir.mapping };
}

/** Counts metrics by name (e.g. how many create races and conflicts the save path resolved). */
export class CountingMetrics implements MetricsSink {
  readonly totals = new Map<string, number>();
  count(metric: Metric, value: number): void {
    this.totals.set(metric, (this.totals.get(metric) ?? 0) + value);
  }
  record(): void {
    // Durations are not counted.
  }
  /** @param metric - the metric */
  total(metric: Metric): number {
    return this.totals.get(metric) ?? 0;
  }
}

/** A fixed clock: both runs of a comparison stamp the same `issued`. */
export const FIXED_CLOCK: Clock = () => Date.UTC(2024, 2, 10, 12, 0, 0);

/** Options of {@link buildScenario}. */
export interface ScenarioOptions {
  readonly devices: number;
  readonly hours: number;
  readonly batches: number;
  readonly seed: number;
  /** Prefix of device and patient identifiers. Default `dev`/`pat`. */
  readonly devicePrefix?: string;
  readonly patientPrefix?: string;
}

/** One reading the store must hold. */
export interface Reading {
  readonly device: string;
  readonly kind: 'heartrate' | 'oxygensaturation' | 'bloodpressure';
  /** ISO-8601 UTC. */
  readonly time: string;
  readonly values: readonly string[];
}

/** Events in batches, and the readings they carry. */
export interface Scenario {
  readonly batches: DeviceEvent[][];
  readonly readings: readonly Reading[];
  /** Device identifier → patient identifier. */
  readonly patients: ReadonlyMap<string, string>;
}

const START = Date.UTC(2024, 2, 10, 8, 0, 0);

/**
 * Builds the events: per device, heart rate every minute, SpO2 every 10 minutes (at :05, :15, …), blood pressure every
 * 20 minutes (at :07, :27, :47); shuffled with the seed and cut into batches.
 * @param options - size and seed
 */
export function buildScenario(options: ScenarioOptions): Scenario {
  const random = seededRandom(options.seed);
  const events: DeviceEvent[] = [];
  const readings: Reading[] = [];
  const patients = new Map<string, string>();
  for (let d = 0; d < options.devices; d++) {
    const deviceId = `${options.devicePrefix ?? 'dev'}-${d}`;
    const patientId = `${options.patientPrefix ?? 'pat'}-${d}`;
    patients.set(deviceId, patientId);
    for (let minute = 0; minute < options.hours * 60; minute++) {
      const at = (m: number): string => new Date(START + m * 60_000).toISOString();
      const base = { deviceId, patientId };
      const heartRate = 55 + Math.floor(random() * 60);
      events.push(event({ ...base, measurementTime: at(minute), heartRate }));
      readings.push({ device: deviceId, kind: 'heartrate', time: at(minute), values: [String(heartRate)] });
      if (minute % 10 === 5) {
        const spo2 = 90 + Math.floor(random() * 10);
        events.push(event({ ...base, measurementTime: at(minute), spo2 }));
        readings.push({ device: deviceId, kind: 'oxygensaturation', time: at(minute), values: [String(spo2)] });
      }
      if (minute % 20 === 7) {
        const systolic = 100 + Math.floor(random() * 40);
        const diastolic = 60 + Math.floor(random() * 30);
        events.push(event({ ...base, measurementTime: at(minute), systolic, diastolic }));
        readings.push({
          device: deviceId,
          kind: 'bloodpressure',
          time: at(minute),
          values: [String(systolic), String(diastolic)],
        });
      }
    }
  }
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [events[i], events[j]] = [events[j] as DeviceEvent, events[i] as DeviceEvent];
  }
  const size = Math.ceil(events.length / options.batches);
  const batches: DeviceEvent[][] = [];
  for (let start = 0; start < events.length; start += size) {
    batches.push(events.slice(start, start + size));
  }
  return { batches, readings, patients };
}

function event(body: Record<string, unknown>): DeviceEvent {
  return { body: Buffer.from(JSON.stringify(body)), enqueuedTimeUtc: '2024-03-10T12:00:00.000Z' };
}

/**
 * The pipeline's dependencies as a worker of the Functions app holds them: Create-mode identity, a per-worker
 * Observation cache, chunked saves.
 * @param store - the FHIR store
 * @param overrides - chunk size, concurrency, attempts
 */
export function workerDependencies(
  store: FhirStore,
  overrides: Partial<Pick<BatchDependencies, 'chunkSize' | 'concurrency' | 'maxAttempts' | 'metrics'>> = {},
): BatchDependencies {
  const clock = FIXED_CLOCK;
  return {
    ...exampleMappings(clock),
    store,
    identity: createIdentityResolver({ store, mode: 'Create', clock }),
    clock,
    cache: createObservationCache({ clock }),
    chunkSize: 50,
    ...overrides,
  };
}

/** What {@link runLikeFunctionsApp} did with one batch. */
export interface DeliveryOutcome {
  /** Chunk re-runs (a Durable activity retry each). */
  readonly chunkRetries: number;
  /** Groups that failed for good (they would be dead-lettered). */
  readonly permanent: readonly FailedGroup[];
  /** Groups still failing with retryable errors when the attempts ran out. */
  readonly exhausted: readonly FailedGroup[];
  /** Events that failed normalization. */
  readonly normalizationFailures: number;
}

/**
 * Processes one batch the way the Functions app does: normalize, group, save in chunks; a chunk with a group that
 * failed with a retryable error is saved again as a whole (the save activity throws and Durable retries it), up to
 * `maxChunkAttempts`; groups that failed for good are collected (the app dead-letters them).
 * @param events - the batch
 * @param deps - the worker's dependencies
 * @param maxChunkAttempts - attempts per chunk, the first included
 */
export async function runLikeFunctionsApp(
  events: readonly DeviceEvent[],
  deps: BatchDependencies,
  maxChunkAttempts = 25,
): Promise<DeliveryOutcome> {
  const report = await processBatch(events, deps);
  const permanent: FailedGroup[] = [];
  let failing = collect(report.save.failures, permanent);
  let chunkRetries = 0;
  const chunks = chunkGroups(report.groups, deps.chunkSize ?? 50);
  for (let attempt = 2; attempt <= maxChunkAttempts && failing.size > 0; attempt++) {
    const again = chunks.filter((chunk) => chunk.some((g) => failing.has(g)));
    const failures: FailedGroup[] = [];
    for (const chunk of again) {
      chunkRetries++;
      const r = await saveObservationGroups(chunk, {
        store: deps.store,
        mapping: deps.fhirMapping,
        identity: deps.identity,
        clock: deps.clock,
        ...(deps.cache === undefined ? {} : { cache: deps.cache }),
        ...(deps.maxAttempts === undefined ? {} : { maxAttempts: deps.maxAttempts }),
        ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
      });
      failures.push(...r.failures);
    }
    failing = collect(failures, permanent);
  }
  return {
    chunkRetries,
    permanent,
    exhausted: [...failing.values()],
    normalizationFailures: report.failures.length,
  };
}

function collect(failures: readonly FailedGroup[], permanent: FailedGroup[]): Map<MeasurementGroup, FailedGroup> {
  const retryable = new Map<MeasurementGroup, FailedGroup>();
  for (const f of failures) {
    if (f.error.retryable) {
      retryable.set(f.group, f);
    } else {
      permanent.push(f);
    }
  }
  return retryable;
}

/** A FHIR store's content, reduced to what must be equal between two runs of the same events. */
export interface FhirState {
  /** Observation content by identifier value, without `meta` and `status` (see below). */
  readonly observations: ReadonlyMap<string, unknown>;
  readonly patients: readonly string[];
  readonly devices: readonly string[];
  /** Identifier values carried by more than one resource, per type. */
  readonly duplicates: { readonly Observation: string[]; readonly Patient: string[]; readonly Device: string[] };
  /** Readings the store holds: SampledData slots that are not `E`, Quantity values and component values. */
  readonly readings: number;
}

/**
 * Reads a store's state. `meta` is the server's; `status` is `final` or `amended` depending on how many writes a
 * window took (a race repair is one more), so it is checked to be one of the two but not compared.
 * @param server - the embedded server
 */
export function fhirState(server: EmbeddedFhirServer): FhirState {
  const observations = new Map<string, unknown>();
  const duplicates = { Observation: [] as string[], Patient: [] as string[], Device: [] as string[] };
  let readings = 0;
  for (const o of server.repository.all('Observation')) {
    const key = identifierValue(o);
    if (observations.has(key)) {
      duplicates.Observation.push(key);
    }
    if (o.status !== 'final' && o.status !== 'amended') {
      throw new Error(`Observation ${key} has status ${o.status}`);
    }
    const content: Partial<Observation> = { ...o };
    delete content.meta;
    delete content.status;
    observations.set(key, content);
    readings += readingsOf(o);
  }
  const identifiersOf = (resources: (Patient | Device)[], into: string[]): string[] => {
    const seen = new Set<string>();
    for (const r of resources) {
      const key = identifierValue(r);
      if (seen.has(key)) {
        into.push(key);
      }
      seen.add(key);
    }
    return [...seen].sort();
  };
  return {
    observations,
    patients: identifiersOf(server.repository.all('Patient'), duplicates.Patient),
    devices: identifiersOf(server.repository.all('Device'), duplicates.Device),
    duplicates,
    readings,
  };
}

function identifierValue(resource: { identifier?: { value?: string }[] }): string {
  const values = (resource.identifier ?? []).map((i) => i.value ?? '');
  return values.join('|');
}

function readingsOf(o: Observation): number {
  const data = o.valueSampledData?.data;
  let n = data === undefined ? 0 : data.split(' ').filter((t) => t !== 'E').length;
  if (o.valueQuantity !== undefined) {
    n++;
  }
  n += (o.component ?? []).filter((c) => c.valueQuantity !== undefined).length;
  return n;
}

/**
 * The number of readings a scenario carries, counted as {@link fhirState} counts them.
 * @param readings - the scenario's readings
 */
export function readingCount(readings: readonly Reading[]): number {
  return readings.reduce((n, r) => n + r.values.length, 0);
}

/**
 * Checks a store against the scenario itself (not against another run): every heart-rate slot of every hour holds
 * its reading, every SpO2 and blood-pressure reading is its own Observation with its values. Returns the mismatches.
 * @param server - the embedded server
 * @param scenario - the events' readings
 */
export function oracleMismatches(server: EmbeddedFhirServer, scenario: Scenario): string[] {
  const devices = new Map(server.repository.all('Device').map((d) => [d.id, identifierValue(d)]));
  const hourly = new Map<string, Observation>();
  const single = new Map<string, Observation>();
  for (const o of server.repository.all('Observation')) {
    const device = devices.get(o.device?.reference?.replace('Device/', '')) ?? '?';
    const kind = o.code.text ?? '?';
    const start = o.effectivePeriod?.start ?? '?';
    (kind === 'heartrate' ? hourly : single).set(`${device}|${kind}|${start.slice(0, 19)}`, o);
  }
  const mismatches: string[] = [];
  const slots = new Map<string, string[]>();
  for (const r of scenario.readings) {
    if (r.kind === 'heartrate') {
      const hour = `${r.time.slice(0, 13)}:00:00`;
      const key = `${r.device}|heartrate|${hour}`;
      const data = slots.get(key) ?? Array.from({ length: 60 }, () => 'E');
      data[Number(r.time.slice(14, 16))] = r.values[0] as string;
      slots.set(key, data);
      continue;
    }
    const key = `${r.device}|${r.kind}|${r.time.slice(0, 19)}`;
    const o = single.get(key);
    const values =
      r.kind === 'oxygensaturation'
        ? [o?.valueQuantity?.value]
        : (o?.component ?? []).map((c) => c.valueQuantity?.value);
    if (JSON.stringify(values.map(String)) !== JSON.stringify(r.values)) {
      mismatches.push(`${key}: expected ${r.values.join('/')}, found ${values.join('/')}`);
    }
  }
  for (const [key, data] of slots) {
    const found = hourly.get(key)?.valueSampledData?.data;
    const expected = data.join(' ');
    if (found !== expected) {
      mismatches.push(`${key}: SampledData differs`);
    }
  }
  const expectedObservations = slots.size + scenario.readings.filter((r) => r.kind !== 'heartrate').length;
  if (hourly.size + single.size !== expectedObservations) {
    mismatches.push(`expected ${expectedObservations} Observations, found ${hourly.size + single.size}`);
  }
  return mismatches;
}
