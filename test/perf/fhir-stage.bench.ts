/**
 * Speed of the FHIR stage's pure core: grouping a batch, building + saving a chunk against the in-memory store
 * (create, then the idempotent no-op re-run), and SampledData encoding and merging of a full day at 1-second slots.
 * Each figure is the best of three timed rounds after a warm-up round. `run()` returns units per second per case
 * (measurements, windows or SampledData slots); `npm run bench` calls it.
 */

import { performance } from 'node:perf_hooks';

import { formatRoundTrip } from '../../src/pipeline/convert/instant';
import { groupMeasurements } from '../../src/pipeline/group/group-measurements';
import type { IdentityResolver } from '../../src/pipeline/identity/resolve-identity';
import type { Measurement } from '../../src/pipeline/model/measurement';
import { createObservationCache } from '../../src/pipeline/persist/observation-cache';
import { saveObservationGroups } from '../../src/pipeline/persist/save-observations';
import { buildObservation } from '../../src/pipeline/transform/build-observation';
import { mergeObservation } from '../../src/pipeline/transform/merge-observation';
import { observationIdentity } from '../../src/pipeline/transform/observation-identity';
import { mappingOf, template } from '../helpers/fhir-stage-fixtures';
import { MemoryFhirStore } from '../helpers/memory-fhir-store';

/** Units per second of `run`, best of three timed rounds after a warm-up round. */
async function best(units: number, run: () => unknown): Promise<number> {
  let fastest = Infinity;
  for (let round = 0; round < 4; round++) {
    const start = performance.now();
    await run();
    const ms = performance.now() - start;
    if (round > 0) {
      fastest = Math.min(fastest, ms);
    }
  }
  return Math.round((units / fastest) * 1000);
}

const mapping = mappingOf(
  template({ typeName: 'HeartRate', value: { valueType: 'Quantity', valueName: 'hr', aggregation: 'first' } }),
  template({ typeName: 'Ecg', codes: [], value: { valueType: 'SampledData', valueName: 'mv', defaultPeriod: 1000 } }),
);
const periodFor = (type: string) => mapping.templateFor(type)?.periodInterval;
const identity: IdentityResolver = { resolve: (g) => Promise.resolve({ deviceId: `d-${g.deviceId}`, patientId: 'p' }) };
const base = Date.UTC(2024, 2, 10, 14, 0, 0);

/** 10 000 heart-rate readings of 500 devices over 4 hours: 2000 windows. */
const batch: Measurement[] = Array.from({ length: 10_000 }, (_, i) => ({
  type: 'HeartRate',
  occurrenceTimeUtc: formatRoundTrip({ epochMs: base + (i % 4) * 3_600_000 + i * 7, subMsTicks: 0, kind: 'utc' }),
  ingestionTimeUtc: '2024-03-10T18:00:00.0000000Z',
  deviceId: `device-${i % 500}`,
  patientId: null,
  encounterId: null,
  correlationId: null,
  properties: [{ name: 'hr', value: String(60 + (i % 40)) }],
}));

/** Runs every case; returns units per second by case name. */
export async function run(): Promise<Record<string, number>> {
  const results: Record<string, number> = {};
  results['groupMeasurements 10k measurements (measurements/s)'] = await best(batch.length, () =>
    groupMeasurements(batch, periodFor),
  );

  const groups = groupMeasurements(batch, periodFor).slice(0, 500);
  results['save 500 new windows (in-memory store) (windows/s)'] = await best(groups.length, () =>
    saveObservationGroups(groups, { store: new MemoryFhirStore(), mapping, identity, clock: () => base }),
  );
  const store = new MemoryFhirStore();
  const cache = createObservationCache({ clock: () => base });
  await saveObservationGroups(groups, { store, mapping, identity, clock: () => base, cache });
  results['re-save 500 unchanged windows (warm cache, no writes) (windows/s)'] = await best(groups.length, () =>
    saveObservationGroups(groups, { store, mapping, identity, clock: () => base, cache }),
  );

  const ecg = mapping.templateFor('Ecg');
  if (ecg === undefined) {
    throw new Error('no Ecg template');
  }
  const day: Measurement[] = Array.from({ length: 86_400 / 2 }, (_, i) => ({
    ...(batch[0] as Measurement),
    type: 'Ecg',
    occurrenceTimeUtc: formatRoundTrip({ epochMs: Date.UTC(2024, 2, 10) + i * 2000, subMsTicks: 0, kind: 'utc' }),
    properties: [{ name: 'mv', value: '0.5' }],
  }));
  const dayTemplate = { ...ecg, periodInterval: 1440 as const };
  const [dayGroup] = groupMeasurements(day, () => 1440);
  if (dayGroup === undefined) {
    throw new Error('no group');
  }
  const id = observationIdentity(dayGroup, 'p', 'd');
  const built = buildObservation(dayTemplate, dayGroup, id, { patientId: 'p', deviceId: 'd' }, '2024-03-10T00:00:00Z');
  results['build daily SampledData, 86 400 slots, 43 200 values (slots/s)'] = await best(86_400, () =>
    buildObservation(dayTemplate, dayGroup, id, { patientId: 'p', deviceId: 'd' }, '2024-03-10T00:00:00Z'),
  );
  results['merge the same day into it (decode + merge + encode + compare) (slots/s)'] = await best(86_400, () =>
    mergeObservation(dayTemplate, dayGroup, built),
  );
  return results;
}

if (require.main === module) {
  void run().then((results) => {
    for (const [name, perSec] of Object.entries(results)) {
      process.stdout.write(`${name}: ${perSec.toLocaleString('en-US')}\n`);
    }
  });
}
