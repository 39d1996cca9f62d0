/**
 * Runs hostile events through the whole pipeline (processBatch: normalize, group, save) between good events, settles
 * every failure in a dead-letter store the way the Functions app does, and checks what must hold whatever the input:
 * nothing thrown, every failure a catalogued error whose text carries no event content and names what failed, every
 * failed event stored byte-exact, every good reading saved, no prototype polluted.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryFhirStore } from '../../../src/adapters/fhir/memory-fhir-store';
import {
  createIdentityResolver,
  createNormalizer,
  createObservationCache,
  deserializeDeadLetterEvent,
  ErrorCode,
  eventDeadLetterEntry,
  groupDeadLetterEntry,
  loadDeviceMapping,
  loadFhirMapping,
  processBatch,
  type BatchReport,
  type DeviceEvent,
  type FhirMapping,
  type Normalizer,
  type PipelineErrorJson,
} from '../../../src/pipeline';
import { MemoryDeadLetterStore } from '../../helpers/memory-dead-letter-store';
import { FIXED_CLOCK } from './scenario';

const ROOT = path.resolve(__dirname, '../../..');

/** A string put into hostile content wherever it fits: it must never show up in an error. */
export const MARKER = 'MARKER-HOSTILE-7f3a';

/** The example device mapping's templates, to extend with hostile ones. */
export const EXAMPLE_DEVICE_TEMPLATES = (
  JSON.parse(readFileSync(path.join(ROOT, 'mappings/devicecontent.json'), 'utf8')) as { template: unknown[] }
).template;

/** The example FHIR mapping's templates. */
export const EXAMPLE_FHIR_TEMPLATES = (
  JSON.parse(readFileSync(path.join(ROOT, 'mappings/fhirmapping.json'), 'utf8')) as { template: unknown[] }
).template;

/** Loaded mappings, from template lists. */
export interface Mappings {
  readonly normalizer: Normalizer;
  readonly fhirMapping: FhirMapping;
}

/**
 * Loads a device and a FHIR mapping from template lists; throws with the issues when one does not load.
 * @param deviceTemplates - CollectionContent entries
 * @param fhirTemplates - CollectionFhir entries
 */
export function loadMappings(
  deviceTemplates: readonly unknown[] = EXAMPLE_DEVICE_TEMPLATES,
  fhirTemplates: readonly unknown[] = EXAMPLE_FHIR_TEMPLATES,
): Mappings {
  const device = loadDeviceMapping(JSON.stringify({ templateType: 'CollectionContent', template: deviceTemplates }));
  const fhir = loadFhirMapping(JSON.stringify({ templateType: 'CollectionFhir', template: fhirTemplates }));
  if (device.mapping === undefined || fhir.mapping === undefined) {
    throw new Error(`mappings do not load: ${JSON.stringify([...device.issues, ...fhir.issues].slice(0, 3))}`);
  }
  return { normalizer: createNormalizer(device.mapping, FIXED_CLOCK), fhirMapping: fhir.mapping };
}

const GOOD_DAY = '2031-05-05';

/**
 * The i-th good event: an SpO2 reading of device `good-dev` at minute i of a day no hostile event uses.
 * @param i - its number
 */
export function goodEvent(i: number): DeviceEvent {
  const time = new Date(Date.parse(`${GOOD_DAY}T00:00:00Z`) + i * 60_000).toISOString();
  return {
    body: Buffer.from(
      JSON.stringify({ deviceId: 'good-dev', patientId: 'good-pat', measurementTime: time, spo2: 90 + (i % 10) }),
    ),
    enqueuedTimeUtc: '2031-05-05T12:00:00.000Z',
  };
}

/** What became of one hostile event. */
export interface HostileOutcome {
  readonly event: DeviceEvent;
  /** Its normalization failure, if any. */
  readonly error?: PipelineErrorJson;
}

/** The result of {@link runHostile}. */
export interface HostileRun {
  readonly outcomes: HostileOutcome[];
  readonly report: BatchReport;
  readonly deadLetters: MemoryDeadLetterStore;
  readonly store: MemoryFhirStore;
  /** Every error of the run (events and groups), for checks across all of them. */
  readonly errors: readonly PipelineErrorJson[];
}

const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();
const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));
/** Codes of failures caused by one template's expressions and values: they must name the template and the field. */
const TEMPLATE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.RequiredValueMissing,
  ErrorCode.ExpressionMultipleTokens,
  ErrorCode.ExpressionFailed,
  ErrorCode.ExpressionLimitExceeded,
  ErrorCode.FunctionInvalidArgument,
  ErrorCode.FunctionDivideByZero,
  ErrorCode.FunctionOverflow,
  ErrorCode.FunctionArgumentOutOfRange,
  ErrorCode.InvalidQuantityValue,
  ErrorCode.InvalidStringValue,
  ErrorCode.MeasurementInvalid,
  ErrorCode.FhirTemplateInvalid,
]);

/**
 * Runs good event 0, hostile event 0, good event 1, hostile event 1, …, good event n through processBatch, dead-letters
 * the failures and checks the invariants (with jest's expect).
 * @param hostile - the hostile events
 * @param mappings - the mappings, default the examples
 */
export async function runHostile(
  hostile: readonly DeviceEvent[],
  mappings: Mappings = loadMappings(),
): Promise<HostileRun> {
  const batch: DeviceEvent[] = [];
  hostile.forEach((event, i) => batch.push(goodEvent(i), event));
  batch.push(goodEvent(hostile.length));

  const store = new MemoryFhirStore({ clock: FIXED_CLOCK });
  const clock = FIXED_CLOCK;
  const report = await processBatch(batch, {
    ...mappings,
    store,
    identity: createIdentityResolver({ store, mode: 'Create', clock }),
    clock,
    cache: createObservationCache({ clock }),
  });

  // Settle the failures as the Functions app does: events and groups into the dead-letter store.
  const deadLetters = new MemoryDeadLetterStore();
  const now = clock();
  const eventEntries = report.failures.map((f) =>
    eventDeadLetterEntry(f.event, f.error, { mappingVersion: 'v1', now }),
  );
  const groupEntries = report.save.failures.map((f) =>
    groupDeadLetterEntry(f.group, f.error, { mappingVersion: 'v1', now }),
  );
  await deadLetters.put([...eventEntries, ...groupEntries]);
  for (const [i, failure] of report.failures.entries()) {
    const stored = await deadLetters.get(eventEntries[i]?.id ?? '');
    expect(stored?.payload.kind).toBe('event');
    expectSameBody(deserializeDeadLetterEvent(stored as NonNullable<typeof stored>).body, failure.event.body);
  }

  const errors = [...report.failures.map((f) => f.error.toJSON()), ...report.save.failures.map((f) => f.error)];
  for (const error of errors) {
    expect({ code: error.code, catalogued: CODES.has(error.code) }).toEqual({ code: error.code, catalogued: true });
    expect(JSON.stringify(error)).not.toContain(MARKER);
    // INTERNAL means an unexpected exception: hostile input must meet a named error instead.
    expect({ code: error.code, message: error.message }).not.toEqual({
      code: ErrorCode.Internal,
      message: error.message,
    });
    if (TEMPLATE_CODES.has(error.code)) {
      expect({ code: error.code, template: typeof error.details.template }).toEqual({
        code: error.code,
        template: 'string',
      });
    }
  }

  // Every good reading was saved: the hostile event before or after it did not stop it.
  const good = new Map<string, number | undefined>();
  for (const o of store.all('Observation')) {
    if (o.code.text === 'oxygensaturation' && o.effectivePeriod?.start?.startsWith(GOOD_DAY) === true) {
      good.set(o.effectivePeriod.start.slice(0, 16), o.valueQuantity?.value);
    }
  }
  const expected = new Map<string, number>();
  for (let i = 0; i <= hostile.length; i++) {
    expected.set(new Date(Date.parse(`${GOOD_DAY}T00:00:00Z`) + i * 60_000).toISOString().slice(0, 16), 90 + (i % 10));
  }
  expect(good).toEqual(expected);

  // No prototype was polluted by keys such as __proto__ or constructor.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_KEYS);

  const failureOf = new Map(report.failures.map((f) => [f.index, f.error.toJSON()]));
  const outcomes = hostile.map((event, i): HostileOutcome => {
    const error = failureOf.get(2 * i + 1);
    return { event, ...(error === undefined ? {} : { error }) };
  });
  return { outcomes, report, deadLetters, store, errors };
}

/** The stored body gives back the original bytes (or, for an already-parsed body, the same JSON). */
function expectSameBody(replayed: DeviceEvent['body'], original: DeviceEvent['body']): void {
  const bytes = (body: DeviceEvent['body']): Buffer | undefined =>
    body instanceof Uint8Array ? Buffer.from(body) : typeof body === 'string' ? Buffer.from(body, 'utf8') : undefined;
  const a = bytes(replayed);
  const b = bytes(original);
  if (b === undefined) {
    // An already-parsed body comes back as its JSON text (as bytes when it was nested too deep to store as JSON).
    const parsed: unknown =
      typeof replayed === 'string' || replayed instanceof Uint8Array
        ? JSON.parse(Buffer.from(replayed).toString('utf8'))
        : replayed;
    expect(sameJson(parsed, original)).toBe(true);
  } else {
    expect(a?.equals(b)).toBe(true);
  }
}

/** Deep equality of JSON values without recursion (bodies may be nested 10,000 levels, beyond `toEqual`'s stack). */
function sameJson(a: unknown, b: unknown): boolean {
  const stack: [unknown, unknown][] = [[a, b]];
  for (let pair = stack.pop(); pair !== undefined; pair = stack.pop()) {
    const [x, y] = pair;
    if (typeof x !== 'object' || x === null || typeof y !== 'object' || y === null) {
      if (!(x === y || (typeof x === 'bigint' && String(x) === String(y)))) {
        return false;
      }
      continue;
    }
    const xs = Object.entries(x).filter(([, v]) => v !== undefined);
    const ys = Object.entries(y).filter(([, v]) => v !== undefined);
    if (Array.isArray(x) !== Array.isArray(y) || xs.length !== ys.length) {
      return false;
    }
    const other = new Map(ys);
    for (const [k, v] of xs) {
      if (!other.has(k)) {
        return false;
      }
      stack.push([v, other.get(k)]);
    }
  }
  return true;
}
