import fc from 'fast-check';
import { formatRoundTrip } from '../../../src/pipeline/convert/instant';
import { parseNewtonsoftDate } from '../../../src/pipeline/convert/newtonsoft-date';

const read = (s: string): string | undefined => {
  const instant = parseNewtonsoftDate(s);
  return instant === undefined ? undefined : formatRoundTrip(instant);
};

describe('parseNewtonsoftDate: strings Newtonsoft reads as date tokens', () => {
  it.each([
    // No zone: unspecified, written without suffix.
    ['2024-07-04T09:15:00', '2024-07-04T09:15:00.0000000'],
    // Z: utc.
    ['2024-07-04T09:15:00Z', '2024-07-04T09:15:00.0000000Z'],
    ['2024-07-04T09:15:00z', '2024-07-04T09:15:00.0000000Z'],
    // Fractions of 1-7 digits.
    ['2024-07-04T09:15:00.1Z', '2024-07-04T09:15:00.1000000Z'],
    ['2024-07-04T09:15:00.123Z', '2024-07-04T09:15:00.1230000Z'],
    ['2024-07-04T09:15:00.1234567Z', '2024-07-04T09:15:00.1234567Z'],
    ['2024-07-04T09:15:00.0000001', '2024-07-04T09:15:00.0000001'],
    // Offsets: converted to the instant, kind local (+00:00 on a UTC host).
    ['2024-07-04T09:15:00+05:30', '2024-07-04T03:45:00.0000000+00:00'],
    ['2024-07-04T09:15:00+0530', '2024-07-04T03:45:00.0000000+00:00'],
    ['2024-07-04T09:15:00+05', '2024-07-04T04:15:00.0000000+00:00'],
    ['2024-07-04T09:15:00-05:00', '2024-07-04T14:15:00.0000000+00:00'],
    ['2024-07-04T09:15:00.1234567-00:00', '2024-07-04T09:15:00.1234567+00:00'],
    // Offsets crossing midnight and year boundaries.
    ['2024-12-31T23:30:00-01:00', '2025-01-01T00:30:00.0000000+00:00'],
    ['2024-01-01T00:30:00+01:00', '2023-12-31T23:30:00.0000000+00:00'],
    ['2024-03-01T00:30:00+01:00', '2024-02-29T23:30:00.0000000+00:00'],
    // Offset hours and minutes are two digits each, not range-checked.
    ['2024-07-04T09:15:00+99:99', '2024-06-30T04:36:00.0000000+00:00'],
    // Leap days.
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.0000000Z'],
    ['2000-02-29T00:00:00', '2000-02-29T00:00:00.0000000'],
    // Hour 24 is the next midnight when nothing follows.
    ['2024-07-04T24:00:00', '2024-07-05T00:00:00.0000000'],
    ['2024-12-31T24:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'],
    // Reader quirks: two digits after the time are read as zone minutes and ignored; a fraction stops at 7 digits.
    ['2024-07-04T09:15:0012', '2024-07-04T09:15:00.0000000'],
    ['2024-07-04T09:15:00:12', '2024-07-04T09:15:00.0000000'],
    ['2024-07-04T09:15:00.123456789', '2024-07-04T09:15:00.1234567'],
    // Out-of-range results are clamped to DateTime.MinValue / MaxValue.
    ['0001-01-01T00:00:00+01:00', '0001-01-01T00:00:00.0000000+00:00'],
    ['9999-12-31T23:00:00-05:00', '9999-12-31T23:59:59.9999999+00:00'],
    // Microsoft JSON dates.
    ['/Date(1720084500000)/', '2024-07-04T09:15:00.0000000Z'],
    ['/Date(1720084500000+0200)/', '2024-07-04T09:15:00.0000000+00:00'],
    ['/Date(1720084500000-02)/', '2024-07-04T09:15:00.0000000+00:00'],
    ['/Date(-1000)/', '1969-12-31T23:59:59.0000000Z'],
    ['/Date(0)/', '1970-01-01T00:00:00.0000000Z'],
  ])('%s → %s', (text, expected) => {
    expect(read(text)).toBe(expected);
  });
});

describe('parseNewtonsoftDate: strings that stay strings', () => {
  it.each([
    ['date only', '2024-07-04'],
    ['no seconds', '2024-07-04T09:15Z'],
    ['space instead of T', '2024-07-04 09:15:00'],
    ['US format', '07/04/2024 09:15:00'],
    ['month 13', '2024-13-01T00:00:00'],
    ['month 0', '2024-00-10T00:00:00'],
    ['30 February', '2024-02-30T00:00:00'],
    ['29 February of a common year', '2023-02-29T12:00:00Z'],
    ['29 February 1900', '1900-02-29T00:00:00'],
    ['year 0', '0000-01-01T00:00:00'],
    ['hour 25', '2024-07-04T25:00:00'],
    ['hour 24 with minutes', '2024-07-04T24:01:00'],
    ['hour 24 with a fraction', '2024-07-04T24:00:00.0000001'],
    ['hour 24 on the last day', '9999-12-31T24:00:00'],
    ['minute 60', '2024-07-04T09:60:00'],
    ['second 60', '2024-07-04T09:15:60'],
    ['single-digit month', '2024-7-04T09:15:00Z'],
    ['point without digits', '2024-07-04T09:15:00.Z'],
    ['eight fraction digits then Z', '2024-07-04T09:15:00.12345678Z'],
    ['trailing space', '2024-07-04T09:15:00 '],
    ['leading space', ' 2024-07-04T09:15:00'],
    ['single-digit offset hour', '2024-07-04T09:15:00+5'],
    ['text after the zone', '2024-07-04T09:15:00Zulu'],
    ['longer than 40 characters', '2024-07-04T09:15:00.1234567+05:30' + '0'.repeat(8)],
    ['full-width digits', '２０２４-07-04T09:15:00Z'],
    ['lower-case t', '2024-07-04t09:15:00Z'],
    ['a plain word', 'heart rate'],
    ['a number', '1720084500'],
    ['the empty string', ''],
    ['Microsoft date with letters', '/Date(abc)/'],
    ['Microsoft date, wrong case', '/date(1720084500000)/'],
    ['Microsoft date without digits', '/Date()/'],
    ['Microsoft date with a broken offset', '/Date(1720084500000+0x)/'],
    ['Microsoft date beyond year 9999', '/Date(253402300800000)/'],
  ])('%s: %s', (_name, text) => {
    expect(parseNewtonsoftDate(text)).toBeUndefined();
  });

  it('recognizes every round-trip-formatted instant (property)', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
        (d) => {
          const iso = d.toISOString();
          expect(read(iso)).toBe(`${iso.slice(0, 23)}0000Z`);
        },
      ),
    );
  });
});
