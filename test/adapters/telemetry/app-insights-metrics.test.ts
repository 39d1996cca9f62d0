import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { createAppInsightsMetrics } from '../../../src/adapters/telemetry/app-insights-metrics';
import { Metric } from '../../../src/pipeline/metrics';
import { type AppInsightsSink, isTrack, startAppInsightsSink } from '../../helpers/app-insights-sink';

// The no-op path must never load the SDK (its log APIs throw without a connection string, and it is slow to load).
// The child process below is not affected by this mock.
jest.mock('applicationinsights', () => {
  throw new Error('applicationinsights must not be loaded without a connection string');
});

const ROOT = resolve(__dirname, '../../..');
const FIXTURE = join(ROOT, 'test/fixtures/telemetry/emit-app-insights-telemetry.ts');

/**
 * Runs a TypeScript file in a child `node`, compiling each required .ts file with `ts.transpileModule` on the fly.
 * This runs the project's real sources (no build, no stale dist/) with an environment fixed at process start.
 */
const TS_LOADER =
  "const ts=require('typescript'),fs=require('fs');" +
  "require.extensions['.ts']=(m,f)=>m._compile(ts.transpileModule(fs.readFileSync(f,'utf8')," +
  '{fileName:f,compilerOptions:{module:ts.ModuleKind.CommonJS,target:ts.ScriptTarget.ES2022,esModuleInterop:true}})' +
  '.outputText,f);require(process.argv[1]);';

interface Envelope {
  name: string;
  tags: Record<string, string>;
  data: { baseType: string; baseData: Record<string, unknown> & { properties?: Record<string, unknown> } };
}

interface MetricPoint {
  name: string;
  kind: string;
  value: number;
  count: number;
  min: number;
  max: number;
}

describe('createAppInsightsMetrics without a connection string', () => {
  it('is a no-op sink that never loads the SDK and logs to the console', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const sink = createAppInsightsMetrics({});
      expect(sink.enabled).toBe(false);
      sink.count(Metric.IncomingMessages, 1, { partition: '0' });
      sink.record(Metric.NormalizeLatencyMs, 3);
      sink.logger.warn('normalization failed', { code: 'X' });
      await expect(sink.flush()).resolves.toBeUndefined();
      await expect(sink.shutdown()).resolves.toBeUndefined();
      expect(warn).toHaveBeenCalledWith('{"level":"warn","message":"normalization failed","code":"X"}');
    } finally {
      warn.mockRestore();
    }
  });

  it('treats a blank connection string as none', () => {
    expect(createAppInsightsMetrics({ connectionString: '  ' }).enabled).toBe(false);
  });
});

describe('createAppInsightsMetrics against an HTTPS loopback ingestion endpoint', () => {
  let dir: string;
  let sink: AppInsightsSink;
  let envelopes: Envelope[];
  let childResult: { code: number | null; stderr: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iomt-ai-'));
    sink = await startAppInsightsSink(dir);
    childResult = await runChild(sink.childEnv);
    envelopes = sink.requests.filter(isTrack).flatMap((r) => JSON.parse(r.body) as Envelope[]);
  }, 60_000);

  afterAll(async () => {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const metrics = (): { point: MetricPoint; properties: Record<string, unknown>; tags: Record<string, string> }[] =>
    envelopes
      .filter((e) => e.data.baseType === 'MetricData')
      .map((e) => ({
        point: (e.data.baseData.metrics as MetricPoint[])[0]!,
        properties: e.data.baseData.properties ?? {},
        tags: e.tags,
      }));

  it('exits cleanly after flush and shutdown', () => {
    expect(childResult).toEqual({ code: 0, stderr: '' });
  });

  it('sends counters pre-aggregated per metric and dimension set, as sums', () => {
    const incoming = metrics().filter((m) => m.point.name === Metric.IncomingMessages);
    expect(incoming).toHaveLength(2);
    expect(incoming.find((m) => m.properties.partition === '0')).toMatchObject({
      point: { kind: 'Aggregation', value: 3, count: 2 },
      properties: { stage: 'Normalization', partition: '0' },
    });
    expect(incoming.find((m) => m.properties.partition === '1')).toMatchObject({ point: { value: 4, count: 1 } });
  });

  it('sends durations with sum, count, min and max', () => {
    expect(metrics().find((m) => m.point.name === Metric.NormalizeLatencyMs)).toMatchObject({
      point: { value: 12, count: 2, min: 5, max: 7 },
      properties: { stage: 'Normalization' },
    });
  });

  it('sends only the closed set of dimensions and drops non-finite values', () => {
    const dropped = metrics().find((m) => m.point.name === Metric.DroppedMessages);
    expect(dropped?.properties).toEqual({ stage: 'Normalization' });
    expect(metrics().some((m) => m.point.name === Metric.PersistLatencyMs)).toBe(false);
  });

  it('sets the cloud role name', () => {
    expect(metrics().every((m) => m.tags['ai.cloud.role'] === 'iomt-test')).toBe(true);
  });

  it('logs as traces with allowed fields only, at or above the minimum level', () => {
    const messages = envelopes.filter((e) => e.data.baseType === 'MessageData');
    expect(messages).toHaveLength(1);
    expect(messages[0]!.data.baseData).toMatchObject({ message: 'normalization failed', severityLevel: 'Warning' });
    expect(Object.keys(messages[0]!.data.baseData.properties ?? {}).sort()).toEqual([
      'code',
      'partition',
      'sequenceNumber',
    ]);
    expect(JSON.stringify(envelopes)).not.toContain('secret');
  });
});

function runChild(env: Readonly<Record<string, string>>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['-e', TS_LOADER, FIXTURE], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`child did not exit within 45 s; stderr: ${stderr}`));
    }, 45_000);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(deadline);
      done({ code, stderr });
    });
  });
}
