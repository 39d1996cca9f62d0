import type { CodeValueFhirTemplate, FhirValueTemplate } from '../../../src/pipeline/mapping/fhir-template';
import type { MeasurementGroup } from '../../../src/pipeline/model/measurement-group';
import { buildObservation } from '../../../src/pipeline/transform/build-observation';
import { observationIdentity } from '../../../src/pipeline/transform/observation-identity';
import { groupsFor, mappingOf, measurement, template, type MeasurementInput } from '../../helpers/fhir-stage-fixtures';

const subject = { patientId: 'p', deviceId: 'd' };
const ISSUED = '2024-03-10T15:00:00.0000000Z';

function onlyGroup(t: CodeValueFhirTemplate, inputs: MeasurementInput[]): MeasurementGroup {
  const groups = groupsFor(mappingOf(t), inputs.map(measurement));
  expect(groups).toHaveLength(1);
  return groups[0] as MeasurementGroup;
}

function build(t: CodeValueFhirTemplate, inputs: MeasurementInput[]) {
  const g = onlyGroup(t, inputs);
  return buildObservation(t, g, observationIdentity(g, 'p', 'd'), subject, ISSUED);
}

/** Values of `v` at 14:01, 14:02, … in one hourly window. */
const series = (...vs: string[]): MeasurementInput[] =>
  vs.map((v, i) => ({ time: `2024-03-10T14:0${i + 1}:00.0000000Z`, values: { v } }));

const withValue = (value: FhirValueTemplate) => template({ typeName: 'HeartRate', value });

describe('buildObservation: value[x] (§9.6)', () => {
  it.each([
    ['first (default, the documented rule)', 'first', 72],
    ['last', 'last', 75],
    ['min', 'min', 70.5],
    ['max', 'max', 75],
    ['avg', 'avg', 72.5],
  ] as const)('Quantity with several values: %s', (_name, aggregation, expected) => {
    const o = build(withValue({ valueType: 'Quantity', valueName: 'v', aggregation }), series('72', '70.50', '75'));
    expect(o.valueQuantity).toEqual({ value: expected });
  });

  it('Quantity: the error names template and value name, never the value', () => {
    const t = withValue({ valueType: 'Quantity', valueName: 'v', aggregation: 'first' });
    let error: unknown;
    try {
      build(t, series('secret-72'));
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'INVALID_QUANTITY_VALUE',
      medtechErrorType: 'InvalidQuantityFhirValueException',
    });
    expect(JSON.stringify(error)).not.toContain('secret');
    expect((error as Error).message).not.toContain('secret');
    expect((error as Error).message).toContain("'HeartRate'");
  });

  it('Quantity avg needs every value to be a decimal', () => {
    const t = withValue({ valueType: 'Quantity', valueName: 'v', aggregation: 'avg' });
    expect(() => build(t, series('1', 'x'))).toThrow(expect.objectContaining({ code: 'INVALID_QUANTITY_VALUE' }));
  });

  it.each([
    ['one value', undefined, ['a'], 'a'],
    ['several values, aggregation first', 'first', ['a', 'b'], 'a'],
    ['several values, aggregation last', 'last', ['a', 'b'], 'b'],
    ['a value with spaces is kept as is', undefined, [' a b '], ' a b '],
  ] as const)('String: %s', (_name, aggregation, vs, expected) => {
    const t = withValue({ valueType: 'String', valueName: 'v', ...(aggregation ? { aggregation } : {}) });
    expect(build(t, series(...vs)).valueString).toBe(expected);
  });

  it('String with several values and no aggregation fails the window (MedTech: InvalidOperationException)', () => {
    const t = withValue({ valueType: 'String', valueName: 'v' });
    expect(() => build(t, series('a', 'b'))).toThrow(
      expect.objectContaining({ code: 'INVALID_STRING_VALUE', medtechErrorType: 'InvalidOperationException' }),
    );
  });

  it('CodeableConcept: the template concept, the measured value only has to exist', () => {
    const t = withValue({
      valueType: 'CodeableConcept',
      valueName: 'v',
      text: 'Fall detected',
      codes: [{ system: 'http://snomed.info/sct', code: '217082002' }],
    });
    expect(build(t, series('anything', 'else')).valueCodeableConcept).toEqual({
      coding: [{ system: 'http://snomed.info/sct', code: '217082002' }],
      text: 'Fall detected',
    });
    const noCodes = withValue({ valueType: 'CodeableConcept', valueName: 'v', codes: [] });
    expect(build(noCodes, series('x')).valueCodeableConcept).toEqual({});
  });

  it('SampledData over a Single window is one token', () => {
    const t = template({
      typeName: 'HeartRate',
      periodInterval: 0,
      value: { valueType: 'SampledData', valueName: 'v', defaultPeriod: 1000 },
    });
    expect(build(t, series('7')).valueSampledData).toEqual({
      origin: { value: 0 },
      period: 1000,
      dimensions: 1,
      data: '7',
    });
  });

  it.each([
    ['no value template', template({ typeName: 'HeartRate' })],
    ['a blank valueName', withValue({ valueType: 'Quantity', valueName: ' ', aggregation: 'first' })],
    [
      'no values of that name in the window',
      withValue({ valueType: 'Quantity', valueName: 'other', aggregation: 'first' }),
    ],
  ])('no value[x] with %s', (_name, t) => {
    const o = build(t, series('72'));
    expect(Object.keys(o).filter((k) => k.startsWith('value'))).toEqual([]);
  });

  it('a measurement without properties still creates the Observation', () => {
    const o = build(withValue({ valueType: 'Quantity', valueName: 'v', aggregation: 'first' }), [{ values: {} }]);
    expect(o).toMatchObject({ status: 'final', effectivePeriod: { start: '2024-03-10T14:00:00.0000000Z' } });
    expect(o.valueQuantity).toBeUndefined();
  });
});

describe('buildObservation: the rest of the resource', () => {
  it('omits category for an empty category list and component when none has values', () => {
    const t = template({
      typeName: 'HeartRate',
      category: [],
      components: [{ codes: [], value: { valueType: 'Quantity', valueName: 'missing', aggregation: 'first' } }],
    });
    const o = build(t, series('1'));
    expect(o.category).toBeUndefined();
    expect(o.component).toBeUndefined();
    expect(o.encounter).toBeUndefined();
  });

  it('a CorrelationId window keeps the kind suffix of its measurements in effectivePeriod', () => {
    const t = template({ typeName: 'HeartRate', periodInterval: -1 });
    const o = build(t, [
      { correlationId: 'c', time: '2024-03-10T14:00:00.0000000', values: { v: '1' } },
      { correlationId: 'c', time: '2024-03-10T15:00:00.0000000+00:00', values: { v: '2' } },
    ]);
    expect(o.effectivePeriod).toEqual({
      start: '2024-03-10T14:00:00.0000000',
      end: '2024-03-10T15:00:00.0000000+00:00',
    });
    expect(o.identifier?.[0]?.value).toBe('p.d.HeartRate.c');
  });

  it('takes issued from the caller and ids from the identity', () => {
    const o = build(template({ typeName: 'HeartRate' }), series('1'));
    expect(o.issued).toBe(ISSUED);
    expect(o.id).toMatch(/^[0-9a-f]{64}$/);
    expect(o.subject).toEqual({ reference: 'Patient/p' });
    expect(o.device).toEqual({ reference: 'Device/d' });
  });
});
