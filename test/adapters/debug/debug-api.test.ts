import { createHash } from 'node:crypto';
import type { Observation, Resource } from '@medplum/fhirtypes';
import type { DebugApiResponse, ValidateApiResponse } from '../../../src/adapters/debug/debug-api';
import {
  DEBUG_API_LIMITS,
  handleDebugApiRequest,
  handleValidateApiRequest,
} from '../../../src/adapters/debug/debug-api';
import {
  BROKEN_DEVICE_MAPPING,
  DEVICE_MAPPING,
  FHIR_MAPPING,
  FIXED_CLOCK,
  HEART_RATE_EVENT,
  TYPE_MATCH_POSITION,
} from './debug-fixtures';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const PATIENT_ID = sha256('_patient-001');

async function debug(body: unknown): Promise<{ status: number; json: DebugApiResponse & { error?: string } }> {
  const answer = await handleDebugApiRequest(body, { clock: FIXED_CLOCK });
  return answer as { status: number; json: DebugApiResponse & { error?: string } };
}

function validate(body: unknown): { status: number; json: ValidateApiResponse & { error?: string } } {
  return handleValidateApiRequest(body) as { status: number; json: ValidateApiResponse & { error?: string } };
}

describe('handleValidateApiRequest (live validation)', () => {
  test('reports a device mapping error at its line and column, with the MedTech error type', () => {
    const { status, json } = validate({ deviceMapping: BROKEN_DEVICE_MAPPING, fhirMapping: FHIR_MAPPING });

    expect(status).toBe(200);
    expect(json.deviceMapping?.issues).toEqual([
      expect.objectContaining({
        severity: 'error',
        code: 'TEMPLATE_EXPRESSION_INVALID',
        medtechErrorType: 'TemplateExpressionException',
        jsonPointer: '/template/0/template/typeMatchExpression',
        ...TYPE_MATCH_POSITION,
      }),
    ]);
    expect(json.fhirMapping?.issues).toEqual([]);
    expect(json.warnings).toEqual([]);
  });

  test('answers only for the mappings sent', () => {
    expect(validate({ fhirMapping: FHIR_MAPPING }).json).toEqual({ fhirMapping: { issues: [] }, warnings: [] });
    expect(validate({ deviceMapping: DEVICE_MAPPING, fhirMapping: null }).json).toEqual({
      deviceMapping: { issues: [] },
      warnings: [],
    });
  });

  test('reports JSON syntax errors at their position', () => {
    const text = DEVICE_MAPPING.replace('"typeName": "heartrate",', '"typeName": "heartrate"');
    const issues = validate({ deviceMapping: text }).json.deviceMapping?.issues ?? [];

    expect(issues[0]).toMatchObject({ code: 'TEMPLATE_JSON_INVALID', line: 8 });
  });

  test('cross-checks the two mappings and puts each warning on the member as the user spelled it', () => {
    // Member names are case-insensitive in MedTech: the warning must land on `ValueName`, not on its parent.
    const device = DEVICE_MAPPING.replace('{ "valueName": "hr"', '{ "ValueName": "HR"');
    const { json } = validate({ deviceMapping: device, fhirMapping: FHIR_MAPPING });

    expect(json.deviceMapping?.issues).toEqual([]);
    expect(json.warnings).toEqual([
      {
        mapping: 'deviceMapping',
        message: expect.stringContaining('ensure case matches'),
        jsonPointer: '/template/0/template/values/0/ValueName',
        line: 12,
        column: 22,
      },
    ]);
  });

  test('warns about a device type without a FHIR template at its typeName', () => {
    const fhir = FHIR_MAPPING.replace('"typeName": "heartrate"', '"typeName": "pulse"');
    const { json } = validate({ deviceMapping: DEVICE_MAPPING, fhirMapping: fhir });

    expect(json.warnings).toEqual([
      expect.objectContaining({ jsonPointer: '/template/0/template/typeName', line: 7, column: 9 }),
    ]);
  });

  test.each([
    ['a body that is not an object', [], 400, 'must be a JSON object'],
    [
      'a mapping that is not a string',
      { deviceMapping: { templateType: 'CollectionContent' } },
      400,
      `'deviceMapping'`,
    ],
    ['raw text that is not JSON', '{"deviceMapping": "secret-value', 400, 'not valid JSON'],
    ['raw text over the size limit', 'x'.repeat(DEBUG_API_LIMITS.maxRequestBytes + 1), 413, 'larger than'],
  ])('rejects %s', (_name, body, status, message) => {
    const answer = validate(body);

    expect(answer.status).toBe(status);
    expect(answer.json.error).toContain(message);
    expect(answer.json.error).not.toContain('secret-value');
  });
});

describe('handleDebugApiRequest (a run through the real pipeline)', () => {
  test('runs events into a fresh store with Create resolution by default', async () => {
    const { status, json } = await debug({
      deviceMapping: DEVICE_MAPPING,
      fhirMapping: FHIR_MAPPING,
      events: [HEART_RATE_EVENT],
    });

    expect(status).toBe(200);
    expect(json.mappingsValid).toBe(true);
    expect(json.errors).toEqual([]);
    expect(json.issues).toEqual({ deviceMapping: [], fhirMapping: [] });
    expect(json.measurements).toEqual([
      expect.objectContaining({
        type: 'heartrate',
        deviceId: 'monitor-01',
        patientId: 'patient-001',
        occurrenceTimeUtc: '2024-03-10T14:00:05.0000000Z',
        properties: [{ name: 'hr', value: '72' }],
      }),
    ]);
    expect(json.observations).toHaveLength(1);
    const observation = json.observations[0] as Observation;
    expect(observation.code.coding?.[0]).toEqual({ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' });
    expect(observation.valueQuantity).toEqual({ value: 72, unit: 'count/min' });
    expect(observation.subject?.reference).toBe(`Patient/${PATIENT_ID}`);
    // MedTech's Create mode: deterministic ids (sha256 of "_" + the identifier value).
    expect(json.resources.map((r) => `${r.resourceType}/${r.id}`)).toEqual([
      `Patient/${PATIENT_ID}`,
      `Device/${sha256('_monitor-01')}`,
    ]);
    expect(json.resources[0]?.meta?.lastUpdated).toBe('2024-03-10T15:00:00.000Z');
  });

  test('takes the raw body text and answers the same', async () => {
    const body = JSON.stringify({
      deviceMapping: DEVICE_MAPPING,
      fhirMapping: FHIR_MAPPING,
      events: [HEART_RATE_EVENT],
    });
    const fromText = await debug(body);
    const fromBytes = await debug(new TextEncoder().encode(body));

    expect(fromText.status).toBe(200);
    expect(fromText.json.observations).toHaveLength(1);
    expect(fromBytes.json).toEqual(fromText.json);
  });

  test('Lookup on an empty store reports DeviceNotFoundException for the message at fault', async () => {
    const { json } = await debug({
      deviceMapping: DEVICE_MAPPING,
      fhirMapping: FHIR_MAPPING,
      events: [HEART_RATE_EVENT],
      resolution: 'Lookup',
    });

    expect(json.observations).toEqual([]);
    expect(json.errors).toEqual([
      expect.objectContaining({
        stage: 'FHIRConversion',
        messageIndex: 0,
        code: 'DEVICE_NOT_FOUND',
        medtechErrorType: 'DeviceNotFoundException',
      }),
    ]);
  });

  test('Lookup resolves against the seed, given as a Bundle', async () => {
    const seed = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: { resourceType: 'Patient', id: 'pat-1' } },
        {
          resource: {
            resourceType: 'Device',
            id: 'dev-1',
            identifier: [{ system: 'urn:example:devices', value: 'monitor-01' }],
            patient: { reference: 'Patient/pat-1' },
          },
        },
      ],
    };
    const { json } = await debug({
      deviceMapping: DEVICE_MAPPING,
      fhirMapping: FHIR_MAPPING,
      events: [HEART_RATE_EVENT],
      resolution: 'lookup',
      seed,
    });

    expect(json.errors).toEqual([]);
    expect(json.observations[0]?.subject?.reference).toBe('Patient/pat-1');
    expect(json.observations[0]?.device?.reference).toBe('Device/dev-1');
    expect(json.resources.map((r: Resource) => `${r.resourceType}/${r.id}`)).toEqual(['Patient/pat-1', 'Device/dev-1']);
  });

  test('an invalid mapping is an answer, not a failure: its errors carry their position', async () => {
    const { status, json } = await debug({
      deviceMapping: BROKEN_DEVICE_MAPPING,
      fhirMapping: FHIR_MAPPING,
      events: [HEART_RATE_EVENT],
    });

    expect(status).toBe(200);
    expect(json.mappingsValid).toBe(false);
    expect(json.measurements).toEqual([]);
    expect(json.errors).toEqual([
      expect.objectContaining({
        stage: 'TemplateLoad',
        medtechErrorType: 'TemplateExpressionException',
        ...TYPE_MATCH_POSITION,
      }),
    ]);
    expect(json.issues.deviceMapping).toHaveLength(1);
  });

  test('without a FHIR mapping only normalization runs; failures name their message', async () => {
    const { json } = await debug({
      deviceMapping: DEVICE_MAPPING,
      events: [
        HEART_RATE_EVENT,
        { body: { deviceId: 'monitor-01', measurementTime: 'yesterday', heartRate: 70 } },
        { bodyText: '{"heartRate": 70, "deviceId": ' },
      ],
    });

    expect(json.mappingsValid).toBe(true);
    expect(json.measurements).toHaveLength(1);
    expect(json.observations).toEqual([]);
    expect(json.errors.map((e) => [e.stage, e.messageIndex])).toEqual([
      ['Normalization', 1],
      ['Normalization', 2],
    ]);
    expect(json.errors[1]?.code).toBe('BODY_INVALID_JSON');
  });

  const valid = { deviceMapping: DEVICE_MAPPING, fhirMapping: FHIR_MAPPING, events: [HEART_RATE_EVENT] };
  test.each([
    ['a body that is not an object', 'null', 400, 'must be a JSON object'],
    ['no device mapping', { events: [] }, 400, `'deviceMapping' is required`],
    ['a FHIR mapping that is not a string', { ...valid, fhirMapping: 1 }, 400, `'fhirMapping' must be a string`],
    ['no events', { deviceMapping: DEVICE_MAPPING }, 400, `'events' is required`],
    [
      'too many events',
      { ...valid, events: Array.from({ length: DEBUG_API_LIMITS.maxEvents + 1 }, () => HEART_RATE_EVENT) },
      400,
      `at most ${DEBUG_API_LIMITS.maxEvents}`,
    ],
    [
      'an event that is a raw device message',
      { ...valid, events: [{ heartRate: 72 }] },
      400,
      `events[0] has an unknown member 'heartRate'`,
    ],
    ['an event without a body', { ...valid, events: [{ properties: {} }] }, 400, `events[0] needs 'body'`],
    [
      'an event with bad properties',
      { ...valid, events: [{ body: {}, properties: [] }] },
      400,
      `'properties' must be an object`,
    ],
    ['an event that is not an object', { ...valid, events: [HEART_RATE_EVENT, 7] }, 400, 'event 1 is not an object'],
    ['an unknown resolution', { ...valid, resolution: 'Guess' }, 400, `'resolution' must be one of Create, Lookup`],
    ['a seed that is an object', { ...valid, seed: { resourceType: 'Patient' } }, 400, `'seed' must be an array`],
    ['a seed resource without an id', { ...valid, seed: [{ resourceType: 'Patient' }] }, 400, `seed[0] needs an 'id'`],
    [
      'a Bundle entry without a resource type',
      { ...valid, seed: { resourceType: 'Bundle', entry: [{ resource: { id: 'x' } }] } },
      400,
      `seed.entry[0].resource needs a 'resourceType'`,
    ],
    [
      'raw text over the size limit',
      ' '.repeat(DEBUG_API_LIMITS.maxRequestBytes + 1),
      413,
      'larger than 5242880 bytes',
    ],
  ])('rejects %s', async (_name, body, status, message) => {
    const answer = await debug(body);

    expect(answer.status).toBe(status);
    expect(answer.json.error).toContain(message);
  });
});
