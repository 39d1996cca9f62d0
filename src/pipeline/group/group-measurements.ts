/**
 * Grouping of a batch of measurements into observation windows: MedTech's measurement groups (§9.2), their
 * de-duplication by occurrence time, and the windows of each group (§9.4).
 */
import { compareInstants, formatRoundTrip, parseRoundTrip, type Instant } from '../convert/instant';
import { ErrorCode, PipelineError } from '../errors';
import { PeriodInterval } from '../mapping/fhir-template';
import type { Measurement } from '../model/measurement';
import type { MeasurementGroup, ObservationWindow } from '../model/measurement-group';
import { instantKey, isTimePeriodInterval, timeWindowOf, type TimePeriodInterval, type WindowBounds } from './window';

/** A measurement with its times parsed once. */
interface Timed {
  readonly measurement: Measurement;
  readonly occurrence: Instant;
  readonly ingestion: Instant;
}

/** `yyyy-MM-ddTHH:mm:ss.fffffff`: the part of a round-trip time before its kind suffix. */
const ROUND_TRIP_BODY_LENGTH = 27;

type GroupBase = Pick<MeasurementGroup, 'key' | 'type' | 'deviceId' | 'patientId' | 'encounterId' | 'correlationId'>;

/**
 * MedTech's measurement-group key (`MeasurementGroupFhirImportService.GetMeasurementKey`): ordinal, case-sensitive,
 * nulls written as empty strings.
 * @param m - the measurement
 */
export function measurementGroupKey(m: Measurement): string {
  return `${m.deviceId}-${m.type}-${m.patientId ?? ''}-${m.encounterId ?? ''}-${m.correlationId ?? ''}`;
}

/**
 * Groups a batch into observation windows.
 *
 * 1. Measurements are grouped by {@link measurementGroupKey}, groups in first-seen order.
 * 2. Inside a group, measurements with the same occurrence instant are reduced to the one with the latest ingestion
 *    time (ties: the first in the batch); it takes the position of the first measurement of that instant. The others
 *    are dropped whole.
 * 3. Each group is split into windows (first-appearance order) by its template's interval. A type without a template
 *    still yields one group with `window: null` (the FHIR stage reports `TemplateNotFound`); a CorrelationId interval
 *    without a correlation id yields one group carrying `CORRELATION_ID_NOT_DEFINED`.
 *
 * Measurements whose times are not in round-trip form (corrupt input; the normalizer never produces them) are set
 * apart in one group per key carrying `MEASUREMENT_INVALID`, so the rest of the batch is still saved.
 *
 * @param measurements - the batch, in delivery order
 * @param periodFor - the interval of the FHIR template for a measurement type, or `undefined` when there is none
 * @returns one entry per window, ready to be saved
 */
export function groupMeasurements(
  measurements: readonly Measurement[],
  periodFor: (type: string) => PeriodInterval | undefined,
): MeasurementGroup[] {
  const byKey = new Map<string, Measurement[]>();
  for (const m of measurements) {
    const key = measurementGroupKey(m);
    const list = byKey.get(key);
    if (list === undefined) {
      byKey.set(key, [m]);
    } else {
      list.push(m);
    }
  }

  const out: MeasurementGroup[] = [];
  for (const [key, members] of byKey) {
    const { kept, invalid } = deduplicate(members);
    const first = kept[0];
    if (first !== undefined) {
      windowGroup(baseOf(key, first.measurement), kept, periodFor(first.measurement.type), out);
    }
    const firstInvalid = invalid[0];
    if (firstInvalid !== undefined) {
      out.push({
        ...baseOf(key, firstInvalid),
        periodInterval: null,
        window: null,
        measurements: invalid,
        error: new PipelineError(
          ErrorCode.MeasurementInvalid,
          `Measurements of type '${firstInvalid.type}' carry a time that is not in round-trip form.`,
          { details: { template: firstInvalid.type, field: 'OccurrenceTimeUtc' } },
        ).toJSON(),
      });
    }
  }
  return out;
}

/** Splits one de-duplicated measurement group into its windows and appends them to `out`. */
function windowGroup(
  base: GroupBase,
  kept: readonly Timed[],
  interval: PeriodInterval | undefined,
  out: MeasurementGroup[],
): void {
  const all = (): Measurement[] => kept.map((t) => t.measurement);
  if (interval === undefined) {
    out.push({ ...base, periodInterval: null, window: null, measurements: all() });
  } else if (isTimePeriodInterval(interval)) {
    for (const { bounds, members } of splitByTime(interval, kept)) {
      out.push({ ...base, periodInterval: interval, window: toWindow(bounds), measurements: members });
    }
  } else if (base.correlationId === null || base.correlationId.trim() === '') {
    const error = new PipelineError(
      ErrorCode.CorrelationIdNotDefined,
      `Template '${base.type}' groups by CorrelationId but the measurements carry no correlation id.`,
      { details: { template: base.type, field: 'CorrelationIdExpression' } },
    );
    out.push({ ...base, periodInterval: interval, window: null, measurements: all(), error: error.toJSON() });
  } else {
    out.push({ ...base, periodInterval: interval, window: correlationWindow(kept), measurements: all() });
  }
}

/** Group metadata come from the first kept measurement, as in MedTech. */
function baseOf(key: string, m: Measurement): GroupBase {
  return {
    key,
    type: m.type,
    deviceId: m.deviceId,
    patientId: m.patientId,
    encounterId: m.encounterId,
    correlationId: m.correlationId,
  };
}

/** Latest ingestion wins per occurrence instant; the survivor sits where that instant first appeared. */
function deduplicate(members: readonly Measurement[]): { kept: Timed[]; invalid: Measurement[] } {
  const kept: Timed[] = [];
  const invalid: Measurement[] = [];
  const slotOf = new Map<string, number>();
  for (const measurement of members) {
    const occurrence = parseRoundTrip(measurement.occurrenceTimeUtc);
    const ingestion = parseRoundTrip(measurement.ingestionTimeUtc);
    if (occurrence === undefined || ingestion === undefined) {
      invalid.push(measurement);
      continue;
    }
    // The round-trip text without its kind suffix names the instant exactly (kinds do not matter, as in .NET).
    const key = measurement.occurrenceTimeUtc.slice(0, ROUND_TRIP_BODY_LENGTH);
    const slot = slotOf.get(key);
    if (slot === undefined) {
      slotOf.set(key, kept.length);
      kept.push({ measurement, occurrence, ingestion });
    } else if (compareInstants(ingestion, (kept[slot] as Timed).ingestion) > 0) {
      kept[slot] = { measurement, occurrence, ingestion };
    }
  }
  return { kept, invalid };
}

/** Windows keyed by their exact start, in first-appearance order. */
function splitByTime(
  interval: TimePeriodInterval,
  kept: readonly Timed[],
): Iterable<{ bounds: WindowBounds; members: Measurement[] }> {
  const byStart = new Map<string | number, { bounds: WindowBounds; members: Measurement[] }>();
  for (const t of kept) {
    const bounds = timeWindowOf(interval, t.occurrence);
    // Hourly and Daily starts are whole milliseconds.
    const key = interval === PeriodInterval.Single ? instantKey(bounds.start) : bounds.start.epochMs;
    const entry = byStart.get(key);
    if (entry === undefined) {
      byStart.set(key, { bounds, members: [t.measurement] });
    } else {
      entry.members.push(t.measurement);
    }
  }
  return byStart.values();
}

/** `[min t, max t]` over the group with each bound keeping its measurement's kind (MedTech does not normalize). */
function correlationWindow(kept: readonly Timed[]): ObservationWindow {
  let min = (kept[0] as Timed).occurrence;
  let max = min;
  for (const t of kept) {
    if (compareInstants(t.occurrence, min) < 0) {
      min = t.occurrence;
    }
    if (compareInstants(t.occurrence, max) > 0) {
      max = t.occurrence;
    }
  }
  return { start: formatRoundTrip(min), end: formatRoundTrip(max) };
}

function toWindow(bounds: WindowBounds): ObservationWindow {
  return { start: formatRoundTrip(bounds.start), end: formatRoundTrip(bounds.end) };
}
