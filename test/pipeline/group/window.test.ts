import { formatRoundTrip, parseRoundTrip } from '../../../src/pipeline/convert/instant';
import { isTimePeriodInterval, parseWindow, timeWindowOf } from '../../../src/pipeline/group/window';
import { PeriodInterval } from '../../../src/pipeline/mapping/fhir-template';

const at = (s: string) => {
  const i = parseRoundTrip(s);
  if (i === undefined) {
    throw new Error(`bad test time ${s}`);
  }
  return i;
};

describe('timeWindowOf (§9.4)', () => {
  it.each([
    [
      'Single keeps the exact time, as UTC',
      0,
      '2024-03-10T14:05:07.1234567Z',
      '2024-03-10T14:05:07.1234567Z',
      '2024-03-10T14:05:07.1234567Z',
    ],
    [
      'Single converts an offset-derived time to UTC',
      0,
      '2024-03-10T14:05:07.0000001+00:00',
      '2024-03-10T14:05:07.0000001Z',
      '2024-03-10T14:05:07.0000001Z',
    ],
    [
      'Single converts a zone-less time to UTC',
      0,
      '2024-03-10T14:05:07.0000000',
      '2024-03-10T14:05:07.0000000Z',
      '2024-03-10T14:05:07.0000000Z',
    ],
    [
      'Hourly: the last tick of an hour stays in it',
      60,
      '2024-03-10T14:59:59.9999999Z',
      '2024-03-10T14:00:00.0000000Z',
      '2024-03-10T14:59:59.9999999Z',
    ],
    [
      'Hourly: the first tick of an hour opens it',
      60,
      '2024-03-10T15:00:00.0000000Z',
      '2024-03-10T15:00:00.0000000Z',
      '2024-03-10T15:59:59.9999999Z',
    ],
    [
      'Hourly: before 1970',
      60,
      '1969-12-31T23:30:00.0000001Z',
      '1969-12-31T23:00:00.0000000Z',
      '1969-12-31T23:59:59.9999999Z',
    ],
    [
      'Daily: midnight opens the day',
      1440,
      '2024-03-01T00:00:00.0000000Z',
      '2024-03-01T00:00:00.0000000Z',
      '2024-03-01T23:59:59.9999999Z',
    ],
    [
      'Daily: leap day',
      1440,
      '2024-02-29T12:34:56.1234567Z',
      '2024-02-29T00:00:00.0000000Z',
      '2024-02-29T23:59:59.9999999Z',
    ],
    [
      'Daily: last tick of the year',
      1440,
      '2023-12-31T23:59:59.9999999',
      '2023-12-31T00:00:00.0000000Z',
      '2023-12-31T23:59:59.9999999Z',
    ],
  ] as const)('%s', (_name, interval, time, start, end) => {
    const w = timeWindowOf(interval, at(time));
    expect([formatRoundTrip(w.start), formatRoundTrip(w.end)]).toEqual([start, end]);
  });

  it('tells time-based intervals from CorrelationId', () => {
    expect([0, 60, 1440, -1].map((i) => isTimePeriodInterval(i as PeriodInterval))).toEqual([true, true, true, false]);
    expect(PeriodInterval.CorrelationId).toBe(-1);
  });

  it('rejects window bounds that are not in round-trip form', () => {
    expect(() => parseWindow({ start: '2024-03-10T14:00:00Z', end: '2024-03-10T14:59:59.9999999Z' })).toThrow(
      expect.objectContaining({ code: 'MEASUREMENT_INVALID' }),
    );
  });
});
