import { formatRoundTrip, parseRoundTrip, type Instant } from '../../../src/pipeline/convert/instant';
import {
  buildSampledData,
  mergeTimeValues,
  sampledDataToTimeValues,
  type TimedValue,
} from '../../../src/pipeline/transform/sampled-data';

const at = (s: string): Instant => {
  const i = parseRoundTrip(s);
  if (i === undefined) {
    throw new Error(`bad test time ${s}`);
  }
  return i;
};
const hourStart = at('2024-03-10T14:00:00.0000000Z');
const hourEnd = at('2024-03-10T14:59:59.9999999Z');
const values = (...pairs: [string, string][]): TimedValue[] => pairs.map(([t, value]) => ({ time: at(t), value }));
const FIVE_MIN = 300_000;

describe('buildSampledData (SampledDataProcessor.BuildSampledData)', () => {
  it.each([
    {
      name: 'an hour at 5 minutes is 12 slots; empty slots are E',
      values: values(['2024-03-10T14:00:00.0000000Z', '60'], ['2024-03-10T14:12:00.0000000Z', '62']),
      data: '60 E 62 E E E E E E E E E',
    },
    {
      name: 'the last value of a slot wins',
      values: values(
        ['2024-03-10T14:05:00.0000000Z', 'a'],
        ['2024-03-10T14:07:00.0000000Z', 'b'],
        ['2024-03-10T14:09:59.9999999Z', 'c'],
      ),
      data: 'E c E E E E E E E E E E',
    },
    {
      name: 'a value on a slot start belongs to that slot, not the previous one',
      values: values(['2024-03-10T14:55:00.0000000Z', 'x'], ['2024-03-10T14:59:59.9999999Z', 'y']),
      data: 'E E E E E E E E E E E y',
    },
    {
      name: 'values are written verbatim and trailing white space is trimmed',
      values: values(['2024-03-10T14:00:00.0000000Z', '1.50'], ['2024-03-10T14:55:00.0000000Z', 'v\u00a0 ']),
      data: '1.50 E E E E E E E E E E v',
    },
  ])('$name', ({ values: v, data }) => {
    expect(buildSampledData(v, hourStart, hourEnd, FIVE_MIN)).toBe(data);
  });

  it('a Single window is one slot', () => {
    const t = at('2024-03-10T14:05:07.1234567Z');
    expect(buildSampledData([{ time: t, value: '7' }], t, t, 1000)).toBe('7');
  });

  it('slots advance by repeated .NET AddMilliseconds (fractions truncated to ticks each step)', () => {
    const start = at('2024-03-10T14:00:00.0000000Z');
    const end = at('2024-03-10T14:00:00.0000010Z');
    // 0.00033 ms = 3.3 ticks → 3 ticks per step: slots at 0, 3, 6, 9 ticks.
    const v = values(['2024-03-10T14:00:00.0000009Z', 'x']);
    expect(buildSampledData(v, start, end, 0.00033)).toBe('E E E x');
  });
});

describe('sampledDataToTimeValues', () => {
  it('drops E tokens and keeps the times of the others', () => {
    const decoded = sampledDataToTimeValues('60 E 62', hourStart, FIVE_MIN);
    expect(decoded.map((d) => [formatRoundTrip(d.time), d.value])).toEqual([
      ['2024-03-10T14:00:00.0000000Z', '60'],
      ['2024-03-10T14:10:00.0000000Z', '62'],
    ]);
  });

  it('round-trips an encoding', () => {
    const data = '1 E 3 E E 6 E E E E E 12';
    expect(buildSampledData(sampledDataToTimeValues(data, hourStart, FIVE_MIN), hourStart, hourEnd, FIVE_MIN)).toBe(
      data,
    );
  });
});

describe('mergeTimeValues', () => {
  it('merges by time; at an equal time the new value wins', () => {
    const existing = values(['2024-03-10T14:00:00.0000000Z', 'old0'], ['2024-03-10T14:10:00.0000000Z', 'old10']);
    const incoming = values(['2024-03-10T14:05:00.0000000Z', 'new5'], ['2024-03-10T14:10:00.0000000Z', 'new10']);
    expect(mergeTimeValues(existing, incoming).map((v) => v.value)).toEqual(['old0', 'new5', 'new10']);
  });

  it('handles empty sides', () => {
    const one = values(['2024-03-10T14:00:00.0000000Z', 'a']);
    expect(mergeTimeValues([], one)).toEqual(one);
    expect(mergeTimeValues(one, [])).toEqual(one);
  });
});
