import {
  type DeadLetterEntry,
  deadLetterIdDay,
  deadLetterLimit,
  deserializeDeadLetterEvent,
  eventDeadLetterEntry,
  eventDeadLetterId,
  groupDeadLetterEntry,
  groupDeadLetterId,
  matchesDeadLetterFilter,
  orderAndLimitDeadLetters,
  serializeDeadLetterEvent,
  summarizeDeadLetter,
} from '../../src/pipeline/dead-letter';
import { ErrorCode, PipelineError } from '../../src/pipeline/errors';
import type { DeviceEvent } from '../../src/pipeline/model/device-event';

const NOW = Date.parse('2026-11-28T10:00:00.000Z');
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('serializeDeadLetterEvent', () => {
  it.each<[string, DeviceEvent['body'], 'json' | 'base64']>([
    ['compact JSON bytes', utf8('{"heartRate":78,"deviceId":"d1"}'), 'json'],
    ['a compact JSON string', '{"a":[1,2.5,"x"]}', 'json'],
    ['pretty-printed JSON', utf8('{ "a": 1 }'), 'base64'],
    ['JSON with escapes that would be rewritten', utf8('{"a":"\\u00e9"}'), 'base64'],
    ['an integer beyond 2^53', utf8('{"v":9007199254740993}'), 'base64'],
    ['a number written 1.0', utf8('{"v":1.0}'), 'base64'],
    ['a UTF-8 BOM before JSON', Uint8Array.from([0xef, 0xbb, 0xbf, ...utf8('{"a":1}')]), 'base64'],
    ['bytes that are not UTF-8', Uint8Array.from([0xff, 0xfe, 0x00, 0x41]), 'base64'],
    ['text that is not JSON', utf8('hr=78;spo2=97'), 'base64'],
    ['JSON followed by trailing bytes', utf8('{"a":1}xyz'), 'base64'],
    ['zero bytes', new Uint8Array(0), 'base64'],
    ['an already-parsed object', { a: 1, b: [true, null] }, 'json'],
    ['an already-parsed object with a bigint', { v: 12345678901234567890n }, 'base64'],
    ['null', null, 'json'],
  ])('%s is kept as %s and replays byte-exact', (_name, body, form) => {
    const stored = serializeDeadLetterEvent({ body });
    expect(form === 'json' ? 'bodyJson' in stored : 'bodyBase64' in stored).toBe(true);
    expect('bodyJson' in stored && 'bodyBase64' in stored).toBe(false);
    const replayed = deserializeDeadLetterEvent(entryOf(stored)).body;
    expect(bytesOf(replayed)).toEqual(expectedBytes(body));
  });

  it('writes a bigint body with all its digits', () => {
    const stored = serializeDeadLetterEvent({ body: { v: 12345678901234567890n, w: [1n] } });
    expect(Buffer.from(stored.bodyBase64!, 'base64').toString()).toBe('{"v":12345678901234567890,"w":[1]}');
  });

  it('keeps a 1 MB random body byte-exact', () => {
    const body = Uint8Array.from({ length: 1_000_000 }, (_, i) => (i * 7919 + 13) % 256);
    const replayed = deserializeDeadLetterEvent(entryOf(serializeDeadLetterEvent({ body }))).body;
    expect(Buffer.compare(Buffer.from(bytesOf(replayed)), Buffer.from(body))).toBe(0);
  });

  it('makes property values JSON-safe', () => {
    const stored = serializeDeadLetterEvent({
      body: null,
      properties: {
        when: new Date('2026-11-28T08:00:00.000Z'),
        raw: Uint8Array.from([1, 2, 3]),
        big: 2n ** 64n,
        small: 5n,
        nan: Number.NaN,
        nested: { a: [undefined, 1], skip: undefined, fn: () => 1 },
      },
      systemProperties: { 'iothub-connection-device-id': 'dev-1', 'x-opt-sequence-number': 42 },
      enqueuedTimeUtc: '2026-11-28T08:00:01.000Z',
    });
    expect(stored).toEqual({
      bodyJson: null,
      properties: {
        when: '2026-11-28T08:00:00.000Z',
        raw: 'AQID',
        big: '18446744073709551616',
        small: 5,
        nan: 'NaN',
        nested: { a: [null, 1] },
      },
      systemProperties: { 'iothub-connection-device-id': 'dev-1', 'x-opt-sequence-number': 42 },
      enqueuedTimeUtc: '2026-11-28T08:00:01.000Z',
    });
    expect(JSON.parse(JSON.stringify(stored))).toEqual(stored);
  });
});

describe('dead-letter ids', () => {
  it.each<[string, DeviceEvent, string]>([
    [
      'partition and sequence number',
      { body: null, partitionId: '3', sequenceNumber: 1234, enqueuedTimeUtc: '2026-11-27T23:59:59.999Z' },
      'evt-20261127-3-1234',
    ],
    [
      'an offset enqueued time (UTC day)',
      { body: null, partitionId: '0', sequenceNumber: 1, enqueuedTimeUtc: '2026-11-27T20:00:00-07:00' },
      'evt-20261128-0-1',
    ],
    [
      'a zone-less enqueued time (read as UTC)',
      { body: null, partitionId: '0', sequenceNumber: 1, enqueuedTimeUtc: '2026-11-27T23:30:00.1234567' },
      'evt-20261127-0-1',
    ],
    ['no enqueued time (the clock)', { body: null, partitionId: '0', sequenceNumber: 7 }, 'evt-20261128-0-7'],
  ])('%s', (_name, event, id) => {
    expect(eventDeadLetterId(event, NOW)).toBe(id);
  });

  it('hashes a partition id that is not plain', () => {
    expect(eventDeadLetterId({ body: null, partitionId: 'a/b#c', sequenceNumber: 1 }, NOW)).toMatch(
      /^evt-20261128-h[0-9a-f]{16}-1$/,
    );
  });

  it('hashes the content of an event without partition and sequence number, deterministically', () => {
    const event: DeviceEvent = {
      body: utf8('{"a":1}'),
      properties: { p: 'x' },
      enqueuedTimeUtc: '2026-11-01T00:00:00Z',
    };
    const id = eventDeadLetterId(event, NOW);
    expect(id).toMatch(/^evt-20261101-h[0-9a-f]{32}$/);
    expect(eventDeadLetterId({ ...event }, NOW + 86_400_000)).toBe(id);
    expect(eventDeadLetterId({ ...event, properties: { p: 'y' } }, NOW)).not.toBe(id);
  });

  it('derives group ids from key and window', () => {
    const window = { start: '2026-11-28T08:00:00.0000000Z', end: '2026-11-28T08:59:59.9999999Z' };
    const id = groupDeadLetterId('d1-HeartRate-p1--', window, NOW);
    expect(id).toMatch(/^grp-20261128-[0-9a-f]{32}$/);
    expect(groupDeadLetterId('d1-HeartRate-p1--', { ...window }, NOW + 5 * 86_400_000)).toBe(id);
    expect(groupDeadLetterId('d1-HeartRate-p1--', { ...window, start: '2026-11-28T09:00:00.0000000Z' }, NOW)).not.toBe(
      id,
    );
    expect(groupDeadLetterId('d2-HeartRate-p1--', window, NOW)).not.toBe(id);
    expect(groupDeadLetterId('d1-HeartRate-p1--', null, NOW)).toMatch(/^grp-20261128-/);
  });

  it.each([
    ['evt-20261128-0-1', '20261128'],
    ['grp-20250101-abc', '20250101'],
    ['evt-2026-0-1', undefined],
    ['something-else', undefined],
  ])('deadLetterIdDay(%s) = %s', (id, day) => {
    expect(deadLetterIdDay(id)).toBe(day);
  });
});

describe('entry builders', () => {
  const error = new PipelineError(ErrorCode.RequiredValueMissing, 'DeviceIdExpression matched nothing', {
    details: { template: 'HeartRate', field: 'DeviceIdExpression', when: new Date(0) },
  });

  it('builds an event entry in the Normalization stage', () => {
    const event: DeviceEvent = {
      body: utf8('{"hr":1}'),
      partitionId: '2',
      sequenceNumber: 99,
      enqueuedTimeUtc: '2026-11-28T09:00:00.000Z',
    };
    const entry = eventDeadLetterEntry(event, error, { mappingVersion: '"0x8D"', now: NOW, attempts: 3 });
    expect(entry).toEqual({
      id: 'evt-20261128-2-99',
      stage: 'Normalization',
      error: {
        ...error.toJSON(),
        details: { template: 'HeartRate', field: 'DeviceIdExpression', when: '1970-01-01T00:00:00.000Z' },
      },
      partitionId: '2',
      sequenceNumber: 99,
      enqueuedTimeUtc: '2026-11-28T09:00:00.000Z',
      mappingVersion: '"0x8D"',
      createdAt: '2026-11-28T10:00:00.000Z',
      attempts: 3,
      payload: {
        kind: 'event',
        event: {
          bodyJson: { hr: 1 },
          properties: {},
          systemProperties: {},
          enqueuedTimeUtc: '2026-11-28T09:00:00.000Z',
        },
      },
    });
  });

  it('builds a group entry in the FHIRConversion stage', () => {
    const group = {
      key: 'k',
      window: { start: '2026-11-28T08:00:00.0000000Z', end: '2026-11-28T08:59:59.9999999Z' },
      measurements: [],
    };
    const entry = groupDeadLetterEntry(group, error.toJSON(), { mappingVersion: 'v1', now: NOW });
    expect(entry).toMatchObject({ stage: 'FHIRConversion', attempts: 1, payload: { kind: 'group', group } });
    expect(entry.id).toBe(groupDeadLetterId('k', group.window, NOW));
    expect(() => deserializeDeadLetterEvent(entry)).toThrow(TypeError);
  });
});

describe('filtering and ordering', () => {
  const base = entryOf(serializeDeadLetterEvent({ body: null }));
  const entries: DeadLetterEntry[] = [
    { ...base, id: 'evt-20261128-0-1', createdAt: '2026-11-28T10:00:00.000Z' },
    { ...base, id: 'evt-20261128-0-2', createdAt: '2026-11-28T11:00:00.000Z' },
    { ...base, id: 'evt-20261128-0-3', createdAt: '2026-11-28T11:00:00.000Z', stage: 'FHIRConversion' },
    {
      ...base,
      id: 'evt-20261128-0-4',
      createdAt: '2026-11-28T09:00:00.000Z',
      error: new PipelineError(ErrorCode.FhirResourceInvalid, 'x').toJSON(),
    },
  ];

  it.each<[string, Parameters<typeof matchesDeadLetterFilter>[1], string[]]>([
    ['no conditions', {}, ['1', '2', '3', '4']],
    ['stage', { stage: 'FHIRConversion' }, ['3']],
    ['since (inclusive)', { since: '2026-11-28T10:00:00Z' }, ['1', '2', '3']],
    ['error code', { errorType: 'FHIR_RESOURCE_INVALID' }, ['4']],
    ['MedTech error type', { errorType: 'FhirResourceValidationException' }, ['4']],
    [
      'all conditions',
      { stage: 'Normalization', since: '2026-11-28T10:30:00Z', errorType: 'REQUIRED_VALUE_MISSING' },
      ['2'],
    ],
  ])('matches on %s', (_name, filter, ids) => {
    expect(entries.filter((e) => matchesDeadLetterFilter(e, filter)).map((e) => e.id.slice(-1))).toEqual(ids);
  });

  it('orders newest first, then by id, and applies the limit', () => {
    const ordered = orderAndLimitDeadLetters(entries.map(summarizeDeadLetter), { limit: 3 });
    expect(ordered.map((e) => e.id.slice(-1))).toEqual(['2', '3', '1']);
    expect(ordered[0]).not.toHaveProperty('payload');
    expect(ordered[0]).toHaveProperty('payloadKind', 'event');
  });

  it.each([
    [undefined, 100],
    [0, 1],
    [5.7, 5],
    [10_000, 1000],
    [Number.NaN, 100],
  ])('limit %s is taken as %s', (limit, effective) => {
    expect(deadLetterLimit(limit === undefined ? {} : { limit })).toBe(effective);
  });
});

function entryOf(event: ReturnType<typeof serializeDeadLetterEvent>): DeadLetterEntry {
  return {
    id: 'evt-20261128-0-1',
    stage: 'Normalization',
    error: new PipelineError(ErrorCode.RequiredValueMissing, 'm').toJSON(),
    mappingVersion: 'v',
    createdAt: new Date(NOW).toISOString(),
    attempts: 1,
    payload: { kind: 'event', event },
  };
}

function bytesOf(body: DeviceEvent['body']): Uint8Array {
  if (body instanceof Uint8Array) {
    return body;
  }
  return utf8(typeof body === 'string' ? body : JSON.stringify(body));
}

/** The bytes a body stands for: raw bytes, the UTF-8 of a string, or the JSON text of a parsed value. */
function expectedBytes(body: DeviceEvent['body']): Uint8Array {
  if (body instanceof Uint8Array || typeof body === 'string') {
    return bytesOf(body);
  }
  return utf8(
    JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? `__${v}__` : v)).replace(/"__(\d+)__"/g, '$1'),
  );
}
