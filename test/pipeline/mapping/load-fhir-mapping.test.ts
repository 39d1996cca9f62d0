import { loadFhirMapping } from '../../../src/pipeline/mapping/load-fhir-mapping';

const heartRate = {
  templateType: 'CodeValueFhir',
  template: {
    codes: [{ code: '8867-4', system: 'http://loinc.org', display: 'Heart rate' }],
    periodInterval: 60,
    typeName: 'heartrate',
    value: { defaultPeriod: 5000, unit: 'count/min', valueName: 'hr', valueType: 'SampledData' },
  },
};
const mapping = (...templates: unknown[]): string =>
  JSON.stringify({ templateType: 'CollectionFhir', template: templates }, null, 2);

describe('loadFhirMapping', () => {
  it('loads a valid mapping and finds templates by type name ignoring case', () => {
    const { mapping: loaded, issues } = loadFhirMapping(mapping(heartRate));
    expect(issues).toEqual([]);
    expect(loaded?.templateFor('HeartRate')).toEqual({
      typeName: 'heartrate',
      periodInterval: 60,
      codes: [{ code: '8867-4', system: 'http://loinc.org', display: 'Heart rate' }],
      value: { valueType: 'SampledData', valueName: 'hr', defaultPeriod: 5000, unit: 'count/min' },
      components: [],
    });
  });

  it.each([
    ['CollectionFhir', 'CodeValueFhir'],
    ['CollectionFhirTemplate', 'CodeValueFhirTemplate'],
    ['collectionfhir', 'codevaluefhir'],
  ])('accepts the type names %s / %s', (root, child) => {
    const text = JSON.stringify({ templateType: root, template: [{ ...heartRate, templateType: child }] });
    expect(loadFhirMapping(text).issues).toEqual([]);
  });

  it('matches member names and value types case-insensitively', () => {
    const text = JSON.stringify({
      TemplateType: 'CollectionFhir',
      Template: [
        {
          TemplateType: 'CodeValueFhir',
          Template: { TypeName: 'x', Codes: [], Value: { ValueType: 'quantity', ValueName: 'v', Unit: 'kg' } },
        },
      ],
    });
    const { mapping: loaded, issues } = loadFhirMapping(text);
    expect(issues).toEqual([]);
    expect(loaded?.templateFor('x')?.value).toEqual({
      valueType: 'Quantity',
      valueName: 'v',
      unit: 'kg',
      aggregation: 'first',
    });
  });

  it('accepts periodInterval by name or number', () => {
    const at = (p: unknown) =>
      loadFhirMapping(mapping({ ...heartRate, template: { ...heartRate.template, periodInterval: p } })).mapping
        ?.templates[0]?.periodInterval;
    expect([at('Single'), at('hourly'), at('DAILY'), at('CorrelationId'), at(0), at(1440), at(undefined)]).toEqual([
      0, 60, 1440, -1, 0, 1440, 0,
    ]);
  });

  it('rejects an unsupported periodInterval at load time, at its line and column', () => {
    const text = mapping({ ...heartRate, template: { ...heartRate.template, periodInterval: 30 } });
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('"periodInterval"')) + 1;
    const column = (lines[line - 1] ?? '').indexOf('"periodInterval"') + 1;
    const { mapping: loaded, issues } = loadFhirMapping(text);
    expect(loaded).toBeUndefined();
    expect(issues).toEqual([
      expect.objectContaining({
        medtechErrorType: 'InvalidTemplateException',
        jsonPointer: '/template/0/template/periodInterval',
        line,
        column,
        message: expect.stringContaining('60 (Hourly)'),
      }),
    ]);
  });

  it('reports every problem of every template together', () => {
    const text = mapping(
      { templateType: 'CodeValueFhir', template: { codes: [], periodInterval: 60, unknownMember: 1 } },
      { templateType: 'Mystery', template: {} },
      { ...heartRate, template: { ...heartRate.template, value: { valueType: 'SampledData', valueName: 'hr' } } },
    );
    const { issues } = loadFhirMapping(text);
    expect(issues.map((i) => [i.jsonPointer, i.message])).toEqual([
      ['/template/0/template', "Required property 'typeName' not found in JSON."],
      [
        '/template/0/template/unknownMember',
        "Could not find member 'unknownMember' on object of type 'CodeValueFhirTemplate'.",
      ],
      ['/template/1/templateType', 'Expected TemplateType value CodeValueFhirTemplate, actual Mystery.'],
      ['/template/2/template/value', "Required property 'defaultPeriod' not found in JSON."],
    ]);
  });

  it('rejects duplicate type names ignoring case and blank type names', () => {
    const other = { ...heartRate, template: { ...heartRate.template, typeName: 'HEARTRATE' } };
    const blank = { ...heartRate, template: { ...heartRate.template, typeName: ' ' } };
    expect(loadFhirMapping(mapping(heartRate, other, blank)).issues.map((i) => i.message)).toEqual([
      "Duplicate template defined for type name: 'HEARTRATE'.",
      'Empty type name is not allowed.',
    ]);
  });

  it('ignores unknown members inside a value, as MedTech does, but warns about a value without valueName', () => {
    const text = mapping({
      ...heartRate,
      template: { ...heartRate.template, value: { valueType: 'Quantity', somethingElse: true } },
    });
    const { mapping: loaded, issues } = loadFhirMapping(text);
    expect(loaded).toBeDefined();
    expect(issues).toEqual([
      expect.objectContaining({ severity: 'warning', jsonPointer: '/template/0/template/value' }),
    ]);
  });

  it('validates the aggregation extension per value type', () => {
    const withValue = (value: unknown) => mapping({ ...heartRate, template: { ...heartRate.template, value } });
    expect(
      loadFhirMapping(withValue({ valueType: 'Quantity', valueName: 'hr', aggregation: 'max' })).mapping?.templates[0]
        ?.value,
    ).toMatchObject({
      aggregation: 'max',
    });
    expect(
      loadFhirMapping(withValue({ valueType: 'String', valueName: 'hr', aggregation: 'avg' })).issues[0]?.message,
    ).toBe("Member 'aggregation' of a String value must be first or last.");
    expect(
      loadFhirMapping(withValue({ valueType: 'SampledData', valueName: 'hr', defaultPeriod: 1, aggregation: 'max' }))
        .issues[0]?.message,
    ).toBe("Member 'aggregation' applies to Quantity and String values only.");
    expect(
      loadFhirMapping(withValue({ valueType: 'Quantity', valueName: 'hr', aggregation: 'median' })).issues[0]?.message,
    ).toBe("Member 'aggregation' must be one of first, last, min, max, avg.");
  });

  it('requires components to have codes and a value, and loads blood pressure components', () => {
    const bp = {
      templateType: 'CodeValueFhir',
      template: {
        typeName: 'bloodpressure',
        codes: [{ code: '85354-9', system: 'http://loinc.org' }],
        components: [
          { codes: [{ code: '8867-4' }], value: { valueType: 'Quantity', valueName: 'systolic', unit: 'mmHg' } },
          { codes: [{ code: '8462-4' }] },
        ],
      },
    };
    expect(loadFhirMapping(mapping(bp)).issues.map((i) => [i.jsonPointer, i.message])).toEqual([
      ['/template/0/template/components/1', "Required property 'value' not found in JSON."],
    ]);
  });

  it('reports JSON syntax errors with their position, accepting a BOM, comments and trailing commas', () => {
    expect(loadFhirMapping(`\uFEFF// comment\n${mapping(heartRate).replace(/]\n}$/, ',]\n}')}`).issues).toEqual([]);
    const { issues } = loadFhirMapping('{\n  "templateType": "CollectionFhir",\n  "template": [ }\n');
    expect(issues[0]).toMatchObject({
      code: 'TEMPLATE_JSON_INVALID',
      medtechErrorType: 'InvalidTemplateException',
      line: 3,
    });
  });

  it('rejects a root that is not CollectionFhir or has no template array', () => {
    expect(loadFhirMapping('{"templateType":"CollectionContent","template":[]}').issues[0]?.message).toBe(
      'Expected TemplateType value CollectionFhirTemplate, actual CollectionContent.',
    );
    expect(loadFhirMapping('{"templateType":"CollectionFhir","template":{}}').issues[0]?.message).toBe(
      'Expected an array for the template property value.',
    );
    expect(loadFhirMapping('{"templateType":"CollectionFhir","template":[]}').mapping?.templates).toEqual([]);
  });
});
