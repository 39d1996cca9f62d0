import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createFileDeadLetterStore } from '../../../src/adapters/dead-letter/file-dead-letter-store';
import { replayCommand } from '../../../src/local/cli/commands/replay';
import { startCommand } from '../../../src/local/cli/commands/start';
import { startFhirServer } from '../../../src/local/fhir-server';
import { LoopbackFhir } from '../../helpers/loopback-fhir';
import { captureIo } from '../cli/capture-io';
import { pollUntil } from './poll';

const ROOT = join(__dirname, '../../..');
const MAPPING_ARGS = [
  '--device-mapping',
  join(ROOT, 'mappings/devicecontent.json'),
  '--fhir-mapping',
  join(ROOT, 'mappings/fhirmapping.json'),
];

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iomt-cmd-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('iomt start', () => {
  it('prints the URLs, runs until stopped, processes what is queued and prints a summary', async () => {
    let stop!: () => void;
    const io = captureIo(new Promise<void>((resolve) => (stop = resolve)));
    const args = [
      '--port',
      '0',
      '--fhir-port',
      '0',
      '--data-dir',
      join(dir, 'data'),
      '--no-simulator',
      '--max-wait-ms',
      '600000',
      ...MAPPING_ARGS,
    ];
    const exit = startCommand.run(args, io);
    const ingestUrl = await pollUntil(
      () => /POST (http:\/\/127\.0\.0\.1:\d+\/ingest)/.exec(io.output())?.[1],
      'the banner',
    );
    expect(io.output()).toMatch(/Observations +http:\/\/127\.0\.0\.1:\d+\/fhir\/Observation/);
    expect(io.output()).toMatch(/Debugger +http:\/\/127\.0\.0\.1:\d+\//);
    expect(io.output()).toContain('Simulator     off');
    const response = await fetch(ingestUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: 'd1', patientId: 'p1', measurementTime: new Date().toISOString(), spo2: 96 }),
    });
    expect(response.status).toBe(202);
    stop();
    expect(await exit).toBe(0);
    expect(io.output()).toContain('Stopping: processing 1 queued events');
    expect(io.output()).toMatch(/1 events accepted, 1 processed in 1 batches/);
    expect(io.output()).toContain('Observations: 1 created, 0 updated, 0 unchanged');
  });

  it('exits 2 with every mapping issue at file:line:col when a mapping is invalid', async () => {
    const fhir = join(dir, 'fhir.json');
    writeFileSync(fhir, '{\n  "templateType": "CollectionFhir",\n  "template": 5\n}\n');
    const io = captureIo(Promise.resolve());
    const code = await startCommand.run(
      ['--port', '0', '--fhir-port', '0', '--data-dir', join(dir, 'data'), ...MAPPING_ARGS, '--fhir-mapping', fhir],
      io,
    );
    expect(code).toBe(2);
    expect(io.errors()).toContain(`${fhir}:3:`);
    expect(io.errors()).toContain('the mappings are invalid; nothing was started');
  });
});

describe('iomt replay', () => {
  const events = (t0: number) => [
    {
      body: { deviceId: 'd1', patientId: 'p1', measurementTime: new Date(t0).toISOString(), heartRate: 70 },
      enqueuedTimeUtc: new Date(t0 + 500).toISOString(),
    },
    { body: { deviceId: 'd1', patientId: 'p1', measurementTime: new Date(t0 + 60_000).toISOString(), heartRate: 75 } },
    { bodyText: '{"deviceId": "d1", "heartRate": ' },
    { body: { deviceId: 'd2', patientId: 'p2', measurementTime: new Date(t0).toISOString(), spo2: 99 } },
  ];

  it('pushes a JSON lines recording into the embedded server saved in the data folder, dead-lettering the bad event', async () => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(
      file,
      events(Date.parse('2026-11-20T08:00:00Z'))
        .map((e) => JSON.stringify(e))
        .join('\n'),
    );
    const dataDir = join(dir, 'data');
    const io = captureIo();
    expect(await replayCommand.run([file, '--data-dir', dataDir, ...MAPPING_ARGS], io)).toBe(0);
    expect(io.output()).toContain('Replaying 4 events from');
    expect(io.output()).toContain('100%');
    expect(io.output()).toMatch(/4 events accepted, 4 processed/);
    const server = await startFhirServer({ port: 0, dataDir });
    try {
      const observations = server.repository.all('Observation');
      expect(observations.map((o) => o.code.coding?.[0]?.code).sort()).toEqual(['59408-5', '8867-4']);
      expect(
        observations
          .find((o) => o.valueSampledData !== undefined)
          ?.valueSampledData?.data?.split(' ')
          .filter((v) => v !== 'E'),
      ).toEqual(['70', '75']);
    } finally {
      await server.close();
    }
    const letters = await createFileDeadLetterStore({ directory: join(dataDir, 'dead-letters') }).list();
    expect(letters).toMatchObject([
      { stage: 'Normalization', error: { medtechErrorType: 'InvalidDataFormatException' } },
    ]);
  });

  it('exits 1 when the FHIR server fails (the events are dead-lettered for a later replay)', async () => {
    const fhir = await LoopbackFhir.start();
    fhir.otherwise(() => ({
      status: 401,
      body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] },
    }));
    try {
      const file = join(dir, 'events.json');
      writeFileSync(file, JSON.stringify(events(Date.parse('2026-11-20T08:00:00Z')).filter((e) => 'body' in e)));
      const dataDir = join(dir, 'data');
      const io = captureIo();
      expect(
        await replayCommand.run([file, '--data-dir', dataDir, '--fhir-url', fhir.baseUrl, ...MAPPING_ARGS], io),
      ).toBe(1);
      expect(io.errors()).toMatch(/failures of the FHIR server/);
      const letters = await createFileDeadLetterStore({ directory: join(dataDir, 'dead-letters') }).list();
      expect(letters.length).toBeGreaterThan(0);
      expect(letters.every((l) => l.stage === 'FHIRConversion' && l.error.code === 'FHIR_UNAUTHORIZED')).toBe(true);
    } finally {
      await fhir.close();
    }
  });

  it('exits 2 on an unreadable events file', async () => {
    const io = captureIo();
    expect(
      await replayCommand.run([join(dir, 'missing.jsonl'), '--data-dir', join(dir, 'data'), ...MAPPING_ARGS], io),
    ).toBe(2);
    expect(io.errors()).toMatch(/^iomt replay: /);
  });
});
