/**
 * The logging port. Log entries identify a message by partition and sequence number and name the template, field
 * and error code; they never carry message content. Fields are restricted to a closed set of keys, checked by the
 * compiler for TypeScript callers and enforced at run time by every implementation through {@link pickLogFields}.
 */

/** The log fields that may be recorded. Values are identifiers, counts and codes, never device data. */
export interface LogFields {
  /** An {@link ErrorCode} or an engine's error code. */
  readonly code?: string;
  /** MedTech's error type name, e.g. `IncompatibleDataException`. */
  readonly errorType?: string;
  /** Pipeline stage (MedTech's `Operation`). */
  readonly stage?: string;
  /** A template's `typeName`. */
  readonly template?: string;
  /** The template field at fault, e.g. `DeviceIdExpression`. */
  readonly field?: string;
  /** Event Hubs partition id. */
  readonly partition?: string;
  /** Event Hubs sequence number within the partition. */
  readonly sequenceNumber?: number;
  /** How many items an entry is about. */
  readonly count?: number;
  /** How long an operation took. */
  readonly durationMs?: number;
  /** Attempt number of a retried operation. */
  readonly attempt?: number;
  /** An HTTP status returned by a dependency. */
  readonly status?: number;
  /** Whether the failure may succeed on retry. */
  readonly retryable?: boolean;
  /** A FHIR resource type. */
  readonly resourceType?: string;
  /** A mapping version (ETag or content hash). */
  readonly mappingVersion?: string;
  /** A dead-letter entry id. */
  readonly deadLetterId?: string;
  /** A Durable Functions orchestration instance id. */
  readonly instanceId?: string;
  /** A Functions invocation id. */
  readonly invocationId?: string;
  /** An app setting name (never its value). */
  readonly setting?: string;
}

/** A log field name. */
export type LogFieldName = keyof LogFields;

/** The allowed field names, as data (run-time filtering). */
export const LOG_FIELD_NAMES: readonly LogFieldName[] = Object.freeze([
  'code',
  'errorType',
  'stage',
  'template',
  'field',
  'partition',
  'sequenceNumber',
  'count',
  'durationMs',
  'attempt',
  'status',
  'retryable',
  'resourceType',
  'mappingVersion',
  'deadLetterId',
  'instanceId',
  'invocationId',
  'setting',
] satisfies readonly LogFieldName[]);

/** A log level. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where the pipeline and its adapters write logs. */
export interface Logger {
  /**
   * Detail for troubleshooting, off by default.
   * @param message - a fixed description, without data values
   * @param fields - identifiers from the closed set
   */
  debug(message: string, fields?: LogFields): void;
  /**
   * A normal event worth recording.
   * @param message - a fixed description, without data values
   * @param fields - identifiers from the closed set
   */
  info(message: string, fields?: LogFields): void;
  /**
   * Something went wrong with one item; processing continues.
   * @param message - a fixed description, without data values
   * @param fields - identifiers from the closed set
   */
  warn(message: string, fields?: LogFields): void;
  /**
   * Something went wrong that needs attention.
   * @param message - a fixed description, without data values
   * @param fields - identifiers from the closed set
   */
  error(message: string, fields?: LogFields): void;
}

/** A logger that drops everything (the default). */
export const noopLogger: Logger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});

const ALLOWED: ReadonlySet<string> = new Set(LOG_FIELD_NAMES);
const MAX_STRING = 256;

/**
 * Keeps only allowed keys whose values are strings, finite numbers or booleans, and shortens long strings. Logger
 * implementations call this so a caller that spreads an arbitrary object (or a JavaScript caller) cannot log data.
 * @param fields - whatever the caller passed
 * @returns a new object, or undefined when nothing is left
 */
export function pickLogFields(fields: unknown): Record<string, string | number | boolean> | undefined {
  if (typeof fields !== 'object' || fields === null) {
    return undefined;
  }
  let picked: Record<string, string | number | boolean> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (!ALLOWED.has(key)) {
      continue;
    }
    if (typeof value === 'string') {
      (picked ??= {})[key] = value.length > MAX_STRING ? `${value.slice(0, MAX_STRING - 3)}...` : value;
    } else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') {
      (picked ??= {})[key] = value;
    }
  }
  return picked;
}
