/**
 * The protocol of `POST /ingest`: turns a request body into device events, or into a 4xx answer that names the
 * event at fault. Pure: no I/O.
 *
 * Forms (by `Content-Type`):
 * - `application/json`: one event (a JSON object) or a batch (a JSON array, one element per event);
 * - `application/x-ndjson` (also `application/jsonl`, `application/ndjson`, `application/x-jsonlines`): JSON lines,
 *   one event per non-blank line (a line may hold any JSON value, arrays included).
 *
 * What an event is:
 * - by default a **raw device body**, exactly what a device sends to Event Hubs. Each event keeps its own bytes (an
 *   array element's text is cut out of the request, not re-serialized), so MedTech's body parsing sees what the
 *   device wrote. A device whose single message is a JSON array sends it as one JSON line, or in an envelope;
 * - with `?envelope=true`, an **envelope** `{"body": <JSON> | "bodyText": "<raw text>", "properties"?: {…},
 *   "systemProperties"?: {…}, "partitionKey"?: "<key>"}` — for gateways that forward IoT Hub messages (their
 *   application and system properties) or need a partition key per event. `body` is parsed JSON (integers beyond
 *   2^53 lose precision there; send such bodies as `bodyText`).
 *
 * Partition key of an event: the envelope's `partitionKey`, else the request's `?partitionKey=`, else the IoT Hub
 * device id system property (IoT Hub partitions by it), else none (round-robin per request, as Event Hubs does).
 * The enqueued time is set by the endpoint on acceptance, as Event Hubs sets it; recorded events with their own
 * times are pushed with `iomt replay`.
 */
import { Buffer } from 'node:buffer';

import { parseTree, type ParseError } from 'jsonc-parser';

import type { DeviceEvent, JsonValue } from '../../pipeline';
import { DEFAULT_MAX_BODY_BYTES } from '../../pipeline';
import { arrayElementIndexAt, arrayElementSpans } from './json-array-split';
import { IOT_HUB_DEVICE_ID } from './partitioning';
import type { RejectReason } from './stack-metrics';

/** One accepted event, before the ingest path stamps its enqueued time and partition. */
export interface IngestEvent {
  readonly event: DeviceEvent;
  readonly partitionKey?: string;
}

/** Limits of one request. */
export interface IngestLimits {
  /** Request body bytes at most. */
  readonly maxRequestBytes: number;
  /** Events per request at most. */
  readonly maxEvents: number;
  /** Bytes of one event (its body, or its whole envelope) at most. */
  readonly maxEventBytes: number;
}

/** Default limits: 8 MiB per request, 5000 events, 1 MiB per event (MedTech's body limit). */
export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxRequestBytes: 8 * 1024 * 1024,
  maxEvents: 5000,
  maxEventBytes: DEFAULT_MAX_BODY_BYTES,
};

/** Event Hubs' limit on partition keys. */
export const MAX_PARTITION_KEY_LENGTH = 128;

/** How the request is to be read. */
export interface IngestRequestInfo {
  /** The `Content-Type` header. */
  readonly contentType: string | undefined;
  /** Events are envelopes (`?envelope=true`). */
  readonly envelope: boolean;
  /** The request's partition key (`?partitionKey=`). */
  readonly partitionKey?: string;
}

/** A refused request: the status, a machine-readable reason and a message naming the event at fault. */
export interface IngestRejection {
  readonly ok: false;
  readonly status: 400 | 413 | 415;
  readonly reason: RejectReason;
  readonly message: string;
  /** The 0-based index of the event at fault, when one is. */
  readonly index?: number;
}

/** The parsed request. */
export type IngestParseResult = { readonly ok: true; readonly events: IngestEvent[] } | IngestRejection;

type Format = 'json' | 'lines';

const MEDIA_TYPES: Readonly<Record<string, Format>> = {
  'application/json': 'json',
  'application/x-ndjson': 'lines',
  'application/ndjson': 'lines',
  'application/jsonl': 'lines',
  'application/x-jsonlines': 'lines',
  'application/jsonlines': 'lines',
};

const ENVELOPE_MEMBERS: ReadonlySet<string> = new Set([
  'body',
  'bodyText',
  'properties',
  'systemProperties',
  'partitionKey',
]);

const UTF8 = new TextDecoder('utf-8', { fatal: true });

const reject = (
  status: IngestRejection['status'],
  reason: RejectReason,
  message: string,
  index?: number,
): IngestRejection => ({ ok: false, status, reason, message, ...(index === undefined ? {} : { index }) });

/**
 * Reads an ingest request.
 * @param body - the request body
 * @param info - content type, envelope mode and the request's partition key
 * @param limits - size and count limits
 */
export function parseIngestRequest(
  body: Uint8Array,
  info: IngestRequestInfo,
  limits: IngestLimits = DEFAULT_INGEST_LIMITS,
): IngestParseResult {
  const format = formatOf(info.contentType);
  if (typeof format !== 'string') {
    return format;
  }
  if (info.partitionKey !== undefined && invalidPartitionKey(info.partitionKey)) {
    return reject(400, 'invalid_event', `partitionKey must be 1 to ${MAX_PARTITION_KEY_LENGTH} characters`);
  }
  if (body.byteLength > limits.maxRequestBytes) {
    return tooLargeRequest(limits);
  }
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    return reject(400, 'malformed', 'the request body is not UTF-8');
  }
  const split = format === 'json' ? splitJson(text) : splitLines(text);
  if ('ok' in split) {
    return split;
  }
  const { texts, values } = split;
  if (texts.length === 0) {
    return reject(400, 'invalid_event', 'the request holds no event');
  }
  if (texts.length > limits.maxEvents) {
    return reject(413, 'too_many_events', `${texts.length} events in one request; at most ${limits.maxEvents}`);
  }
  const events: IngestEvent[] = [];
  for (const [index, eventText] of texts.entries()) {
    if (Buffer.byteLength(eventText, 'utf8') > limits.maxEventBytes) {
      return reject(413, 'too_large', `event ${index} is larger than ${limits.maxEventBytes} bytes`, index);
    }
    if (!info.envelope) {
      events.push({
        event: { body: eventText },
        ...(info.partitionKey === undefined ? {} : { partitionKey: info.partitionKey }),
      });
      continue;
    }
    const envelope = readEnvelope(values[index], index, info.partitionKey);
    if (!('event' in envelope)) {
      return envelope;
    }
    events.push(envelope);
  }
  return { ok: true, events };
}

function formatOf(contentType: string | undefined): Format | IngestRejection {
  const [type = '', ...parameters] = (contentType ?? '').split(';').map((part) => part.trim().toLowerCase());
  const format = Object.hasOwn(MEDIA_TYPES, type) ? MEDIA_TYPES[type] : undefined;
  if (format === undefined) {
    // Browsers send form and text/plain posts cross-site without asking first; refusing them keeps web pages from
    // injecting events into a stack on the developer's machine.
    return reject(
      415,
      'unsupported_media_type',
      `Content-Type must be application/json (one event or a JSON array of events) or application/x-ndjson (JSON lines)${type === '' ? '' : `, not ${type}`}`,
    );
  }
  const charset = parameters.find((p) => p.startsWith('charset='))?.slice('charset='.length);
  if (charset !== undefined && charset.replace(/"/g, '') !== 'utf-8' && charset.replace(/"/g, '') !== 'utf8') {
    return reject(415, 'unsupported_media_type', 'the only supported charset is utf-8');
  }
  return format;
}

/** The events of a request: each one's text, and its parsed value. */
interface SplitEvents {
  readonly texts: string[];
  readonly values: unknown[];
}

/** The events of a JSON request: the object itself, or each array element. */
function splitJson(text: string): SplitEvents | IngestRejection {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return syntaxError(text);
  }
  if (Array.isArray(value)) {
    return { texts: arrayElementSpans(text).map(([start, end]) => text.slice(start, end)), values: value };
  }
  if (typeof value === 'object' && value !== null) {
    return { texts: [text.trim()], values: [value] };
  }
  return reject(400, 'invalid_event', 'an application/json request holds one event (an object) or an array of events');
}

/** Where the first syntax error is (JSON.parse's messages quote the input, so they are not passed on). */
function syntaxError(text: string): IngestRejection {
  if (text.trim() === '') {
    return reject(400, 'invalid_event', 'the request holds no event');
  }
  const errors: ParseError[] = [];
  parseTree(text, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
  const offset = errors[0]?.offset ?? text.length;
  const { line, column } = position(text, offset);
  const index = arrayElementIndexAt(text, offset);
  return reject(
    400,
    'malformed',
    `${index === undefined ? 'the request' : `event ${index}`} is not valid JSON (line ${line}, column ${column})`,
    index,
  );
}

/** The events of a JSON lines request; a line that is not JSON is refused with its number. */
function splitLines(text: string): SplitEvents | IngestRejection {
  const texts: string[] = [];
  const values: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '') {
      continue;
    }
    try {
      values.push(JSON.parse(line));
    } catch {
      return reject(400, 'malformed', `event ${texts.length} (line ${i + 1}) is not valid JSON`, texts.length);
    }
    texts.push(line);
  }
  return { texts, values };
}

function readEnvelope(value: unknown, index: number, requestKey: string | undefined): IngestEvent | IngestRejection {
  const invalid = (message: string): IngestRejection =>
    reject(400, 'invalid_event', `event ${index}: ${message}`, index);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalid(
      'an envelope must be a JSON object {"body"|"bodyText", "properties"?, "systemProperties"?, "partitionKey"?}',
    );
  }
  const envelope = value as Record<string, unknown>;
  for (const key of Object.keys(envelope)) {
    if (!ENVELOPE_MEMBERS.has(key)) {
      return invalid(
        key === 'enqueuedTimeUtc'
          ? `'enqueuedTimeUtc' is set by the endpoint on acceptance; push recorded events with \`iomt replay\``
          : `unknown member '${key}' (an envelope has body or bodyText, properties, systemProperties, partitionKey)`,
      );
    }
  }
  const hasBody = Object.hasOwn(envelope, 'body');
  const { bodyText } = envelope;
  if (hasBody === (bodyText !== undefined)) {
    return invalid(`an envelope has exactly one of 'body' (JSON) and 'bodyText' (raw text)`);
  }
  if (bodyText !== undefined && typeof bodyText !== 'string') {
    return invalid(`'bodyText' must be a string`);
  }
  const properties = objectMember(envelope, 'properties');
  const systemProperties = objectMember(envelope, 'systemProperties');
  if (properties === false || systemProperties === false) {
    return invalid(`'${properties === false ? 'properties' : 'systemProperties'}' must be a JSON object`);
  }
  const { partitionKey } = envelope;
  if (partitionKey !== undefined && (typeof partitionKey !== 'string' || invalidPartitionKey(partitionKey))) {
    return invalid(`'partitionKey' must be a string of 1 to ${MAX_PARTITION_KEY_LENGTH} characters`);
  }
  const iotHubDevice = systemProperties?.[IOT_HUB_DEVICE_ID];
  const key =
    partitionKey ?? requestKey ?? (typeof iotHubDevice === 'string' && iotHubDevice !== '' ? iotHubDevice : undefined);
  return {
    event: {
      body: typeof bodyText === 'string' ? bodyText : (envelope.body as JsonValue),
      ...(properties === undefined ? {} : { properties }),
      ...(systemProperties === undefined ? {} : { systemProperties }),
    },
    ...(key === undefined ? {} : { partitionKey: key }),
  };
}

/** The member as an object; undefined when absent or null; false when it is something else. */
function objectMember(envelope: Record<string, unknown>, name: string): Record<string, unknown> | undefined | false {
  const value = envelope[name];
  if (value === undefined || value === null) {
    return undefined;
  }
  return typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : false;
}

const invalidPartitionKey = (key: string): boolean => key.length === 0 || key.length > MAX_PARTITION_KEY_LENGTH;

/**
 * The answer to a request whose body exceeds the limit (also used before reading it all).
 * @param limits - the limits
 */
export function tooLargeRequest(limits: IngestLimits): IngestRejection {
  return reject(413, 'too_large', `the request body is larger than ${limits.maxRequestBytes} bytes`);
}

/** 1-based line and column of an offset. */
function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
