/**
 * The JSON that crosses Durable Functions: the grouping orchestration's input and output and the activities' inputs
 * and outputs (house-style convention 10: plain JSON, ISO strings). Durable stores it and hands it back, possibly to
 * a newer version of this code, so every reader validates it like external input (house-style 7.3 A) and reports
 * the path at fault, never a value.
 */
import {
  ErrorCode,
  type Measurement,
  type MeasurementGroup,
  type ObservationWindow,
  PeriodInterval,
  PipelineError,
} from '../../pipeline';

/** Input of the grouping orchestration: one Event Hubs batch's measurements and what grouping needs. */
export interface GroupingInput {
  /** Source partition (a metric dimension and log field). */
  readonly partitionId?: string;
  readonly deviceMappingVersion: string;
  readonly fhirMappingVersion: string;
  /**
   * The FHIR template's `periodInterval` for each measurement type of the batch (as spelled in the measurements;
   * `null`: no template). Taken from the mapping when the batch arrived, so the orchestrator never reads a mapping
   * and replays deterministically.
   */
  readonly periodByType: Readonly<Record<string, PeriodInterval | null>>;
  /** Groups per save activity (`PersistChunkSize`). */
  readonly chunkSize: number;
  /** Attempts per save activity for retryable failures (`PersistMaxAttempts`). */
  readonly maxAttempts: number;
  readonly measurements: readonly Measurement[];
}

/** Output of the grouping orchestration. */
export interface GroupingResult {
  readonly groups: number;
  readonly chunks: number;
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  /** Groups that could not be saved (dead-lettered by the activity or after the last retry). */
  readonly failed: number;
  readonly deadLettered: number;
}

/** Input of the save activity: one chunk of groups. */
export interface SaveChunkInput {
  readonly partitionId?: string;
  readonly groups: readonly MeasurementGroup[];
}

/** Output of the save activity. */
export interface SaveChunkResult {
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  /** Groups that failed with a non-retryable error. */
  readonly failed: number;
  /** Of those, how many were written to the dead-letter store. */
  readonly deadLettered: number;
}

/** Input of the dead-letter activity: a chunk whose save activity failed on every attempt. */
export interface DeadLetterGroupsInput {
  readonly groups: readonly MeasurementGroup[];
  /** The error code the last attempt failed with. */
  readonly code: ErrorCode;
  /** Why it failed (the activity's own message: template, field and code names, never data). */
  readonly message: string;
  readonly mappingVersion: string;
  /** Save attempts made. */
  readonly attempts: number;
}

const PERIODS: ReadonlySet<unknown> = new Set(Object.values(PeriodInterval));
const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/**
 * Validates the grouping orchestration's input.
 * @param value - `context.df.getInput()`
 */
export function readGroupingInput(value: unknown): GroupingInput {
  const r = new JsonReader('grouping input');
  const input = r.object(value, '');
  const periodByType: Record<string, PeriodInterval | null> = {};
  const periods = r.object(input.periodByType, '/periodByType');
  for (const type of Object.keys(periods)) {
    const period = periods[type];
    if (period !== null && !PERIODS.has(period)) {
      r.fail(`/periodByType/${escapePointer(type)}`, 'a periodInterval (0, 60, 1440, -1) or null');
    }
    Object.defineProperty(periodByType, type, { value: period, enumerable: true });
  }
  return {
    ...r.optionalString(input.partitionId, '/partitionId', 'partitionId'),
    deviceMappingVersion: r.string(input.deviceMappingVersion, '/deviceMappingVersion'),
    fhirMappingVersion: r.string(input.fhirMappingVersion, '/fhirMappingVersion'),
    periodByType,
    chunkSize: r.integer(input.chunkSize, '/chunkSize', 1, 500),
    maxAttempts: r.integer(input.maxAttempts, '/maxAttempts', 1, 10),
    measurements: r
      .array(input.measurements, '/measurements')
      .map((m, i) => readMeasurement(r, m, `/measurements/${i}`)),
  };
}

/**
 * Validates the save activity's input.
 * @param value - the activity input
 */
export function readSaveChunkInput(value: unknown): SaveChunkInput {
  const r = new JsonReader('save activity input');
  const input = r.object(value, '');
  return {
    ...r.optionalString(input.partitionId, '/partitionId', 'partitionId'),
    groups: readGroups(r, input.groups, '/groups'),
  };
}

/**
 * Validates the save activity's output (the orchestrator reads it back from history).
 * @param value - the activity result
 */
export function readSaveChunkResult(value: unknown): SaveChunkResult {
  const r = new JsonReader('save activity result');
  const result = r.object(value, '');
  const count = (key: keyof SaveChunkResult): number => r.integer(result[key], `/${key}`, 0, Number.MAX_SAFE_INTEGER);
  return {
    created: count('created'),
    updated: count('updated'),
    unchanged: count('unchanged'),
    failed: count('failed'),
    deadLettered: count('deadLettered'),
  };
}

/**
 * Validates the dead-letter activity's input.
 * @param value - the activity input
 */
export function readDeadLetterGroupsInput(value: unknown): DeadLetterGroupsInput {
  const r = new JsonReader('dead-letter activity input');
  const input = r.object(value, '');
  const code = r.string(input.code, '/code');
  if (!ERROR_CODES.has(code)) {
    r.fail('/code', 'an error code of the catalogue');
  }
  return {
    groups: readGroups(r, input.groups, '/groups'),
    code: code as ErrorCode,
    message: r.string(input.message, '/message'),
    mappingVersion: r.string(input.mappingVersion, '/mappingVersion'),
    attempts: r.integer(input.attempts, '/attempts', 1, 100),
  };
}

/**
 * Validates a count returned by the dead-letter activity.
 * @param value - the activity result
 */
export function readCount(value: unknown): number {
  return new JsonReader('dead-letter activity result').integer(value, '', 0, Number.MAX_SAFE_INTEGER);
}

function readGroups(r: JsonReader, value: unknown, path: string): MeasurementGroup[] {
  return r.array(value, path).map((g, i) => readGroup(r, g, `${path}/${i}`));
}

function readGroup(r: JsonReader, value: unknown, path: string): MeasurementGroup {
  const g = r.object(value, path);
  const period = g.periodInterval;
  if (period !== null && !PERIODS.has(period)) {
    r.fail(`${path}/periodInterval`, 'a periodInterval or null');
  }
  let error: MeasurementGroup['error'];
  if (g.error !== undefined) {
    const e = r.object(g.error, `${path}/error`);
    if (typeof e.code !== 'string' || !ERROR_CODES.has(e.code) || typeof e.message !== 'string') {
      r.fail(`${path}/error`, 'a pipeline error');
    }
    error = e as unknown as MeasurementGroup['error'];
  }
  return {
    key: r.string(g.key, `${path}/key`),
    type: r.string(g.type, `${path}/type`),
    deviceId: r.string(g.deviceId, `${path}/deviceId`),
    patientId: r.nullableString(g.patientId, `${path}/patientId`),
    encounterId: r.nullableString(g.encounterId, `${path}/encounterId`),
    correlationId: r.nullableString(g.correlationId, `${path}/correlationId`),
    periodInterval: period as PeriodInterval | null,
    window: g.window === null ? null : readWindow(r, g.window, `${path}/window`),
    measurements: r
      .array(g.measurements, `${path}/measurements`)
      .map((m, i) => readMeasurement(r, m, `${path}/measurements/${i}`)),
    ...(error === undefined ? {} : { error }),
  };
}

function readWindow(r: JsonReader, value: unknown, path: string): ObservationWindow {
  const w = r.object(value, path);
  return { start: r.string(w.start, `${path}/start`), end: r.string(w.end, `${path}/end`) };
}

function readMeasurement(r: JsonReader, value: unknown, path: string): Measurement {
  const m = r.object(value, path);
  return {
    type: r.string(m.type, `${path}/type`),
    occurrenceTimeUtc: r.string(m.occurrenceTimeUtc, `${path}/occurrenceTimeUtc`),
    ingestionTimeUtc: r.string(m.ingestionTimeUtc, `${path}/ingestionTimeUtc`),
    deviceId: r.string(m.deviceId, `${path}/deviceId`),
    patientId: r.nullableString(m.patientId, `${path}/patientId`),
    encounterId: r.nullableString(m.encounterId, `${path}/encounterId`),
    correlationId: r.nullableString(m.correlationId, `${path}/correlationId`),
    properties: r.array(m.properties, `${path}/properties`).map((p, i) => {
      const property = r.object(p, `${path}/properties/${i}`);
      return {
        name: r.string(property.name, `${path}/properties/${i}/name`),
        value: r.string(property.value, `${path}/properties/${i}/value`),
      };
    }),
  };
}

/** RFC 6901 escaping of one pointer segment. */
function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Reads JSON values, throwing `INTERNAL` errors that name the path and the expected shape. */
class JsonReader {
  readonly #what: string;

  constructor(what: string) {
    this.#what = what;
  }

  fail(path: string, expected: string): never {
    throw new PipelineError(ErrorCode.Internal, `Invalid ${this.#what}: ${path || '(root)'} must be ${expected}.`, {
      details: { field: path },
    });
  }

  object(value: unknown, path: string): Readonly<Record<string, unknown>> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(path, 'an object');
    }
    return value as Readonly<Record<string, unknown>>;
  }

  array(value: unknown, path: string): readonly unknown[] {
    if (!Array.isArray(value)) {
      this.fail(path, 'an array');
    }
    return value;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string') {
      this.fail(path, 'a string');
    }
    return value;
  }

  nullableString(value: unknown, path: string): string | null {
    return value === null ? null : this.string(value, path);
  }

  optionalString<K extends string>(value: unknown, path: string, key: K): { [P in K]?: string } {
    return value === undefined ? {} : ({ [key]: this.string(value, path) } as { [P in K]?: string });
  }

  integer(value: unknown, path: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(path, `a whole number from ${min} to ${max}`);
    }
    return value;
  }
}
