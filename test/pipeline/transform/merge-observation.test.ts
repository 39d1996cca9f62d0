import type { Observation } from '@medplum/fhirtypes';
import type { CodeValueFhirTemplate } from '../../../src/pipeline/mapping/fhir-template';
import type { MeasurementGroup } from '../../../src/pipeline/model/measurement-group';
import { buildObservation } from '../../../src/pipeline/transform/build-observation';
import { mergeObservation } from '../../../src/pipeline/transform/merge-observation';
import { SERVICE_SYSTEM, observationIdentity } from '../../../src/pipeline/transform/observation-identity';
import { groupsFor, mappingOf, measurement, template, type MeasurementInput } from '../../helpers/fhir-stage-fixtures';

const subject = { patientId: 'p', deviceId: 'd' };

function groupOf(t: CodeValueFhirTemplate, inputs: MeasurementInput[]): MeasurementGroup {
  const groups = groupsFor(mappingOf(t), inputs.map(measurement));
  expect(groups).toHaveLength(1);
  return groups[0] as MeasurementGroup;
}

function built(t: CodeValueFhirTemplate, inputs: MeasurementInput[]): Observation {
  const g = groupOf(t, inputs);
  return {
    ...buildObservation(t, g, observationIdentity(g, 'p', 'd'), subject, '2024-03-10T15:00:00.0000000Z'),
    meta: { versionId: '1' },
  };
}

const at = (minute: number, v: string, name = 'v'): MeasurementInput => ({
  time: `2024-03-10T14:${String(minute).padStart(2, '0')}:00.0000000Z`,
  values: { [name]: v },
});

const quantity = template({
  typeName: 'HeartRate',
  value: { valueType: 'Quantity', valueName: 'v', aggregation: 'first' },
});
const sampled = template({
  typeName: 'HeartRate',
  value: { valueType: 'SampledData', valueName: 'v', defaultPeriod: 300_000 },
});

describe('mergeObservation (§9.7)', () => {
  it('merging the same window again changes nothing (no write, status stays final)', () => {
    const stored = built(sampled, [at(0, '1'), at(10, '3')]);
    const result = mergeObservation(sampled, groupOf(sampled, [at(0, '1'), at(10, '3')]), stored);
    expect(result.changed).toBe(false);
    expect(result.observation).toEqual(stored);
  });

  it('never modifies the stored resource', () => {
    const stored = built(quantity, [at(0, '1')]);
    const copy = structuredClone(stored);
    mergeObservation(quantity, groupOf(quantity, [at(5, '2')]), stored);
    expect(stored).toEqual(copy);
  });

  it('Quantity is replaced by the new window value and the status becomes amended', () => {
    const stored = built(quantity, [at(0, '72')]);
    const result = mergeObservation(quantity, groupOf(quantity, [at(30, '80')]), stored);
    expect(result).toMatchObject({ changed: true, observation: { status: 'amended', valueQuantity: { value: 80 } } });
  });

  it('Quantity 72.0 stored as 72 is the same decimal: unchanged', () => {
    const stored = built(quantity, [at(0, '72')]);
    expect(mergeObservation(quantity, groupOf(quantity, [at(0, '72.00')]), stored).changed).toBe(false);
  });

  it.each([
    ['max keeps a higher stored value', 'max', '90', '80', 90],
    ['max takes a higher new value', 'max', '70', '80', 80],
    ['min keeps a lower stored value', 'min', '60', '80', 60],
    ['last replaces', 'last', '90', '80', 80],
  ] as const)('Quantity aggregation across batches: %s', (_name, aggregation, storedValue, newValue, expected) => {
    const t = template({ typeName: 'HeartRate', value: { valueType: 'Quantity', valueName: 'v', aggregation } });
    const stored = built(t, [at(0, storedValue)]);
    expect(mergeObservation(t, groupOf(t, [at(30, newValue)]), stored).observation.valueQuantity?.value).toBe(expected);
  });

  it('SampledData: stored slots are kept, new slots added, the new value wins on the same slot time', () => {
    const stored = built(sampled, [at(0, 'a'), at(10, 'b')]);
    const result = mergeObservation(sampled, groupOf(sampled, [at(10, 'B'), at(55, 'z')]), stored);
    expect(result.observation.valueSampledData?.data).toBe('a E B E E E E E E E E z');
  });

  it('SampledData: the stored origin, period and dimensions are kept; only data changes', () => {
    const stored = built(sampled, [at(0, 'a')]);
    (stored.valueSampledData as { origin: object }).origin = { value: 0, unit: 'stored-unit' };
    const result = mergeObservation(sampled, groupOf(sampled, [at(5, 'b')]), stored);
    expect(result.observation.valueSampledData).toEqual({
      origin: { value: 0, unit: 'stored-unit' },
      period: 300000,
      dimensions: 1,
      data: 'a b E E E E E E E E E E',
    });
  });

  it.each([
    [
      'a SampledData with 2 dimensions',
      { valueSampledData: { origin: { value: 0 }, period: 1, dimensions: 2, data: '1 2' } },
    ],
    ['a stored value of another type', { valueString: 'x' }],
  ])('NotSupported: %s', (_name, value) => {
    const stored = { ...built(sampled, [at(0, 'a')]), valueSampledData: undefined, ...value };
    expect(() => mergeObservation(sampled, groupOf(sampled, [at(5, 'b')]), stored as Observation)).toThrow(
      expect.objectContaining({ code: 'NOT_SUPPORTED', medtechErrorType: 'NotSupportedException' }),
    );
  });

  it('a stored Observation without a value gets one', () => {
    const stored = built(quantity, [at(0, '72', 'other')]);
    expect(stored.valueQuantity).toBeUndefined();
    expect(mergeObservation(quantity, groupOf(quantity, [at(5, '80')]), stored).observation.valueQuantity).toEqual({
      value: 80,
    });
  });

  it('category is replaced by the template one, or removed', () => {
    const stored = { ...built(quantity, [at(0, '1')]), category: [{ text: 'old' }] };
    expect(mergeObservation(quantity, groupOf(quantity, [at(0, '1')]), stored).observation.category).toBeUndefined();
    const withCategory = { ...quantity, category: [{ text: 'new' }] };
    expect(mergeObservation(withCategory, groupOf(withCategory, [at(0, '1')]), stored).observation.category).toEqual([
      { text: 'new' },
    ]);
  });

  describe('components', () => {
    const bp = template({
      typeName: 'BloodPressure',
      components: [
        { codes: [], value: { valueType: 'Quantity', valueName: 'sys', aggregation: 'first' } },
        { codes: [], value: { valueType: 'SampledData', valueName: 'wave', defaultPeriod: 300_000 } },
      ],
    });

    it('are found by their service coding and merged; missing ones are appended', () => {
      const stored = built(bp, [
        { type: 'BloodPressure', time: '2024-03-10T14:00:00.0000000Z', values: { sys: '120' } },
      ]);
      const result = mergeObservation(
        bp,
        groupOf(bp, [
          { type: 'BloodPressure', time: '2024-03-10T14:05:00.0000000Z', values: { sys: '130', wave: 'w' } },
        ]),
        stored,
      );
      expect(result.observation.component).toEqual([
        expect.objectContaining({ valueQuantity: { value: 130 } }),
        {
          code: { coding: [{ system: SERVICE_SYSTEM, code: 'wave', display: 'wave' }], text: 'wave' },
          valueSampledData: { origin: { value: 0 }, period: 300000, dimensions: 1, data: 'E w E E E E E E E E E E' },
        },
      ]);
    });

    it('a component coded only by a foreign system is not the same component', () => {
      const stored = built(bp, [{ type: 'BloodPressure', values: { sys: '120' } }]);
      const first = stored.component?.[0];
      if (first === undefined) {
        throw new Error('component expected');
      }
      first.code = { coding: [{ system: 'http://other', code: 'sys' }] };
      const result = mergeObservation(bp, groupOf(bp, [{ type: 'BloodPressure', values: { sys: '130' } }]), stored);
      expect(result.observation.component).toHaveLength(2);
    });
  });

  describe('effective time', () => {
    const single = template({
      typeName: 'HeartRate',
      periodInterval: 0,
      value: { valueType: 'SampledData', valueName: 'v', defaultPeriod: 1000 },
    });

    it('widens the period to cover the window (two readings in one second share an identifier)', () => {
      const stored = built(single, [{ time: '2024-03-10T14:05:00.5000000Z', values: { v: 'b' } }]);
      const result = mergeObservation(
        single,
        groupOf(single, [{ time: '2024-03-10T14:05:00.2000000Z', values: { v: 'a' } }]),
        stored,
      );
      expect(result.observation.effectivePeriod).toEqual({
        start: '2024-03-10T14:05:00.2000000Z',
        end: '2024-03-10T14:05:00.5000000Z',
      });
      // Both in the one-second slot starting at .2: the later time wins.
      expect(result.observation.valueSampledData?.data).toBe('b');
    });

    it('turns a stored effectiveDateTime into a Period', () => {
      const stored = {
        ...built(quantity, [at(0, '1')]),
        effectivePeriod: undefined,
        effectiveDateTime: '2024-03-10T14:30:00+02:00',
      };
      const result = mergeObservation(quantity, groupOf(quantity, [at(0, '1')]), stored);
      expect(result.observation.effectiveDateTime).toBeUndefined();
      expect(result.observation.effectivePeriod).toEqual({
        start: '2024-03-10T12:30:00.0000000Z',
        end: '2024-03-10T14:59:59.9999999Z',
      });
    });

    it('keeps the stored text of an unchanged bound (a server that writes +00:00 does not cause updates)', () => {
      const stored = built(quantity, [at(0, '1')]);
      stored.effectivePeriod = { start: '2024-03-10T14:00:00+00:00', end: '2024-03-10T14:59:59.9999999+00:00' };
      expect(mergeObservation(quantity, groupOf(quantity, [at(0, '1')]), stored).changed).toBe(false);
    });

    it('NotSupported without a readable effective time', () => {
      const stored = { ...built(quantity, [at(0, '1')]), effectivePeriod: { start: 'yesterday' } };
      expect(() => mergeObservation(quantity, groupOf(quantity, [at(0, '1')]), stored)).toThrow(
        expect.objectContaining({ code: 'NOT_SUPPORTED' }),
      );
      const none = { ...built(quantity, [at(0, '1')]), effectivePeriod: undefined };
      expect(() => mergeObservation(quantity, groupOf(quantity, [at(0, '1')]), none)).toThrow(
        expect.objectContaining({ code: 'NOT_SUPPORTED' }),
      );
    });
  });
});
