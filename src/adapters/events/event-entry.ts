import type { DeviceEvent, JsonValue } from '../../pipeline';

/** One event as event files, the debug API and replays describe it (the `iomt debug` contract). */
export interface EventsFileEntry {
  /** The parsed message body; `null` means a zero-length body. */
  readonly body?: JsonValue;
  /** A raw body string used instead of `body` (e.g. text that is not JSON). */
  readonly bodyText?: string;
  readonly properties?: Record<string, unknown>;
  readonly systemProperties?: Record<string, unknown>;
  readonly enqueuedTimeUtc?: string;
  /** Events with the same batch number form one Event Hubs batch (default 0). */
  readonly batch?: number;
}

/** An event read from a file, with its position and batch. */
export interface FileEvent {
  readonly index: number;
  readonly batch: number;
  readonly event: DeviceEvent;
}

/**
 * Converts one entry (also used by the HTTP ingestion endpoint and the debug API).
 * @param entry - the entry
 * @param index - its position (for messages)
 * @param source - where it came from (for messages)
 */
export function toFileEvent(entry: unknown, index: number, source: string): FileEvent {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new Error(`${source}: event ${index} is not an object`);
  }
  const e = entry as EventsFileEntry;
  const object = (name: string, value: unknown): Record<string, unknown> | undefined => {
    if (value === undefined || value === null) {
      return undefined;
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`${source}: event ${index}: '${name}' must be an object`);
    }
    return value as Record<string, unknown>;
  };
  if (e.bodyText !== undefined && typeof e.bodyText !== 'string') {
    throw new Error(`${source}: event ${index}: 'bodyText' must be a string`);
  }
  if (e.enqueuedTimeUtc !== undefined && typeof e.enqueuedTimeUtc !== 'string') {
    throw new Error(`${source}: event ${index}: 'enqueuedTimeUtc' must be a string`);
  }
  if (e.batch !== undefined && !Number.isInteger(e.batch)) {
    throw new Error(`${source}: event ${index}: 'batch' must be an integer`);
  }
  const properties = object('properties', e.properties);
  const systemProperties = object('systemProperties', e.systemProperties);
  const event: DeviceEvent = {
    body: e.bodyText ?? e.body ?? null,
    ...(properties === undefined ? {} : { properties }),
    ...(systemProperties === undefined ? {} : { systemProperties }),
    ...(e.enqueuedTimeUtc === undefined ? {} : { enqueuedTimeUtc: e.enqueuedTimeUtc }),
    sequenceNumber: index,
  };
  return { index, batch: e.batch ?? 0, event };
}
