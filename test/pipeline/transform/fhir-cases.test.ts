/**
 * Data-driven conformance cases of the transformation (test/cases/fhir/*.json):
 * `{ name, template, measurements, subject?, existing?, expect: { observation, changed? } | { code } }`.
 * Measurements use the compact builder form (`type`, `time`, `values`, ids). The windows of the batch are applied in
 * order to one Observation: built (or merged into `existing`) by the first, merged by the following ones.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Observation } from '@medplum/fhirtypes';
import type { CodeValueFhirTemplate } from '../../../src/pipeline/mapping/fhir-template';
import { buildObservation, type ObservationSubject } from '../../../src/pipeline/transform/build-observation';
import { mergeObservation } from '../../../src/pipeline/transform/merge-observation';
import { observationIdentity } from '../../../src/pipeline/transform/observation-identity';
import { groupsFor, mappingOf, measurement, type MeasurementInput } from '../../helpers/fhir-stage-fixtures';

interface FhirCase {
  readonly name: string;
  readonly template: CodeValueFhirTemplate;
  readonly measurements: MeasurementInput[];
  readonly subject?: ObservationSubject;
  readonly existing?: Observation;
  readonly expect: { readonly observation?: Observation; readonly changed?: boolean; readonly code?: string };
}

const dir = path.join(__dirname, '../../cases/fhir');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as FhirCase);

const ISSUED = '2024-03-10T15:00:00.0000000Z';

function run(c: FhirCase): { observation: Observation | undefined; changed: boolean } {
  const subject = c.subject ?? { patientId: 'patient-res', deviceId: 'device-res' };
  const groups = groupsFor(mappingOf(c.template), c.measurements.map(measurement));
  let current = c.existing;
  let changed = false;
  for (const group of groups) {
    if (current === undefined) {
      current = buildObservation(
        c.template,
        group,
        observationIdentity(group, subject.patientId, subject.deviceId),
        subject,
        ISSUED,
      );
      changed = true;
    } else {
      const merged = mergeObservation(c.template, group, current);
      current = merged.observation;
      changed ||= merged.changed;
    }
  }
  return { observation: current, changed };
}

describe('FHIR transformation cases', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    if (c.expect.code !== undefined) {
      expect(() => run(c)).toThrow(expect.objectContaining({ code: c.expect.code }));
      return;
    }
    const result = run(c);
    expect(result.observation).toEqual(c.expect.observation);
    if (c.expect.changed !== undefined) {
      expect(result.changed).toBe(c.expect.changed);
    }
  });
});
