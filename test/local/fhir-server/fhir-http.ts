import type { Bundle, Observation, Resource } from '@medplum/fhirtypes';
import type { EmbeddedFhirServer } from '../../../src/local/fhir-server';

/** A parsed FHIR HTTP response. */
export interface FhirHttpResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/**
 * Sends one request to the server and parses the JSON answer (undefined for an empty body).
 * @param server - the server
 * @param method - HTTP method
 * @param path - path relative to the FHIR base, e.g. `Observation?identifier=a|b`
 * @param body - JSON body (strings are sent as they are)
 * @param headers - extra request headers
 */
export async function fhir<T = unknown>(
  server: EmbeddedFhirServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<FhirHttpResponse<T>> {
  const response = await fetch(`${server.url}/${path}`, {
    method,
    headers: { 'content-type': 'application/fhir+json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** The identifier system MedTech gives its Observations. */
export const OBS_SYSTEM = 'https://azure.microsoft.com/en-us/services/iomt-fhir-connector/';

/**
 * A valid Observation as the pipeline writes them.
 * @param value - the identifier value
 * @param extra - fields to add or override
 */
export function observation(value: string, extra: Partial<Observation> = {}): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system: OBS_SYSTEM, value }],
    code: { coding: [{ system: OBS_SYSTEM, code: 'HeartRate', display: 'HeartRate' }], text: 'HeartRate' },
    subject: { reference: 'Patient/p1' },
    device: { reference: 'Device/d1' },
    effectivePeriod: { start: '2024-01-01T00:00:00.0000000Z', end: '2024-01-01T01:00:00.0000000Z' },
    valueQuantity: { value: 72, unit: 'count/min', system: 'http://unitsofmeasure.org', code: '/min' },
    ...extra,
  };
}

/**
 * The resources of a searchset Bundle.
 * @param bundle - the Bundle
 */
export function resourcesOf<T extends Resource = Resource>(bundle: Bundle): T[] {
  return (bundle.entry ?? []).map((entry) => entry.resource as T);
}

/**
 * The `W/"…"` ETag of a resource's version.
 * @param resource - the resource
 */
export function etagOf(resource: Resource): string {
  return `W/"${resource.meta?.versionId ?? ''}"`;
}
