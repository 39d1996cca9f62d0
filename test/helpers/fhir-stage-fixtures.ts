/**
 * Builders for FHIR-stage tests: measurements, templates, mappings, measurement groups and a settable clock.
 */
import type { CodeValueFhirTemplate, FhirMapping, PeriodInterval } from '../../src/pipeline/mapping/fhir-template';
import type { Measurement } from '../../src/pipeline/model/measurement';
import type { MeasurementGroup } from '../../src/pipeline/model/measurement-group';
import { groupMeasurements } from '../../src/pipeline/group/group-measurements';

/** What {@link measurement} takes; every member has a default. */
export interface MeasurementInput {
  readonly type?: string;
  readonly time?: string;
  readonly ingested?: string;
  readonly deviceId?: string;
  readonly patientId?: string | null;
  readonly encounterId?: string | null;
  readonly correlationId?: string | null;
  /** Property name → value, in order. */
  readonly values?: Readonly<Record<string, string>> | readonly (readonly [string, string])[];
}

/**
 * A measurement. Defaults: type `HeartRate`, device `device-1`, patient `patient-1`, time 2024-03-10T14:05:00Z.
 * @param input - overrides
 */
export function measurement(input: MeasurementInput = {}): Measurement {
  const values = input.values ?? {};
  const pairs = Array.isArray(values)
    ? (values as readonly (readonly [string, string])[])
    : Object.entries(values as Record<string, string>);
  return {
    type: input.type ?? 'HeartRate',
    occurrenceTimeUtc: input.time ?? '2024-03-10T14:05:00.0000000Z',
    ingestionTimeUtc: input.ingested ?? '2024-03-10T14:05:01.0000000Z',
    deviceId: input.deviceId ?? 'device-1',
    patientId: input.patientId === undefined ? 'patient-1' : input.patientId,
    encounterId: input.encounterId ?? null,
    correlationId: input.correlationId ?? null,
    properties: pairs.map(([name, value]) => ({ name, value })),
  };
}

/**
 * A CodeValueFhir template. Defaults: Hourly, a LOINC code, no value, no components.
 * @param over - overrides
 */
export function template(over: Partial<CodeValueFhirTemplate> & { typeName: string }): CodeValueFhirTemplate {
  return {
    periodInterval: 60,
    codes: [{ code: '8867-4', system: 'http://loinc.org', display: 'Heart rate' }],
    components: [],
    ...over,
  };
}

/**
 * A loaded mapping over templates, with MedTech's case-insensitive lookup.
 * @param templates - the templates
 */
export function mappingOf(...templates: CodeValueFhirTemplate[]): FhirMapping {
  const byName = new Map(templates.map((t) => [t.typeName.toLowerCase(), t]));
  return { templates, templateFor: (type) => byName.get(type.toLowerCase()) };
}

/**
 * Groups measurements with the mapping's intervals (the production wiring).
 * @param mapping - the mapping
 * @param measurements - the batch
 */
export function groupsFor(mapping: FhirMapping, measurements: readonly Measurement[]): MeasurementGroup[] {
  return groupMeasurements(
    measurements,
    (type): PeriodInterval | undefined => mapping.templateFor(type)?.periodInterval,
  );
}

/** A clock the test moves by hand. */
export class ManualClock {
  nowMs: number;
  /** @param startMs - initial epoch milliseconds */
  constructor(startMs = Date.UTC(2024, 2, 10, 15, 0, 0)) {
    this.nowMs = startMs;
  }
  /** The clock function to inject. */
  readonly now = (): number => this.nowMs;
  /** @param ms - milliseconds to move forward */
  advance(ms: number): void {
    this.nowMs += ms;
  }
}
