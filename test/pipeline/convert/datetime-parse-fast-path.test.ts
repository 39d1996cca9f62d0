import fc from 'fast-check';

import { parseDotNetDateTime } from '../../../src/pipeline/convert/datetime-parse';

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Strings of the canonical ISO shape, with fields in and out of range. */
const canonical: fc.Arbitrary<string> = fc
  .record({
    year: fc.integer({ min: 0, max: 9999 }),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    t: fc.constantFrom('T', 't'),
    hour: fc.integer({ min: 0, max: 25 }),
    minute: fc.integer({ min: 0, max: 61 }),
    second: fc.integer({ min: 0, max: 61 }),
    fraction: fc.option(fc.stringMatching(/^[0-9]{1,10}$/), { nil: undefined }),
    zone: fc.oneof(
      fc.constantFrom('', 'Z', 'z'),
      fc
        .tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 61 }))
        .map(([sign, h, m]) => `${sign}${pad(h, 2)}:${pad(m, 2)}`),
    ),
  })
  .map(
    (f) =>
      `${pad(f.year, 4)}-${pad(f.month, 2)}-${pad(f.day, 2)}${f.t}${pad(f.hour, 2)}:${pad(f.minute, 2)}:` +
      `${pad(f.second, 2)}${f.fraction === undefined ? '' : `.${f.fraction}`}${f.zone}`,
  );

describe('parseDotNetDateTime on canonical ISO strings', () => {
  // A leading space keeps the value and sends the string down the general tokenizing path.
  it('reads them exactly as the general path does', () => {
    fc.assert(
      fc.property(canonical, (s) => {
        expect(parseDotNetDateTime(s)).toEqual(parseDotNetDateTime(` ${s}`));
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['UTC', '2024-03-10T14:05:00Z', { epochMs: Date.UTC(2024, 2, 10, 14, 5, 0), subMsTicks: 0, kind: 'local' }],
    [
      'milliseconds',
      '2024-03-10T14:05:00.123Z',
      { epochMs: Date.UTC(2024, 2, 10, 14, 5, 0, 123), subMsTicks: 0, kind: 'local' },
    ],
    [
      'ticks',
      '2024-03-10T14:05:00.1234567+02:00',
      { epochMs: Date.UTC(2024, 2, 10, 12, 5, 0, 123), subMsTicks: 4567, kind: 'local' },
    ],
    [
      'no zone',
      '2024-03-10T14:05:00',
      { epochMs: Date.UTC(2024, 2, 10, 14, 5, 0), subMsTicks: 0, kind: 'unspecified' },
    ],
  ])('reads %s', (_, s, expected) => {
    expect(parseDotNetDateTime(s)).toEqual(expected);
  });

  it.each([
    ['an invalid day', '2024-02-30T14:05:00Z'],
    ['an offset beyond 14 hours', '2024-03-10T14:05:00+15:00'],
    ['an offset with 60 minutes', '2024-03-10T14:05:00+01:60'],
    ['a point without digits', '2024-03-10T14:05:00.Z'],
  ])('rejects %s, as the general path does', (_, s) => {
    expect(parseDotNetDateTime(s)).toBeUndefined();
    expect(parseDotNetDateTime(` ${s}`)).toBeUndefined();
  });
});
