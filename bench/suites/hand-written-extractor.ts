/**
 * What a developer would write by hand instead of `mappings/devicecontent.json`: a fixed extractor for the same
 * nine templates on the same events, producing the same Measurement objects. It knows the message shapes (no
 * expression engine, no recursive scans) and reuses only the shared .NET conversion helpers, which are the
 * semantics rather than the engine: value → string (`tokenToDotNetString`), timestamps (`parseDotNetDateTime`,
 * `formatRoundTrip`). It is the baseline of the normalize benchmark, not production code: it does not report
 * errors the way the engine must (a malformed event just throws).
 */
import type { DeviceEvent, Instant, Measurement, MeasurementProperty } from '../../src/pipeline';
import { formatRoundTrip, parseDotNetDateTime, tokenToDotNetString } from '../../src/pipeline';

type Json = Record<string, unknown>;

const noDates = (): boolean => false;
const decoder = new TextDecoder();

/** The body text: bytes are UTF-8 JSON. */
function parseBody(event: DeviceEvent): Json {
  const body = event.body;
  return JSON.parse(typeof body === 'string' ? body : decoder.decode(body as Uint8Array)) as Json;
}

function instant(text: unknown): Instant {
  const parsed = typeof text === 'string' ? parseDotNetDateTime(text) : undefined;
  if (parsed === undefined) {
    throw new Error('bad timestamp');
  }
  return parsed;
}

/** A date string of the body: Newtonsoft keeps the zone kind (`Z` → UTC), where `DateTime.Parse` makes it local. */
function bodyTime(text: unknown): string {
  const at = instant(text);
  return formatRoundTrip((text as string).endsWith('Z') ? { ...at, kind: 'utc' } : at);
}

function text(value: unknown): string {
  const s = tokenToDotNetString(value, noDates);
  if (s === null || s.trim() === '') {
    throw new Error('missing value');
  }
  return s;
}

/** JSONata's `$round(n, 1)`: half to even, shifting the decimal point through the string form as jsonata does. */
function round1(n: number): number {
  const [mantissa, exponent] = n.toString().split('e');
  const shifted = Number(`${mantissa ?? ''}e${exponent === undefined ? 1 : Number(exponent) + 1}`);
  let result = Math.round(shifted);
  if (Math.abs(result - shifted) === 0.5 && Math.abs(result % 2) === 1) {
    result -= 1;
  }
  const [m2, e2] = result.toString().split('e');
  result = Number(`${m2 ?? ''}e${e2 === undefined ? -1 : Number(e2) - 1}`);
  return Object.is(result, -0) ? 0 : result;
}

function measurement(
  type: string,
  occurrenceTimeUtc: string,
  ingestionTimeUtc: string,
  device: unknown,
  patient: unknown,
  properties: MeasurementProperty[],
): Measurement {
  return {
    type,
    occurrenceTimeUtc,
    ingestionTimeUtc,
    deviceId: text(device),
    patientId: text(patient),
    encounterId: null,
    correlationId: null,
    properties,
  };
}

/**
 * Extracts the measurements of one event, in the order the mapping's templates would.
 * @param event - the event
 * @param out - where measurements are appended
 */
export function extractByHand(event: DeviceEvent, out: Measurement[]): void {
  const body = parseBody(event);
  const enqueued = event.enqueuedTimeUtc;
  const ingested = formatRoundTrip({ ...instant(enqueued), kind: 'utc' });

  if (body.telemetry !== undefined) {
    // IoT Central export: blood pressure.
    const bp = (body.telemetry as Json).BloodPressure as Json | undefined;
    if (bp !== undefined) {
      out.push(
        measurement(
          'bloodpressure',
          bodyTime(body.enqueuedTime),
          ingested,
          body.deviceId,
          (body.enrichments as Json).patientId,
          [
            { name: 'systolic', value: text(bp.Systolic) },
            { name: 'diastolic', value: text(bp.Diastolic) },
          ],
        ),
      );
    }
    return;
  }
  if (event.systemProperties?.['iothub-connection-device-id'] !== undefined) {
    // IoT Hub device SDK message: heart rate, then respiratory rate.
    const device = event.systemProperties['iothub-connection-device-id'];
    const created = event.properties?.['iothub-creation-time-utc'] ?? event.systemProperties['iothub-enqueuedtime'];
    const at = formatRoundTrip(instant(created));
    if (body.HeartRate !== undefined) {
      out.push(
        measurement('heartrate', at, ingested, device, body.PatientId, [{ name: 'hr', value: text(body.HeartRate) }]),
      );
    }
    if (body.RespiratoryRate !== undefined) {
      out.push(
        measurement('respiratoryrate', at, ingested, device, body.PatientId, [
          { name: 'rr', value: text(body.RespiratoryRate) },
        ]),
      );
    }
    return;
  }

  // Direct messages: one reading each, the mapping's templates in order.
  const at = bodyTime(body.measurementTime);
  const direct = (type: string, properties: MeasurementProperty[]): void => {
    out.push(measurement(type, at, ingested, body.deviceId, body.patientId, properties));
  };
  if (body.heartRate !== undefined) {
    direct('heartrate', [{ name: 'hr', value: text(body.heartRate) }]);
  }
  if (body.spo2 != null) {
    direct('oxygensaturation', [{ name: 'spo2', value: text(body.spo2) }]);
  }
  if (body.systolic !== undefined && body.diastolic !== undefined) {
    direct('bloodpressure', [
      { name: 'systolic', value: text(body.systolic) },
      { name: 'diastolic', value: text(body.diastolic) },
    ]);
  }
  if (body.glucoseMmolL != null) {
    direct('bloodglucose', [{ name: 'glucose', value: text((body.glucoseMmolL as number) * 18) }]);
  }
  if (body.temperatureF !== undefined) {
    direct('bodytemperature', [
      { name: 'temperature', value: text(round1((((body.temperatureF as number) - 32) * 5) / 9)) },
    ]);
  }
  if (body.steps !== undefined) {
    direct('stepcount', [{ name: 'steps', value: text(body.steps) }]);
  }
}

/**
 * Extracts a batch by hand.
 * @param events - the batch
 */
export function extractBatchByHand(events: readonly DeviceEvent[]): Measurement[] {
  const out: Measurement[] = [];
  for (const event of events) {
    extractByHand(event, out);
  }
  return out;
}
