import type { Device, Observation, Patient } from '@medplum/fhirtypes';

import type { FhirAuth } from '../../../src/adapters/fhir/auth';
import { createTokenProvider } from '../../../src/adapters/fhir/auth';
import {
  createVerifyCommand,
  defaultVerifyDependencies,
  type VerifyDependencies,
  type VerifyResult,
} from '../../../src/local/cli/commands/verify';
import { UsageError } from '../../../src/local/cli/io';
import { type EmbeddedFhirServer, startFhirServer } from '../../../src/local/fhir-server';
import { SERVICE_SYSTEM } from '../../../src/pipeline';
import { captureIo } from './capture-io';

const DEVICE_SYSTEM = 'urn:example:devices';

function device(id: string, identifier: string): Device {
  return {
    resourceType: 'Device',
    id,
    identifier: [{ system: DEVICE_SYSTEM, value: identifier }],
    patient: { reference: 'Patient/p1' },
  };
}

/** An Observation shaped like MedTech's (service coding, effectivePeriod). */
function observation(id: string, deviceId: string, type: string, value: Partial<Observation>): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    identifier: [{ system: SERVICE_SYSTEM, value: `p1.${deviceId}.${type}.${id}` }],
    code: { coding: [{ system: SERVICE_SYSTEM, code: type, display: type }], text: type },
    subject: { reference: 'Patient/p1' },
    device: { reference: `Device/${deviceId}` },
    effectivePeriod: { start: '2024-03-10T14:00:00.0000000Z', end: '2024-03-10T14:59:59.9999999Z' },
    ...value,
  };
}

/** Waits until the wall clock moved on, so the next write gets a later `meta.lastUpdated` (the deadline bounds it). */
async function nextMillisecond(): Promise<void> {
  const start = Date.now();
  const deadline = start + 1000;
  while (Date.now() <= start + 1) {
    if (Date.now() > deadline) {
      throw new Error('the clock did not advance');
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('iomt verify against the embedded FHIR server', () => {
  let server: EmbeddedFhirServer;

  async function put(resource: Patient | Device | Observation): Promise<void> {
    const response = await fetch(`${server.url}/${resource.resourceType}/${resource.id ?? ''}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(resource),
    });
    expect(response.status).toBeLessThan(300);
    await nextMillisecond();
  }

  beforeAll(async () => {
    server = await startFhirServer({ port: 0, host: '127.0.0.1' });
    await put({ resourceType: 'Patient', id: 'p1', identifier: [{ value: 'patient-1' }] });
    await put(device('dev-a', 'monitor-a'));
    await put(device('dev-b', 'monitor-b'));
    await put(observation('hr-old', 'dev-a', 'HeartRate', { valueQuantity: { value: 70, unit: 'count/min' } }));
    await put(
      observation('bp', 'dev-a', 'BloodPressure', {
        component: [
          { code: { text: 'systolic' }, valueQuantity: { value: 120, unit: 'mmHg' } },
          { code: { text: 'diastolic' }, valueQuantity: { value: 80, unit: 'mmHg' } },
        ],
      }),
    );
    await put(
      observation('hr-b', 'dev-b', 'HeartRate', {
        valueSampledData: { origin: { value: 0 }, period: 5000, dimensions: 1, data: '71 E 73 E E 76' },
      }),
    );
    await put(observation('hr-new', 'dev-a', 'HeartRate', { valueQuantity: { value: 72, unit: 'count/min' } }));
  });

  afterAll(async () => {
    await server.close();
  });

  const deps = (overrides: Partial<VerifyDependencies> = {}): VerifyDependencies => ({
    ...defaultVerifyDependencies,
    ...overrides,
  });

  it('lists the newest Observation per device and type, newest first, as a table', async () => {
    const io = captureIo();
    expect(await createVerifyCommand(deps()).run(['--fhir-url', server.url], io)).toBe(0);

    const lines = io.output().split('\n');
    expect(lines[0]).toMatch(/^DEVICE\s+TYPE\s+LAST UPDATED\s+EFFECTIVE\s+STATUS\s+OBS\s+VALUE$/);
    expect(lines[1]).toMatch(
      /^monitor-a\s+HeartRate\s+\S+Z\s+2024-03-10T14:00:00.0000000Z \.\. \S+\s+final\s+2\s+72 count\/min$/,
    );
    expect(lines[2]).toMatch(/^monitor-b\s+HeartRate\s.*\s1\s+SampledData: 6 values \(3 empty\), period 5000 ms$/);
    expect(lines[3]).toMatch(/^monitor-a\s+BloodPressure\s.*\s1\s+systolic=120 mmHg, diastolic=80 mmHg$/);
    expect(io.output()).toContain('3 device/type pairs from 4 Observations.');
  });

  it('prints JSON with --json, and filters by device identifier with --device [system|]value', async () => {
    const io = captureIo();
    const code = await createVerifyCommand(deps()).run(
      ['--fhir-url', server.url, '--device', `${DEVICE_SYSTEM}|monitor-a`, '--json'],
      io,
    );
    expect(code).toBe(0);
    const result = JSON.parse(io.output()) as VerifyResult;
    expect(result).toEqual({
      fhirUrl: server.url,
      scanned: 3,
      truncated: false,
      rows: [
        expect.objectContaining({
          device: 'Device/dev-a',
          deviceIdentifier: 'monitor-a',
          type: 'HeartRate',
          observationId: 'hr-new',
          status: 'final',
          value: '72 count/min',
          observations: 2,
        }),
        expect.objectContaining({ observationId: 'bp', type: 'BloodPressure', observations: 1 }),
      ],
    });
  });

  it('stops at --max and says the scan was cut', async () => {
    const io = captureIo();
    expect(await createVerifyCommand(deps()).run(['--fhir-url', server.url, '--max', '1', '--json'], io)).toBe(0);
    const result = JSON.parse(io.output()) as VerifyResult;
    expect(result.scanned).toBe(1);
    expect(result.truncated).toBe(true);
    expect(result.rows.map((r) => r.observationId)).toEqual(['hr-new']);
  });

  it('exits 1 when a device identifier matches no Device', async () => {
    const io = captureIo();
    expect(await createVerifyCommand(deps()).run(['--fhir-url', server.url, '--device', 'no-such-device'], io)).toBe(1);
    expect(io.output()).toBe(`No Observations found for devices with identifier no-such-device at ${server.url}.\n`);
  });

  it('with --wait, polls until Observations appear', async () => {
    const empty = await startFhirServer({ port: 0 });
    try {
      let now = 0;
      const sleeps: number[] = [];
      const command = createVerifyCommand(
        deps({
          now: () => now,
          sleep: async (ms) => {
            sleeps.push(ms);
            now += ms;
            if (sleeps.length === 2) {
              await fetch(`${empty.url}/Observation/late`, {
                method: 'PUT',
                headers: { 'content-type': 'application/fhir+json' },
                body: JSON.stringify(observation('late', 'dev-x', 'Steps', { valueQuantity: { value: 5000 } })),
              });
            }
          },
        }),
      );
      const io = captureIo();
      expect(await command.run(['--fhir-url', empty.url, '--wait', '60'], io)).toBe(0);
      expect(sleeps).toEqual([5000, 5000]);
      expect(io.output()).toContain('Steps');
      expect(io.output()).toContain('Device/dev-x');

      const none = captureIo();
      now = 0;
      sleeps.length = 0;
      const emptyAgain = await startFhirServer({ port: 0 });
      try {
        expect(await command.run(['--fhir-url', emptyAgain.url, '--wait', '12'], none)).toBe(1);
        expect(sleeps).toEqual([5000, 5000, 2000]);
      } finally {
        await emptyAgain.close();
      }
    } finally {
      await empty.close();
    }
  });

  it('follows next links across pages', async () => {
    const many = await startFhirServer({ port: 0, validate: false });
    try {
      const entries = Array.from({ length: 250 }, (_, i) => ({
        resource: observation(`o${i}`, 'dev-m', 'Steps', { valueQuantity: { value: i } }),
        request: { method: 'PUT', url: `Observation/o${i}` },
      }));
      for (let i = 0; i < entries.length; i += 125) {
        const response = await fetch(many.url, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json' },
          body: JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: entries.slice(i, i + 125) }),
        });
        expect(response.status).toBe(200);
      }
      const urls: string[] = [];
      const io = captureIo();
      const command = createVerifyCommand(
        deps({
          fetch: (input, init) => {
            urls.push(input instanceof URL ? input.href : (input as string));
            return fetch(input, init);
          },
        }),
      );
      expect(await command.run(['--fhir-url', many.url, '--json'], io)).toBe(0);
      const result = JSON.parse(io.output()) as VerifyResult;
      expect(result.scanned).toBe(250);
      expect(result.truncated).toBe(false);
      expect(result.rows).toHaveLength(1);
      expect(result.rows[0]?.observations).toBe(250);
      expect(urls.filter((u) => u.includes('/Observation?') || u.includes('_count'))).toHaveLength(2);
    } finally {
      await many.close();
    }
  });
});

describe('iomt verify authentication and errors', () => {
  function fakeFhir(handler: (url: string, headers: Record<string, string>) => Response): {
    fetch: typeof fetch;
    calls: { url: string; headers: Record<string, string> }[];
  } {
    const calls: { url: string; headers: Record<string, string> }[] = [];
    return {
      calls,
      fetch: (input, init) => {
        const headers = (init?.headers ?? {}) as Record<string, string>;
        const url = input instanceof URL ? input.href : (input as string);
        calls.push({ url, headers });
        return Promise.resolve(handler(url, headers));
      },
    };
  }
  const emptyBundle = (): Response =>
    new Response(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: [] }), { status: 200 });

  it.each([
    ['http://127.0.0.1:8080/fhir', [], 'none'],
    ['http://localhost:8080/fhir', [], 'none'],
    ['https://ws-fhir.fhir.azurehealthcareapis.com', [], 'default'],
    ['https://ws-fhir.fhir.azurehealthcareapis.com', ['--auth', 'managed-identity'], 'managedIdentity'],
    ['http://127.0.0.1:8080/fhir', ['--auth', 'default'], 'default'],
  ])('%s %j authenticates with %s', async (url, extra, mode) => {
    const modes: FhirAuth['mode'][] = [];
    const fhir = fakeFhir(() => emptyBundle());
    const command = createVerifyCommand({
      ...defaultVerifyDependencies,
      fetch: fhir.fetch,
      tokenProvider: (auth, fhirUrl) => {
        modes.push(auth.mode);
        return createTokenProvider({ mode: 'bearer', token: 't' }, fhirUrl);
      },
    });
    expect(await command.run(['--fhir-url', url, ...extra], captureIo())).toBe(1);
    expect(modes).toEqual([mode]);
  });

  it.each([
    [['--auth', 'bearer', '--token', 'tok-1'], {}, 'Bearer tok-1'],
    [['--auth', 'bearer'], { IOMT_FHIR_TOKEN: 'tok-2' }, 'Bearer tok-2'],
    [[], {}, undefined],
  ])('sends %j %j as authorization %s', async (extra, env, expected) => {
    const fhir = fakeFhir(() => emptyBundle());
    const command = createVerifyCommand({ ...defaultVerifyDependencies, fetch: fhir.fetch }, env);
    await command.run(['--fhir-url', 'http://127.0.0.1:9/fhir', ...extra], captureIo());
    expect(fhir.calls).toHaveLength(1);
    expect(fhir.calls[0]?.headers.authorization).toBe(expected);
    expect(fhir.calls[0]?.url).toBe('http://127.0.0.1:9/fhir/Observation?_sort=-_lastUpdated&_count=200');
  });

  it('explains a 403 without echoing the response body', async () => {
    const fhir = fakeFhir(
      () =>
        new Response(
          JSON.stringify({
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'error', code: 'forbidden', diagnostics: 'principal 1234 secret-detail' }],
          }),
          { status: 403 },
        ),
    );
    const io = captureIo();
    const command = createVerifyCommand({ ...defaultVerifyDependencies, fetch: fhir.fetch });
    expect(await command.run(['--fhir-url', 'http://127.0.0.1:9/fhir'], io)).toBe(1);
    expect(io.errors()).toBe(
      'iomt verify: GET /fhir/Observation returned 403 (forbidden): not authorized — assign FHIR Data Reader on the ' +
        'FHIR service to this identity\n',
    );
  });

  it('refuses to follow a next link to another host (the token must not leave the FHIR service)', async () => {
    const fhir = fakeFhir(
      () =>
        new Response(
          JSON.stringify({
            resourceType: 'Bundle',
            type: 'searchset',
            link: [{ relation: 'next', url: 'https://elsewhere.example/fhir/Observation?page=2' }],
            entry: [],
          }),
          { status: 200 },
        ),
    );
    const io = captureIo();
    const command = createVerifyCommand({ ...defaultVerifyDependencies, fetch: fhir.fetch });
    expect(await command.run(['--fhir-url', 'http://127.0.0.1:9/fhir', '--auth', 'bearer', '--token', 'x'], io)).toBe(
      1,
    );
    expect(io.errors()).toMatch(/next link outside the FHIR service/);
    expect(fhir.calls).toHaveLength(1);
  });

  it.each([
    [[], /--fhir-url is required/],
    [['--fhir-url', 'not a url'], /absolute http\(s\) URL/],
    [['--fhir-url', 'https://f.example/fhir?x=1'], /without a query/],
    [
      ['--fhir-url', 'https://f.example', '--auth', 'basic'],
      /--auth must be one of default, managed-identity, bearer, none/,
    ],
    [['--fhir-url', 'https://f.example', '--auth', 'bearer'], /needs --token/],
    [['--fhir-url', 'https://f.example', '--token', 't'], /only used with --auth bearer/],
    [['--fhir-url', 'https://f.example', '--max', '0'], /--max must be a whole number/],
    [['--fhir-url', 'https://f.example', '--wait=-1'], /--wait must be a whole number/],
    [['--fhir-url', 'https://f.example', '--device', ' '], /--device needs an identifier/],
  ])('rejects %j', async (args, message) => {
    const command = createVerifyCommand(defaultVerifyDependencies, {});
    const error = await command.run(args, captureIo()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
  });
});
