/**
 * Event Hubs trigger payload → {@link DeviceEvent}s (house-style convention 2): the one place that knows what the
 * Functions host hands a `cardinality: 'many'` trigger. Everything is `unknown` until narrowed here.
 *
 * What arrives (Event Hubs extension `EventHubTriggerBindingStrategy.AddBindingData`, after @azure/functions'
 * `fromRpcTriggerMetadata`, which lower-cases the first letter of every key, nested keys included):
 * - `messages`: one body per event. With `dataType: 'binary'` each is a Buffer holding the exact bytes, which MedTech
 *   parses itself (§2); strings and parsed JSON (other data types, tests) are accepted too.
 * - `triggerMetadata.enqueuedTimeUtcArray`, `sequenceNumberArray`, `propertiesArray`, `systemPropertiesArray`: one
 *   entry per event; `partitionContext.partitionId`: the partition of the whole batch.
 *
 * Known platform limit: because of that key conversion, an application property sent as `PatientId` arrives as
 * `patientId` (only the first letter changes; `iothub-*` and `x-opt-*` names are unaffected). The original spelling
 * is not recoverable here, so mappings that read upper-case application properties must use the lower-cased name.
 *
 * The system properties are given back as MedTech sees `EventData.SystemProperties`: the AMQP annotations
 * (`x-opt-*`, `iothub-*`) without the five members the Functions extension adds for binding (`SequenceNumber`,
 * `Offset`, `OffsetString`, `PartitionKey`, `EnqueuedTimeUtc`). The date-typed annotations, serialized to strings by
 * the host, become date tokens again in the core's envelope (`toEnvelope`), as for every other transport.
 */
import { Buffer } from 'node:buffer';

import { type DeviceEvent, type JsonValue, parseDotNetDateTime } from '../../pipeline';

/** One trigger invocation's events and the partition they came from. */
export interface EventHubBatch {
  /** `partitionContext.partitionId`; undefined outside the host. */
  readonly partitionId: string | undefined;
  /** The events, in delivery order (ascending sequence number). */
  readonly events: DeviceEvent[];
}

/** Members the Functions extension adds to each event's system properties (camel-cased by @azure/functions). */
const BINDING_ONLY_SYSTEM_PROPERTIES: ReadonlySet<string> = new Set([
  'sequenceNumber',
  'offset',
  'offsetString',
  'partitionKey',
  'enqueuedTimeUtc',
  'SequenceNumber',
  'Offset',
  'OffsetString',
  'PartitionKey',
  'EnqueuedTimeUtc',
]);

/**
 * Zips the bodies of one trigger invocation with its metadata arrays.
 * @param messages - the trigger payload: an array of bodies (a single body is taken as a batch of one)
 * @param triggerMetadata - `context.triggerMetadata`
 */
export function toDeviceEvents(messages: unknown, triggerMetadata: unknown): EventHubBatch {
  const bodies = Array.isArray(messages) ? (messages as unknown[]) : [messages];
  const metadata = asRecord(triggerMetadata) ?? {};
  const partitionId = readPartitionId(metadata);
  const enqueuedTimes = asArray(metadata.enqueuedTimeUtcArray);
  const sequenceNumbers = asArray(metadata.sequenceNumberArray);
  const properties = asArray(metadata.propertiesArray);
  const systemProperties = asArray(metadata.systemPropertiesArray);

  const events = bodies.map((body, i): DeviceEvent => {
    const rawSystem = asRecord(systemProperties?.[i]);
    const enqueuedTimeUtc =
      toIsoTime(enqueuedTimes?.[i]) ??
      toIsoTime(rawSystem?.enqueuedTimeUtc) ??
      toIsoTime(rawSystem?.['x-opt-enqueued-time']);
    const sequenceNumber =
      toSequenceNumber(sequenceNumbers?.[i]) ??
      toSequenceNumber(rawSystem?.sequenceNumber) ??
      toSequenceNumber(rawSystem?.['x-opt-sequence-number']);
    return {
      body: toBody(body),
      properties: asRecord(properties?.[i]) ?? {},
      systemProperties: toSystemProperties(rawSystem),
      ...(enqueuedTimeUtc === undefined ? {} : { enqueuedTimeUtc }),
      ...(partitionId === undefined ? {} : { partitionId }),
      ...(sequenceNumber === undefined ? {} : { sequenceNumber }),
    };
  });
  return { partitionId, events };
}

function readPartitionId(metadata: Readonly<Record<string, unknown>>): string | undefined {
  for (const key of ['partitionContext', 'triggerPartitionContext']) {
    const id = asRecord(metadata[key])?.partitionId;
    if (typeof id === 'string' && id !== '') {
      return id;
    }
    if (typeof id === 'number' && Number.isInteger(id)) {
      return String(id);
    }
  }
  return undefined;
}

/** A body as the normalizer takes it: bytes and text are parsed by the core, anything else is parsed JSON. */
function toBody(body: unknown): DeviceEvent['body'] {
  if (body instanceof Uint8Array || typeof body === 'string') {
    return body;
  }
  if (body instanceof ArrayBuffer) {
    return new Uint8Array(body);
  }
  if (body === undefined) {
    return null;
  }
  // A Buffer that went through JSON (`{type: 'Buffer', data: [...]}`) is still bytes.
  const record = asRecord(body);
  if (record?.type === 'Buffer' && Array.isArray(record.data) && Object.keys(record).length === 2) {
    return new Uint8Array(Buffer.from(record.data as number[]));
  }
  return body as JsonValue;
}

function toSystemProperties(raw: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  if (raw === undefined) {
    return result;
  }
  for (const key of Object.keys(raw)) {
    if (BINDING_ONLY_SYSTEM_PROPERTIES.has(key)) {
      continue;
    }
    Object.defineProperty(result, key, { value: raw[key], enumerable: true, writable: true, configurable: true });
  }
  return result;
}

/** The enqueued time as text the core parses (`DateTime.Parse`): host strings pass unchanged (7 digits kept). */
function toIsoTime(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const trimmed = value.trim();
    return parseDotNetDateTime(trimmed) === undefined ? undefined : trimmed;
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  }
  return undefined;
}

function toSequenceNumber(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function asArray(value: unknown): readonly unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

function asRecord(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
    ? (value as Record<string, unknown>)
    : undefined;
}
