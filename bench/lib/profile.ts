/**
 * CPU profiles of a benchmark's timed part (the V8 sampling profiler through `node:inspector`, the same data as
 * `node --cpu-prof` but without start-up and set-up), and a summary by function for the docs: self time and
 * inclusive time, in percent of the profile.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

/** A `.cpuprofile` document. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** One line of a profile summary. */
export interface ProfileLine {
  /** `function file:line`, with the file's last two path segments. */
  readonly frame: string;
  /** Percent of the profile's time. */
  readonly percent: number;
}

/** The heaviest functions of a profile. */
export interface ProfileSummary {
  readonly totalMs: number;
  /** Self time by part of the system, percent: the pipeline core, the FHIR client, the embedded server, GC, rest. */
  readonly parts: Readonly<Record<string, number>>;
  readonly self: readonly ProfileLine[];
  readonly inclusive: readonly ProfileLine[];
}

/** Which part of the system a frame's code belongs to (by its file). */
function partOf(frame: CallFrame): string {
  const url = frame.url;
  if (frame.functionName === '(garbage collector)') {
    return 'garbage collection';
  }
  if (url.includes('/src/pipeline/')) {
    return 'pipeline core';
  }
  if (url.includes('/src/adapters/fhir/') || url.includes('undici') || url.startsWith('node:')) {
    return 'FHIR client and Node I/O';
  }
  if (url.includes('/src/local/fhir-server/') || url.includes('@medplum')) {
    return 'embedded FHIR server';
  }
  if (url.includes('jsonata') || url.includes('jmespath') || url.includes('jsonpath')) {
    return 'expression libraries';
  }
  return 'other';
}

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (error, result) => {
      if (error === null) {
        resolve(result as T);
      } else {
        reject(error);
      }
    });
  });
}

/**
 * Runs `work` under the CPU profiler and writes the profile to `<dir>/<name>.cpuprofile`.
 * @param dir - where profiles go
 * @param name - the file's base name
 * @param work - the code to profile
 * @returns the profile
 */
export async function profile(dir: string, name: string, work: () => Promise<unknown>): Promise<CpuProfile> {
  const session = new Session();
  session.connect();
  try {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
    await post(session, 'Profiler.start');
    await work();
    const { profile: result } = await post<{ profile: CpuProfile }>(session, 'Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(result));
    return result;
  } finally {
    session.disconnect();
  }
}

function frameOf(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.split('/').slice(-2).join('/');
  return `${functionName === '' ? '(anonymous)' : functionName} ${file}:${lineNumber + 1}`;
}

/**
 * Self and inclusive time by function.
 * @param cpuProfile - the profile
 * @param top - lines per list
 */
export function summarizeProfile(cpuProfile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(cpuProfile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of cpuProfile.nodes) {
    for (const child of node.children ?? []) {
      parent.set(child, node.id);
    }
  }
  // Samples taken inside the inspector (starting and stopping the profiler itself) are not the code's, and idle
  // samples (waiting for I/O) are not CPU time.
  const isProfiler = (id: number): boolean => {
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const node = byId.get(current);
      const name = node?.callFrame.functionName;
      if (node?.callFrame.url === 'node:inspector' || name === 'dispatch' || name === '(idle)') {
        return true;
      }
    }
    return false;
  };
  const timeById = new Map<number, number>();
  let total = 0;
  cpuProfile.samples.forEach((id, i) => {
    const dt = cpuProfile.timeDeltas[i] ?? 0;
    if (!isProfiler(id)) {
      total += dt;
      timeById.set(id, (timeById.get(id) ?? 0) + dt);
    }
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const parts = new Map<string, number>();
  for (const [id, time] of timeById) {
    const node = byId.get(id);
    if (node === undefined) {
      continue;
    }
    const frame = frameOf(node);
    self.set(frame, (self.get(frame) ?? 0) + time);
    const part = partOf(node.callFrame);
    parts.set(part, (parts.get(part) ?? 0) + time);
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const ancestor = byId.get(current);
      if (ancestor === undefined) {
        break;
      }
      const key = frameOf(ancestor);
      if (!seen.has(key)) {
        seen.add(key);
        inclusive.set(key, (inclusive.get(key) ?? 0) + time);
      }
    }
  }
  const lines = (map: Map<string, number>): ProfileLine[] =>
    [...map]
      .filter(([frame]) => !frame.startsWith('(root)') && !frame.startsWith('(program)') && !frame.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, time]) => ({ frame, percent: Math.round((time / total) * 1000) / 10 }));
  const percent = (time: number): number => Math.round((time / total) * 1000) / 10;
  return {
    totalMs: Math.round(total / 1000),
    parts: Object.fromEntries([...parts].sort((a, b) => b[1] - a[1]).map(([part, time]) => [part, percent(time)])),
    self: lines(self),
    inclusive: lines(inclusive),
  };
}
