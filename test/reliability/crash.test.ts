/**
 * Crash and redelivery: a worker process saves a batch against the embedded FHIR server (in this process) and is
 * killed with SIGKILL at a point of the save — inside identity resolution, after it, in the middle of a putMany,
 * after a putMany was applied but before the worker learned it, after some chunks. Then the same batch is delivered
 * to a new worker, as Event Hubs and Durable Functions redeliver, and then the next batch. The FHIR state must equal a
 * run without a crash.
 *
 * The worker is compiled from TypeScript on the fly (typescript.transpileModule over the modules it imports) rather
 * than taken from dist/: `npm test` builds dist/ first, but a single test file run with `npx jest` would silently
 * test a stale build. Crash points are deterministic: the worker's FHIR store wrapper signals the parent over IPC
 * when it reaches one and waits there to be killed; chunks are saved one at a time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FhirHttpStore } from '../../src/adapters/fhir/fhir-http-store';
import { startFhirServer, type EmbeddedFhirServer } from '../../src/local/fhir-server';
import { processBatch } from '../../src/pipeline';
import { compileForNode } from './support/compile-for-node';
import type { CrashPoint, CrashWorkerConfig, CrashWorkerMessage } from './support/crash-worker';
import {
  buildScenario,
  fhirState,
  oracleMismatches,
  readingCount,
  workerDependencies,
  type FhirState,
  type ScenarioOptions,
} from './support/scenario';

const SCENARIO: ScenarioOptions = { devices: 3, hours: 1, batches: 2, seed: 4242 };
const CHUNK_SIZE = 5;

let workDir: string;
let workerJs: string;

beforeAll(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'iomt-crash-'));
  [workerJs] = compileForNode(['test/reliability/support/crash-worker.ts'], workDir, [
    'mappings/devicecontent.json',
    'mappings/fhirmapping.json',
  ]) as [string];
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

interface WorkerRun {
  /** The crash point the worker reached (it was then killed), if any. */
  readonly crashedAt?: string;
  readonly done?: Extract<CrashWorkerMessage, { type: 'done' }>;
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
  readonly stderr: string;
}

/** Runs a worker to its end, killing it with SIGKILL when it reports a crash point. Deadline: 60 s. */
function runWorker(config: CrashWorkerConfig): Promise<WorkerRun> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(workerJs, [JSON.stringify(config)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let crashedAt: string | undefined;
    let done: WorkerRun['done'];
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker did not finish within 60 s (crash point ${config.crash?.at ?? 'none'})`));
    }, 60_000);
    child.on('message', (message: CrashWorkerMessage) => {
      if (message.type === 'crash-point') {
        crashedAt = message.at;
        child.kill('SIGKILL');
      } else {
        done = message;
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      resolve({
        ...(crashedAt === undefined ? {} : { crashedAt }),
        ...(done === undefined ? {} : { done }),
        signal,
        code,
        stderr,
      });
    });
  });
}

/** Saves a batch in this process (the batches before and after the crash). */
async function deliverInProcess(server: EmbeddedFhirServer, batch: number): Promise<void> {
  const deps = workerDependencies(new FhirHttpStore({ baseUrl: server.url }), { chunkSize: CHUNK_SIZE });
  const report = await processBatch(buildScenario(SCENARIO).batches[batch] ?? [], deps);
  expect({ failed: report.save.failed, normalizationFailures: report.failures.length }).toEqual({
    failed: 0,
    normalizationFailures: 0,
  });
}

function expectSameState(actual: FhirState, expected: FhirState): void {
  expect(actual.duplicates).toEqual({ Observation: [], Patient: [], Device: [] });
  expect(actual.readings).toBe(expected.readings);
  expect(actual.patients).toEqual(expected.patients);
  expect(actual.devices).toEqual(expected.devices);
  expect([...actual.observations.keys()].sort()).toEqual([...expected.observations.keys()].sort());
  for (const [identifier, content] of expected.observations) {
    expect({ identifier, content: actual.observations.get(identifier) }).toEqual({ identifier, content });
  }
}

describe('a worker killed while saving a batch, then the batch redelivered', () => {
  const scenario = buildScenario(SCENARIO);
  let reference: FhirState;
  /** The state after batch 0 alone, saved without a crash. */
  let afterBatch0: FhirState;

  beforeAll(async () => {
    const clean = await startFhirServer({ port: 0 });
    try {
      // The reference: a worker process that is not killed saves batch 0, then batch 1 follows.
      const run = await runWorker({ fhirUrl: clean.url, scenario: SCENARIO, batch: 0, chunkSize: CHUNK_SIZE });
      expect(run.stderr).toBe('');
      expect(run.done).toMatchObject({ failed: 0, normalizationFailures: 0 });
      afterBatch0 = fhirState(clean);
      await deliverInProcess(clean, 1);
      reference = fhirState(clean);
      expect(reference.readings).toBe(readingCount(scenario.readings));
      expect(oracleMismatches(clean, scenario)).toEqual([]);
    } finally {
      await clean.close();
    }
  }, 120_000);

  const points: CrashPoint[] = [
    { at: 'identity-after-patient' },
    { at: 'after-identity' },
    { at: 'mid-putMany', call: 1 },
    { at: 'after-putMany-applied', call: 2 },
    { at: 'before-putMany', call: 3 },
    { at: 'mid-putMany', call: 4 },
  ];

  const label = (p: CrashPoint): string => ('call' in p ? `${p.at} (putMany call ${p.call})` : p.at);
  it.each(points.map((p) => [label(p), p] as const))(
    'killed at %s: the redelivered batch ends in the clean state',
    async (_, crash) => {
      const server = await startFhirServer({ port: 0 });
      try {
        const killed = await runWorker({
          fhirUrl: server.url,
          scenario: SCENARIO,
          batch: 0,
          chunkSize: CHUNK_SIZE,
          crash,
        });
        expect({ crashedAt: killed.crashedAt, signal: killed.signal, done: killed.done }).toEqual({
          crashedAt: crash.at,
          signal: 'SIGKILL',
          done: undefined,
        });
        // The crash left the batch partly saved (or, for the earliest points, only identities).
        expect(fhirState(server).readings).toBeLessThan(afterBatch0.readings);

        const redelivered = await runWorker({
          fhirUrl: server.url,
          scenario: SCENARIO,
          batch: 0,
          chunkSize: CHUNK_SIZE,
        });
        expect(redelivered.stderr).toBe('');
        expect(redelivered.done).toMatchObject({ failed: 0, normalizationFailures: 0 });
        await deliverInProcess(server, 1);

        expectSameState(fhirState(server), reference);
        expect(oracleMismatches(server, scenario)).toEqual([]);
      } finally {
        await server.close();
      }
    },
    120_000,
  );
});
