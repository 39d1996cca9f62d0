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

/** Lets a timed run mark the end of its cold start. */
export interface Stopwatch {
  /** Everything after this call counts as steady state; resolves once the CPU times are read (await it). */
  readonly lap: () => Promise<void>;
}

/** One side of a comparison: does `units` units of work per call (events, requests…). */
export interface Side {
  readonly name: string;
  /** Units of work one call does. */
  readonly units: number;
  /** Units done before the run calls {@link Stopwatch.lap}, if it does. */
  readonly coldUnits?: number;
  /** Runs before each timed call, untimed (e.g. a fresh server). */
  readonly setUp?: () => Promise<void> | void;
  /** The timed work. */
  readonly run: (stopwatch: Stopwatch) => unknown;
  /** Runs after each timed call, untimed. */
  readonly tearDown?: () => Promise<void> | void;
  /**
   * CPU time used so far by another process that does part of this side's work (a FHIR server in its own process),
   * in ms: counted into the side's CPU time, so that the CPU-time ratio stays the ratio of the whole cost.
   */
  readonly otherCpuMs?: () => Promise<number>;
}

/** Rates of the two sides and their ratio, over rounds. */
export interface RatioSummary {
  /** Units per second of side A (median over rounds) and its spread. */
  readonly a: Spread;
  /** Units per second of side B. */
  readonly b: Spread;
  /** A's rate over B's, per round (median and spread). */
  readonly ratio: Spread;
  /**
   * The same ratio from CPU time instead of wall-clock time: this process's, plus the other process's a side names
   * ({@link Side.otherCpuMs}). Other work on the machine stretches wall-clock time but not CPU time, so when the two
   * ratios disagree the machine was busy, or (with a server in its own process) the two processes overlapped.
   */
  readonly cpuRatio: Spread;
}

/** The outcome of {@link compare}. */
export interface Comparison extends RatioSummary {
  /** The same after both sides' laps, when both sides lap: the steady state without the cold start. */
  readonly steady?: RatioSummary;
  readonly rounds: number;
}

interface Timing {
  /** Units per wall-clock second. */
  readonly rate: number;
  /** Units per CPU second of this process (all threads). */
  readonly cpuRate: number;
  /** The same from the lap on. */
  readonly steady?: { readonly rate: number; readonly cpuRate: number };
}

function cpuMicros(): number {
  const used = process.cpuUsage();
  return used.user + used.system;
}

async function timed(side: Side): Promise<Timing> {
  await side.setUp?.();
  const otherCpu = async (): Promise<number> => (side.otherCpuMs === undefined ? 0 : (await side.otherCpuMs()) * 1000);
  let lapMs: number | undefined;
  let lapCpu = 0;
  let lapOtherCpu = 0;
  const stopwatch: Stopwatch = {
    lap: async () => {
      lapOtherCpu = await otherCpu();
      lapMs = performance.now();
      lapCpu = cpuMicros();
    },
  };
  const startOtherCpu = await otherCpu();
  const cpu = cpuMicros();
  const started = performance.now();
  await side.run(stopwatch);
  const ended = performance.now();
  const endOwnCpu = cpuMicros();
  const endOtherCpu = await otherCpu();
  // The other process's CPU time joins this process's: both are spent on this side's work.
  const endCpu = endOwnCpu + endOtherCpu - startOtherCpu;
  lapCpu += lapOtherCpu - startOtherCpu;
  await side.tearDown?.();
  const timing = { rate: (side.units / (ended - started)) * 1000, cpuRate: (side.units / (endCpu - cpu)) * 1e6 };
  if (lapMs === undefined || side.coldUnits === undefined) {
    return timing;
  }
  const units = side.units - side.coldUnits;
  return { ...timing, steady: { rate: (units / (ended - lapMs)) * 1000, cpuRate: (units / (endCpu - lapCpu)) * 1e6 } };
}

function summarize(ta: readonly { rate: number; cpuRate: number }[], tb: typeof ta): RatioSummary {
  return {
    a: spread(ta.map((t) => t.rate)),
    b: spread(tb.map((t) => t.rate)),
    ratio: spread(ta.map((t, i) => t.rate / (tb[i] as Timing).rate)),
    cpuRatio: spread(ta.map((t, i) => t.cpuRate / (tb[i] as Timing).cpuRate)),
  };
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
  const timesA: Timing[] = [];
  const timesB: Timing[] = [];
  for (let round = 0; round < options.rounds; round++) {
    if (round % 2 === 0) {
      timesA.push(await timed(a));
      timesB.push(await timed(b));
    } else {
      timesB.push(await timed(b));
      timesA.push(await timed(a));
    }
  }
  const steadyA = timesA.map((t) => t.steady);
  const steadyB = timesB.map((t) => t.steady);
  const bothLapped = steadyA.every((t) => t !== undefined) && steadyB.every((t) => t !== undefined);
  return {
    ...summarize(timesA, timesB),
    ...(bothLapped ? { steady: summarize(steadyA, steadyB) } : {}),
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
