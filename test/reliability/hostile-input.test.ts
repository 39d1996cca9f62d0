/**
 * Hostile input: malformed, binary, empty, huge and deeply nested bodies, prototype-polluting keys, wrong types,
 * NaN/Infinity, impossible and extreme timestamps, odd Unicode, hostile properties — handwritten, then generated with
 * fast-check — and hostile mappings (runaway JSONata, huge JMESPath projections, exponential JSONPath scans,
 * catastrophic regular expressions, thousands of templates, SampledData windows of millions of slots).
 *
 * Every case runs through the whole pipeline between good events (support/hostile-harness.ts), which checks for each
 * run: nothing is thrown; every failure is a catalogued error that names its template and field and quotes no event
 * content; every failed event lands in the dead-letter store byte-exact; every good event after a hostile one is
 * saved; no prototype is polluted. Memory and time are bounded by construction — a case that exhausted either would
 * fail or time the suite out — and are asserted through outcomes, never durations.
 */
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { MAX_JSON_DEPTH } from '../../src/pipeline/convert/json-body';
import { ErrorCode, loadDeviceMapping, type DeviceEvent, type JsonValue } from '../../src/pipeline';
import { seededRandom } from '../helpers/fault-proxy';
import {
  EXAMPLE_DEVICE_TEMPLATES,
  EXAMPLE_FHIR_TEMPLATES,
  loadMappings,
  MARKER,
  runHostile,
  type HostileRun,
} from './support/hostile-harness';

/** What a case must end in: a specific code, some error, no error, or anything (the invariants still hold). */
type Expectation = ErrorCode | 'error' | 'no-error' | 'any';

interface HostileCase {
  readonly name: string;
  readonly event: DeviceEvent;
  readonly expect: Expectation;
}

const T = '2024-03-10T10:00:00Z';

const text = (body: string, extra: Partial<DeviceEvent> = {}): DeviceEvent => ({
  body: Buffer.from(body, 'utf8'),
  ...extra,
});
const bytes = (data: readonly number[] | Uint8Array): DeviceEvent => ({ body: Uint8Array.from(data) });
/** A direct-shape heart-rate message with fields replaced (values as JSON text). */
const reading = (fields: Record<string, string>): DeviceEvent => {
  const all: Record<string, string> = {
    deviceId: JSON.stringify(`dev-${MARKER}`),
    patientId: JSON.stringify(`pat-${MARKER}`),
    measurementTime: JSON.stringify(T),
    heartRate: '72',
    ...fields,
  };
  return text(
    `{${Object.entries(all)
      .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
      .join(',')}}`,
  );
};
const nested = (depth: number, open: string, close: string, inner = '1'): string =>
  open.repeat(depth) + inner + close.repeat(depth);
const deepObject = (depth: number): JsonValue => {
  let value: JsonValue = { heartRate: 1 };
  for (let i = 0; i < depth; i++) {
    value = { a: value };
  }
  return value;
};
const randomBytes = (length: number, seed: number): Uint8Array => {
  const random = seededRandom(seed);
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
};
const MIB = 1_048_576;

const malformed: HostileCase[] = [
  '{',
  '{"deviceId":',
  '[1,2',
  '{"a" 1}',
  '{"a":1 "b":2}',
  'tru',
  'nul',
  `"${MARKER}`,
  '{"a":"\\x"}',
  '{"a":"\\u12"}',
  '}',
  ']',
  '{]',
  '[}',
  ':',
  '{"a":-}',
  '{"a":1.2.3}',
  '/* a comment that never ends',
  '{"a": new Date(1)}',
  `{"${MARKER}":`,
  MARKER,
  '<xml>not json</xml>',
  '{"heartRate":72,"deviceId":"d","measurementTime":"2024-03-10T10:00:00Z"',
  "{'a':",
  '[,',
].map((body, i) => ({
  name: `malformed JSON #${i}: ${body.slice(0, 30)}`,
  event: text(body),
  expect: ErrorCode.BodyInvalidJson,
}));

const lenient: HostileCase[] = [
  ['trailing garbage after the first value (never read, as in Newtonsoft)', '{"a":1}}}'],
  ['comments and trailing commas', '{/*c*/"a":1,}'],
  ['single quotes and unquoted names', "{a:'b'}"],
  ['empty array slots', '[1,,2]'],
].map(([name, body]) => ({ name: `lenient JSON: ${name}`, event: text(body as string), expect: 'no-error' as const }));

const binary: HostileCase[] = [
  { name: 'random bytes (1)', event: bytes(randomBytes(1, 1)), expect: 'error' },
  { name: 'random bytes (7)', event: bytes(randomBytes(7, 2)), expect: 'error' },
  { name: 'random bytes (64)', event: bytes(randomBytes(64, 3)), expect: 'error' },
  { name: 'random bytes (1 KiB)', event: bytes(randomBytes(1024, 4)), expect: 'error' },
  { name: 'random bytes (100 KiB)', event: bytes(randomBytes(100 * 1024, 5)), expect: 'error' },
  { name: 'invalid UTF-8', event: bytes([0xff, 0xfe, 0xfd]), expect: 'error' },
  { name: 'truncated UTF-8 sequence', event: bytes([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3]), expect: 'error' },
  { name: 'overlong UTF-8 slash', event: bytes([0x22, 0xc0, 0xaf, 0x22]), expect: 'any' },
  { name: 'UTF-16LE BOM with garbage', event: bytes([0xff, 0xfe, 0x00, 0xd8, 0x41]), expect: 'error' },
  { name: 'gzip magic', event: bytes([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]), expect: 'error' },
  { name: 'PNG header', event: bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), expect: 'error' },
  { name: 'a NUL byte', event: bytes([0x00]), expect: 'error' },
  { name: 'UTF-16LE JSON with BOM', event: { body: Buffer.from('\ufeff{"a":1}', 'utf16le') }, expect: 'no-error' },
];

const empty: HostileCase[] = [
  { name: 'zero-length body', event: bytes([]), expect: 'no-error' },
  { name: 'null body', event: { body: null }, expect: 'no-error' },
  { name: 'white space only', event: text(' \n\t '), expect: 'any' },
  { name: 'UTF-8 BOM only', event: bytes([0xef, 0xbb, 0xbf]), expect: 'any' },
  { name: 'JSON null', event: text('null'), expect: 'no-error' },
  { name: 'JSON 0', event: text('0'), expect: 'no-error' },
  { name: 'JSON empty string', event: text('""'), expect: 'no-error' },
  { name: 'JSON empty array', event: text('[]'), expect: 'no-error' },
  { name: 'JSON empty object', event: text('{}'), expect: 'no-error' },
  { name: 'JSON true', event: text('true'), expect: 'no-error' },
];

const padded = (size: number): string => {
  const head = `{"deviceId":"big","patientId":"big-pat","measurementTime":"${T}","heartRate":72,"pad":"`;
  return head + 'x'.repeat(size - head.length - 2) + '"}';
};
const huge: HostileCase[] = [
  { name: 'exactly 1 MiB of valid JSON', event: text(padded(MIB)), expect: 'no-error' },
  { name: '1 MiB + 1 byte', event: text(padded(MIB + 1)), expect: ErrorCode.BodyTooLarge },
  { name: '1.5 MiB of JSON', event: text(padded(1.5 * MIB)), expect: ErrorCode.BodyTooLarge },
  { name: '5 MiB of random bytes', event: bytes(randomBytes(5 * MIB, 6)), expect: ErrorCode.BodyTooLarge },
  { name: '5 MiB body as a string', event: { body: padded(5 * MIB) }, expect: ErrorCode.BodyTooLarge },
  {
    name: '1 MiB array of 200,000 readings-to-be (scanned by every template)',
    event: text(`[${Array.from({ length: 200_000 }, (_, i) => i % 10).join(',')}]`),
    expect: 'no-error',
  },
];

const deep: HostileCase[] = [
  { name: '10,000 nested arrays', event: text(nested(10_000, '[', ']')), expect: ErrorCode.BodyInvalidJson },
  { name: '10,000 nested objects', event: text(nested(10_000, '{"a":', '}')), expect: ErrorCode.BodyInvalidJson },
  {
    name: '10,000 nested arrays without closing',
    event: text('['.repeat(10_000)),
    expect: ErrorCode.BodyInvalidJson,
  },
  { name: `${MAX_JSON_DEPTH} levels (allowed)`, event: text(nested(MAX_JSON_DEPTH - 1, '[', ']')), expect: 'no-error' },
  {
    name: `${MAX_JSON_DEPTH + 1} levels`,
    event: text(nested(MAX_JSON_DEPTH + 1, '[', ']')),
    expect: ErrorCode.BodyInvalidJson,
  },
  { name: 'an already-parsed body 10,000 levels deep', event: { body: deepObject(10_000) }, expect: 'any' },
  {
    name: 'application properties 10,000 levels deep',
    event: { ...reading({}), properties: { p: deepObject(10_000) } },
    expect: 'any',
  },
  {
    name: 'system properties 10,000 levels deep',
    event: { ...reading({}), systemProperties: { s: deepObject(10_000) } },
    expect: 'any',
  },
];

const prototypeKeys: HostileCase[] = [
  ['__proto__ object in the body', { __proto__: '{"polluted":"yes"}' }],
  ['constructor.prototype in the body', { constructor: '{"prototype":{"polluted":"yes"}}' }],
  ['__proto__ array in the body', { __proto__: '[1,2,3]' }],
  ['nested __proto__', { nested: '{"a":{"__proto__":{"polluted":"yes"}}}' }],
  ['__proto__ as the device id', { deviceId: '"__proto__"' }],
  ['constructor as the patient id', { patientId: '"constructor"' }],
  ['hasOwnProperty as the device id', { deviceId: '"hasOwnProperty"' }],
  ['toString as the heart rate key', { toString: '1' }],
  ['prototype as the patient id', { patientId: '"prototype"' }],
].map(([name, fields]) => ({
  name: `prototype keys: ${name as string}`,
  event: reading(fields as Record<string, string>),
  expect: 'any' as const,
}));
prototypeKeys.push(
  {
    name: 'prototype keys: __proto__ in application properties',
    event: { ...reading({}), properties: JSON.parse('{"__proto__":{"polluted":"yes"}}') as Record<string, unknown> },
    expect: 'no-error',
  },
  {
    name: 'prototype keys: constructor in system properties',
    event: {
      ...reading({}),
      systemProperties: JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}') as Record<string, unknown>,
    },
    expect: 'no-error',
  },
  {
    name: 'prototype keys: an already-parsed body with an own __proto__',
    event: {
      body: JSON.parse(
        `{"__proto__":{"polluted":"yes"},"deviceId":"p","patientId":"q","measurementTime":"${T}","heartRate":1}`,
      ) as JsonValue,
    },
    expect: 'no-error',
  },
);

const wrongTypes: HostileCase[] = (
  [
    ['heart rate is text', { heartRate: `"${MARKER}"` }, 'no-error'],
    ['heart rate is an object', { heartRate: `{"v":"${MARKER}"}` }, 'any'],
    ['heart rate is an array', { heartRate: '[1,2]' }, 'any'],
    ['heart rate is a boolean', { heartRate: 'true' }, 'no-error'],
    ['heart rate is null', { heartRate: 'null' }, 'any'],
    ['heart rate is text with spaces', { heartRate: '"1 2 3"' }, 'no-error'],
    ['heart rate is an empty string', { heartRate: '""' }, 'any'],
    ['device id is a number', { deviceId: '123' }, 'no-error'],
    ['device id is an object', { deviceId: `{"x":"${MARKER}"}` }, 'any'],
    ['device id is an array', { deviceId: '["a","b"]' }, 'any'],
    ['device id is null', { deviceId: 'null' }, ErrorCode.RequiredValueMissing],
    ['device id is blank', { deviceId: '"   "' }, ErrorCode.RequiredValueMissing],
    ['patient id is an array', { patientId: '[]' }, 'any'],
    ['patient id is null', { patientId: 'null' }, 'any'],
    ['time is a number', { measurementTime: '1710064800' }, 'any'],
    ['time is an object', { measurementTime: '{}' }, 'any'],
    ['time is a boolean', { measurementTime: 'false' }, 'any'],
    ['time is null', { measurementTime: 'null' }, ErrorCode.RequiredValueMissing],
  ] as const
).map(([name, fields, expect]) => ({
  name: `wrong types: ${name}`,
  event: reading(fields),
  expect: expect,
}));
wrongTypes.push(
  ...(
    [
      ['SpO2 is text', { spo2: `"${MARKER}"` }],
      ['SpO2 has an exponent', { spo2: '"1e5"' }],
      ['SpO2 is an object', { spo2: '{}' }],
      ['systolic is text', { systolic: '"high"', diastolic: '80' }],
      ['diastolic is an array', { systolic: '120', diastolic: '[80]' }],
      ['glucose is text (JMESPath multiply)', { glucoseMmolL: `"${MARKER}"` }],
      ['temperature is text (JSONata arithmetic)', { temperatureF: `"${MARKER}"` }],
      ['steps is negative', { steps: '-5' }],
    ] as const
  ).map(([name, fields], i) => {
    // Each at its own minute: readings of one device and type at the same instant are de-duplicated (§9.2).
    const time = `2024-03-10T11:${String(i).padStart(2, '0')}:00Z`;
    const event = text(
      `{"deviceId":"typed-dev","patientId":"typed-pat","measurementTime":"${time}",${Object.entries(fields)
        .map(([k, v]) => `"${k}":${v}`)
        .join(',')}}`,
    );
    return { name: `wrong types: ${name}`, event, expect: 'any' as const };
  }),
);

const numbers: HostileCase[] = (
  [
    ['NaN literal', 'NaN'],
    ['Infinity literal', 'Infinity'],
    ['-Infinity literal', '-Infinity'],
    ['1e400 (overflows a double)', '1e400'],
    ['1e-400 (underflows)', '1e-400'],
    ['a 30-digit integer', '123456789012345678901234567890'],
    ['a 400-digit integer', '9'.repeat(400)],
    ['negative zero', '-0'],
    ['hexadecimal', '0x1F'],
    ['octal', '017'],
    ['.5', '.5'],
  ] as const
).flatMap(([name, value]) => [
  { name: `numbers: heart rate ${name}`, event: reading({ heartRate: value }), expect: 'any' as const },
  {
    name: `numbers: SpO2 ${name}`,
    event: text(`{"deviceId":"num-dev","patientId":"num-pat","measurementTime":"${T}","spo2":${value}}`),
    expect: 'any' as const,
  },
]);

const timestamps: HostileCase[] = [
  ['year 0', '"0000-01-01T00:00:00Z"', ErrorCode.RequiredValueMissing],
  ['year 10000', '"10000-01-01T00:00:00Z"', ErrorCode.RequiredValueMissing],
  ['a leap second', '"2016-12-31T23:59:60Z"', 'any'],
  ['30 February', '"2024-02-30T10:00:00Z"', ErrorCode.RequiredValueMissing],
  ['month 13', '"2024-13-01T10:00:00Z"', ErrorCode.RequiredValueMissing],
  ['hour 25', '"2024-03-10T25:00:00Z"', ErrorCode.RequiredValueMissing],
  ['offset +25:00', '"2024-03-10T10:00:00+25:00"', 'any'],
  ['empty', '""', ErrorCode.RequiredValueMissing],
  ['blank', '"   "', ErrorCode.RequiredValueMissing],
  ['the first .NET instant', '"0001-01-01T00:00:00Z"', 'any'],
  ['the last .NET instant', '"9999-12-31T23:59:59.9999999Z"', 'any'],
  ['past the last .NET instant', '"9999-12-31T23:59:59.99999999Z"', 'any'],
  ['fifteen fractional digits', '"2024-03-10T10:00:00.123456789012345Z"', 'any'],
  ['trailing garbage', `"2024-03-10T10:00:00Z ${MARKER}"`, ErrorCode.RequiredValueMissing],
  ['NUL', '"\\u0000"', ErrorCode.RequiredValueMissing],
  ['RFC 1123', '"Sun, 10 Mar 2024 10:00:00 GMT"', 'any'],
  ['a date only', '"2024-03-10"', 'any'],
  ['a negative year', '"-2024-03-10T10:00:00Z"', ErrorCode.RequiredValueMissing],
  ['lower-case t and z', '"2024-03-10t10:00:00z"', 'any'],
  ['the Unix epoch as text', '"1710064800"', 'any'],
  ['a marker', `"${MARKER}"`, ErrorCode.RequiredValueMissing],
].map(([name, value, expect]) => ({
  name: `timestamps: ${name as string}`,
  event: reading({ measurementTime: value as string }),
  expect: expect as Expectation,
}));

const unicode: HostileCase[] = [
  ['an escaped lone high surrogate', '"dev-\\ud800"'],
  ['an escaped lone low surrogate', '"dev-\\udfff"'],
  ['right-to-left override', '"dev-\u202e-evil"'],
  ['an escaped NUL', '"dev-\\u0000-x"'],
  ['an emoji', '"dev-🫀"'],
  ['a combining accent', '"dev-e\u0301"'],
  ['zero-width joiner and space', '"dev-\u200d\u200b"'],
  ['a BOM inside', '"dev-\ufeff"'],
  ['100,000 characters', `"${'d'.repeat(100_000)}"`],
  ['FHIR search delimiters', '"dev|a,b$c\\\\d"'],
  ['a reference path', '"../Patient/x?_id=1"'],
  ['line breaks', '"dev\\r\\nX-Injected: 1"'],
  ['a single dot', '"."'],
  ['Arabic-Indic digits', '"٣٤٥"'],
].map(([name, value]) => ({
  name: `unicode device ids: ${name}`,
  event: reading({ deviceId: value as string }),
  expect: 'any' as const,
}));
unicode.push({
  name: 'unicode: a raw lone surrogate in a string body',
  event: { body: `{"deviceId":"dev-\ud800","patientId":"p","measurementTime":"${T}","heartRate":1}` },
  expect: 'any',
});

const hostileProperties: HostileCase[] = [
  {
    name: 'properties: bytes, dates and big integers',
    event: {
      ...reading({}),
      properties: { b: new Uint8Array([0, 255]), d: new Date(0), n: 12345678901234567890n, u: undefined },
    },
    expect: 'no-error',
  },
  {
    name: 'system properties: a forged enqueued time',
    event: { ...reading({}), systemProperties: { 'iothub-enqueuedtime': MARKER } },
    expect: 'no-error',
  },
  {
    name: 'IoT Hub shape with a marker device',
    event: {
      body: Buffer.from(`{"HeartRate":"${MARKER}","PatientId":"${MARKER}"}`),
      properties: { 'iothub-creation-time-utc': T },
      systemProperties: { 'iothub-connection-device-id': MARKER, 'iothub-enqueuedtime': T },
    },
    expect: 'any',
  },
  {
    name: 'IoT Hub shape without the device id',
    event: { body: Buffer.from('{"HeartRate":70,"PatientId":"p"}'), properties: { 'iothub-creation-time-utc': T } },
    expect: 'error',
  },
  { name: 'an enqueued time that is not a time', event: { ...reading({}), enqueuedTimeUtc: MARKER }, expect: 'any' },
];

const categories: [string, HostileCase[]][] = [
  ['malformed JSON', malformed],
  ['lenient JSON Newtonsoft reads', lenient],
  ['binary', binary],
  ['empty', empty],
  ['huge (> 1 MiB)', huge],
  ['deep nesting', deep],
  ['__proto__ / constructor keys', prototypeKeys],
  ['wrong types', wrongTypes],
  ['NaN, Infinity, extreme numbers', numbers],
  ['invalid and extreme timestamps', timestamps],
  ['odd Unicode', unicode],
  ['hostile properties', hostileProperties],
];
const handwritten: HostileCase[] = categories.flatMap(([, cases]) => cases);

/** Counts items by a key. */
function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  }
  return counts;
}

/** Writes figures for docs/reliability.md when RELIABILITY_REPORT_DIR is set. */
function report(name: string, figures: unknown): void {
  const dir = process.env.RELIABILITY_REPORT_DIR;
  if (dir !== undefined) {
    writeFileSync(`${dir}/${name}.json`, JSON.stringify(figures, null, 2));
  }
}

function expectOutcome(c: HostileCase, run: HostileRun, index: number): void {
  const error = run.outcomes[index]?.error;
  const got = { case: c.name, code: error?.code };
  if (c.expect === 'any') {
    return;
  }
  const wanted = c.expect === 'error' ? expect.any(String) : c.expect === 'no-error' ? undefined : c.expect;
  expect(got).toEqual({ case: c.name, code: wanted });
}

describe('hostile events (handwritten)', () => {
  it(`there are at least 150 of them`, () => {
    expect(handwritten.length).toBeGreaterThanOrEqual(150);
  });

  it('each ends as expected, the good events around it are saved, failures are dead-lettered byte-exact', async () => {
    const run = await runHostile(handwritten.map((c) => c.event));
    handwritten.forEach((c, i) => {
      expectOutcome(c, run, i);
    });
    report('hostile-handwritten', {
      cases: handwritten.length,
      byCategory: Object.fromEntries(categories.map(([name, cases]) => [name, cases.length])),
      failedEvents: countBy(run.report.failures, (f) => f.error.code),
      failedWindows: countBy(run.report.save.failures, (f) => f.error.code),
      goodEventsSaved: handwritten.length + 1,
    });
    // Failures name what failed: the template and field, or (for unreadable bodies) nothing but the position.
    const failedEvents = run.outcomes.filter((o) => o.error !== undefined).length;
    expect((await run.deadLetters.list({ limit: 1000, stage: 'Normalization' })).length).toBe(failedEvents);
  }, 120_000);

  it('a SampledData reading with white space fails its window instead of shifting every later slot', async () => {
    const run = await runHostile([reading({ heartRate: '"1 2 3"' }), reading({ heartRate: '""' })]);
    expect(run.report.save.failures.map((f) => [f.error.code, f.error.details.field])).toEqual([
      [ErrorCode.MeasurementInvalid, 'hr'],
    ]);
  });

  it('a heart-rate reading at the last instant of time fails its window with a clear error, not an internal one', async () => {
    const run = await runHostile([reading({ measurementTime: '"9999-12-31T23:59:59.9999999Z"' })]);
    expect(
      run.report.save.failures.map((f) => [f.error.code, f.error.details.template, f.error.details.field]),
    ).toEqual([[ErrorCode.MeasurementInvalid, 'heartrate', 'hr']]);
  });

  it('the invalid Quantity values of the example mapping fail only their own window', async () => {
    const run = await runHostile(
      wrongTypes.filter((c) => c.name.includes('SpO2') || c.name.includes('systolic')).map((c) => c.event),
    );
    const codes = run.report.save.failures.map((f) => f.error.code);
    expect(codes.length).toBeGreaterThanOrEqual(3);
    expect(new Set(codes)).toEqual(new Set([ErrorCode.InvalidQuantityValue]));
    expect((await run.deadLetters.list({ stage: 'FHIRConversion' })).length).toBe(codes.length);
  });
});

const FC_SEED = Number(process.env.FC_SEED ?? 20240310);
const RUNS = 60;

/** Events of the direct shape with generated fields, as JSON text. */
const directMessage = fc
  .record({
    deviceId: fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.integer(), fc.constant(null)),
    patientId: fc.oneof(fc.string(), fc.constant(MARKER)),
    measurementTime: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string(),
      fc.integer(),
      fc.constant('2016-12-31T23:59:60Z'),
    ),
    heartRate: fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null), fc.boolean()),
  })
  .map((r) => JSON.stringify(r));

/** A string with lone surrogates, RTL and NUL characters mixed into ordinary text. */
const oddUnicode = fc.string({
  unit: fc.oneof(
    fc.constantFrom('\ud800', '\udfff', '\u202e', '\u0000', '\ufeff', '\u200b', 'a', '🫀', 'é'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 40,
});

describe('hostile events (generated with fast-check)', () => {
  const properties: [string, fc.Arbitrary<DeviceEvent>][] = [
    ['arbitrary bytes', fc.uint8Array({ maxLength: 4096 }).map((b) => ({ body: b }))],
    ['arbitrary JSON text', fc.json({ maxDepth: 6 }).map((t) => text(t))],
    ['arbitrary JSON values, already parsed', fc.jsonValue({ maxDepth: 6 }).map((v) => ({ body: v as JsonValue }))],
    ['direct-shape messages with generated fields', directMessage.map((t) => text(t))],
    [
      'odd Unicode in ids and times',
      fc.tuple(oddUnicode, oddUnicode).map(([id, time]) => ({
        body: JSON.stringify({ deviceId: id, patientId: id, measurementTime: time, heartRate: 1 }),
      })),
    ],
    [
      'truncated and corrupted good messages',
      fc.tuple(fc.nat(200), fc.nat(255), fc.nat(120)).map(([cut, byte, at]) => {
        const good = Buffer.from(`{"deviceId":"d","patientId":"p","measurementTime":"${T}","heartRate":72}`);
        const body = Buffer.from(good.subarray(0, Math.max(0, good.length - cut)));
        if (at < body.length) {
          body[at] = byte;
        }
        return { body };
      }),
    ],
  ];

  it.each(properties)(
    '%s: never throw, never pollute, never stop the good events',
    async (_, arbitrary) => {
      const mappings = loadMappings();
      await fc.assert(
        fc.asyncProperty(fc.array(arbitrary, { minLength: 1, maxLength: 3 }), async (events) => {
          await runHostile(events, mappings);
        }),
        { numRuns: RUNS, seed: FC_SEED },
      );
    },
    120_000,
  );
});

/** A CalculatedContent template for a hostile-mapping case; only events with `hostile` match it. */
function hostileTemplate(typeName: string, over: Record<string, unknown>): unknown {
  return {
    templateType: 'CalculatedContent',
    template: {
      typeName,
      typeMatchExpression: '$..[?(@hostile)]',
      deviceIdExpression: '$.matchedToken.deviceId',
      patientIdExpression: '$.matchedToken.patientId',
      timestampExpression: '$.matchedToken.measurementTime',
      values: [{ valueName: 'v', valueExpression: '$.matchedToken.v', required: true }],
      ...over,
    },
  };
}

/** A FHIR template for a hostile-mapping type. */
function fhirTemplate(typeName: string, periodInterval: number, value: Record<string, unknown>): unknown {
  return {
    templateType: 'CodeValueFhir',
    template: { typeName, periodInterval, codes: [], value: { valueName: 'v', ...value } },
  };
}

const hostileMessage = (extra: Record<string, unknown> = {}): DeviceEvent =>
  text(JSON.stringify({ hostile: 1, deviceId: 'hm-dev', patientId: 'hm-pat', measurementTime: T, v: 1, ...extra }));

let chain: JsonValue = { hostile: 1, deviceId: 'd', patientId: 'p', measurementTime: T, v: 1 };
for (let i = 0; i < 60; i++) {
  chain = { a: chain, b: [1, 2], c: 'x' };
}
const wideItems = {
  hostile: 1,
  items: Array.from({ length: 2000 }, () => ({ x: Array.from({ length: 100 }, () => 1) })),
};

interface MappingCase {
  readonly name: string;
  readonly device?: unknown;
  readonly fhir?: unknown;
  readonly events: DeviceEvent[];
  readonly stage: 'Normalization' | 'FHIRConversion';
  readonly code: ErrorCode;
}

const mappingCases: MappingCase[] = [
  {
    name: 'JSONata recursion without end (call depth)',
    device: hostileTemplate('jsonata_recursion', {
      values: [
        {
          valueName: 'v',
          valueExpression: { value: '( $f := function($x){ $f($x) + 1 }; $f(1) )', language: 'JsonAta' },
          required: true,
        },
      ],
    }),
    events: [hostileMessage()],
    stage: 'Normalization',
    code: ErrorCode.ExpressionLimitExceeded,
  },
  {
    name: 'JSONata tail-recursive loop (evaluation timeout)',
    device: hostileTemplate('jsonata_loop', {
      values: [
        {
          valueName: 'v',
          valueExpression: {
            value: '( $f := function($n){ $n > 0 ? $f($n - 1) : 0 }; $f(1e12) )',
            language: 'JsonAta',
          },
          required: true,
        },
      ],
    }),
    events: [hostileMessage()],
    stage: 'Normalization',
    code: ErrorCode.ExpressionLimitExceeded,
  },
  {
    name: 'JSONata range of ten million (sequence limit)',
    device: hostileTemplate('jsonata_range', {
      values: [
        { valueName: 'v', valueExpression: { value: '$count([1..10000000])', language: 'JsonAta' }, required: true },
      ],
    }),
    events: [hostileMessage()],
    stage: 'Normalization',
    code: ErrorCode.ExpressionLimitExceeded,
  },
  {
    name: 'JSONata building a 300-million-character device id',
    device: hostileTemplate('jsonata_pad', {
      deviceIdExpression: { value: '$pad("d", 300000000)', language: 'JsonAta' },
    }),
    events: [hostileMessage()],
    stage: 'Normalization',
    code: ErrorCode.ExpressionLimitExceeded,
  },
  {
    name: 'JMESPath projection of 200,000 matches',
    device: hostileTemplate('jmespath_projection', {
      typeMatchExpression: { value: 'Body.items[].x[]', language: 'JmesPath' },
    }),
    events: [text(JSON.stringify(wideItems))],
    stage: 'Normalization',
    code: ErrorCode.ExpressionLimitExceeded,
  },
  {
    name: 'JSONPath projection of 200,000 matches',
    device: hostileTemplate('jsonpath_projection', { typeMatchExpression: '$.Body.items[*].x[*]' }),
    events: [text(JSON.stringify(wideItems))],
    stage: 'Normalization',
    code: ErrorCode.ExpressionLimitExceeded,
  },
  {
    name: 'JSONPath chained scans over a deep body (exponential matches)',
    device: hostileTemplate('jsonpath_scans', { typeMatchExpression: '$.Body.a..*..*..*..*..*..*..*..*' }),
    events: [text(JSON.stringify(chain))],
    stage: 'Normalization',
    code: ErrorCode.ExpressionLimitExceeded,
  },
  {
    name: 'JSONPath chained scans that select nothing (exponential visits)',
    device: hostileTemplate('jsonpath_visits', { typeMatchExpression: '$.Body.a..*..*..*..*..*..*..*..*.nothing' }),
    events: [text(JSON.stringify(chain))],
    stage: 'Normalization',
    code: ErrorCode.ExpressionLimitExceeded,
  },
  {
    name: 'JMESPath pow overflow',
    device: hostileTemplate('jmespath_pow', {
      values: [
        { valueName: 'v', valueExpression: { value: 'pow(`10`, `400`)', language: 'JmesPath' }, required: true },
      ],
    }),
    events: [hostileMessage()],
    stage: 'Normalization',
    code: ErrorCode.FunctionOverflow,
  },
  {
    name: 'JMESPath divide by zero',
    device: hostileTemplate('jmespath_divide', {
      values: [
        {
          valueName: 'v',
          valueExpression: { value: 'divide(matchedToken.v, `0`)', language: 'JmesPath' },
          required: true,
        },
      ],
    }),
    events: [hostileMessage()],
    stage: 'Normalization',
    code: ErrorCode.FunctionDivideByZero,
  },
  {
    name: 'SampledData with defaultPeriod 1 ms in a daily window (86.4 million slots)',
    device: hostileTemplate('sampled_daily_1ms', {}),
    fhir: fhirTemplate('sampled_daily_1ms', 1440, { valueType: 'SampledData', defaultPeriod: 1 }),
    events: [hostileMessage()],
    stage: 'FHIRConversion',
    code: ErrorCode.FhirTemplateInvalid,
  },
  {
    name: 'SampledData with defaultPeriod 0.001 ms in an hourly window',
    device: hostileTemplate('sampled_hourly_fraction', {}),
    fhir: fhirTemplate('sampled_hourly_fraction', 60, { valueType: 'SampledData', defaultPeriod: 0.001 }),
    events: [hostileMessage()],
    stage: 'FHIRConversion',
    code: ErrorCode.FhirTemplateInvalid,
  },
  {
    name: 'SampledData in a correlation window twenty years long',
    device: hostileTemplate('sampled_correlation', { correlationIdExpression: '$.matchedToken.session' }),
    fhir: fhirTemplate('sampled_correlation', -1, { valueType: 'SampledData', defaultPeriod: 1000 }),
    events: [
      hostileMessage({ session: 's1' }),
      hostileMessage({ session: 's1', measurementTime: '2004-03-10T10:00:00Z' }),
    ],
    stage: 'FHIRConversion',
    code: ErrorCode.FhirTemplateInvalid,
  },
];

describe('hostile mappings', () => {
  it.each(mappingCases.map((c) => [c.name, c] as const))(
    '%s: a clear error for the matching events only',
    async (_, c) => {
      const mappings = loadMappings(
        [...EXAMPLE_DEVICE_TEMPLATES, c.device],
        c.fhir === undefined ? EXAMPLE_FHIR_TEMPLATES : [...EXAMPLE_FHIR_TEMPLATES, c.fhir],
      );
      const run = await runHostile(c.events, mappings);
      const typeName = (c.device as { template: { typeName: string } }).template.typeName;
      const failures =
        c.stage === 'Normalization'
          ? run.report.failures.map((f) => f.error.toJSON())
          : run.report.save.failures.map((f) => f.error);
      expect(failures.length).toBeGreaterThan(0);
      for (const error of failures) {
        expect({ code: error.code, template: error.details.template }).toEqual({ code: c.code, template: typeName });
      }
      expect((await run.deadLetters.list({ stage: c.stage })).length).toBe(failures.length);
    },
    60_000,
  );

  it('3,000 templates that match nothing: the mapping loads and the good events are saved', async () => {
    const many = Array.from({ length: 3000 }, (_, i) =>
      hostileTemplate(`never_${i}`, { typeMatchExpression: `$..[?(@never${i})]` }),
    );
    const run = await runHostile(
      [hostileMessage({ hostile: undefined })],
      loadMappings([...many, ...EXAMPLE_DEVICE_TEMPLATES]),
    );
    expect(run.errors).toEqual([]);
  }, 60_000);

  it.each([
    ['JSONPath =~ with a nested quantifier', { typeMatchExpression: '$..[?(@.deviceId =~ /^(a+)+$/)]' }],
    ['JSONPath =~ with (\\w*)*', { typeMatchExpression: '$..[?(@.deviceId =~ /(\\w*)*x/i)]' }],
    [
      'JSONata $match with a nested quantifier',
      { deviceIdExpression: { value: '$match(matchedToken.deviceId, /^(a+)+$/).match', language: 'JsonAta' } },
    ],
    [
      'JSONata $replace with a repeated group of repeats',
      { deviceIdExpression: { value: '$replace(matchedToken.deviceId, /(x+y?){2,}/, "")', language: 'JsonAta' } },
    ],
  ])('%s (catastrophic backtracking) is refused when the mapping loads', (_, over) => {
    const result = loadDeviceMapping(
      JSON.stringify({ templateType: 'CollectionContent', template: [hostileTemplate('redos', over)] }),
    );
    expect(result.mapping).toBeUndefined();
    expect(result.issues.map((i) => [i.code, i.message.includes('repeats a group that itself repeats')])).toEqual([
      [ErrorCode.TemplateExpressionInvalid, true],
    ]);
  });

  it('a safe regular expression still loads and matches', async () => {
    const mappings = loadMappings(
      [
        ...EXAMPLE_DEVICE_TEMPLATES,
        hostileTemplate('regex_ok', { typeMatchExpression: '$..[?(@.deviceId =~ /^hm-[a-z]+$/)]' }),
      ],
      [...EXAMPLE_FHIR_TEMPLATES, fhirTemplate('regex_ok', 0, { valueType: 'Quantity' })],
    );
    const run = await runHostile([hostileMessage()], mappings);
    expect(run.errors).toEqual([]);
    expect(run.store.all('Observation').filter((o) => o.code.text === 'regex_ok')).toHaveLength(1);
  });
});
