/**
 * The dead-letter port. Under `ErrorPolicy=DeadLetter`, an event that fails normalization or a measurement group that
 * fails FHIR conversion with a non-retryable error is recorded here with its error, then processing carries on.
 * Entries are plain JSON, so they can be listed, inspected and replayed later.
 *
 * Ids are deterministic: recording the same event or group again (a redelivered batch, a replay that fails again)
 * overwrites its entry instead of adding a duplicate. Ids embed the UTC day of the event's enqueued time (or the
 * group's window start), so a store can derive a day-partitioned key from the id alone.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';

import { PipelineError, type PipelineErrorJson } from './errors';
import type { DeviceEvent, JsonValue } from './model/device-event';

/** The stage that gave up on an item (MedTech's `Operation`). */
export type DeadLetterStage = 'Normalization' | 'FHIRConversion';

/** A device event as stored: the body byte-exact, the properties as JSON. */
export interface DeadLetterEvent {
  /** The body as JSON, when its bytes are exactly `JSON.stringify` of this value (compact JSON, as devices send). */
  readonly bodyJson?: JsonValue;
  /** The body bytes, base64, whenever `bodyJson` could not reproduce them exactly (binary, pretty-printed, big ints). */
  readonly bodyBase64?: string;
  readonly properties: Readonly<Record<string, JsonValue>>;
  readonly systemProperties: Readonly<Record<string, JsonValue>>;
  readonly enqueuedTimeUtc?: string;
}

/** What was dead-lettered. */
export type DeadLetterPayload =
  | { readonly kind: 'event'; readonly event: DeadLetterEvent }
  /** A measurement group (`MeasurementGroup`), as plain JSON. */
  | { readonly kind: 'group'; readonly group: unknown };

/** One dead-lettered item. JSON-serializable. */
export interface DeadLetterEntry {
  /** Deterministic id, see {@link eventDeadLetterId} and {@link groupDeadLetterId}. */
  readonly id: string;
  readonly stage: DeadLetterStage;
  readonly error: PipelineErrorJson;
  readonly partitionId?: string;
  readonly sequenceNumber?: number;
  readonly enqueuedTimeUtc?: string;
  /** The version (ETag or content hash) of the mapping in force when the item failed. */
  readonly mappingVersion: string;
  /** When the entry was written, ISO-8601 UTC. */
  readonly createdAt: string;
  /** How many times processing was attempted. */
  readonly attempts: number;
  readonly payload: DeadLetterPayload;
}

/** An entry without its payload, as listed. */
export type DeadLetterSummary = Omit<DeadLetterEntry, 'payload'> & { readonly payloadKind: DeadLetterPayload['kind'] };

/** Which entries to list. All conditions must hold. */
export interface DeadLetterFilter {
  /** Only entries created at or after this ISO-8601 instant. */
  readonly since?: string;
  /** Only entries whose error code (`REQUIRED_VALUE_MISSING`) or MedTech error type (`IncompatibleDataException`) is this. */
  readonly errorType?: string;
  readonly stage?: DeadLetterStage;
  /** At most this many entries (default {@link DEFAULT_DEAD_LETTER_LIMIT}, at most {@link MAX_DEAD_LETTER_LIMIT}). */
  readonly limit?: number;
}

/** Where dead letters are kept. The Table-storage adapter implements it; tests use an in-memory one. */
export interface DeadLetterStore {
  /**
   * Writes entries; an entry with an existing id replaces it.
   * @param entries - the entries to write
   */
  put(entries: readonly DeadLetterEntry[]): Promise<void>;
  /**
   * Lists entries, newest first (by `createdAt`, then id).
   * @param filter - conditions and limit
   */
  list(filter?: DeadLetterFilter): Promise<DeadLetterSummary[]>;
  /**
   * Reads one entry with its payload.
   * @param id - the entry id
   */
  get(id: string): Promise<DeadLetterEntry | undefined>;
  /**
   * Deletes entries (after a successful replay).
   * @param ids - the entry ids; unknown ids are ignored
   * @returns how many entries existed and were deleted
   */
  remove(ids: readonly string[]): Promise<number>;
  /** Resolves when the store is reachable; rejects with a retryable `STORAGE_UNAVAILABLE` error otherwise. */
  ping(): Promise<void>;
}

/** Default `limit` of {@link DeadLetterStore.list}. */
export const DEFAULT_DEAD_LETTER_LIMIT = 100;
/** Largest `limit` of {@link DeadLetterStore.list}. */
export const MAX_DEAD_LETTER_LIMIT = 1000;

/**
 * The stored form of an event. The body is kept as JSON when its bytes are exactly the compact serialization of the
 * parsed value — then replaying `JSON.stringify(bodyJson)` gives back the same bytes — and as base64 otherwise
 * (not UTF-8, not JSON, whitespace, escapes, integers beyond 2^53…), so the original bytes always survive.
 * Property values are made JSON-safe: dates become ISO strings, bytes base64, big integers strings.
 * @param event - the event as delivered
 */
export function serializeDeadLetterEvent(event: DeviceEvent): DeadLetterEvent {
  return {
    ...serializeBody(event.body),
    properties: toJsonRecord(event.properties),
    systemProperties: toJsonRecord(event.systemProperties),
    ...(event.enqueuedTimeUtc === undefined ? {} : { enqueuedTimeUtc: event.enqueuedTimeUtc }),
  };
}

/**
 * The event to replay from a stored one: the body as the original bytes (or the exact JSON text).
 * @param entry - a dead-letter entry with an event payload
 */
export function deserializeDeadLetterEvent(entry: DeadLetterEntry): DeviceEvent {
  if (entry.payload.kind !== 'event') {
    throw new TypeError(`dead-letter entry ${entry.id} holds a group, not an event`);
  }
  const { event } = entry.payload;
  const body =
    event.bodyBase64 !== undefined
      ? new Uint8Array(Buffer.from(event.bodyBase64, 'base64'))
      : event.bodyJson === undefined
        ? null
        : JSON.stringify(event.bodyJson);
  return {
    body,
    properties: event.properties,
    systemProperties: event.systemProperties,
    ...(event.enqueuedTimeUtc === undefined ? {} : { enqueuedTimeUtc: event.enqueuedTimeUtc }),
    ...(entry.partitionId === undefined ? {} : { partitionId: entry.partitionId }),
    ...(entry.sequenceNumber === undefined ? {} : { sequenceNumber: entry.sequenceNumber }),
  };
}

/**
 * The id of a dead-lettered event: `evt-{yyyymmdd}-{partition}-{sequenceNumber}`, the day being the UTC day of
 * the enqueued time. Events without a partition and sequence number (local ingestion) get
 * `evt-{yyyymmdd}-h{hash of the content}` instead.
 * @param event - the event
 * @param now - the clock's time, used for the day when the event has no enqueued time
 */
export function eventDeadLetterId(event: DeviceEvent, now: number): string {
  return eventId(event, now, undefined);
}

function eventId(event: DeviceEvent, now: number, serialized: DeadLetterEvent | undefined): string {
  const day = utcDay(event.enqueuedTimeUtc, now);
  if (event.partitionId !== undefined && event.sequenceNumber !== undefined) {
    return `evt-${day}-${keySafe(event.partitionId)}-${event.sequenceNumber}`;
  }
  const e = serialized ?? serializeDeadLetterEvent(event);
  const content = [e.bodyBase64 ?? e.bodyJson ?? null, e.properties, e.systemProperties, e.enqueuedTimeUtc ?? null];
  return `evt-${day}-h${sha256(JSON.stringify(content)).slice(0, 32)}`;
}

/**
 * The id of a dead-lettered measurement group: `grp-{yyyymmdd}-{hash of key and window}`, the day being the UTC day
 * of the window start.
 * @param key - the measurement-group key
 * @param window - the observation window, or null when the group has none
 * @param now - the clock's time, used for the day when there is no window
 */
export function groupDeadLetterId(
  key: string,
  window: { readonly start: string; readonly end: string } | null,
  now: number,
): string {
  const day = utcDay(window?.start, now);
  return `grp-${day}-${sha256(`${key}\n${window?.start ?? ''}\n${window?.end ?? ''}`).slice(0, 32)}`;
}

/**
 * The `yyyymmdd` day embedded in a dead-letter id, or undefined when the id is not one of ours.
 * @param id - a dead-letter id
 */
export function deadLetterIdDay(id: string): string | undefined {
  return /^(?:evt|grp)-(\d{8})-/.exec(id)?.[1];
}

/** Context of a new entry. */
export interface DeadLetterContext {
  readonly mappingVersion: string;
  /** The clock's time. */
  readonly now: number;
  /** Attempts made, default 1. */
  readonly attempts?: number;
}

/**
 * Builds the entry for an event that failed normalization.
 * @param event - the event
 * @param error - why it failed
 * @param context - mapping version, time and attempts
 */
export function eventDeadLetterEntry(
  event: DeviceEvent,
  error: PipelineError | PipelineErrorJson,
  context: DeadLetterContext,
): DeadLetterEntry {
  const serialized = serializeDeadLetterEvent(event);
  return {
    id: eventId(event, context.now, serialized),
    stage: 'Normalization',
    error: toErrorJson(error),
    ...(event.partitionId === undefined ? {} : { partitionId: event.partitionId }),
    ...(event.sequenceNumber === undefined ? {} : { sequenceNumber: event.sequenceNumber }),
    ...(event.enqueuedTimeUtc === undefined ? {} : { enqueuedTimeUtc: event.enqueuedTimeUtc }),
    mappingVersion: context.mappingVersion,
    createdAt: new Date(context.now).toISOString(),
    attempts: context.attempts ?? 1,
    payload: { kind: 'event', event: serialized },
  };
}

/**
 * Builds the entry for a measurement group that failed FHIR conversion.
 * @param group - the group (JSON); its `key` and `window` make the id
 * @param error - why it failed
 * @param context - mapping version, time and attempts
 */
export function groupDeadLetterEntry(
  group: { readonly key: string; readonly window: { readonly start: string; readonly end: string } | null },
  error: PipelineError | PipelineErrorJson,
  context: DeadLetterContext,
): DeadLetterEntry {
  return {
    id: groupDeadLetterId(group.key, group.window, context.now),
    stage: 'FHIRConversion',
    error: toErrorJson(error),
    mappingVersion: context.mappingVersion,
    createdAt: new Date(context.now).toISOString(),
    attempts: context.attempts ?? 1,
    payload: { kind: 'group', group: toJsonValue(group, 0) },
  };
}

/**
 * The summary of an entry (what `list` returns).
 * @param entry - the entry
 */
export function summarizeDeadLetter(entry: DeadLetterEntry): DeadLetterSummary {
  const { payload, ...rest } = entry;
  return { ...rest, payloadKind: payload.kind };
}

/**
 * True when a summary passes a filter's conditions (not its limit). Stores apply this so they agree on meaning.
 * @param summary - an entry or summary
 * @param filter - the filter
 */
export function matchesDeadLetterFilter(
  summary: Omit<DeadLetterSummary, 'payloadKind'>,
  filter: DeadLetterFilter,
): boolean {
  return (
    (filter.stage === undefined || summary.stage === filter.stage) &&
    (filter.errorType === undefined ||
      summary.error.code === filter.errorType ||
      summary.error.medtechErrorType === filter.errorType) &&
    (filter.since === undefined || Date.parse(summary.createdAt) >= deadLetterSince(filter.since))
  );
}

/**
 * The epoch milliseconds of a filter's `since`.
 * @param since - an ISO-8601 instant
 * @throws RangeError when `since` is not a date-time
 */
export function deadLetterSince(since: string): number {
  const ms = Date.parse(since);
  if (Number.isNaN(ms)) {
    throw new RangeError(
      `dead-letter filter: since must be an ISO-8601 date-time (got ${JSON.stringify(since.slice(0, 40))})`,
    );
  }
  return ms;
}

/**
 * Orders summaries newest first (by `createdAt`, then id) and applies the filter's limit.
 * @param summaries - matching summaries, in any order
 * @param filter - the filter (its limit)
 */
export function orderAndLimitDeadLetters<T extends Pick<DeadLetterSummary, 'createdAt' | 'id'>>(
  summaries: T[],
  filter: DeadLetterFilter,
): T[] {
  summaries.sort((a, b) => (a.createdAt === b.createdAt ? compare(a.id, b.id) : compare(b.createdAt, a.createdAt)));
  return summaries.slice(0, deadLetterLimit(filter));
}

/**
 * The effective limit of a filter: the default when absent, clamped to 1..{@link MAX_DEAD_LETTER_LIMIT}.
 * @param filter - the filter
 */
export function deadLetterLimit(filter: DeadLetterFilter): number {
  const limit = filter.limit ?? DEFAULT_DEAD_LETTER_LIMIT;
  return Math.min(
    Math.max(Math.trunc(Number.isFinite(limit) ? limit : DEFAULT_DEAD_LETTER_LIMIT), 1),
    MAX_DEAD_LETTER_LIMIT,
  );
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function serializeBody(body: DeviceEvent['body']): Pick<DeadLetterEvent, 'bodyJson' | 'bodyBase64'> {
  if (body instanceof Uint8Array) {
    let text: string | undefined;
    try {
      text = UTF8.decode(body);
    } catch {
      text = undefined; // not UTF-8: keep the bytes
    }
    const json = text === undefined ? undefined : exactJson(text);
    return json === undefined ? { bodyBase64: Buffer.from(body).toString('base64') } : { bodyJson: json.value };
  }
  if (typeof body === 'string') {
    const json = exactJson(body);
    return json === undefined ? { bodyBase64: Buffer.from(body, 'utf8').toString('base64') } : { bodyJson: json.value };
  }
  // Already-parsed JSON (possibly with bigint from a lossless parser): keep it as JSON unless JSON cannot hold it, or
  // it is nested too deep for the stores to serialize the entry (the text then goes in as bytes).
  const { text, depth } = stringifyJson(body);
  const json = depth > MAX_DEPTH ? undefined : exactJson(text);
  return json === undefined ? { bodyBase64: Buffer.from(text, 'utf8').toString('base64') } : { bodyJson: json.value };
}

/** The parsed value when `text` is exactly the compact serialization of it. */
function exactJson(text: string): { value: JsonValue } | undefined {
  try {
    const value = JSON.parse(text) as JsonValue;
    return JSON.stringify(value) === text ? { value } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * JSON text of a value that may hold bigint (written as its digits, which `JSON.stringify` refuses), and its nesting
 * depth. Iterative, so that an already-parsed body of any depth — 10,000 levels overflow the call stack of
 * `JSON.stringify` — can still be dead-lettered.
 */
function stringifyJson(value: JsonValue): { text: string; depth: number } {
  type Frame =
    | { readonly items: readonly (JsonValue | undefined)[]; i: number }
    | { readonly members: readonly [string, JsonValue][]; i: number };
  const stack: Frame[] = [];
  let text = '';
  let depth = 0;
  const write = (v: JsonValue): void => {
    if (typeof v === 'bigint') {
      text += v.toString();
    } else if (Array.isArray(v)) {
      text += '[';
      stack.push({ items: v, i: 0 });
    } else if (typeof v === 'object' && v !== null) {
      text += '{';
      // A JavaScript caller may leave `undefined` members, which JSON omits.
      const members = Object.entries(v as Record<string, JsonValue | undefined>).filter(
        (m): m is [string, JsonValue] => m[1] !== undefined,
      );
      stack.push({ members, i: 0 });
    } else {
      text += JSON.stringify(v);
    }
    depth = Math.max(depth, stack.length);
  };
  write(value);
  for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
    if ('items' in top) {
      if (top.i === top.items.length) {
        text += ']';
        stack.pop();
        continue;
      }
      text += top.i === 0 ? '' : ',';
      write(top.items[top.i++] ?? null);
    } else {
      if (top.i === top.members.length) {
        text += '}';
        stack.pop();
        continue;
      }
      const [key, member] = top.members[top.i++] as [string, JsonValue];
      text += `${top.i === 1 ? '' : ','}${JSON.stringify(key)}:`;
      write(member);
    }
  }
  return { text, depth };
}

function toErrorJson(error: PipelineError | PipelineErrorJson): PipelineErrorJson {
  const json = error instanceof PipelineError ? error.toJSON() : error;
  return { ...json, details: toJsonRecord(json.details) };
}

function toJsonRecord(value: Readonly<Record<string, unknown>> | undefined): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  if (value !== undefined) {
    for (const [k, v] of Object.entries(value)) {
      const json = toJsonValue(v, 1);
      if (json !== undefined) {
        out[k] = json;
      }
    }
  }
  return out;
}

const MAX_DEPTH = 64;

/** A JSON-safe copy: Date → ISO string, bytes → base64, bigint → number or string; functions etc. dropped. */
function toJsonValue(value: unknown, depth: number): JsonValue | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    case 'object':
      break;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) {
    return null;
  }
  if (depth > MAX_DEPTH) {
    return '[too deep]';
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? null : value.toISOString();
  }
  if (value instanceof Uint8Array) {
    return Buffer.from(value).toString('base64');
  }
  if (Array.isArray(value)) {
    return value.map((v) => toJsonValue(v, depth + 1) ?? null);
  }
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(value)) {
    const json = toJsonValue(v, depth + 1);
    if (json !== undefined) {
      out[k] = json;
    }
  }
  return out;
}

/** `yyyymmdd` of an ISO-8601 time (no zone = UTC, as MedTech reads it), or of `now` when absent or unparseable. */
function utcDay(iso: string | undefined, now: number): string {
  let ms = Number.NaN;
  if (iso !== undefined) {
    // Date.parse reads a zone-less date-time as local time; MedTech treats it as UTC.
    const zoned = /T/.test(iso) && !/(?:Z|[+-]\d{2}:?\d{2})$/i.test(iso) ? `${iso}Z` : iso;
    ms = Date.parse(zoned);
  }
  const date = new Date(Number.isNaN(ms) ? now : ms);
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}

/** A partition id as used in ids: as is when it is plain, else a short hash (ids become Table row keys). */
function keySafe(value: string): string {
  return /^[A-Za-z0-9_.]{1,64}$/.test(value) ? value : `h${sha256(value).slice(0, 16)}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
