import fc from 'fast-check';

import { addMilliseconds, compareInstants, MAX_EPOCH_MS, type Instant } from '../../../src/pipeline/convert/instant';
import type { TimedValue } from '../../../src/pipeline/transform/sampled-data';
import { buildSampledData, sampledDataToTimeValues } from '../../../src/pipeline/transform/sampled-data';

/** The encoder as specified: instant arithmetic slot by slot (MedTech's loop), the reference for the fast path. */
function referenceBuild(values: readonly TimedValue[], start: Instant, end: Instant, periodMs: number): string {
  let out = '';
  let i = 0;
  let current = start;
  let next = addMilliseconds(current, periodMs);
  while (compareInstants(current, end) <= 0) {
    let value: string | undefined;
    for (
      let v = values[i];
      v !== undefined && compareInstants(v.time, current) >= 0 && compareInstants(v.time, next) < 0;
      v = values[i]
    ) {
      value = v.value;
      i++;
    }
    out += (value ?? 'E') + ' ';
    current = next;
    next = addMilliseconds(next, periodMs);
  }
  return out.trimEnd();
}

function referenceDecode(data: string, start: Instant, periodMs: number): TimedValue[] {
  const out: TimedValue[] = [];
  let time = start;
  for (const token of data.split(' ')) {
    if (token !== 'E') {
      out.push({ time, value: token });
    }
    time = addMilliseconds(time, periodMs);
  }
  return out;
}

const instants = (fromMs: number, toMs: number): fc.Arbitrary<Instant> =>
  fc.record({
    epochMs: fc.integer({ min: fromMs, max: toMs }),
    subMsTicks: fc.integer({ min: 0, max: 9999 }),
    kind: fc.constantFrom('utc' as const, 'local' as const, 'unspecified' as const),
  });

const BASE = Date.UTC(2024, 2, 10, 14, 0, 0);

const layouts = fc
  .record({
    start: instants(BASE, BASE + 1000),
    periodMs: fc.oneof(fc.integer({ min: 1, max: 120_000 }), fc.constantFrom(0.5, 1.25, 250.0001)),
    slots: fc.integer({ min: 0, max: 90 }),
    endTicks: fc.integer({ min: -3, max: 3 }),
  })
  .chain(({ start, periodMs, slots, endTicks }) => {
    const span = slots * periodMs;
    const end = addMilliseconds(addMilliseconds(start, span), endTicks / 10_000);
    return fc.record({
      start: fc.constant(start),
      end: fc.constant(end),
      periodMs: fc.constant(periodMs),
      values: fc
        .array(
          fc.record({
            time: instants(start.epochMs, start.epochMs + Math.ceil(span) + 1),
            value: fc.constantFrom('1', '72', '-0.5', 'x'),
          }),
          { maxLength: 40 },
        )
        .map((vs) => vs.sort((a, b) => compareInstants(a.time, b.time))),
    });
  });

describe('SampledData slots by whole milliseconds', () => {
  it('encode exactly as the instant-by-instant loop', () => {
    fc.assert(
      fc.property(layouts, ({ values, start, end, periodMs }) => {
        expect(buildSampledData(values, start, end, periodMs)).toBe(referenceBuild(values, start, end, periodMs));
      }),
      { numRuns: 2000 },
    );
  });

  it('decode exactly as the instant-by-instant loop', () => {
    const data = fc.array(fc.constantFrom('E', '60', '61.5', ''), { maxLength: 80 }).map((t) => t.join(' '));
    fc.assert(
      fc.property(data, instants(BASE, BASE + 1000), fc.integer({ min: 1, max: 86_400_000 }), (text, start, p) => {
        expect(sampledDataToTimeValues(text, start, p)).toEqual(referenceDecode(text, start, p));
      }),
      { numRuns: 2000 },
    );
  });

  it('report leaving the .NET range as the instant arithmetic does', () => {
    const start: Instant = { epochMs: MAX_EPOCH_MS - 1500, subMsTicks: 0, kind: 'utc' };
    const end: Instant = { epochMs: MAX_EPOCH_MS - 500, subMsTicks: 0, kind: 'utc' };
    expect(() => buildSampledData([], start, end, 1000)).toThrow(RangeError);
    expect(() => referenceBuild([], start, end, 1000)).toThrow(RangeError);
    expect(() => sampledDataToTimeValues('1 2', start, 1000)).toThrow(RangeError);
  });
});
