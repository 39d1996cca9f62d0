import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Bundle, Observation } from '@medplum/fhirtypes';

import { createFileDeadLetterStore } from '../../../src/adapters/dead-letter/file-dead-letter-store';
import { systemTimers } from '../../../src/local/stack/batcher';
import { DataDirLockedError } from '../../../src/local/stack/data-dir-lock';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../../src/local/stack/local-stack';
import { InvalidMappingsError } from '../../../src/local/stack/mapping-files';
import type { StackSnapshot } from '../../../src/local/stack/stack-metrics';
import { pollUntil } from './poll';

const ROOT = join(__dirname, '../../..');
const MAPPINGS = { device: join(ROOT, 'mappings/devicecontent.json'), fhir: join(ROOT, 'mappings/fhirmapping.json') };

let dataDir: string;
const running: LocalStack[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'iomt-stack-'));
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
  rmSync(dataDir, { recursive: true, force: true });
});

async function start(overrides: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  const stack = await startLocalStack({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    mappings: MAPPINGS,
    fhir: { kind: 'embedded', host: '127.0.0.1', port: 0 },
    resolution: 'Create',
    batching: { maxEvents: 300, maxWaitMs: 50, partitions: 4 },
    clock: Date.now,
    timers: systemTimers,
    retryDelayMs: 10,
    ...overrides,
  });
  running.push(stack);
  return stack;
}

const now = (): string => new Date().toISOString();

async function ingest(stack: LocalStack, body: string, contentType = 'application/json', query = '') {
  const response = await fetch(`${stack.urls.ingest}${query}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Observations of a LOINC code, read over the FHIR API. */
async function observations(stack: LocalStack, code: string): Promise<Observation[]> {
  const bundle = (await (
    await fetch(`${stack.urls.fhir}/Observation?code=http://loinc.org|${code}`)
  ).json()) as Bundle<Observation>;
  return (bundle.entry ?? []).flatMap((e) => (e.resource === undefined ? [] : [e.resource]));
}

const metricsOf = async (stack: LocalStack): Promise<StackSnapshot> =>
  (await (await fetch(stack.urls.metrics)).json()) as StackSnapshot;

describe('the local stack', () => {
  it('turns posted events of all three shapes into Observations with the right values', async () => {
    const stack = await start();
    const direct = [
      { deviceId: 'dev-1', patientId: 'pat-1', measurementTime: now(), heartRate: 72 },
      { deviceId: 'dev-1', patientId: 'pat-1', measurementTime: now(), spo2: 97 },
    ];
    expect(await ingest(stack, JSON.stringify(direct), 'application/json', '?partitionKey=dev-1')).toEqual({
      status: 202,
      body: { accepted: 2 },
    });
    const iotHub = {
      body: { HeartRate: 64, RespiratoryRate: 15, PatientId: 'pat-2' },
      properties: { 'iothub-creation-time-utc': now() },
      systemProperties: { 'iothub-connection-device-id': 'dev-2' },
    };
    const iotCentral = {
      deviceId: 'dev-3',
      enqueuedTime: now(),
      enrichments: { patientId: 'pat-3' },
      telemetry: { BloodPressure: { Systolic: 121, Diastolic: 79 } },
    };
    expect((await ingest(stack, JSON.stringify(iotHub), 'application/x-ndjson', '?envelope=true')).status).toBe(202);
    expect((await ingest(stack, JSON.stringify(iotCentral))).status).toBe(202);

    const spo2 = await pollUntil(async () => (await observations(stack, '59408-5'))[0], 'the SpO2 Observation');
    expect(spo2.valueQuantity).toMatchObject({ value: 97, unit: '%' });
    const bp = await pollUntil(async () => (await observations(stack, '85354-9'))[0], 'the blood pressure Observation');
    expect(bp.component?.map((c) => c.valueQuantity?.value)).toEqual([121, 79]);
    const heart = await pollUntil(async () => {
      const list = await observations(stack, '8867-4');
      return list.length === 2 ? list : undefined;
    }, 'two heart rate Observations');
    expect(heart.map((o) => o.valueSampledData?.data?.split(' ').filter((v) => v !== 'E')).sort()).toEqual([
      ['64'],
      ['72'],
    ]);
    const rr = await pollUntil(
      async () => (await observations(stack, '9279-1'))[0],
      'the respiratory rate Observation',
    );
    expect(rr.valueSampledData?.data).toContain('15');
    // Create resolution made the patients and devices.
    expect(
      stack.runtime
        .fhirServer!.repository.all('Patient')
        .map((p) => p.identifier?.[0]?.value)
        .sort(),
    ).toEqual(['pat-1', 'pat-2', 'pat-3']);
  });

  it('dead-letters a bad event and saves the others of its request; /metrics counts both', async () => {
    const stack = await start();
    const events = [
      { deviceId: 'dev-1', patientId: 'pat-1', measurementTime: now(), heartRate: 70 },
      { deviceId: 'dev-1', patientId: 'pat-1', measurementTime: 'not a time', heartRate: 71 },
      { deviceId: 'dev-1', patientId: 'pat-1', measurementTime: now(), spo2: 98 },
    ];
    await ingest(stack, JSON.stringify(events), 'application/json', '?partitionKey=dev-1');
    const metrics = await pollUntil(async () => {
      const m = await metricsOf(stack);
      return m.events.processed === 3 && m.deadLettered.total === 1 ? m : undefined;
    }, 'the batch to be processed');
    expect(metrics).toMatchObject({
      events: { accepted: 3, processed: 3, queued: 0 },
      measurements: 2,
      observations: { created: 2 },
      errors: { total: 1, byType: { IncompatibleDataException: 1 } },
      deadLettered: { total: 1, byStage: { Normalization: 1, FHIRConversion: 0 } },
    });
    expect(metrics.latencyMs.count).toBe(2);
    const letters = await createFileDeadLetterStore({ directory: join(dataDir, 'dead-letters') }).list();
    expect(letters).toMatchObject([
      { stage: 'Normalization', error: { medtechErrorType: 'IncompatibleDataException' } },
    ]);
    const prometheus = await (await fetch(stack.urls.metrics, { headers: { accept: 'text/plain' } })).text();
    expect(prometheus).toContain('iomt_dead_lettered_items_total{stage="Normalization"} 1');
    const health = (await (await fetch(stack.urls.health)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({
      status: 'ok',
      deadLetterStore: 'ok',
      fhir: { url: stack.urls.fhir, embedded: true },
    });
  });

  it('stopping processes the events still waiting for their batch, then saves the FHIR store for the next start', async () => {
    const stack = await start({ batching: { maxEvents: 1000, maxWaitMs: 600_000, partitions: 2 } });
    const events = Array.from({ length: 5 }, (_, i) => ({
      deviceId: `dev-${i}`,
      patientId: `pat-${i}`,
      measurementTime: now(),
      spo2: 95 + (i % 4),
    }));
    await ingest(stack, events.map((e) => JSON.stringify(e)).join('\n'), 'application/x-ndjson');
    expect((await metricsOf(stack)).events.queued).toBe(5);
    const summary = await stack.stop();
    expect(summary.events).toMatchObject({ accepted: 5, processed: 5, queued: 0 });
    expect(summary.observations.created).toBe(5);
    expect(readdirSync(dataDir)).toContain('fhir-snapshot.json');
    await expect(fetch(stack.urls.ingest, { method: 'POST' })).rejects.toThrow(); // the server is closed

    const again = await start();
    expect(again.runtime.fhirServer!.repository.all('Observation')).toHaveLength(5);
  });

  it('runs the simulator through the same ingest path, without errors', async () => {
    const stack = await start({ simulator: { devices: 5, rate: 40, seed: 3 } });
    const metrics = await pollUntil(async () => {
      const m = await metricsOf(stack);
      return m.observations.created >= 5 ? m : undefined;
    }, 'simulated data to become Observations');
    expect(metrics.errors.total).toBe(0);
    expect(metrics.events.accepted).toBeGreaterThan(0);
    expect(stack.simulator?.deviceIds).toHaveLength(5);
  });

  it('refuses a second stack on the same data folder', async () => {
    await start();
    await expect(start()).rejects.toBeInstanceOf(DataDirLockedError);
  });

  it('does not start with an invalid mapping, reporting every issue with file:line:col', async () => {
    const device = join(dataDir, 'device.json');
    writeFileSync(
      device,
      '{\n  "templateType": "CollectionContent",\n  "template": [ { "templateType": "Nope", "template": {} } ]\n}\n',
    );
    const error = await start({ mappings: { ...MAPPINGS, device } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidMappingsError);
    expect((error as InvalidMappingsError).report).toMatch(
      new RegExp(`^${device.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+  `),
    );
    expect(readdirSync(dataDir)).not.toContain('iomt.lock');
  });
});
