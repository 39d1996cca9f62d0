/**
 * The no-patient-data scenario shared by test/reliability/no-patient-data.test.ts and its Functions-app child
 * process (phi-functions-run.ts): a marker, the derived forms it could leak in, mappings and events that carry it
 * into every identifier, value, property and malformed body, and a loopback FHIR service that fails in every way
 * the persistence stage knows — echoing the marker in its OperationOutcome diagnostics, as real servers do.
 */
import { Buffer } from 'node:buffer';

import type { RecordedRequest, Responder, ScriptedReply } from '../../helpers/loopback-fhir';

/** The value planted in patient data. Only unreserved URL characters, so URL-encoding and JSON-escaping keep it. */
export const MARKER = 'PHI-MARKER-7f3a';

/**
 * The forms in which the marker could reach a log: as is (also URL-encoded and JSON-escaped, which leave these
 * characters unchanged), in either case, hex-encoded, and base64/base64url at each of the three byte alignments
 * (only the characters that depend on the marker's bytes alone).
 */
export const MARKER_FORMS: readonly string[] = (() => {
  const forms = new Set<string>([
    MARKER,
    encodeURIComponent(MARKER),
    JSON.stringify(MARKER).slice(1, -1),
    JSON.stringify(JSON.stringify(MARKER)).slice(2, -2),
    Buffer.from(MARKER).toString('hex'),
  ]);
  for (const prefix of [0, 1, 2]) {
    const bytes = Buffer.concat([Buffer.alloc(prefix, 0x20), Buffer.from(MARKER)]);
    for (const encoding of ['base64', 'base64url'] as const) {
      const text = bytes.toString(encoding).replace(/=+$/, '');
      // Drop the group holding prefix bytes and the last group (it mixes in whatever follows the marker).
      forms.add(text.slice(prefix === 0 ? 0 : 4, text.length - 4));
    }
  }
  return [...forms];
})();

/**
 * The marker forms found in a text (case-insensitive).
 * @param text - captured output
 */
export function markerFormsIn(text: string): string[] {
  const lower = text.toLowerCase();
  return MARKER_FORMS.filter((form) => lower.includes(form.toLowerCase()));
}

/** A captured log line, from wherever it was captured. */
export interface CapturedLog {
  /** Where it came from, e.g. `logger`, `invocation:ingestDeviceEvents`, `console`, `cli:err`. */
  readonly source: string;
  /** `debug`, `info`, `warn`, `error` (or the host's names: `information`, `warning`, `trace`…). */
  readonly level: string;
  /** Message and fields as captured, JSON. */
  readonly text: string;
}

/** Error codes (or names) each path is expected to have reported: proof that the capture saw the failures. */
export const EXPECTED_CODES = {
  functions: [
    'ENCOUNTER_NOT_FOUND',
    'PATIENT_DEVICE_MISMATCH',
    'DEVICE_NOT_FOUND',
    'FHIR_THROTTLED',
    'STORAGE_UNAVAILABLE',
  ],
  /** The local stack prints MedTech's error type names. */
  local: [
    'EncounterNotFoundException',
    'PatientDeviceMismatchException',
    'DeviceNotFoundException',
    'FhirServiceThrottledException',
    'FhirServiceUnavailableException',
    'InvalidDataFormatException',
    'TemplateExpressionException',
  ],
} as const;

const T = '2024-03-10T14:05:00Z';
const loinc = (code: string): { system: string; code: string } => ({ system: 'http://loinc.org', code });

/** The device mapping: every identifier, a free-text value, and expressions that fail on the marker. */
export const DEVICE_MAPPING = JSON.stringify({
  templateType: 'CollectionContent',
  template: [
    {
      templateType: 'CalculatedContent',
      template: {
        typeName: 'heartrate',
        typeMatchExpression: '$..[?(@heartRate)]',
        deviceIdExpression: '$.matchedToken.deviceId',
        patientIdExpression: '$.matchedToken.patientId',
        encounterIdExpression: '$.matchedToken.encounterId',
        timestampExpression: '$.matchedToken.measurementTime',
        values: [{ valueName: 'hr', valueExpression: '$.matchedToken.heartRate', required: true }],
      },
    },
    {
      templateType: 'CalculatedContent',
      template: {
        typeName: 'note',
        typeMatchExpression: '$..[?(@note)]',
        deviceIdExpression: '$.matchedToken.deviceId',
        patientIdExpression: '$.matchedToken.patientId',
        encounterIdExpression: '$.matchedToken.encounterId',
        correlationIdExpression: '$.matchedToken.correlationId',
        timestampExpression: '$.matchedToken.measurementTime',
        values: [{ valueName: 'note', valueExpression: '$.matchedToken.note', required: true }],
      },
    },
    {
      templateType: 'CalculatedContent',
      template: {
        typeName: 'spo2',
        defaultExpressionLanguage: 'JmesPath',
        typeMatchExpression: 'to_array(Body)[?spo2 != null]',
        deviceIdExpression: 'matchedToken.deviceId',
        patientIdExpression: 'matchedToken.patientId',
        timestampExpression: 'matchedToken.measurementTime',
        values: [{ valueName: 'spo2', valueExpression: 'matchedToken.spo2', required: true }],
      },
    },
    {
      templateType: 'CalculatedContent',
      template: {
        typeName: 'castjsonata',
        typeMatchExpression: '$..[?(@castMe)]',
        deviceIdExpression: '$.matchedToken.deviceId',
        patientIdExpression: '$.matchedToken.patientId',
        timestampExpression: '$.matchedToken.measurementTime',
        values: [
          {
            valueName: 'v',
            valueExpression: { value: '$number(matchedToken.castMe)', language: 'JsonAta' },
            required: true,
          },
        ],
      },
    },
    {
      templateType: 'CalculatedContent',
      template: {
        typeName: 'raisejsonata',
        typeMatchExpression: '$..[?(@raise)]',
        deviceIdExpression: '$.matchedToken.deviceId',
        patientIdExpression: '$.matchedToken.patientId',
        timestampExpression: '$.matchedToken.measurementTime',
        values: [{ valueName: 'v', valueExpression: { value: '$error(matchedToken.raise)', language: 'JsonAta' } }],
      },
    },
    {
      templateType: 'CalculatedContent',
      template: {
        typeName: 'ratiojmespath',
        defaultExpressionLanguage: 'JmesPath',
        typeMatchExpression: 'to_array(Body)[?ratio != null]',
        deviceIdExpression: 'matchedToken.deviceId',
        patientIdExpression: 'matchedToken.patientId',
        timestampExpression: 'matchedToken.measurementTime',
        values: [{ valueName: 'r', valueExpression: 'divide(matchedToken.ratio, `2`)', required: true }],
      },
    },
  ],
});

/** The FHIR mapping: SampledData, Quantity and a free-text String observed per correlation id. */
export const FHIR_MAPPING = JSON.stringify({
  templateType: 'CollectionFhir',
  template: [
    {
      templateType: 'CodeValueFhir',
      template: {
        typeName: 'heartrate',
        periodInterval: 60,
        codes: [loinc('8867-4')],
        value: { valueType: 'SampledData', valueName: 'hr', defaultPeriod: 60000, unit: 'count/min' },
      },
    },
    {
      templateType: 'CodeValueFhir',
      template: {
        typeName: 'note',
        periodInterval: -1,
        codes: [loinc('48767-8')],
        value: { valueType: 'String', valueName: 'note' },
      },
    },
    {
      templateType: 'CodeValueFhir',
      template: {
        typeName: 'spo2',
        periodInterval: 0,
        codes: [loinc('59408-5')],
        value: { valueType: 'Quantity', valueName: 'spo2', unit: '%' },
      },
    },
    {
      templateType: 'CodeValueFhir',
      template: {
        typeName: 'ratiojmespath',
        periodInterval: 0,
        codes: [loinc('9279-1')],
        value: { valueType: 'Quantity', valueName: 'r' },
      },
    },
  ],
});

/** One event: a JSON body, or raw text/bytes, with application and system properties. */
export interface ScenarioEvent {
  readonly name: string;
  readonly body?: unknown;
  /** Sent as raw text instead of `body` (malformed JSON, plain text). */
  readonly bodyText?: string;
  readonly properties?: Record<string, string>;
  readonly systemProperties?: Record<string, string>;
}

const M = MARKER;
const reading = (fields: Record<string, unknown>): Record<string, unknown> => ({
  deviceId: `dev-${M}-ok`,
  patientId: `pat-${M}`,
  measurementTime: T,
  [`unknown-${M}`]: { nested: M, list: [M, `${M} free text`] },
  ...fields,
});
const props = { [`prop-${M}`]: `value-${M}`, patientName: `Jane ${M} Doe` };
const sysProps = { 'iothub-connection-device-id': `dev-${M}-hub`, 'x-custom': M };

/**
 * Events for identity mode Create: saved, failing identity resolution (encounter not found, patient/device
 * mismatch, device search unavailable), failing FHIR writes (422, 429, 503; a 500 that recovers), failing
 * normalization (bad timestamp, failing JSONata/JMESPath expressions, $error with the marker, missing device id),
 * and malformed bodies containing the marker.
 */
export const CREATE_EVENTS: readonly ScenarioEvent[] = [
  { name: 'saved heart rate', body: reading({ heartRate: 72 }), properties: props, systemProperties: sysProps },
  { name: 'encounter not found', body: reading({ deviceId: `dev-${M}-enc`, encounterId: `enc-${M}`, heartRate: 70 }) },
  {
    name: 'patient/device mismatch',
    body: reading({ deviceId: `dev-${M}-mismatch`, patientId: `pat-${M}-mismatch`, heartRate: 71 }),
  },
  { name: 'non-numeric SampledData value', body: reading({ deviceId: `dev-${M}-sd`, heartRate: `${M} bpm` }) },
  { name: 'note saved', body: reading({ note: `${M} saved free text`, correlationId: `corr-${M}-1` }) },
  { name: 'note 500 then saved', body: reading({ note: `${M} flaky500`, correlationId: `corr-${M}-2` }) },
  { name: 'note 422', body: reading({ note: `${M} fail422`, correlationId: `corr-${M}-3` }) },
  { name: 'note 429', body: reading({ note: `${M} fail429`, correlationId: `corr-${M}-4` }) },
  { name: 'note 503', body: reading({ note: `${M} fail503`, correlationId: `corr-${M}-5` }) },
  { name: 'device search 503', body: reading({ deviceId: `dev-${M}-search503`, spo2: 97 }) },
  { name: 'JMESPath value', body: reading({ deviceId: `dev-${M}-ratio`, ratio: 3 }) },
  { name: 'JMESPath type error', body: reading({ ratio: M }) },
  { name: 'timestamp is the marker', body: reading({ measurementTime: M, heartRate: 60 }) },
  { name: 'JSONata cast fails', body: reading({ castMe: M }) },
  { name: 'JSONata $error with the marker', body: reading({ raise: `${M} raised` }) },
  { name: 'device id missing', body: { patientId: `pat-${M}`, measurementTime: T, heartRate: 75, note2: M } },
  { name: 'truncated JSON', bodyText: `{"deviceId":"dev-${M}","heartRate":` },
  { name: 'plain text', bodyText: `${M} is not JSON` },
  { name: 'JSON with a stray token', bodyText: `{"deviceId": ${M}, "heartRate": 70}` },
  { name: 'JSON string body', body: M },
  { name: 'deeply nested', bodyText: `${'['.repeat(70)}"${M}"${']'.repeat(70)}` },
];

/** Events for identity mode Lookup: an unknown device, and a known one. */
export const LOOKUP_EVENTS: readonly ScenarioEvent[] = [
  { name: 'device not found', body: reading({ deviceId: `dev-${M}-unknown`, heartRate: 80 }) },
  { name: 'known device', body: reading({ deviceId: `dev-${M}-known`, heartRate: 81 }) },
];

// ---- the loopback FHIR service ---------------------------------------------------------------------------------------

const bundle = (resources: readonly Record<string, unknown>[]): ScriptedReply => ({
  status: 200,
  body: {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: resources.map((resource) => ({ resource })),
  },
});

/** An OperationOutcome quoting what it was sent, as FHIR servers' diagnostics do. */
const outcome = (status: number, code: string, echoed: string): ScriptedReply => ({
  status,
  headers: status === 429 || status >= 500 ? { 'x-ms-retry-after-ms': '0' } : {},
  body: {
    resourceType: 'OperationOutcome',
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${echoed}</div>` },
    issue: [{ severity: 'error', code, diagnostics: `rejected: ${echoed}`, details: { text: echoed } }],
  },
});

/**
 * A FHIR service for the scenario: searches answer by the identifier value (`-known` devices exist and are linked,
 * `-mismatch` ones are linked to another patient, `-search503` ones are unavailable, encounters never exist);
 * writes are created, except Observations whose content says `fail422`, `fail429`, `fail503` (always) or
 * `flaky500` (twice). Every failure echoes the request in its diagnostics. Batches are answered entry by entry.
 */
export function scenarioFhir(): Responder {
  const attempts = new Map<string, number>();
  const searches = new Map<string, number>();
  let version = 0;
  const single = (method: string, path: string, query: URLSearchParams, body: unknown): ScriptedReply => {
    const [type = '', id] = path.replace(/^\/+/, '').split('/');
    if (method === 'GET' && id === undefined) {
      const token = query.get('identifier') ?? '';
      const bar = token.lastIndexOf('|');
      const identifier = bar < 0 ? { value: token } : { system: token.slice(0, bar), value: token.slice(bar + 1) };
      const seen = (searches.get(`${type}|${token}`) ?? 0) + 1;
      searches.set(`${type}|${token}`, seen);
      const device = (patient: string): Record<string, unknown> => ({
        resourceType: 'Device',
        id: `dev-${patient}`,
        meta: { versionId: '1' },
        identifier: [identifier],
        patient: { reference: `Patient/${patient}` },
      });
      if (identifier.value.includes('search503')) {
        return outcome(503, 'transient', `${type}?identifier=${token}`);
      }
      if (type === 'Device' && identifier.value.includes('-known')) {
        return bundle([device('pat-known')]);
      }
      // Linked to another patient by the time the pipeline looks again (after its first lookup found nothing).
      if (type === 'Device' && identifier.value.includes('-mismatch') && seen > 1) {
        return bundle([device('other')]);
      }
      return bundle([]);
    }
    if (method === 'GET') {
      return outcome(404, 'not-found', `${type}/${id ?? ''}`);
    }
    const text = JSON.stringify(body ?? null);
    if (type === 'Observation') {
      for (const [word, status, code] of [
        ['fail422', 422, 'processing'],
        ['fail429', 429, 'throttled'],
        ['fail503', 503, 'transient'],
      ] as const) {
        if (text.includes(word)) {
          return outcome(status, code, text);
        }
      }
      if (text.includes('flaky500')) {
        const n = (attempts.get(path) ?? 0) + 1;
        attempts.set(path, n);
        if (n <= 2) {
          return outcome(500, 'exception', text);
        }
      }
    }
    const resource = { ...(body as Record<string, unknown>), meta: { versionId: String(++version), lastUpdated: T } };
    return { status: 201, headers: { etag: `W/"${version}"` }, body: resource };
  };
  return (request: RecordedRequest): ScriptedReply => {
    if (request.method === 'POST' && (request.pathname === '/' || request.pathname === '')) {
      const entries = ((request.body as { entry?: unknown[] } | undefined)?.entry ?? []) as {
        request?: { method?: string; url?: string };
        resource?: unknown;
      }[];
      return {
        status: 200,
        // The retry hint of throttled or unavailable entries (clients read it from the batch reply's headers).
        headers: { 'x-ms-retry-after-ms': '0' },
        body: {
          resourceType: 'Bundle',
          type: 'batch-response',
          entry: entries.map((entry) => {
            const url = new URL(`http://fhir/${entry.request?.url ?? ''}`);
            const reply = single(entry.request?.method ?? 'GET', url.pathname, url.searchParams, entry.resource);
            const status = reply.status ?? 200;
            const failed = status >= 400;
            return {
              response: {
                status: String(status),
                ...(reply.headers?.etag === undefined ? {} : { etag: reply.headers.etag }),
                ...(failed ? { outcome: reply.body } : {}),
              },
              ...(failed ? {} : { resource: reply.body }),
            };
          }),
        },
      };
    }
    return single(request.method, request.pathname, request.query, request.body);
  };
}
