import type { DateToken } from '../convert/instant';

/**
 * One inbound event as the transport delivered it, before the body is parsed. Event Hubs triggers, the local
 * ingestion endpoint, the replay command and the dead-letter store all produce this shape.
 */
export interface DeviceEvent {
  /**
   * The body. Bytes and strings are parsed as JSON text (exactly as MedTech reads the raw bytes, §2); any other
   * value is taken as already-parsed JSON. A zero-length body (or `null`) becomes a JSON `null` Body.
   */
  readonly body: Uint8Array | string | JsonValue;
  /** Application properties (`Properties` in the envelope). */
  readonly properties?: Readonly<Record<string, unknown>>;
  /** System properties (`SystemProperties` in the envelope), e.g. `iothub-connection-device-id`. */
  readonly systemProperties?: Readonly<Record<string, unknown>>;
  /** When Event Hubs accepted the event, ISO-8601. Becomes `ingestionTimeUtc`; the clock's time if absent. */
  readonly enqueuedTimeUtc?: string;
  /** Source partition (logged and used in dead-letter keys; never patient data). */
  readonly partitionId?: string;
  /** Event Hubs sequence number within the partition. */
  readonly sequenceNumber?: number;
}

/**
 * Any JSON value. `bigint` holds integers beyond ±2^53 read losslessly from raw bodies; `DateToken` holds
 * date-typed system properties (as the Event Hubs SDK gives MedTech `DateTime` values).
 */
export type JsonValue =
  null | boolean | number | bigint | string | DateToken | JsonValue[] | { [key: string]: JsonValue };

/**
 * The JSON object MedTech builds from one event (§2): exactly `Body`, `Properties`, `SystemProperties`, in
 * this order. Device-mapping expressions are evaluated against it.
 */
export interface Envelope {
  readonly Body: JsonValue;
  readonly Properties: Readonly<Record<string, JsonValue>>;
  readonly SystemProperties: Readonly<Record<string, JsonValue>>;
}
