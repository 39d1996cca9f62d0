import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadDeviceMapping } from '../../../src/pipeline/mapping/load-device-mapping';

const jsonPath = (overrides: Record<string, unknown> = {}) => ({
  templateType: 'JsonPathContent',
  template: {
    typeName: 'heartrate',
    typeMatchExpression: '$..[?(@heartRate)]',
    deviceIdExpression: '$.deviceId',
    timestampExpression: '$.endDate',
    values: [{ valueName: 'hr', valueExpression: '$.heartRate', required: true }],
    ...overrides,
  },
});
const calculated = (overrides: Record<string, unknown> = {}) => ({
  templateType: 'CalculatedContent',
  template: {
    typeName: 'heartrate',
    typeMatchExpression: '$..[?(@heartRate)]',
    deviceIdExpression: '$.matchedToken.deviceId',
    timestampExpression: '$.matchedToken.endDate',
    values: [{ valueName: 'hr', valueExpression: '$.matchedToken.heartRate', required: 'true' }],
    ...overrides,
  },
});
const collection = (...templates: unknown[]): string =>
  JSON.stringify({ templateType: 'CollectionContent', template: templates }, null, 2);
const messages = (text: string) => loadDeviceMapping(text).issues.map((i) => i.message);

describe('loadDeviceMapping', () => {
  it('loads every template type and compiles its expressions', () => {
    const { mapping, issues } = loadDeviceMapping(
      collection(
        jsonPath(),
        calculated(),
        { templateType: 'IotJsonPathContent', template: { typeName: 'hr', typeMatchExpression: '$..[?(@Body.hr)]' } },
        {
          templateType: 'IotCentralJsonPathContent',
          template: { typeName: 'hr', typeMatchExpression: '$..[?(@telemetry.hr)]' },
        },
      ),
    );
    expect(issues).toEqual([]);
    expect(mapping?.templates.map((t) => [t.kind, t.scope, t.deviceId.candidates.map((c) => c.source)])).toEqual([
      ['JsonPathContent', 'match', ['$.deviceId']],
      ['CalculatedContent', 'envelope', ['$.matchedToken.deviceId']],
      ['IotJsonPathContent', 'match', ['$.SystemProperties.iothub-connection-device-id']],
      ['IotCentralJsonPathContent', 'match', ['$.deviceId']],
    ]);
    expect(mapping?.templates[2]?.timestamp.candidates.map((c) => c.source)).toEqual([
      '$.Properties.iothub-creation-time-utc',
      '$.SystemProperties.iothub-enqueuedtime',
    ]);
    expect(mapping?.templates[1]?.values[0]).toMatchObject({ name: 'hr', required: true });
  });

  it.each([
    ['JsonPathContent', true],
    ['jsonpathcontenttemplate', true],
    ['IOTJSONPATHCONTENT', true],
    ['IotJsonPathContentTemplate', true],
    ['IotCentralJsonPathContent', true],
    ['IotCentralJsonPathContentTemplate', false],
    ['calculatedcontent', true],
    ['CalculatedContentTemplate', false],
    ['CollectionContent', false],
  ])('matches the template type %s like MedTech (accepted: %s)', (templateType, accepted) => {
    const template = templateType.toLowerCase().startsWith('calculated') ? calculated() : jsonPath();
    const result = loadDeviceMapping(collection({ ...template, templateType }));
    expect(result.mapping !== undefined).toBe(accepted);
    if (!accepted) {
      expect(result.issues[0]).toMatchObject({
        message: `No match found for template type ${templateType}.`,
        medtechErrorType: 'InvalidTemplateException',
        jsonPointer: '/template/0/templateType',
      });
    }
  });

  it('accepts the root type with or without the Template suffix, in any case', () => {
    for (const root of ['CollectionContent', 'collectionContent', 'COLLECTIONCONTENTTEMPLATE']) {
      expect(loadDeviceMapping(JSON.stringify({ templateType: root, template: [jsonPath()] })).issues).toEqual([]);
    }
    expect(messages('{"templateType":"CollectionFhir","template":[]}')).toEqual([
      'Expected TemplateType value CollectionContentTemplate, actual CollectionFhir.',
    ]);
  });

  it('matches member names case-insensitively and reports unknown members with the object type', () => {
    const text = collection({
      TemplateType: 'JsonPathContent',
      Template: {
        TypeName: 'hr',
        TypeMatchExpression: '$..[?(@hr)]',
        DeviceIdExpression: '$.d',
        TimestampExpression: '$.t',
        deviceIdExpressionFake: '$.x',
      },
    });
    expect(loadDeviceMapping(text).issues).toEqual([
      expect.objectContaining({
        message: "Could not find member 'deviceIdExpressionFake' on object of type 'JsonPathContentTemplate'.",
        jsonPointer: '/template/0/Template/deviceIdExpressionFake',
        template: 'hr',
      }),
    ]);
  });

  it('names every missing required member of every template, and still checks the other templates', () => {
    const text = collection(
      { templateType: 'JsonPathContent', template: { typeName: 'a' } },
      { templateType: 'IotJsonPathContent', template: { typeName: 'b' } },
      calculated({ values: undefined }),
      jsonPath({ typeMatchExpression: '$..[?(@a' }),
    );
    expect(messages(text)).toEqual([
      "Required property 'typeMatchExpression' not found in JSON.",
      "Required property 'deviceIdExpression' not found in JSON.",
      "Required property 'timestampExpression' not found in JSON.",
      "Required property 'typeMatchExpression' not found in JSON.",
      "Required property 'values' not found in JSON.",
      expect.stringContaining('$..[?(@a'),
    ]);
    expect(loadDeviceMapping(text).issues[5]).toMatchObject({
      medtechErrorType: 'TemplateExpressionException',
      jsonPointer: '/template/3/template/typeMatchExpression',
    });
  });

  it('accepts expression objects with a language and applies defaultExpressionLanguage to plain strings', () => {
    const { mapping, issues } = loadDeviceMapping(
      collection(
        calculated({
          defaultExpressionLanguage: 'JmesPath',
          typeMatchExpression: { value: '$..[?(@heartRate)]', language: 'JsonPath' },
          deviceIdExpression: 'matchedToken.deviceId',
          timestampExpression: { value: 'matchedToken.endDate', unknownMemberIsIgnored: 1 },
          values: [{ valueName: 'hr', valueExpression: { value: 'matchedToken.heartRate + 1', language: 'jsonata' } }],
        }),
      ),
    );
    expect(issues).toEqual([]);
    const template = mapping?.templates[0];
    expect([
      template?.typeMatch?.language,
      template?.deviceId.candidates[0]?.language,
      template?.timestamp.candidates[0]?.language,
    ]).toEqual(['JsonPath', 'JmesPath', 'JmesPath']);
    expect(template?.values[0]).toMatchObject({
      required: false,
      candidates: [expect.objectContaining({ language: 'JsonAta' })],
    });
  });

  it('reports an unknown expression language and a JMESPath syntax error at load time, where they are written', () => {
    const text = collection(
      calculated({ deviceIdExpression: { value: 'matchedToken.deviceId', language: 'XPath' } }),
      calculated({ timestampExpression: { value: 'matchedToken.[', language: 'JmesPath' } }),
    );
    const { issues } = loadDeviceMapping(text);
    expect(issues.map((i) => [i.jsonPointer, i.medtechErrorType])).toEqual([
      ['/template/0/template/deviceIdExpression/language', 'InvalidTemplateException'],
      ['/template/1/template/timestampExpression/value', 'TemplateExpressionException'],
    ]);
    expect(issues[1]?.message).toMatch(/^The following JmesPath expression could not be parsed: matchedToken\.\[/);
    const line = text.split('\n').findIndex((l) => l.includes('"matchedToken.["')) + 1;
    expect(issues[1]?.line).toBe(line);
  });

  it('lets a blank JsonPathContent expression load (it fails per message) but rejects a blank CalculatedContent one', () => {
    const legacy = loadDeviceMapping(collection(jsonPath({ deviceIdExpression: ' ', patientIdExpression: '' })));
    expect(legacy.issues).toEqual([]);
    expect(legacy.mapping?.templates[0]?.deviceId.candidates).toEqual([]);
    expect(messages(collection(calculated({ deviceIdExpression: '  ' })))).toEqual([
      "The expression for 'deviceIdExpression' must not be empty.",
    ]);
    expect(messages(collection(calculated({ deviceIdExpression: { value: '' } })))).toEqual([
      "The expression in 'value' must not be empty.",
    ]);
  });

  it('makes a correlation id required only when an expression is set', () => {
    const without = loadDeviceMapping(collection(jsonPath())).mapping?.templates[0];
    const withId = loadDeviceMapping(collection(jsonPath({ correlationIdExpression: '$.session' }))).mapping
      ?.templates[0];
    expect(without?.correlationId).toBeUndefined();
    expect(withId?.correlationId).toMatchObject({ name: 'CorrelationIdExpression', required: true });
  });

  it('accepts required as a boolean or the strings true/false, and rejects anything else', () => {
    const values = (required: unknown) => [{ valueName: 'hr', valueExpression: '$.hr', required }];
    expect(
      loadDeviceMapping(collection(jsonPath({ values: values('TRUE') }))).mapping?.templates[0]?.values[0]?.required,
    ).toBe(true);
    expect(
      loadDeviceMapping(collection(jsonPath({ values: values('false') }))).mapping?.templates[0]?.values[0]?.required,
    ).toBe(false);
    expect(messages(collection(jsonPath({ values: values('yes') })))).toEqual([
      "Member 'required' must be true or false.",
    ]);
  });

  it('rejects a nested CollectionContent and a template that is not an object', () => {
    expect(messages(collection({ templateType: 'CollectionContent', template: [] }))).toEqual([
      'No match found for template type CollectionContent.',
    ]);
    expect(messages(collection({ templateType: 'JsonPathContent', template: [] }))).toEqual([
      'Expected an object for the template property value.',
    ]);
    expect(messages('{"templateType":"CollectionContent","template":{}}')).toEqual([
      'Expected an array for the template property value.',
    ]);
  });

  it('loads an empty collection', () => {
    expect(loadDeviceMapping('{"templateType":"CollectionContent","template":[]}').mapping?.templates).toEqual([]);
  });

  it('reports JSON syntax errors with line and column, after a byte-order mark', () => {
    const { issues } = loadDeviceMapping('\uFEFF{\n  "templateType": "CollectionContent",\n  "template": [,]\n}');
    expect(issues[0]).toMatchObject({ code: 'TEMPLATE_JSON_INVALID', line: 3, column: 16 });
  });

  it('loads the deployable example mapping', () => {
    const text = readFileSync(join(__dirname, '../../../mappings/devicecontent.json'), 'utf8');
    const { mapping, issues } = loadDeviceMapping(text);
    expect(issues).toEqual([]);
    expect(mapping?.templates.length).toBeGreaterThanOrEqual(6);
  });
});
