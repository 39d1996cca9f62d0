/**
 * The benchmark report: `bench/results/latest.json` (the numbers and the machine they came from) and the generated
 * table in `docs/performance.md`, between two marker comments (the rest of the document is written by hand).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';

import * as prettier from 'prettier';

import type { EndToEndResult, EndToEndWorkloadResult } from '../suites/end-to-end';
import type { LatencyResult } from '../suites/latency';
import type { MemoryResult } from '../suites/memory';
import type { MicroResult } from '../suites/micro';
import type { NormalizeResult } from '../suites/normalize';
import type { ScaleResult } from '../suites/scale';
import { sig } from './measure';

/** The machine and run a report comes from. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryGb: number;
  readonly os: string;
  readonly node: string;
  readonly v8: string;
  /** 1-minute load average when the run started and ended: other work on the machine shows here. */
  readonly loadAverageStart: number;
  readonly loadAverageEnd: number;
  readonly commit: string;
  readonly date: string;
  readonly quick: boolean;
  /** Wall-clock seconds per suite. */
  readonly suiteSeconds: Record<string, number>;
}

/** Everything a run measured (suites that were not run are absent). */
export interface BenchResults {
  readonly normalize?: NormalizeResult;
  readonly endToEnd?: EndToEndResult;
  readonly fhirRequestsPer1000Events?: {
    /** HTTP requests per 1,000 events (a batch Bundle is one request). */
    readonly sampledDataHourly: number;
    readonly quantity: number;
    /** Entries (searches, writes, look-ups) per 1,000 events. */
    readonly entries: { readonly sampledDataHourly: number; readonly quantity: number };
  };
  readonly latencyMs?: LatencyResult;
  readonly rssMb?: MemoryResult;
  readonly scale?: ScaleResult;
  readonly micro?: MicroResult;
  readonly machine: MachineInfo;
}

/**
 * What is known about the machine now.
 * @param quick - whether this is a quick run
 */
export function machineInfo(quick: boolean): Omit<MachineInfo, 'loadAverageEnd' | 'suiteSeconds'> {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' });
    if (dirty.trim() !== '') {
      commit += '+changes';
    }
  } catch {
    // Not a git checkout: the commit stays unknown.
  }
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cpus: cpus().length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    v8: process.versions.v8,
    loadAverageStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    commit,
    date: new Date().toISOString(),
    quick,
  };
}

/**
 * The headline results from the suites' raw results.
 * @param raw - results by suite name
 * @param machine - the machine
 */
export function buildResults(raw: Readonly<Record<string, unknown>>, machine: MachineInfo): BenchResults {
  const endToEnd = raw.endToEnd as EndToEndResult | undefined;
  return {
    ...(raw.normalize === undefined ? {} : { normalize: raw.normalize as NormalizeResult }),
    ...(endToEnd === undefined
      ? {}
      : {
          endToEnd,
          fhirRequestsPer1000Events: {
            sampledDataHourly: endToEnd.workloads.sampledDataHourly.requestsPer1000Events.requests,
            quantity: endToEnd.workloads.quantity.requestsPer1000Events.requests,
            entries: {
              sampledDataHourly: endToEnd.workloads.sampledDataHourly.requestsPer1000Events.entries,
              quantity: endToEnd.workloads.quantity.requestsPer1000Events.entries,
            },
          },
        }),
    ...(raw.latency === undefined ? {} : { latencyMs: raw.latency as LatencyResult }),
    ...(raw.memory === undefined ? {} : { rssMb: raw.memory as MemoryResult }),
    ...(raw.scale === undefined ? {} : { scale: raw.scale as ScaleResult }),
    ...(raw.micro === undefined ? {} : { micro: raw.micro as MicroResult }),
    machine,
  };
}

const n = (value: number): string => sig(value).toLocaleString('en-US');
const met = (ok: boolean): string => (ok ? 'yes' : '**no**');

function spreadText(s: { min: number; max: number }): string {
  return `${sig(s.min, 2)}–${sig(s.max, 2)}`;
}

function endToEndRows(name: string, w: EndToEndWorkloadResult): string[] {
  const cold = w.withColdStart;
  // Absent from results of runs before the method changed.
  const same = w.sameProcessOneBatchAtATime as EndToEndWorkloadResult['sameProcessOneBatchAtATime'] | undefined;
  const requests = w.requestsPer1000Events;
  return [
    `| End to end, ${name}: pipeline / direct writes | ${n(w.eventsPerSec)} / ${n(w.directWritesEventsPerSec)} events/s | ratio ${sig(w.ratio, 2)} (rounds ${spreadText(w.ratioSpread)}; CPU time of both processes ${sig(w.cpuTimeRatio.median, 2)}); with the cold start ${sig(cold.ratio, 2)} (CPU time ${sig(cold.cpuTimeRatio.median, 2)}) | ≥ 0.8 | ${met(w.ratio >= 0.8)} |`,
    ...(same === undefined
      ? []
      : [
          `| … one process, one batch at a time | ${n(same.eventsPerSec)} / ${n(same.directWritesEventsPerSec)} events/s | ratio ${sig(same.ratio, 2)} (rounds ${spreadText(same.ratioSpread)}; CPU time ${sig(same.cpuTimeRatio.median, 2)}); with the cold start ${sig(same.withColdStart.ratio, 2)} (CPU time ${sig(same.withColdStart.cpuTimeRatio.median, 2)}) | (earlier method) | — |`,
        ]),
    `| FHIR requests per 1,000 events, ${name} | ${n(requests.requests)} requests, ${n(requests.entries)} entries | writes ${n(requests.observationWrites)} (changed Observations ${n(requests.changedObservations)}), Observation searches ${n(requests.observationSearches)}, Device look-ups ${n(requests.identityLookups)} | writes ≤ changed | ${met(requests.observationWrites <= requests.changedObservations)} |`,
  ];
}

/**
 * The generated Markdown: the headline table and the scale curves.
 * @param results - the results
 */
export function renderTable(results: BenchResults): string {
  const lines: string[] = [];
  const m = results.machine;
  lines.push(
    `Run of ${m.date.slice(0, 10)} at commit \`${m.commit}\` on ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, Node ${m.node}` +
      ` (load average ${m.loadAverageStart} at the start, ${m.loadAverageEnd} at the end${m.quick ? '; quick run' : ''}).`,
    '',
    '| Measurement | Result | Detail | Target | Met |',
    '|---|---|---|---|---|',
  );
  const nz = results.normalize;
  if (nz !== undefined) {
    lines.push(
      `| Normalize: engine / hand-written | ${n(nz.eventsPerSec)} / ${n(nz.handWrittenEventsPerSec)} events/s | ratio ${sig(nz.ratio, 2)} (rounds ${spreadText(nz.ratioSpread)}; CPU-time ratio ${sig(nz.cpuTimeRatio.median, 2)}) | ≥ 0.5 | ${met(nz.ratio >= 0.5)} |`,
    );
  }
  const e2e = results.endToEnd;
  if (e2e !== undefined) {
    lines.push(...endToEndRows('hourly SampledData', e2e.workloads.sampledDataHourly));
    lines.push(...endToEndRows('Quantity', e2e.workloads.quantity));
  }
  const lat = results.latencyMs;
  if (lat !== undefined) {
    lines.push(
      `| Device-to-FHIR latency at ${lat.rate} events/s | p50 ${n(lat.p50)} ms, p99 ${n(lat.p99)} ms | p90 ${n(lat.p90)} ms, max ${n(lat.max)} ms; batches of ≤ ${lat.maxEvents} events or ${lat.maxWaitMs} ms | p99 < 3 s | ${met(lat.p99 < 3000)} |`,
    );
  }
  const mem = results.rssMb;
  if (mem !== undefined) {
    const last = mem.checkpoints[mem.checkpoints.length - 1];
    lines.push(
      `| RSS after 100k / ${mem.at1M === null ? n(last?.events ?? 0) : '1M'} events | ${n(mem.at100k)} / ${n(mem.at1M ?? last?.rssMb ?? 0)} MB | growth ${mem.growthPercent} %; heap used ${mem.checkpoints.map((c) => n(c.heapUsedMb)).join(' → ')} MB | growth < 10 % | ${met(mem.growthPercent < 10)} |`,
    );
  }
  const scale = results.scale;
  if (scale !== undefined) {
    lines.push(
      '',
      '| Batches in flight | Events/s | Speed-up |',
      '|---|---|---|',
      ...scale.concurrency.map((c) => `| ${c.batchesInFlight} | ${n(c.eventsPerSec)} | ${c.speedup} |`),
      '',
      '| Devices | Quantity: events/s | writes/event | requests/1,000 events | Hourly SampledData: events/s | writes/event | requests/1,000 events |',
      '|---|---|---|---|---|---|---|',
      ...scale.devices.quantity.map((q, i) => {
        const s = scale.devices.sampledDataHourly[i];
        return `| ${n(q.devices)} | ${n(q.eventsPerSec)} | ${q.observationWritesPerEvent} | ${n(q.requestsPer1000Events)} | ${s === undefined ? '' : `${n(s.eventsPerSec)} | ${s.observationWritesPerEvent} | ${n(s.requestsPer1000Events)}`} |`;
      }),
    );
  }
  if (nz !== undefined) {
    lines.push(
      '',
      `Normalize: ${nz.templates} templates, ${nz.events.toLocaleString('en-US')} events in batches of ${nz.batchSize}, ${sig(nz.measurementsPerEvent, 2)} measurements per event, ${nz.rounds} rounds.` +
        (e2e === undefined
          ? ''
          : ` End to end: ${e2e.workloads.quantity.events.toLocaleString('en-US')} events per round in ${e2e.workloads.quantity.batches} batches over ${e2e.workloads.quantity.partitions} partitions (server in its own process), ${e2e.workloads.quantity.rounds} rounds per workload; ratios are medians of per-round ratios.`),
    );
  }
  return lines.join('\n');
}

/** The markers around the generated section of docs/performance.md. */
export const MARKERS = { start: '<!-- bench:results:start -->', end: '<!-- bench:results:end -->' } as const;

/**
 * Replaces the generated section of a Markdown file (between {@link MARKERS}; they must exist) and formats the file
 * with the repository's Prettier settings, so that `npm run format:check` stays clean.
 * @param path - the file
 * @param generated - the new section
 */
export async function updateDoc(path: string, generated: string): Promise<void> {
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(MARKERS.start);
  const end = text.indexOf(MARKERS.end);
  if (start < 0 || end < start) {
    throw new Error(`${path} has no ${MARKERS.start} … ${MARKERS.end} section`);
  }
  const updated = `${text.slice(0, start + MARKERS.start.length)}\n\n${generated}\n\n${text.slice(end)}`;
  const options = (await prettier.resolveConfig(path)) ?? {};
  writeFileSync(path, await prettier.format(updated, { ...options, filepath: path }));
}
