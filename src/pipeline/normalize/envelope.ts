/**
 * Inbound event → envelope (medtech-reference §2), the JSON object every device-mapping expression is evaluated
 * against: exactly `Body`, `Properties`, `SystemProperties`, in that order.
 *
 * Date tokens. Newtonsoft turns date-like strings of the *body* into date tokens while parsing; MedTech then prints
 * them as `MM/dd/yyyy HH:mm:ss` and reads them as instants. Here body strings stay strings (so that JSONPath,
 * JMESPath and JSONata see ordinary JSON) and {@link createBodyDateIndex} answers, per string, whether Newtonsoft
 * would have held it as a date. Application and system properties are serialized from objects, so their strings stay
 * strings; `Date` values there become {@link DateToken}s (the Event Hubs SDK hands MedTech `DateTime`s, e.g. a real
 * `iothub-enqueuedtime`).
 */

import { DateToken, instantFromEpochMs } from '../convert/instant';
import { parseJsonBody, type JsonBodyOptions } from '../convert/json-body';
import { parseDotNetDateTime } from '../convert/datetime-parse';
import { parseNewtonsoftDate } from '../convert/newtonsoft-date';
import type { DeviceEvent, Envelope, JsonValue } from '../model/device-event';

/** Nesting beyond this in property values is cut to `null` (guards against cycles in adapter-built objects). */
const MAX_PROPERTY_DEPTH = 64;

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out +=
      BASE64.charAt(n >> 18) + BASE64.charAt((n >> 12) & 63) + BASE64.charAt((n >> 6) & 63) + BASE64.charAt(n & 63);
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = ((bytes[i] ?? 0) << 16) | (rest === 2 ? (bytes[i + 1] ?? 0) << 8 : 0);
    out +=
      BASE64.charAt(n >> 18) + BASE64.charAt((n >> 12) & 63) + (rest === 2 ? BASE64.charAt((n >> 6) & 63) : '=') + '=';
  }
  return out;
}

function setMember(target: Record<string, JsonValue>, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * A property value as `JToken.FromObject` would hold it: scalars unchanged; `Date` → {@link DateToken} (kind `utc`);
 * bytes → base64 text (their JSON serialization; MedTech itself cannot convert a byte-array token to a string);
 * arrays and plain objects converted member by member; anything else (functions, symbols, invalid dates) → `null`.
 */
function toPropertyValue(value: unknown, depth: number): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return value;
    case 'object': {
      if (value === null || depth > MAX_PROPERTY_DEPTH) {
        return null;
      }
      if (value instanceof Date) {
        const ms = value.getTime();
        return Number.isNaN(ms) ? null : new DateToken(instantFromEpochMs(ms, 'utc'));
      }
      if (value instanceof DateToken) {
        return value;
      }
      if (value instanceof Uint8Array) {
        return toBase64(value);
      }
      if (value instanceof ArrayBuffer) {
        return toBase64(new Uint8Array(value));
      }
      if (Array.isArray(value)) {
        return value.map((item) => toPropertyValue(item, depth + 1));
      }
      return toPropertyObject(value as Readonly<Record<string, unknown>>, depth + 1);
    }
    case 'undefined':
    case 'function':
    case 'symbol':
      return null;
  }
}

function toPropertyObject(
  source: Readonly<Record<string, unknown>> | undefined,
  depth: number,
): Record<string, JsonValue> {
  const result: Record<string, JsonValue> = {};
  if (source === undefined) {
    return result;
  }
  for (const key of Object.keys(source)) {
    setMember(result, key, toPropertyValue(source[key], depth));
  }
  return result;
}

/**
 * Builds the envelope of one event.
 *
 * @param event - the event as the transport delivered it
 * @param options - body size limit (see {@link parseJsonBody})
 * @throws PipelineError `BODY_INVALID_JSON` / `BODY_TOO_LARGE` from the body parser
 */
export function toEnvelope(event: DeviceEvent, options?: JsonBodyOptions): Envelope {
  const body = event.body;
  const Body: JsonValue =
    typeof body === 'string' || body instanceof Uint8Array ? parseJsonBody(body, options) : (body ?? null);
  return {
    Body,
    Properties: toPropertyObject(event.properties, 1),
    SystemProperties: withDateAnnotations(toPropertyObject(event.systemProperties, 1)),
  };
}

/** AMQP annotations the Event Hubs SDK gives MedTech as `DateTime` values (so its envelope holds date tokens). */
const DATE_SYSTEM_PROPERTIES: readonly string[] = ['x-opt-enqueued-time', 'iothub-enqueuedtime'];

/** An ISO-8601 date-time as hosts and tools serialize a .NET `DateTime` (with or without zone). */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?(?:Z|[+-]\d{2}:\d{2})?$/;

/**
 * Date-typed system properties arrive as text from every transport we have (the Functions host serializes them, the
 * local ingest endpoint and event files carry JSON); MedTech holds them as UTC date tokens. Turning them back here
 * makes the Functions app, the local stack, replays and the debugger see the same envelope.
 */
function withDateAnnotations(system: Record<string, JsonValue>): Record<string, JsonValue> {
  for (const key of DATE_SYSTEM_PROPERTIES) {
    const value = Object.hasOwn(system, key) ? system[key] : undefined;
    if (typeof value === 'string' && ISO_DATE_TIME.test(value)) {
      const instant = parseDotNetDateTime(value);
      if (instant !== undefined) {
        system[key] = new DateToken({ ...instant, kind: 'utc' });
      }
    }
  }
  return system;
}

/**
 * A predicate telling whether a string is one Newtonsoft would have read as a date token in the envelope's Body,
 * for {@link tokenToDotNetString} and {@link tokenToInstant}. The set of date-like body strings is collected on
 * first need only: strings that are not date-like at all are answered without looking at the body.
 *
 * Residual ambiguity: a string that occurs both in the Body (as a date) and in Properties counts as a date in both
 * places; an expression result that merely equals a body date string counts as one too.
 *
 * @param envelope - the envelope whose Body is consulted
 */
export function createBodyDateIndex(envelope: Envelope): (s: string) => boolean {
  let dates: Set<string> | undefined;
  return (s: string): boolean => {
    if (parseNewtonsoftDate(s) === undefined) {
      return false;
    }
    dates ??= collectBodyDates(envelope.Body);
    return dates.has(s);
  };
}

function collectBodyDates(body: JsonValue): Set<string> {
  const dates = new Set<string>();
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      if (parseNewtonsoftDate(value) !== undefined) {
        dates.add(value);
      }
    } else if (Array.isArray(value)) {
      for (const item of value) {
        stack.push(item);
      }
    } else if (typeof value === 'object' && value !== null) {
      // Member values only: Newtonsoft never turns property names into dates.
      const object = value as Record<string, unknown>;
      for (const key in object) {
        stack.push(object[key]);
      }
    }
  }
  return dates;
}
