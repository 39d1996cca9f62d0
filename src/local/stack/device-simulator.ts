/**
 * The device simulator of the local stack: N devices, one patient each, sending plausible vital signs in the three
 * message shapes the example mappings (mappings/devicecontent.json) read:
 *
 * - direct JSON (`{"deviceId", "patientId", "measurementTime", <one reading>}`): heart rate, SpO2, blood pressure,
 *   body temperature (°F), steps (a running total that restarts each UTC day) and, now and then, glucose (mmol/L);
 * - IoT Hub device-SDK messages: body `{"HeartRate", "RespiratoryRate", "PatientId"}`, application property
 *   `iothub-creation-time-utc`, system properties `iothub-connection-device-id` and `iothub-enqueuedtime`;
 * - IoT Central data export: `{"deviceId", "enqueuedTime", "enrichments": {"patientId"}, "telemetry":
 *   {"BloodPressure": {"Systolic", "Diastolic"}}}`.
 *
 * Every fifth device (index 3 mod 5) speaks IoT Hub, the next (4 mod 5) IoT Central, the rest direct JSON. Each
 * device's resting levels come from its index, so a device keeps its character from run to run; the readings'
 * variation comes from the seed: the same seed and the same times give the same events. Values drift slowly
 * (mean-reverting random walks) with small noise; diastolic pressure follows systolic.
 */
import type { DeviceEvent } from '../../pipeline';
import type { Timers } from './batcher';
import { IOT_HUB_DEVICE_ID } from './partitioning';

/** The message shapes. */
export type DeviceShape = 'direct' | 'iotHub' | 'iotCentral';

/** One simulated message, ready for the ingest path (which stamps the enqueued time). */
export interface SimulatedEvent {
  /** The body is JSON text, as a device sends bytes. */
  readonly event: DeviceEvent;
  /** The device id: a device's messages stay in order, as IoT Hub partitions by device. */
  readonly partitionKey: string;
  readonly shape: DeviceShape;
}

/** Options of {@link createDeviceSimulator}. */
export interface DeviceSimulatorOptions {
  /** Devices (and patients), at least 1. */
  readonly devices: number;
  /** The seed of the readings' variation (a 32-bit integer). */
  readonly seed: number;
}

/** A simulator; {@link DeviceSimulator.next} gives one message of the next device in turn. */
export interface DeviceSimulator {
  readonly deviceIds: readonly string[];
  /**
   * The next message, measured at `now`.
   * @param now - epoch milliseconds
   */
  next(now: number): SimulatedEvent;
}

/** A uniform random number generator in [0, 1) (mulberry32: small, fast, 32-bit state, good enough for vitals). */
type Random = () => number;

function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal deviate (Box–Muller). */
function gaussian(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const clamp = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, value));
const round1 = (value: number): number => Math.round(value * 10) / 10;

interface DeviceState {
  readonly id: string;
  readonly patientId: string;
  readonly shape: DeviceShape;
  readonly restingHeartRate: number;
  readonly restingSystolic: number;
  readonly baseTemperatureF: number;
  readonly restingRespiratoryRate: number;
  heartRateDrift: number;
  pressureDrift: number;
  stepsDay: number;
  steps: number;
}

type DirectReading = 'heartRate' | 'spo2' | 'steps' | 'bloodPressure' | 'temperature' | 'glucose';

/** How often a direct device sends each reading (glucose only now and then). */
const DIRECT_READINGS: readonly (readonly [DirectReading, number])[] = [
  ['heartRate', 0.4],
  ['spo2', 0.2],
  ['steps', 0.15],
  ['bloodPressure', 0.1],
  ['temperature', 0.1],
  ['glucose', 0.05],
];

const shapeOf = (index: number): DeviceShape =>
  index % 5 === 3 ? 'iotHub' : index % 5 === 4 ? 'iotCentral' : 'direct';

/**
 * A simulator.
 * @param options - devices and seed
 */
export function createDeviceSimulator(options: DeviceSimulatorOptions): DeviceSimulator {
  if (!Number.isInteger(options.devices) || options.devices < 1) {
    throw new RangeError('devices must be a positive integer');
  }
  const random = mulberry32(options.seed);
  const width = Math.max(2, String(options.devices).length);
  const devices: DeviceState[] = Array.from({ length: options.devices }, (_, index) => {
    // Resting levels from the index alone: a device is the same person in every run.
    const traits = mulberry32(0x9e3779b9 ^ (index + 1));
    const n = String(index + 1).padStart(width, '0');
    return {
      id: `sim-device-${n}`,
      patientId: `sim-patient-${n}`,
      shape: shapeOf(index),
      restingHeartRate: 60 + traits() * 20,
      restingSystolic: 108 + traits() * 24,
      baseTemperatureF: 97.5 + traits() * 1.1,
      restingRespiratoryRate: 13 + traits() * 5,
      heartRateDrift: 0,
      pressureDrift: 0,
      stepsDay: Number.NaN,
      steps: 0,
    };
  });
  let turn = 0;

  const heartRate = (d: DeviceState): number => {
    d.heartRateDrift = clamp(0.95 * d.heartRateDrift + 1.5 * gaussian(random), -12, 12);
    return Math.round(clamp(d.restingHeartRate + d.heartRateDrift + 1.5 * gaussian(random), 40, 180));
  };
  const bloodPressure = (d: DeviceState): { systolic: number; diastolic: number } => {
    d.pressureDrift = clamp(0.9 * d.pressureDrift + 2 * gaussian(random), -15, 15);
    const systolic = Math.round(clamp(d.restingSystolic + d.pressureDrift + 3 * gaussian(random), 85, 190));
    const diastolic = Math.round(clamp(0.6 * systolic + 7 + 2.5 * gaussian(random), 50, systolic - 20));
    return { systolic, diastolic };
  };
  const stepsSoFar = (d: DeviceState, now: number): number => {
    const day = Math.floor(now / 86_400_000);
    if (day !== d.stepsDay) {
      d.stepsDay = day;
      d.steps = 0;
    }
    d.steps += Math.floor(random() * 120);
    return d.steps;
  };
  const directReading = (): DirectReading => {
    let r = random();
    for (const [reading, weight] of DIRECT_READINGS) {
      if (r < weight) {
        return reading;
      }
      r -= weight;
    }
    return 'heartRate';
  };

  const direct = (d: DeviceState, now: number, measuredAt: string): Record<string, unknown> => {
    const head = { deviceId: d.id, patientId: d.patientId, measurementTime: measuredAt };
    switch (directReading()) {
      case 'heartRate':
        return { ...head, heartRate: heartRate(d) };
      case 'spo2':
        return { ...head, spo2: Math.round(clamp(97.6 + 0.9 * gaussian(random), 95, 99)) };
      case 'steps':
        return { ...head, steps: stepsSoFar(d, now) };
      case 'bloodPressure':
        return { ...head, ...bloodPressure(d) };
      case 'temperature':
        return { ...head, temperatureF: round1(clamp(d.baseTemperatureF + 0.25 * gaussian(random), 96, 103)) };
      case 'glucose':
        return { ...head, glucoseMmolL: round1(clamp(5.6 + 0.9 * gaussian(random), 3.9, 11)) };
    }
  };

  return {
    deviceIds: devices.map((d) => d.id),
    next(now) {
      const d = devices[turn] as DeviceState;
      turn = (turn + 1) % devices.length;
      // The device measured a little before the message reached the hub.
      const measuredAt = new Date(now - Math.floor(random() * 250)).toISOString();
      switch (d.shape) {
        case 'direct':
          return { event: { body: JSON.stringify(direct(d, now, measuredAt)) }, partitionKey: d.id, shape: d.shape };
        case 'iotHub': {
          const respiratoryRate = Math.round(clamp(d.restingRespiratoryRate + 1.2 * gaussian(random), 8, 30));
          return {
            event: {
              body: JSON.stringify({
                HeartRate: heartRate(d),
                RespiratoryRate: respiratoryRate,
                PatientId: d.patientId,
              }),
              properties: { 'iothub-creation-time-utc': measuredAt },
              systemProperties: { [IOT_HUB_DEVICE_ID]: d.id, 'iothub-enqueuedtime': new Date(now).toISOString() },
            },
            partitionKey: d.id,
            shape: d.shape,
          };
        }
        case 'iotCentral': {
          const { systolic, diastolic } = bloodPressure(d);
          const body = {
            messageSource: 'telemetry',
            deviceId: d.id,
            schema: 'default@v1',
            enqueuedTime: measuredAt,
            telemetry: { BloodPressure: { Systolic: systolic, Diastolic: diastolic } },
            enrichments: { patientId: d.patientId },
          };
          return { event: { body: JSON.stringify(body) }, partitionKey: d.id, shape: d.shape };
        }
      }
    },
  };
}

/** A running simulation; {@link SimulatorRun.stop} ends it. */
export interface SimulatorRun {
  stop(): void;
}

/**
 * Sends simulated messages at a steady rate: every tick, as many as the rate owes since the start (a late tick
 * catches up, at most one second's worth at once).
 * @param simulator - the simulator
 * @param options - messages per second, where they go, time and timers
 */
export function runSimulator(
  simulator: DeviceSimulator,
  options: {
    readonly rate: number;
    readonly send: (events: SimulatedEvent[]) => void;
    readonly clock: () => number;
    readonly timers: Timers;
    /** Default 100 ms. */
    readonly tickMs?: number;
  },
): SimulatorRun {
  const tickMs = options.tickMs ?? 100;
  const startedAt = options.clock();
  let sent = 0;
  let stopped = false;
  let handle: unknown;
  const tick = (): void => {
    if (stopped) {
      return;
    }
    const now = options.clock();
    const owed = Math.floor(((now - startedAt) / 1000) * options.rate) - sent;
    const count = Math.min(owed, Math.max(1, Math.ceil(options.rate)));
    if (count > 0) {
      options.send(Array.from({ length: count }, () => simulator.next(now)));
      // What could not be sent in this tick is forgiven, so a stalled process does not burst afterwards.
      sent += owed;
    }
    handle = options.timers.set(tick, tickMs);
  };
  handle = options.timers.set(tick, tickMs);
  return {
    stop() {
      stopped = true;
      options.timers.clear(handle);
    },
  };
}
