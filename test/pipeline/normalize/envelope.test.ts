import { tokenToDotNetString, tokenToInstant } from '../../../src/pipeline/convert/dotnet-string';
import { DateToken, formatRoundTrip } from '../../../src/pipeline/convert/instant';
import { ErrorCode, PipelineError } from '../../../src/pipeline/errors';
import type { Envelope, JsonValue } from '../../../src/pipeline/model/device-event';
import { createBodyDateIndex, toEnvelope } from '../../../src/pipeline/normalize/envelope';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('toEnvelope', () => {
  it('builds exactly Body, Properties, SystemProperties, in this order', () => {
    const envelope = toEnvelope({
      body: bytes('{"hr":72}'),
      properties: { source: 'gateway' },
      systemProperties: { 'iothub-connection-device-id': 'device-1' },
    });
    expect(Object.keys(envelope)).toEqual(['Body', 'Properties', 'SystemProperties']);
    expect(envelope).toEqual({
      Body: { hr: 72 },
      Properties: { source: 'gateway' },
      SystemProperties: { 'iothub-connection-device-id': 'device-1' },
    });
  });

  it.each<[string, Uint8Array | string | JsonValue, JsonValue]>([
    ['UTF-8 bytes', bytes('{"hr":72}'), { hr: 72 }],
    ['text', '{"hr":72}', { hr: 72 }],
    ['already-parsed JSON, taken as is', { hr: 72 }, { hr: 72 }],
    ['an already-parsed array', [1, 2], [1, 2]],
    ['zero bytes', new Uint8Array(0), null],
    ['empty text', '', null],
    ['null', null, null],
    ['a JSON string body', bytes('"just text"'), 'just text'],
  ])('reads a body given as %s', (_name, body, expected) => {
    expect(toEnvelope({ body }).Body).toEqual(expected);
  });

  it('gives empty objects for missing properties', () => {
    const envelope = toEnvelope({ body: null });
    expect(envelope.Properties).toEqual({});
    expect(envelope.SystemProperties).toEqual({});
  });

  it('passes body parsing errors on', () => {
    expect(() => toEnvelope({ body: bytes('{"hr":}') })).toThrow(PipelineError);
    try {
      toEnvelope({ body: bytes('[1,2,3]') }, { maxBytes: 4 });
    } catch (error) {
      expect((error as PipelineError).code).toBe(ErrorCode.BodyTooLarge);
    }
    expect.assertions(2);
  });

  it('copies property values as Newtonsoft serializes them', () => {
    const enqueued = new Date('2024-07-04T09:15:00.123Z');
    const envelope = toEnvelope({
      body: null,
      properties: {
        text: '2024-07-04T09:15:00Z',
        count: 3,
        big: 9007199254740993n,
        flag: false,
        nothing: null,
        missing: undefined,
        bytes: Uint8Array.from([1, 2, 3, 250]),
        nested: { list: [1, 'a', { when: enqueued }] },
        fn: () => 1,
      },
      systemProperties: { 'iothub-enqueuedtime': enqueued, 'x-opt-sequence-number': 42 },
    });
    expect(envelope.Properties).toEqual({
      text: '2024-07-04T09:15:00Z',
      count: 3,
      big: 9007199254740993n,
      flag: false,
      nothing: null,
      missing: null,
      bytes: 'AQID+g==',
      nested: { list: [1, 'a', { when: expect.any(DateToken) }] },
      fn: null,
    });
    const token = envelope.SystemProperties['iothub-enqueuedtime'] as unknown as DateToken;
    expect(token).toBeInstanceOf(DateToken);
    expect(formatRoundTrip(token.instant)).toBe('2024-07-04T09:15:00.1230000Z');
    expect(envelope.SystemProperties['x-opt-sequence-number']).toBe(42);
  });

  it.each([
    [[], ''],
    [[0x66], 'Zg=='],
    [[0x66, 0x6f], 'Zm8='],
    [[0x66, 0x6f, 0x6f], 'Zm9v'],
    [[0xff, 0xfe, 0xfd, 0xfc], '//79/A=='],
  ])('encodes bytes %p as base64 %s', (data, expected) => {
    expect(toEnvelope({ body: null, properties: { b: Uint8Array.from(data) } }).Properties.b).toBe(expected);
  });

  it('keeps __proto__ property names as own data, without touching prototypes', () => {
    const properties = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const envelope = toEnvelope({ body: null, properties });
    expect(Object.getPrototypeOf(envelope.Properties)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(envelope.Properties, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('cuts cyclic property values off instead of recursing forever', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const envelope = toEnvelope({ body: null, properties: { cyclic } });
    let value: unknown = envelope.Properties.cyclic;
    let depth = 0;
    while (typeof value === 'object' && value !== null) {
      value = (value as Record<string, unknown>).self;
      depth++;
    }
    expect(value).toBeNull();
    expect(depth).toBe(64);
  });
});

describe('createBodyDateIndex', () => {
  const envelope = toEnvelope({
    body: bytes(
      JSON.stringify({
        start: '2024-07-04T09:15:00Z',
        '2024-07-04T10:00:00Z': 'a date-like property name',
        readings: [{ at: '2024-07-04T09:16:00+02:00' }, { at: '2024-07-04 09:17:00' }],
        label: 'heart rate',
      }),
    ),
    properties: { sent: '2024-07-04T11:00:00Z' },
  });
  const isBodyDate = createBodyDateIndex(envelope);

  it.each([
    ['a top-level body date', '2024-07-04T09:15:00Z', true],
    ['a nested body date with an offset', '2024-07-04T09:16:00+02:00', true],
    ['a body string Newtonsoft does not read as a date', '2024-07-04 09:17:00', false],
    ['a date-like property name (names are never dates)', '2024-07-04T10:00:00Z', false],
    ['a date-like string found only in Properties', '2024-07-04T11:00:00Z', false],
    ['an ordinary string', 'heart rate', false],
  ])('%s → %p', (_name, text, expected) => {
    expect(isBodyDate(text)).toBe(expected);
  });

  it('renders body dates as .NET does and leaves property strings alone', () => {
    expect(tokenToDotNetString(envelope.Body && (envelope.Body as Record<string, JsonValue>).start, isBodyDate)).toBe(
      '07/04/2024 09:15:00',
    );
    expect(tokenToDotNetString(envelope.Properties.sent, isBodyDate)).toBe('2024-07-04T11:00:00Z');
    const instant = tokenToInstant('2024-07-04T09:15:00Z', isBodyDate);
    expect(instant && formatRoundTrip(instant)).toBe('2024-07-04T09:15:00.0000000Z');
    const fromProperty = tokenToInstant(envelope.Properties.sent, isBodyDate);
    expect(fromProperty && formatRoundTrip(fromProperty)).toBe('2024-07-04T11:00:00.0000000+00:00');
  });

  it('collects body dates lazily, once, and only when a date-like string is asked about', () => {
    let reads = 0;
    const body: Record<string, JsonValue> = {};
    Object.defineProperty(body, 'time', {
      enumerable: true,
      get: () => {
        reads++;
        return '2024-07-04T09:15:00Z';
      },
    });
    const lazy: Envelope = { Body: body, Properties: {}, SystemProperties: {} };
    const index = createBodyDateIndex(lazy);
    expect(reads).toBe(0);
    expect(index('device-1')).toBe(false);
    expect(index('2024-07-04 09:15')).toBe(false);
    expect(reads).toBe(0);
    expect(index('2024-07-04T09:15:00Z')).toBe(true);
    expect(index('2024-07-04T09:16:00Z')).toBe(false);
    expect(reads).toBe(1);
  });

  it('copes with very deep already-parsed bodies', () => {
    let body: JsonValue = '2024-07-04T09:15:00Z';
    for (let i = 0; i < 100_000; i++) {
      body = [body];
    }
    expect(createBodyDateIndex({ Body: body, Properties: {}, SystemProperties: {} })('2024-07-04T09:15:00Z')).toBe(
      true,
    );
  });
});
