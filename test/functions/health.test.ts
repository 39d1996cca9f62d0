import { health } from '../../src/functions/health';
import { setComposition } from '../../src/functions/shared/composition';
import type { HealthReport } from '../../src/functions/shared/health-checks';
import { LoopbackFhir } from '../helpers/loopback-fhir';
import { type TestComposition, testComposition } from './helpers';

const TOKEN = 'token-that-must-not-leak';
const capability = { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1' };
const bundle = { resourceType: 'Bundle', type: 'searchset', entry: [] };

describe('health function', () => {
  let fhir: LoopbackFhir;
  let t: TestComposition;

  const compose = (overrides: Parameters<typeof testComposition>[0] = {}): void => {
    t = testComposition({
      ...overrides,
      settings: { FhirServerUrl: fhir.baseUrl, FhirAuthMode: 'Bearer', FhirBearerToken: TOKEN, ...overrides.settings },
    });
    setComposition(t.composition);
  };
  const check = async (): Promise<{ status: number; report: HealthReport; text: string }> => {
    const response = await health();
    return {
      status: response.status ?? 200,
      report: response.jsonBody as HealthReport,
      text: JSON.stringify(response.jsonBody),
    };
  };

  beforeEach(async () => {
    fhir = await LoopbackFhir.start();
    fhir.otherwise((request) => (request.pathname === '/metadata' ? { body: capability } : { body: bundle }));
  });
  afterEach(async () => {
    setComposition(undefined);
    await fhir.close();
  });

  it('answers 200 with every check healthy, after proving the FHIR service accepts the token', async () => {
    compose();
    const { status, report, text } = await check();

    expect(status).toBe(200);
    expect(report.status).toBe('Healthy');
    expect(Object.fromEntries(Object.entries(report.checks).map(([name, c]) => [name, c.status]))).toEqual({
      deviceMapping: 'Healthy',
      fhirMapping: 'Healthy',
      fhirService: 'Healthy',
      deadLetterStore: 'Healthy',
    });
    expect(report.checks.fhirService?.data).toEqual({ metadataStatus: 200, searchStatus: 200, authenticated: true });
    expect(fhir.requests.map((r) => [r.method, r.pathname, r.headers.authorization])).toEqual([
      ['GET', '/metadata', `Bearer ${TOKEN}`],
      ['GET', '/Device', `Bearer ${TOKEN}`],
    ]);
    expect(text).not.toContain(TOKEN);
  });

  it('answers 503 when the FHIR service cannot be reached', async () => {
    compose();
    await fhir.close();

    const { status, report } = await check();

    expect(status).toBe(503);
    expect(report.status).toBe('Unhealthy');
    expect(report.checks.fhirService).toMatchObject({ status: 'Unhealthy', code: 'FHIR_UNAVAILABLE' });
    expect(report.checks.deadLetterStore?.status).toBe('Healthy');
  });

  it.each([
    [401, 'FHIR_UNAUTHORIZED', 'rejected the access token'],
    [403, 'FHIR_FORBIDDEN', 'FHIR Data Writer role'],
  ])('names the cause when the search answers %i', async (searchStatus, code, description) => {
    compose();
    fhir.reply('GET /Device', { status: searchStatus, body: { resourceType: 'OperationOutcome', issue: [] } });

    const { status, report } = await check();

    expect(status).toBe(503);
    expect(report.checks.fhirService).toMatchObject({
      status: 'Unhealthy',
      code,
      data: { metadataStatus: 200, searchStatus },
    });
    expect(report.checks.fhirService?.description).toContain(description);
  });

  it('reports a server that is not a FHIR service', async () => {
    compose();
    fhir.reply('GET /metadata', { status: 200, body: '<html>login</html>' });

    const { report } = await check();

    expect(report.checks.fhirService).toMatchObject({ status: 'Unhealthy', code: 'FHIR_REQUEST_FAILED' });
  });

  it('reports a token that cannot be obtained without trying the service', async () => {
    compose({
      overrides: {
        fhirTokens: {
          getToken: () => Promise.reject(new Error('managed identity unavailable')),
          invalidate: () => false,
        },
      },
    });

    const { status, report } = await check();

    expect(status).toBe(503);
    expect(report.checks.fhirService).toMatchObject({ status: 'Unhealthy', code: 'FHIR_UNAUTHORIZED' });
    expect(fhir.requests).toHaveLength(0);
  });

  it('answers 503 when the dead-letter store is unreachable', async () => {
    compose();
    t.deadLetters.available = false;

    const { status, report } = await check();

    expect(status).toBe(503);
    expect(report.checks.deadLetterStore).toMatchObject({ status: 'Unhealthy', code: 'STORAGE_UNAVAILABLE' });
  });

  it('is Degraded (still 200) while a rejected mapping version waits behind the last valid one', async () => {
    compose();
    await t.composition.fhirMappings.get();
    t.fhirSource.text = '{"templateType": "CollectionFhir", "template": [{"templateType": "CodeValueFhir"}]}';

    const { status, report } = await check();

    expect(status).toBe(200);
    expect(report.status).toBe('Degraded');
    expect(report.checks.fhirMapping).toMatchObject({ status: 'Degraded', data: { issues: expect.any(Number) } });
    expect(report.checks.deviceMapping?.status).toBe('Healthy');
  });

  it('is Unhealthy while no valid mapping was ever loaded', async () => {
    compose();
    t.deviceSource.text = 'not json';

    const { status, report } = await check();

    expect(status).toBe(503);
    expect(report.checks.deviceMapping).toMatchObject({ status: 'Unhealthy', code: 'TEMPLATE_INVALID' });
  });

  it('reports settings that do not parse as a failed check, listing every problem', async () => {
    const saved = { ...process.env };
    process.env.FhirAuthMode = 'Password';
    process.env.FhirBearerToken = TOKEN;
    try {
      const { status, report, text } = await check();

      expect(status).toBe(503);
      expect(report.checks.settings).toMatchObject({ status: 'Unhealthy', code: 'CONFIGURATION_INVALID' });
      for (const setting of ['EventHubConnection', 'EventHubName', 'FhirServerUrl', 'FhirAuthMode']) {
        expect(report.checks.settings?.description).toContain(setting);
      }
      expect(text).not.toContain(TOKEN);
    } finally {
      process.env = saved;
    }
  });
});
