import fc from 'fast-check';
import {
  MAX_EPOCH_MS,
  MIN_EPOCH_MS,
  addMilliseconds,
  addTicks,
  compareInstants,
  daysFromCivil,
  floorToDay,
  floorToHour,
  formatIdentifierTime,
  formatInvariantGeneral,
  formatRoundTrip,
  instantFromEpochMs,
  instantToEpochMsFloat,
  parseRoundTrip,
  toCivil,
  type Instant,
  type InstantKind,
} from '../../../src/pipeline/convert/instant';

const at = (iso: string, kind: InstantKind = 'utc', subMsTicks = 0): Instant => ({
  epochMs: Date.parse(iso),
  subMsTicks,
  kind,
});

describe('instantFromEpochMs', () => {
  it.each([
    [0, 'utc', '1970-01-01T00:00:00.0000000Z'],
    [1_720_084_500_123, 'utc', '2024-07-04T09:15:00.1230000Z'],
    [1.23456, 'utc', '1970-01-01T00:00:00.0012345Z'],
    [-0.5, 'utc', '1969-12-31T23:59:59.9995000Z'],
    [MIN_EPOCH_MS, 'unspecified', '0001-01-01T00:00:00.0000000'],
    [MAX_EPOCH_MS, 'local', '9999-12-31T23:59:59.9990000+00:00'],
  ] as const)('%p (%s) → %s', (ms, kind, expected) => {
    expect(formatRoundTrip(instantFromEpochMs(ms, kind))).toBe(expected);
  });

  it('defaults to kind utc', () => {
    expect(instantFromEpochMs(0).kind).toBe('utc');
  });

  it.each([MIN_EPOCH_MS - 1, MAX_EPOCH_MS + 1, NaN, Infinity])('rejects %p (outside years 0001-9999)', (ms) => {
    expect(() => instantFromEpochMs(ms)).toThrow(RangeError);
  });
});

describe('formatRoundTrip / parseRoundTrip', () => {
  it.each([
    [at('2024-07-04T09:15:00.123Z', 'utc', 4567), '2024-07-04T09:15:00.1234567Z'],
    [at('2024-07-04T09:15:00Z', 'local'), '2024-07-04T09:15:00.0000000+00:00'],
    [at('2024-07-04T09:15:00Z', 'unspecified'), '2024-07-04T09:15:00.0000000'],
    [at('2024-02-29T23:59:59.999Z', 'utc', 9999), '2024-02-29T23:59:59.9999999Z'],
  ])('formats %o as %s and parses it back', (instant, text) => {
    expect(formatRoundTrip(instant)).toBe(text);
    expect(parseRoundTrip(text)).toEqual(instant);
  });

  it.each([
    '2024-07-04T09:15:00.123456Z', // six fraction digits
    '2024-07-04T09:15:00Z',
    '2024-07-04T09:15:00.1234567+01:00', // another offset
    '2024-07-04T09:15:00.1234567-00:00',
    '2024-07-04 09:15:00.1234567Z',
    '2023-02-29T00:00:00.0000000Z', // not a leap year
    '1900-02-29T00:00:00.0000000Z',
    '0000-01-01T00:00:00.0000000Z',
    '2024-13-01T00:00:00.0000000Z',
    '2024-07-04T24:00:00.0000000Z',
    '2024-07-04T09:60:00.0000000Z',
    '2024-07-04T09:15:00.123456xZ',
    '２０２４-07-04T09:15:00.0000000Z',
  ])('rejects %s', (text) => {
    expect(parseRoundTrip(text)).toBeUndefined();
  });

  it('accepts 29 February in leap years only', () => {
    expect(parseRoundTrip('2000-02-29T00:00:00.0000000Z')).toBeDefined();
    expect(parseRoundTrip('2100-02-29T00:00:00.0000000Z')).toBeUndefined();
  });

  it('round-trips every instant in the .NET range (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MIN_EPOCH_MS, max: MAX_EPOCH_MS }),
        fc.integer({ min: 0, max: 9999 }),
        fc.constantFrom<InstantKind>('utc', 'local', 'unspecified'),
        (epochMs, subMsTicks, kind) => {
          const instant: Instant = { epochMs, subMsTicks, kind };
          expect(parseRoundTrip(formatRoundTrip(instant))).toEqual(instant);
        },
      ),
    );
  });

  it('formats like Date#toISOString for every millisecond instant (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_EPOCH_MS }), (ms) => {
        const iso = new Date(ms).toISOString(); // yyyy-MM-ddTHH:mm:ss.sssZ for years 0000-9999
        expect(formatRoundTrip(instantFromEpochMs(ms))).toBe(`${iso.slice(0, 23)}0000Z`);
      }),
    );
  });
});

describe('calendar arithmetic', () => {
  it('agrees with toCivil for every day of years 0001-9999 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: daysFromCivil(1, 1, 1), max: daysFromCivil(9999, 12, 31) }), (days) => {
        const c = toCivil(days * 86_400_000);
        expect(daysFromCivil(c.year, c.month, c.day)).toBe(days);
      }),
    );
  });

  it('does not shift years 0-99 like Date.UTC does', () => {
    expect(toCivil(daysFromCivil(50, 3, 1) * 86_400_000)).toMatchObject({ year: 50, month: 3, day: 1 });
  });
});

describe('compareInstants', () => {
  it.each([
    [at('2024-01-01T00:00:00Z'), at('2024-01-01T00:00:00Z', 'local'), 0],
    [at('2024-01-01T00:00:00Z', 'utc', 1), at('2024-01-01T00:00:00Z'), 1],
    [at('2023-12-31T23:59:59.999Z', 'utc', 9999), at('2024-01-01T00:00:00Z'), -1],
  ])('orders by time and ignores the kind', (a, b, sign) => {
    expect(Math.sign(compareInstants(a, b))).toBe(sign);
  });
});

describe('addMilliseconds / addTicks', () => {
  it.each([
    [at('2024-07-04T09:15:00Z'), 1, '2024-07-04T09:15:00.0010000Z'],
    [at('2024-07-04T09:15:00Z'), 0.0001, '2024-07-04T09:15:00.0000001Z'],
    [at('2024-07-04T09:15:00Z'), -0.0001, '2024-07-04T09:14:59.9999999Z'],
    [at('2024-07-04T09:15:00Z', 'utc', 9999), 0.0001, '2024-07-04T09:15:00.0010000Z'],
    [at('2024-12-31T23:59:59.999Z', 'local', 5000), 0.5, '2025-01-01T00:00:00.0000000+00:00'],
    [at('2024-07-04T09:15:00Z'), -86_400_000 * 366, '2023-07-04T09:15:00.0000000Z'],
  ])('%o + %p ms → %s (kind kept)', (instant, ms, expected) => {
    expect(formatRoundTrip(addMilliseconds(instant, ms))).toBe(expected);
  });

  it('truncates the fraction toward zero like .NET 8', () => {
    // 3599999.9999 is 3599999.999900000169… as a double: .NET gets 9999 ticks, not 10000.
    expect(formatRoundTrip(addMilliseconds(at('2024-07-04T09:00:00Z'), 3_600_000 - 0.0001))).toBe(
      '2024-07-04T09:59:59.9999999Z',
    );
  });

  it.each([
    [at('2024-07-04T10:00:00Z'), -1, '2024-07-04T09:59:59.9999999Z'],
    [at('2024-07-04T10:00:00Z', 'utc', 9999), 1, '2024-07-04T10:00:00.0010000Z'],
    [at('2024-07-04T10:00:00Z'), 36_000_000_000, '2024-07-04T11:00:00.0000000Z'],
    [at('1970-01-01T00:00:00Z'), -12_345, '1969-12-31T23:59:59.9987655Z'],
  ])('addTicks(%o, %p) → %s', (instant, ticks, expected) => {
    expect(formatRoundTrip(addTicks(instant, ticks))).toBe(expected);
  });

  it('throws RangeError when leaving the .NET range', () => {
    expect(() => addMilliseconds(instantFromEpochMs(MAX_EPOCH_MS), 1)).toThrow(RangeError);
    expect(() => addTicks(instantFromEpochMs(MIN_EPOCH_MS), -1)).toThrow(RangeError);
    expect(() => addTicks(instantFromEpochMs(0), 0.5)).toThrow(RangeError);
  });
});

describe('floorToHour / floorToDay', () => {
  it.each([
    [at('2024-07-04T09:15:42.123Z', 'local', 4567), '2024-07-04T09:00:00.0000000Z', '2024-07-04T00:00:00.0000000Z'],
    [at('2024-07-04T00:00:00Z', 'unspecified'), '2024-07-04T00:00:00.0000000Z', '2024-07-04T00:00:00.0000000Z'],
    [at('1969-12-31T23:30:00Z'), '1969-12-31T23:00:00.0000000Z', '1969-12-31T00:00:00.0000000Z'],
    [at('2024-02-29T23:59:59.999Z', 'utc', 9999), '2024-02-29T23:00:00.0000000Z', '2024-02-29T00:00:00.0000000Z'],
  ])('%o → hour %s, day %s (UTC, kind utc)', (instant, hour, day) => {
    expect(formatRoundTrip(floorToHour(instant))).toBe(hour);
    expect(formatRoundTrip(floorToDay(instant))).toBe(day);
  });
});

describe('instantToEpochMsFloat', () => {
  it('adds the tick fraction', () => {
    expect(instantToEpochMsFloat(at('2024-07-04T09:15:00.123Z', 'utc', 4567))).toBe(
      Date.parse('2024-07-04T09:15:00.123Z') + 0.4567,
    );
  });
});

describe('formatInvariantGeneral / formatIdentifierTime', () => {
  it.each([
    [at('2024-07-04T09:15:07.999Z', 'utc', 9999), '07/04/2024 09:15:07', '20240704091507Z'],
    [at('2024-07-04T09:15:07Z', 'local'), '07/04/2024 09:15:07', '20240704091507Z'],
    [instantFromEpochMs(MIN_EPOCH_MS), '01/01/0001 00:00:00', '00010101000000Z'],
    [at('2019-01-01T00:59:59Z'), '01/01/2019 00:59:59', '20190101005959Z'],
  ])('%o → %s and %s (fraction dropped)', (instant, general, identifier) => {
    expect(formatInvariantGeneral(instant)).toBe(general);
    expect(formatIdentifierTime(instant)).toBe(identifier);
  });
});
