/**
 * Measuring on a noisy 2-core machine: both sides of a comparison run in the same process, interleaved round by
 * round (A B, then B A, …) so that drift (thermal, neighbours, GC pressure building up) hits both alike; a round's
 * ratio is taken between adjacent runs, and the median over rounds is reported with its spread.
 */
import { performance } from 'node:perf_hooks';

/** Summary statistics of a sample. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/**
 * The median, minimum and maximum of a non-empty sample.
 * @param values - the sample
 */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) {
    throw new Error('spread of an empty sample');
  }
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/**
 * The p-th percentile (nearest rank) of an ascending sample.
 * @param sorted - ascending values
 * @param p - 0–100
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** One side of a comparison: does `units` units of work per call (events, requests…). */
export interface Side {
  readonly name: string;
  /** Units of work one call does. */
  readonly units: number;
  /** Runs before each timed call, untimed (e.g. a fresh server). */
  readonly setUp?: () => Promise<void> | void;
  /** The timed work. */
  readonly run: () => unknown;
  /** Runs after each timed call, untimed. */
  readonly tearDown?: () => Promise<void> | void;
}

/** The outcome of {@link compare}. */
export interface Comparison {
  /** Units per second of side A (median over rounds) and its spread. */
  readonly a: Spread;
  /** Units per second of side B. */
  readonly b: Spread;
  /** A's rate over B's, per round (median and spread). */
  readonly ratio: Spread;
  /**
   * The same ratio from the process's CPU time instead of wall-clock time. Other processes on the machine stretch
   * wall-clock time but not this process's CPU time, so when the two ratios disagree the machine was busy.
   */
  readonly cpuRatio: Spread;
  readonly rounds: number;
}

interface Timing {
  /** Units per wall-clock second. */
  readonly rate: number;
  /** Units per CPU second of this process (all threads). */
  readonly cpuRate: number;
}

async function timed(side: Side): Promise<Timing> {
  await side.setUp?.();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await side.run();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await side.tearDown?.();
  return { rate: (side.units / ms) * 1000, cpuRate: (side.units / (used.user + used.system)) * 1e6 };
}

/**
 * Runs both sides `warmUp` times untimed, then `rounds` timed rounds in ABBA order.
 * @param a - the side under test
 * @param b - the baseline
 * @param options - rounds and warm-up rounds
 */
export async function compare(a: Side, b: Side, options: { rounds: number; warmUp?: number }): Promise<Comparison> {
  for (let i = 0; i < (options.warmUp ?? 1); i++) {
    await timed(a);
    await timed(b);
  }
  const rateA: number[] = [];
  const rateB: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    let ta: Timing;
    let tb: Timing;
    if (round % 2 === 0) {
      ta = await timed(a);
      tb = await timed(b);
    } else {
      tb = await timed(b);
      ta = await timed(a);
    }
    rateA.push(ta.rate);
    rateB.push(tb.rate);
    ratios.push(ta.rate / tb.rate);
    cpuRatios.push(ta.cpuRate / tb.cpuRate);
  }
  return {
    a: spread(rateA),
    b: spread(rateB),
    ratio: spread(ratios),
    cpuRatio: spread(cpuRatios),
    rounds: options.rounds,
  };
}

/**
 * Units per second of one side: median over `rounds` timed runs after `warmUp` untimed ones.
 * @param side - the work
 * @param options - rounds and warm-up rounds
 */
export async function rate(side: Side, options: { rounds: number; warmUp?: number }): Promise<Spread> {
  for (let i = 0; i < (options.warmUp ?? 1); i++) {
    await timed(side);
  }
  const rates: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    rates.push((await timed(side)).rate);
  }
  return spread(rates);
}

/**
 * Rounds to `digits` significant digits (results are for people; more digits than the noise are misleading).
 * @param value - the number
 * @param digits - significant digits, default 3
 */
export function sig(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) {
    return value;
  }
  return Number(value.toPrecision(digits));
}

/**
 * A spread rounded for the report.
 * @param s - the spread
 * @param digits - significant digits
 */
export function roundSpread(s: Spread, digits = 3): Spread {
  return { median: sig(s.median, digits), min: sig(s.min, digits), max: sig(s.max, digits) };
}
