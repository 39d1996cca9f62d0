/**
 * `npm run bench`: the benchmark suite. Each suite runs in its own Node process (started with `--expose-gc`), so
 * that one suite's JIT state and heap do not colour the next one's numbers; this process collects the results,
 * writes `bench/results/latest.json` and the generated table of `docs/performance.md`, and prints a summary.
 *
 *   node dist/bench/bench/run.js [--quick] [--profile] [--only normalize,endToEnd,latency,memory,scale,micro]
 *
 * `--quick` is a smoke run (small sizes, few rounds, about two minutes): its results go to
 * `bench/results/quick.tmp` and the docs are left alone. `--only` runs some suites and merges their results into
 * the existing latest.json. `--profile` also records CPU profiles of the engine's normalize loop and of the pipeline
 * side of the end-to-end runs (after the timed rounds) to `dist/bench/profiles/*.cpuprofile` (open them in Chrome
 * DevTools or VS Code) and adds the heaviest functions to the results.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { ROOT } from './lib/mappings';
import type { BenchResults, MachineInfo } from './lib/report';
import { buildResults, machineInfo, renderTable, updateDoc } from './lib/report';
import type { SuiteOptions } from './lib/suite';
import { runEndToEnd } from './suites/end-to-end';
import { runLatency } from './suites/latency';
import { runMemory } from './suites/memory';
import { runMicro } from './suites/micro';
import { runNormalize } from './suites/normalize';
import { runScale } from './suites/scale';

type Suite = (options: SuiteOptions) => Promise<unknown>;

/** The suites, in running order. */
const SUITES: Readonly<Record<string, Suite>> = {
  normalize: runNormalize,
  endToEnd: runEndToEnd,
  latency: runLatency,
  memory: runMemory,
  scale: runScale,
  micro: runMicro,
};

const RESULTS = join(ROOT, 'bench', 'results');
const PROFILES = join(ROOT, 'dist', 'bench', 'profiles');

/** Runs one suite in a child process and returns what it sent back. */
function runChild(name: string, quick: boolean, profile: boolean): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const flags = [...(quick ? ['--quick'] : []), ...(profile ? ['--profile'] : [])];
    const child = fork(__filename, ['--suite', name, ...flags], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let settled = false;
    child.once('message', (message: { result?: unknown; error?: string }) => {
      settled = true;
      if (message.error === undefined) {
        resolve(message.result);
      } else {
        reject(new Error(`suite ${name} failed: ${message.error}`));
      }
    });
    child.once('exit', (code) => {
      if (!settled) {
        reject(new Error(`suite ${name} exited with code ${String(code)} without a result`));
      }
    });
  });
}

/** Child mode: run the suite and send the result to the parent (or print it, when run by hand). */
async function child(name: string, options: SuiteOptions): Promise<void> {
  const suite = SUITES[name];
  let message: { result?: unknown; error?: string };
  try {
    if (suite === undefined) {
      throw new Error(`unknown suite ${name}`);
    }
    message = { result: await suite(options) };
  } catch (error) {
    message = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  if (process.send === undefined) {
    process.stdout.write(`${JSON.stringify(message, null, 2)}\n`);
    return;
  }
  process.send(message);
  process.disconnect();
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      only: { type: 'string' },
      suite: { type: 'string' },
    },
  });
  const quick = values.quick;
  if (values.suite !== undefined) {
    await child(values.suite, { quick, ...(values.profile ? { profileDir: PROFILES } : {}) });
    return 0;
  }
  const names = values.only === undefined ? Object.keys(SUITES) : values.only.split(',').map((s) => s.trim());
  const unknown = names.filter((name) => SUITES[name] === undefined);
  if (unknown.length > 0) {
    process.stderr.write(`unknown suite(s): ${unknown.join(', ')}; suites: ${Object.keys(SUITES).join(', ')}\n`);
    return 2;
  }

  const machine = machineInfo(quick);
  const raw: Record<string, unknown> = {};
  const suiteSeconds: Record<string, number> = {};
  const started = performance.now();
  for (const name of names) {
    const t = performance.now();
    process.stdout.write(`bench: ${name}…\n`);
    raw[name] = await runChild(name, quick, values.profile);
    suiteSeconds[name] = Math.round((performance.now() - t) / 100) / 10;
    process.stdout.write(`bench: ${name} done in ${suiteSeconds[name]} s\n`);
  }
  const finished: MachineInfo = {
    ...machine,
    loadAverageEnd: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    suiteSeconds,
  };

  mkdirSync(RESULTS, { recursive: true });
  const latestPath = join(RESULTS, 'latest.json');
  let results: BenchResults = buildResults(raw, finished);
  if (!quick && values.only !== undefined && existsSync(latestPath)) {
    // A partial run updates its suites and keeps the others' last results (and notes which suites ran when).
    const previous = JSON.parse(readFileSync(latestPath, 'utf8')) as BenchResults;
    results = {
      ...previous,
      ...results,
      machine: { ...finished, suiteSeconds: { ...previous.machine.suiteSeconds, ...suiteSeconds } },
    };
  }
  const table = renderTable(results);
  if (quick) {
    writeFileSync(join(RESULTS, 'quick.tmp'), `${JSON.stringify(results, null, 2)}\n`);
  } else {
    writeFileSync(latestPath, `${JSON.stringify(results, null, 2)}\n`);
    await updateDoc(join(ROOT, 'docs', 'performance.md'), table);
  }
  process.stdout.write(`\n${table}\n\nbench: ${Math.round((performance.now() - started) / 1000)} s in all\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
