import fc from 'fast-check';

import { LatencyHistogram } from '../../../src/local/stack/latency-histogram';
import { RateMeter } from '../../../src/local/stack/rate-meter';

/** The exact nearest-rank quantile. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe('LatencyHistogram', () => {
  it('is empty before the first value', () => {
    const h = new LatencyHistogram();
    expect([h.count, h.sum, h.min, h.max, h.quantile(0.5)]).toEqual([0, 0, undefined, undefined, undefined]);
  });

  it('gives the value itself when it holds one value', () => {
    const h = new LatencyHistogram();
    h.record(1234);
    expect([h.quantile(0), h.quantile(0.5), h.quantile(0.99), h.quantile(1)]).toEqual([1234, 1234, 1234, 1234]);
  });

  it('estimates any quantile within 2.5 % of the exact nearest-rank value (values of 1 ms and more)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1, max: 3_600_000, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.constantFrom(0.5, 0.9, 0.99),
        (values, q) => {
          const h = new LatencyHistogram();
          for (const v of values) {
            h.record(v);
          }
          const exact = exactQuantile(values, q);
          expect(Math.abs(h.quantile(q)! - exact) / exact).toBeLessThanOrEqual(0.025);
        },
      ),
    );
  });

  it('keeps exact count, sum, min and max; ignores negative and non-finite values', () => {
    const h = new LatencyHistogram();
    for (const v of [0.2, 5, 900, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      h.record(v);
    }
    expect([h.count, h.sum, h.min, h.max]).toEqual([3, 905.2, 0.2, 900]);
  });

  it('p50 and p99 of a skewed distribution', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 990; i++) {
      h.record(100);
    }
    for (let i = 0; i < 10; i++) {
      h.record(5000);
    }
    expect(h.quantile(0.5)).toBeCloseTo(100, -1);
    expect(h.quantile(0.99)).toBeCloseTo(100, -1);
    expect(Math.abs(h.quantile(0.995)! - 5000) / 5000).toBeLessThan(0.025);
  });
});

describe('RateMeter', () => {
  it('averages over the time since creation until the window is full', () => {
    let now = 1_000_000;
    const meter = new RateMeter(() => now, 10);
    meter.add(10);
    now += 2000;
    meter.add(10);
    expect(meter.rate()).toBe(10); // 20 events in 2 s
  });

  it('forgets what left the window', () => {
    let now = 1_000_000;
    const meter = new RateMeter(() => now, 10);
    meter.add(100);
    now += 20_000;
    meter.add(50);
    expect(meter.rate()).toBe(5);
    now += 11_000;
    expect(meter.rate()).toBe(0);
  });
});
