/**
 * The intake journal against a hard kill: the local stack runs in a child process and accepts events (202) that sit
 * in its queue (batches wait an hour to fill); it is killed with SIGKILL, started again on the same data folder,
 * and must then save every accepted event exactly once — each heart rate in its SampledData slot, each SpO2 reading
 * in one Observation, each bad event in one dead letter — and, after a clean stop, recover nothing more.
 *
 * 1. A remote FHIR server (the embedded server started in this process) survives the kill.
 * 2. The embedded FHIR server of the stack: its store reaches the disk in snapshots only, so the checkpoint must not
 *    pass what the last snapshot holds; the events processed before the kill are processed again, adding nothing.
 *
 * The worker is compiled from TypeScript on the fly, as in crash.test.ts.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { Observation } from '@medplum/fhirtypes';

import { createFileDeadLetterStore } from '../../src/adapters/dead-letter/file-dead-letter-store';
import { type EmbeddedFhirServer, startFhirServer } from '../../src/local/fhir-server';
import { compileForNode } from './support/compile-for-node';
import type { IntakeWorkerConfig, IntakeWorkerMessage } from './support/intake-stack-worker';

jest.setTimeout(120_000);

const DEVICES = 3;
const HOUR = '2026-03-01T10';

let workDir: string;
let workerJs: string;

beforeAll(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'iomt-intake-crash-'));
  [workerJs] = compileForNode(['test/reliability/support/intake-stack-worker.ts'], path.join(workDir, 'build'), [
    'mappings/devicecontent.json',
    'mappings/fhirmapping.json',
  ]) as [string];
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Extract<IntakeWorkerMessage, { type: 'ready' }>;
  /** Resolves with the `stopped` message (if any) once the process exited. */
  readonly exited: Promise<{ stopped?: Extract<IntakeWorkerMessage, { type: 'stopped' }>; signal: string | null }>;
}

/** Starts the stack in a child process; resolves once it listens. Deadline: 60 s. */
function startWorker(config: IntakeWorkerConfig): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const child = fork(workerJs, [JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let stopped: Extract<IntakeWorkerMessage, { type: 'stopped' }> | undefined;
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker not ready within 60 s: ${stderr}`));
    }, 60_000);
    const exited = new Promise<{ stopped?: typeof stopped; signal: string | null }>((done) => {
      child.on('exit', (code, signal) => {
        clearTimeout(deadline);
        if (code !== 0 && signal === null) {
          reject(new Error(`worker exited with ${code}: ${stderr}`));
        }
        done({ ...(stopped === undefined ? {} : { stopped }), signal });
      });
    });
    child.on('message', (message: IntakeWorkerMessage) => {
      if (message.type === 'ready') {
        clearTimeout(deadline);
        resolve({ child, ready: message, exited });
      } else {
        stopped = message;
      }
    });
    child.on('error', reject);
  });
}

/** Stops the worker cleanly (everything queued is processed); resolves once it exited. */
async function stopWorker(worker: Worker): Promise<Extract<IntakeWorkerMessage, { type: 'stopped' }> | undefined> {
  worker.child.send({ type: 'stop' });
  return (await worker.exited).stopped;
}

/** Heart rates (minute m of the hour → slot m) and SpO2 readings of every device, and two events to dead-letter. */
function deviceEvents(device: number): unknown[] {
  const id = { deviceId: `dev-${device}`, patientId: `pat-${device}` };
  const minute = (m: number) => `${HOUR}:${String(m).padStart(2, '0')}:00.000Z`;
  return [
    ...Array.from({ length: 60 }, (_, m) => ({ ...id, measurementTime: minute(m), heartRate: heartRate(device, m) })),
    ...Array.from({ length: 5 }, (_, i) => ({ ...id, measurementTime: minute(i * 7 + 1), spo2: 90 + i })),
  ];
}

const BAD_EVENTS = [
  { deviceId: 'dev-x', patientId: 'pat-x', measurementTime: 'not a time', heartRate: 70 },
  { deviceId: 'dev-y', patientId: 'pat-y', measurementTime: 'yesterday', heartRate: 71 },
];

function heartRate(device: number, minute: number): number {
  return 60 + ((minute * 7 + device * 3) % 50);
}

/** Posts every event (per device, in order, several requests each); returns how many were accepted with 202. */
async function postAll(ingestUrl: string): Promise<number> {
  let accepted = 0;
  const post = async (events: unknown[], key: string): Promise<void> => {
    const response = await fetch(`${ingestUrl}?partitionKey=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: events.map((e) => JSON.stringify(e)).join('\n'),
    });
    expect(response.status).toBe(202);
    accepted += ((await response.json()) as { accepted: number }).accepted;
  };
  await Promise.all(
    Array.from({ length: DEVICES }, async (_, d) => {
      const events = deviceEvents(d);
      for (let i = 0; i < events.length; i += 13) {
        await post(events.slice(i, i + 13), `dev-${d}`);
      }
    }),
  );
  await post(BAD_EVENTS, 'bad');
  return accepted;
}

async function processed(metricsUrl: string): Promise<number> {
  const snapshot = (await (await fetch(metricsUrl)).json()) as { events: { processed: number } };
  return snapshot.events.processed;
}

const TOTAL_EVENTS = DEVICES * 65 + BAD_EVENTS.length;

/** Every accepted event saved exactly once, and the bad ones dead-lettered once each. */
async function expectEverythingOnce(observations: Observation[], dataDir: string): Promise<void> {
  const heart = observations.filter((o) => o.code.coding?.[0]?.code === '8867-4');
  const spo2 = observations.filter((o) => o.code.coding?.[0]?.code === '59408-5');
  expect({ heart: heart.length, spo2: spo2.length, all: observations.length }).toEqual({
    heart: DEVICES,
    spo2: DEVICES * 5,
    all: DEVICES * 6,
  });
  for (let d = 0; d < DEVICES; d++) {
    // Slot 0 tells the devices apart (60 + 3d).
    const mine = heart.filter((o) => o.valueSampledData?.data?.split(' ')[0] === String(heartRate(d, 0)));
    expect(mine).toHaveLength(1);
    const slots = (mine[0]?.valueSampledData?.data ?? '').split(' ');
    expect(slots).toEqual(Array.from({ length: 60 }, (_, m) => String(heartRate(d, m))));
  }
  const values = spo2.map((o) => o.valueQuantity?.value).sort();
  expect(values).toEqual(
    Array.from({ length: DEVICES }, () => [90, 91, 92, 93, 94])
      .flat()
      .sort(),
  );
  const deadLetters = await createFileDeadLetterStore({ directory: path.join(dataDir, 'dead-letters') }).list();
  expect(deadLetters).toHaveLength(BAD_EVENTS.length);
  // Ids built from the partition and its sequence number, stable across the restart.
  for (const entry of deadLetters) {
    expect(entry.id).toMatch(/^evt-\d{8}-\d+-\d+$/);
  }
}

function config(dataDir: string, overrides: Partial<IntakeWorkerConfig>): IntakeWorkerConfig {
  return {
    dataDir,
    mappings: {
      device: path.join(workDir, 'build', 'mappings', 'devicecontent.json'),
      fhir: path.join(workDir, 'build', 'mappings', 'fhirmapping.json'),
    },
    // Batches wait: the accepted events sit in the queue when the stack is killed.
    maxEvents: 100_000,
    maxWaitMs: 3_600_000,
    ...overrides,
  };
}

describe('intake journal: SIGKILL of the local stack', () => {
  let fhir: EmbeddedFhirServer | undefined;

  afterEach(async () => {
    await fhir?.close();
    fhir = undefined;
  });

  it('with a remote FHIR server: queued events accepted before the kill are saved after the restart, exactly once', async () => {
    fhir = await startFhirServer({ host: '127.0.0.1', port: 0 });
    const dataDir = path.join(workDir, 'remote');
    const first = await startWorker(config(dataDir, { fhirUrl: fhir.url }));
    expect(first.ready.recovered).toBe(0);
    expect(await postAll(first.ready.ingestUrl)).toBe(TOTAL_EVENTS);
    expect(await processed(first.ready.metricsUrl)).toBe(0);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(fhir.repository.all('Observation')).toEqual([]);

    const second = await startWorker(config(dataDir, { fhirUrl: fhir.url, maxWaitMs: 50 }));
    expect(second.ready.recovered).toBe(TOTAL_EVENTS);
    expect((await stopWorker(second))?.processed).toBe(TOTAL_EVENTS);
    await expectEverythingOnce(fhir.repository.all('Observation'), dataDir);

    const third = await startWorker(config(dataDir, { fhirUrl: fhir.url }));
    expect(third.ready.recovered).toBe(0);
    await stopWorker(third);
  });

  it('with the embedded FHIR server: events processed but not in a snapshot are processed again, adding nothing', async () => {
    const dataDir = path.join(workDir, 'embedded');
    const first = await startWorker(config(dataDir, { maxWaitMs: 20 }));
    expect(await postAll(first.ready.ingestUrl)).toBe(TOTAL_EVENTS);
    const deadline = Date.now() + 30_000;
    while ((await processed(first.ready.metricsUrl)) < TOTAL_EVENTS && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await processed(first.ready.metricsUrl)).toBe(TOTAL_EVENTS);
    // Killed before the checkpoint (every 10 s, after a snapshot) could pass these events.
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startWorker(config(dataDir, { maxWaitMs: 50 }));
    expect(second.ready.recovered).toBe(TOTAL_EVENTS);
    expect((await stopWorker(second))?.processed).toBe(TOTAL_EVENTS);

    fhir = await startFhirServer({ host: '127.0.0.1', port: 0, dataDir });
    await expectEverythingOnce(fhir.repository.all('Observation'), dataDir);
    const third = await startWorker(config(dataDir, {}));
    expect(third.ready.recovered).toBe(0);
    await stopWorker(third);
  });
});
