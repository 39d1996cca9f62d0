/**
 * No patient data in logs or telemetry (issue 8). Events carrying a marker in every device, patient, encounter and
 * correlation id, in free-text and unknown fields, in application and system properties and inside malformed bodies
 * run through normalization, normalization errors, dead-lettering, grouping and persistence — with FHIR failures of
 * every kind (device not found in Lookup mode, patient/device mismatch, encounter not found, 422, 429, 503 and a
 * recovering 500 from a loopback FHIR service that echoes the request in its diagnostics, a device search that is
 * unavailable, JSONata and JMESPath expressions failing on the marker) — and the dead-letter store failing.
 *
 * Everything that could reach an operator is captured and searched for the marker and its derived forms:
 * - Functions app (in a child process, see support/phi-functions-run.ts): every Logger call, every InvocationContext
 *   log call, every error an invocation threw (the host logs them with their stack), the orchestrations' outputs and
 *   custom status, the child's stdout/stderr, and every HTTP payload the real Application Insights exporter sent to
 *   an HTTPS loopback ingestion endpoint.
 * - Local stack (`iomt start` in-process, against the same loopback FHIR service): its stdout/stderr (banner,
 *   progress lines, problems reported through onNotice/onProblem, summary) and anything written to the console.
 *
 * Logs at debug level may carry data (house style: never log patient data above debug); everything else may not.
 * Dead-letter entries may hold the bodies — that is their purpose — and are checked to hold the marker, which
 * proves the marker really went through the pipeline. Every capture is also checked to be non-empty and to hold the
 * expected error codes, so that a broken capture fails the test instead of passing it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { startCommand } from '../../src/local/cli/commands/start';
import type { CliIo } from '../../src/local/cli/io';
import { type AppInsightsSink, startAppInsightsSink } from '../helpers/app-insights-sink';
import { LoopbackFhir } from '../helpers/loopback-fhir';
import { pollUntil } from '../local/stack/poll';
import { compileForNode } from './support/compile-for-node';
import type { FunctionsRunReport } from './support/phi-functions-run';
import {
  type CapturedLog,
  CREATE_EVENTS,
  DEVICE_MAPPING,
  EXPECTED_CODES,
  FHIR_MAPPING,
  LOOKUP_EVENTS,
  MARKER,
  MARKER_FORMS,
  markerFormsIn,
  type ScenarioEvent,
  scenarioFhir,
} from './support/phi-scenario';

const ROOT = resolve(__dirname, '../..');
const DEBUG_LEVELS = new Set(['debug', 'trace', 'verbose']);

/** The captured items whose text holds a marker form: `[where, forms]` pairs (empty when clean). */
function leaks(items: readonly { where: string; text: string }[]): [string, string[]][] {
  return items
    .map(({ where, text }) => [where, markerFormsIn(text)] as [string, string[]])
    .filter(([, f]) => f.length > 0);
}

const codesIn = (texts: readonly string[]): Set<string> =>
  new Set(texts.flatMap((t) => [...t.matchAll(/\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g)].map((m) => m[1] as string)));

describe('the marker and its derived forms', () => {
  it('are found in every encoding the test searches, and only there', () => {
    expect(markerFormsIn(`x ${MARKER} y`)).toContain(MARKER);
    expect(markerFormsIn(Buffer.from(`{"patientId":"${MARKER}"}`).toString('base64'))).not.toEqual([]);
    expect(markerFormsIn(Buffer.from(`ab${MARKER}cd`).toString('base64url'))).not.toEqual([]);
    expect(markerFormsIn(Buffer.from(`a${MARKER}`).toString('hex').toUpperCase())).not.toEqual([]);
    expect(markerFormsIn(encodeURIComponent(JSON.stringify({ id: `dev-${MARKER}` })))).not.toEqual([]);
    expect(markerFormsIn('PHI-MARKER-7f3b, code ENCOUNTER_NOT_FOUND, device 3f2a…')).toEqual([]);
    expect(MARKER_FORMS).toContain(Buffer.from(MARKER).toString('hex'));
  });
});

describe('Functions app: logs, thrown errors and Application Insights payloads', () => {
  let dir: string;
  let sink: AppInsightsSink;
  let payloads: string[];
  let child: { code: number | null; stdout: string; stderr: string };
  let report: FunctionsRunReport;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iomt-phi-'));
    sink = await startAppInsightsSink(dir);
    const [entry] = compileForNode(['test/reliability/support/phi-functions-run.ts'], join(dir, 'build'), [
      'mappings/devicecontent.json',
      'mappings/fhirmapping.json',
    ]);
    const output = join(dir, 'report.json');
    child = await runChild(entry as string, { ...sink.childEnv, PHI_OUTPUT: output });
    if (child.code !== 0) {
      throw new Error(`the Functions run failed (exit ${child.code}): ${child.stderr}`);
    }
    report = JSON.parse(readFileSync(output, 'utf8')) as FunctionsRunReport;
    // Everything the exporter sent is kept: path, query and body of every request.
    payloads = sink.requests.map((r) => `${r.method} ${r.url}\n${r.body}`);
  }, 120_000);

  afterAll(async () => {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ran every handler, and really captured: logs, errors and telemetry hold the expected codes', () => {
    expect({ code: child.code, stderr: child.stderr.replace(/^WARNING: .*test mode.*\n/gm, '') }).toEqual({
      code: 0,
      stderr: '',
    });
    const logTexts = report.logs.filter((l) => l.source === 'logger').map((l) => l.text);
    expect(logTexts.length).toBeGreaterThan(10);
    expect([...codesIn(logTexts)]).toEqual(expect.arrayContaining([...EXPECTED_CODES.functions]));
    expect(report.thrown.map((t) => t.code)).toEqual(
      expect.arrayContaining(['FHIR_THROTTLED', 'FHIR_UNAVAILABLE', 'REQUIRED_VALUE_MISSING', 'STORAGE_UNAVAILABLE']),
    );
    expect(report.orchestrations.length).toBeGreaterThanOrEqual(2);
    const traces = payloads.filter((p) => p.includes('"MessageData"'));
    const sent = payloads.join('\n');
    expect(traces.length).toBeGreaterThan(0);
    expect([...codesIn([sent])]).toEqual(expect.arrayContaining(['ENCOUNTER_NOT_FOUND', 'STORAGE_UNAVAILABLE']));
    expect(sent).toContain('"MetricData"');
    // The marker really went through: the FHIR service and the dead-letter store received it.
    expect(report.fhirRequests).toContain(MARKER);
    expect(report.deadLetters).toContain(MARKER);
    expect(report.counts.deadLettered).toBeGreaterThan(5);
    expect(report.counts.measurements).toBeGreaterThan(5);
  });

  it('no log at info level or above carries patient data (Logger port and InvocationContext)', () => {
    const visible = report.logs.filter((l) => !DEBUG_LEVELS.has(l.level.toLowerCase()));
    expect(leaks(visible.map((l) => ({ where: `${l.source} ${l.level}`, text: l.text })))).toEqual([]);
  });

  it('no Application Insights payload carries patient data', () => {
    expect(leaks(payloads.map((text, i) => ({ where: `payload ${i}`, text })))).toEqual([]);
  });

  it('no error thrown by an invocation (which the host logs) carries patient data', () => {
    expect(leaks(report.thrown.map((t) => ({ where: t.fn, text: t.text })))).toEqual([]);
  });

  it('no orchestration output or custom status carries patient data', () => {
    expect(leaks(report.orchestrations.map((text, i) => ({ where: `orchestration ${i}`, text })))).toEqual([]);
  });

  it('nothing written to the console carries patient data', () => {
    expect(
      leaks([
        { where: 'stdout', text: child.stdout },
        { where: 'stderr', text: child.stderr },
      ]),
    ).toEqual([]);
  });
});

describe('local stack: terminal output, problems and progress', () => {
  let dir: string;
  let fhir: LoopbackFhir;
  const runs: { resolution: string; out: string; err: string; exit: number; deadLetters: string }[] = [];
  const consoleLines: CapturedLog[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iomt-phi-local-'));
    writeFileSync(join(dir, 'device.json'), DEVICE_MAPPING);
    writeFileSync(join(dir, 'fhir.json'), FHIR_MAPPING);
    fhir = await LoopbackFhir.start();
    fhir.otherwise(scenarioFhir());
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
      jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        consoleLines.push({ source: 'console', level, text: args.map(String).join(' ') });
      }),
    );
    const writes = (['stdout', 'stderr'] as const).map((stream) =>
      jest.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
        consoleLines.push({ source: stream, level: 'info', text: Buffer.from(chunk).toString('utf8') });
        return true;
      }),
    );
    try {
      for (const [resolution, events] of [
        ['Create', CREATE_EVENTS],
        ['Lookup', LOOKUP_EVENTS],
      ] as const) {
        runs.push(await runStack(join(dir, resolution), resolution, events));
      }
    } finally {
      [...spies, ...writes].forEach((s) => {
        s.mockRestore();
      });
    }
  }, 120_000);

  async function runStack(
    dataDir: string,
    resolution: string,
    events: readonly ScenarioEvent[],
  ): Promise<(typeof runs)[number]> {
    let stop!: () => void;
    let out = '';
    let err = '';
    const io: CliIo = {
      out: (text) => (out += text),
      err: (text) => (err += text),
      stopSignal: new Promise<void>((done) => (stop = done)),
    };
    const args = ['--port', '0', '--data-dir', dataDir, '--no-simulator', '--max-wait-ms', '50']
      .concat(['--fhir-url', fhir.baseUrl, '--resolution', resolution])
      .concat(['--device-mapping', join(dir, 'device.json'), '--fhir-mapping', join(dir, 'fhir.json')]);
    const exit = startCommand.run(args, io);
    let last: unknown;
    try {
      const base = await pollUntil(() => /POST (http:\/\/127\.0\.0\.1:\d+)\/ingest/.exec(out)?.[1], 'the banner');
      const envelopes = events.map((e) => ({
        ...(e.bodyText === undefined ? { body: e.body } : { bodyText: e.bodyText }),
        ...(e.properties === undefined ? {} : { properties: e.properties }),
        ...(e.systemProperties === undefined ? {} : { systemProperties: e.systemProperties }),
      }));
      const response = await fetch(`${base}/ingest?envelope=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(envelopes),
      });
      expect(response.status).toBe(202);
      // Processed, including the retries of throttled and unavailable saves, before stopping.
      await pollUntil(
        async () => {
          const m = (await (await fetch(`${base}/metrics`)).json()) as {
            events: { processed: number; queued: number };
          };
          last = m;
          return m.events.processed === events.length && m.events.queued === 0 ? true : undefined;
        },
        'the events to be processed',
        60_000,
      );
    } catch (error) {
      stop();
      await exit.catch(() => undefined);
      // Say where it stood: the counters and the stack's own output (synthetic data only).
      throw new Error(
        `${String(error)}\nlast /metrics: ${JSON.stringify(last)}\nstack output:\n${out.slice(-3000)}\n${err.slice(-3000)}`,
        { cause: error },
      );
    }
    stop();
    const code = await exit;
    const folder = join(dataDir, 'dead-letters');
    const deadLetters = readdirSync(folder, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => readFileSync(join(f.parentPath, f.name), 'utf8'))
      .join('\n');
    return { resolution, out, err, exit: code, deadLetters };
  }

  afterAll(async () => {
    await fhir.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ran both stacks to a clean stop, and really captured: the output holds the expected codes', () => {
    expect(runs.map((r) => [r.resolution, r.exit])).toEqual([
      ['Create', 0],
      ['Lookup', 0],
    ]);
    const all = runs.map((r) => `${r.out}\n${r.err}`).join('\n');
    expect(all).toMatch(/events accepted/);
    for (const name of EXPECTED_CODES.local) {
      expect(all).toContain(name);
    }
    // The marker really went through: the FHIR service and the dead-letter store received it.
    expect(JSON.stringify(fhir.requests.map((r) => [r.url, r.body]))).toContain(MARKER);
    expect(runs.every((r) => r.deadLetters.includes(MARKER))).toBe(true);
  });

  it('nothing the stack prints (banner, progress, problems, summary) carries patient data', () => {
    expect(
      leaks(
        runs.flatMap((r) => [
          { where: `${r.resolution} stdout`, text: r.out },
          { where: `${r.resolution} stderr`, text: r.err },
        ]),
      ),
    ).toEqual([]);
  });

  it('nothing written to the console or the process streams carries patient data', () => {
    const visible = consoleLines.filter((l) => !DEBUG_LEVELS.has(l.level));
    expect(leaks(visible.map((l) => ({ where: `${l.source} ${l.level}`, text: l.text })))).toEqual([]);
  });
});

function runChild(
  entry: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [entry], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`child did not exit within 100 s; stderr: ${stderr}`));
    }, 100_000);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(deadline);
      done({ code, stdout, stderr });
    });
  });
}
