import { HttpRequest } from '@azure/functions';

import { DEBUG_API_LIMITS } from '../../src/adapters/debug/debug-api';
import { debug } from '../../src/functions/debug';
import { DEVICE_MAPPING, FHIR_MAPPING } from './helpers';

const post = (path: string, body: string, headers: Record<string, string> = {}): HttpRequest =>
  new HttpRequest({
    method: 'POST',
    url: `http://localhost:7071/api/${path}`,
    params: path === 'debug/validate' ? { operation: 'validate' } : path === 'debug/nope' ? { operation: 'nope' } : {},
    headers,
    body: { string: body },
  });

const reading = { deviceId: 'd1', patientId: 'p1', measurementTime: '2024-03-10T14:05:00Z', heartRate: 72 };

describe('debug function (the mapping debugger API)', () => {
  it('runs events through the mappings into a fresh store and answers measurements and Observations', async () => {
    const response = await debug(
      post(
        'debug',
        JSON.stringify({ deviceMapping: DEVICE_MAPPING, fhirMapping: FHIR_MAPPING, events: [{ body: reading }] }),
      ),
    );

    expect(response.status).toBe(200);
    const body = response.jsonBody as { mappingsValid: boolean; measurements: unknown[]; observations: unknown[] };
    expect(body.mappingsValid).toBe(true);
    expect(body.measurements).toEqual([expect.objectContaining({ type: 'heartrate', deviceId: 'd1' })]);
    expect(body.observations).toHaveLength(1);
    expect(response.headers).toEqual({ 'cache-control': 'no-store' });
  });

  it('validates mappings only on /debug/validate', async () => {
    const response = await debug(post('debug/validate', JSON.stringify({ deviceMapping: '{"templateType": 1}' })));

    expect(response.status).toBe(200);
    const body = response.jsonBody as { deviceMapping: { issues: { line: number }[] } };
    expect(body.deviceMapping.issues.length).toBeGreaterThan(0);
    expect(body.deviceMapping.issues[0]?.line).toBe(1);
  });

  it('answers 404 for another operation and 400 for a body that is not a request', async () => {
    expect((await debug(post('debug/nope', '{}'))).status).toBe(404);
    expect((await debug(post('debug', '[]'))).status).toBe(400);
  });

  it('refuses a body over the limit before reading it', async () => {
    const response = await debug(
      post('debug', '{}', { 'content-length': String(DEBUG_API_LIMITS.maxRequestBytes + 1) }),
    );
    expect(response.status).toBe(413);
  });
});
