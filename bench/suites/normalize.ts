/**
 * Normalize: events per second of the mapping engine with `mappings/devicecontent.json` (nine templates: JSONPath,
 * JMESPath and JSONata; direct, IoT Hub and IoT Central envelopes) against the hand-written extractor of the same
 * fields, on the same events (UTF-8 JSON bytes; both sides parse). The two must produce identical measurements,
 * which is checked before anything is timed.
 */
import { isDeepStrictEqual } from 'node:util';

import type { DeviceEvent, Measurement, Normalizer } from '../../src/pipeline';
import { createNormalizer, normalizeBatch } from '../../src/pipeline';
import { exampleDeviceMapping } from '../lib/mappings';
import type { Spread } from '../lib/measure';
import { compare } from '../lib/measure';
import type { ProfileSummary } from '../lib/profile';
import { profile, summarizeProfile } from '../lib/profile';
import type { SuiteOptions } from '../lib/suite';
import { REALISTIC_MIX, deviceEvents } from '../lib/workload';
import { extractBatchByHand } from './hand-written-extractor';

/** What the normalize benchmark reports. */
export interface NormalizeResult {
  readonly eventsPerSec: number;
  readonly handWrittenEventsPerSec: number;
  readonly ratio: number;
  readonly ratioSpread: Spread;
  /** The same ratio from this process's CPU time: when it differs from `ratio`, the machine was busy. */
  readonly cpuTimeRatio: Spread;
  readonly eventsPerSecSpread: Spread;
  readonly handWrittenEventsPerSecSpread: Spread;
  readonly rounds: number;
  readonly events: number;
  readonly batchSize: number;
  readonly measurementsPerEvent: number;
  readonly templates: number;
  /** The heaviest functions of the engine's loop (`--profile`). */
  readonly profile?: ProfileSummary;
}

const BATCH_SIZE = 500;
const START = Date.UTC(2024, 2, 10, 8, 0, 0);

function batches(events: readonly DeviceEvent[]): DeviceEvent[][] {
  const out: DeviceEvent[][] = [];
  for (let i = 0; i < events.length; i += BATCH_SIZE) {
    out.push(events.slice(i, i + BATCH_SIZE));
  }
  return out;
}

/**
 * Normalizes batches with the engine, as the pipeline does (per-event isolation, metrics to a no-op sink).
 * @param normalizer - the loaded mapping
 * @param work - the batches
 */
export async function normalizeAll(normalizer: Normalizer, work: readonly DeviceEvent[][]): Promise<Measurement[]> {
  const all: Measurement[] = [];
  for (const batch of work) {
    const result = await normalizeBatch(normalizer, batch);
    if (result.failures.length > 0) {
      throw new Error(`normalize failed: ${result.failures[0]?.error.message ?? ''}`);
    }
    for (const m of result.measurements) {
      all.push(m);
    }
  }
  return all;
}

/**
 * Runs the comparison.
 * @param options - `quick` for a smoke run
 */
export async function runNormalize(options: SuiteOptions): Promise<NormalizeResult> {
  const mapping = exampleDeviceMapping();
  const normalizer = createNormalizer(mapping, () => START);
  const events = deviceEvents({
    devices: 100,
    count: options.quick ? 5_000 : 20_000,
    startMs: START,
    intervalMs: 60_000,
    mix: REALISTIC_MIX,
  });
  const work = batches(events);

  const expected = extractBatchByHand(events);
  const actual = await normalizeAll(normalizer, work);
  if (!isDeepStrictEqual(actual, expected)) {
    const i = actual.findIndex((m, k) => !isDeepStrictEqual(m, expected[k]));
    throw new Error(
      `the hand-written extractor disagrees with the engine at measurement ${i}: ` +
        `${JSON.stringify(actual[i])} vs ${JSON.stringify(expected[i])}`,
    );
  }

  const comparison = await compare(
    { name: 'engine', units: events.length, run: () => normalizeAll(normalizer, work) },
    {
      name: 'hand-written',
      units: events.length,
      run: () => {
        for (const batch of work) {
          extractBatchByHand(batch);
        }
      },
    },
    { rounds: options.quick ? 3 : 11, warmUp: 2 },
  );
  const engineProfile =
    options.profileDir === undefined
      ? undefined
      : summarizeProfile(
          await profile(options.profileDir, 'normalize-engine', async () => {
            for (let round = 0; round < 5; round++) {
              await normalizeAll(normalizer, work);
            }
          }),
        );
  return {
    eventsPerSec: Math.round(comparison.a.median),
    handWrittenEventsPerSec: Math.round(comparison.b.median),
    ratio: comparison.ratio.median,
    ratioSpread: comparison.ratio,
    cpuTimeRatio: comparison.cpuRatio,
    eventsPerSecSpread: comparison.a,
    handWrittenEventsPerSecSpread: comparison.b,
    rounds: comparison.rounds,
    events: events.length,
    batchSize: BATCH_SIZE,
    measurementsPerEvent: expected.length / events.length,
    templates: mapping.templates.length,
    ...(engineProfile === undefined ? {} : { profile: engineProfile }),
  };
}
