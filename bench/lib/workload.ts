/**
 * Synthetic device traffic in the shapes `mappings/devicecontent.json` reads: direct JSON messages (heart rate,
 * SpO2, blood pressure, glucose, temperature, steps), IoT Hub device-SDK messages (heart rate and respiratory rate
 * with the IoT Hub properties) and IoT Central exports. Bodies are UTF-8 JSON bytes, as the Event Hubs trigger
 * delivers them. Deterministic: the same options give the same events.
 */
import type { DeviceEvent } from '../../src/pipeline';

/** The message kinds the example mapping understands. */
export const EventKind = {
  HeartRate: 'heartRate',
  Spo2: 'spo2',
  BloodPressure: 'bloodPressure',
  Glucose: 'glucose',
  Temperature: 'temperature',
  Steps: 'steps',
  IotHub: 'iotHub',
  IotCentral: 'iotCentral',
} as const;

/** A message kind. */
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/**
 * A realistic mix: heart rate dominates (continuous monitors), every other kind appears, one event in five comes
 * through IoT Hub or IoT Central. Events are assigned kinds round-robin.
 */
export const REALISTIC_MIX: readonly EventKind[] = [
  EventKind.HeartRate,
  EventKind.HeartRate,
  EventKind.HeartRate,
  EventKind.Spo2,
  EventKind.BloodPressure,
  EventKind.Glucose,
  EventKind.Temperature,
  EventKind.Steps,
  EventKind.IotHub,
  EventKind.IotCentral,
];

/** Options of {@link deviceEvents}. */
export interface WorkloadOptions {
  /** Distinct devices (each with its own patient); event i comes from device i mod devices. */
  readonly devices: number;
  /** Events to make. */
  readonly count: number;
  /** Time of the first reading, epoch ms. */
  readonly startMs: number;
  /** Time between two readings of one device. */
  readonly intervalMs: number;
  /** Kinds, assigned round-robin over the readings of a device. */
  readonly mix: readonly EventKind[];
  /** Index of the first event (to continue a stream). Default 0. */
  readonly first?: number;
  /** Delay from reading to Event Hubs' enqueued time. Default 800 ms. */
  readonly enqueueDelayMs?: number;
  /**
   * Readings per device after which time starts over (values keep changing), so that a long stream updates a
   * bounded set of Observations. Default: never.
   */
  readonly cycleReadings?: number;
}

const encoder = new TextEncoder();

/**
 * The device id of device `d` (also its Device identifier value in the FHIR server).
 * @param d - device number
 */
export function deviceId(d: number): string {
  return `device-${String(d).padStart(5, '0')}`;
}

/**
 * The patient identifier of device `d`'s patient.
 * @param d - device number
 */
export function patientId(d: number): string {
  return `patient-${String(d).padStart(5, '0')}`;
}

/**
 * Makes events.
 * @param options - devices, count, times and mix
 */
export function deviceEvents(options: WorkloadOptions): DeviceEvent[] {
  const events: DeviceEvent[] = new Array<DeviceEvent>(options.count);
  const first = options.first ?? 0;
  for (let k = 0; k < options.count; k++) {
    events[k] = deviceEvent(first + k, options);
  }
  return events;
}

/**
 * Event number `i` of a stream.
 * @param i - the event's index in the stream
 * @param options - the stream's options
 */
export function deviceEvent(i: number, options: WorkloadOptions): DeviceEvent {
  const d = i % options.devices;
  const reading = Math.floor(i / options.devices);
  // Devices are spread over the interval rather than all reading at the same instant.
  const offset = Math.floor((d * options.intervalMs) / options.devices);
  const slot = options.cycleReadings === undefined ? reading : reading % options.cycleReadings;
  const at = options.startMs + slot * options.intervalMs + offset;
  const kind = options.mix[reading % options.mix.length] as EventKind;
  const enqueued = new Date(at + (options.enqueueDelayMs ?? 800)).toISOString();
  return eventOf(kind, i, d, at, enqueued);
}

function direct(d: number, at: number, reading: Record<string, number>): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      deviceId: deviceId(d),
      patientId: patientId(d),
      measurementTime: new Date(at).toISOString(),
      ...reading,
      batteryPercent: 50 + (d % 50),
      firmware: '2.4.1',
    }),
  );
}

function eventOf(kind: EventKind, i: number, d: number, at: number, enqueuedTimeUtc: string): DeviceEvent {
  const v = i % 37;
  switch (kind) {
    case EventKind.HeartRate:
      return { body: direct(d, at, { heartRate: 58 + v }), enqueuedTimeUtc };
    case EventKind.Spo2:
      return { body: direct(d, at, { spo2: 90 + (v % 10) }), enqueuedTimeUtc };
    case EventKind.BloodPressure:
      return { body: direct(d, at, { systolic: 105 + v, diastolic: 65 + (v % 25) }), enqueuedTimeUtc };
    case EventKind.Glucose:
      return { body: direct(d, at, { glucoseMmolL: (40 + v) / 10 }), enqueuedTimeUtc };
    case EventKind.Temperature:
      return { body: direct(d, at, { temperatureF: (970 + v) / 10 }), enqueuedTimeUtc };
    case EventKind.Steps:
      return { body: direct(d, at, { steps: 100 * v + d }), enqueuedTimeUtc };
    case EventKind.IotHub:
      return {
        body: encoder.encode(
          JSON.stringify({ HeartRate: 58 + v, RespiratoryRate: 12 + (v % 9), PatientId: patientId(d) }),
        ),
        properties: { 'iothub-creation-time-utc': new Date(at).toISOString() },
        systemProperties: {
          'iothub-connection-device-id': deviceId(d),
          'iothub-connection-auth-method': '{"scope":"device","type":"sas","issuer":"iothub"}',
          'iothub-connection-auth-generation-id': '638557569842453281',
          'iothub-enqueuedtime': enqueuedTimeUtc,
          'iothub-message-source': 'Telemetry',
          'x-opt-sequence-number': i,
          'x-opt-offset': String(i * 512),
          'x-opt-enqueued-time': enqueuedTimeUtc,
        },
        enqueuedTimeUtc,
      };
    case EventKind.IotCentral:
      return {
        body: encoder.encode(
          JSON.stringify({
            applicationId: '3e1a9c4f-2b7d-4d8e-9f10-5a6b7c8d9e0f',
            messageSource: 'telemetry',
            deviceId: deviceId(d),
            schema: 'default@v1',
            templateId: 'dtmi:contoso:bloodPressureMonitor;1',
            enqueuedTime: new Date(at).toISOString(),
            telemetry: { BloodPressure: { Systolic: 105 + v, Diastolic: 65 + (v % 25) } },
            messageProperties: {},
            enrichments: { patientId: patientId(d) },
          }),
        ),
        enqueuedTimeUtc,
      };
  }
}
