/**
 * Observation window maths (medtech-reference §9.4), pure and shared by the grouping code, the orchestrator and the
 * local stack. Time-based windows are keyed by their exact UTC start; both bounds are inclusive and carry 100 ns
 * precision, exactly as MedTech's `TimePeriodMeasurementObservationGroupFactory` computes them.
 */
import { floorToDay, floorToHour, parseRoundTrip, type Instant } from '../convert/instant';
import { ErrorCode, PipelineError } from '../errors';
import { PeriodInterval } from '../mapping/fhir-template';
import type { ObservationWindow } from '../model/measurement-group';

/** A window's bounds as instants, both inclusive. */
export interface WindowBounds {
  readonly start: Instant;
  readonly end: Instant;
}

/** The intervals whose windows depend only on each measurement's own time. */
export type TimePeriodInterval =
  typeof PeriodInterval.Single | typeof PeriodInterval.Hourly | typeof PeriodInterval.Daily;

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * True when windows of `interval` are computed per measurement time (Single, Hourly, Daily) rather than over the
 * whole group (CorrelationId).
 * @param interval - the template's period interval
 */
export function isTimePeriodInterval(interval: PeriodInterval): interval is TimePeriodInterval {
  return interval !== PeriodInterval.CorrelationId;
}

/**
 * The window holding time `t` (converted to UTC first, as MedTech calls `ToUniversalTime()`): Single `[t, t]`,
 * Hourly `[floor_hour(t), +1 h − 100 ns]`, Daily `[UTC midnight, +24 h − 100 ns]`.
 * @param interval - Single, Hourly or Daily
 * @param t - the measurement's occurrence time
 */
export function timeWindowOf(interval: TimePeriodInterval, t: Instant): WindowBounds {
  switch (interval) {
    case PeriodInterval.Single: {
      const start: Instant = { epochMs: t.epochMs, subMsTicks: t.subMsTicks, kind: 'utc' };
      return { start, end: start };
    }
    case PeriodInterval.Hourly:
      return spanFrom(floorToHour(t), HOUR_MS);
    case PeriodInterval.Daily:
      return spanFrom(floorToDay(t), DAY_MS);
  }
}

/** `[start, start + lengthMs − 1 tick]`; the start is a whole millisecond, so the end is built directly. */
function spanFrom(floored: Instant, lengthMs: number): WindowBounds {
  const start: Instant = { epochMs: floored.epochMs, subMsTicks: floored.subMsTicks, kind: 'utc' };
  const end: Instant = { epochMs: start.epochMs + lengthMs - 1, subMsTicks: 9999, kind: 'utc' };
  return { start, end };
}

/**
 * A string that is equal for two instants exactly when they denote the same 100 ns tick (kinds ignored, as .NET
 * `DateTime` equality ignores `Kind`). Used as a map key for windows and for de-duplication.
 * @param t - the instant
 */
export function instantKey(t: Instant): string {
  return `${t.epochMs}:${t.subMsTicks}`;
}

/**
 * Parses a time of a measurement group (a measurement time or a window bound), which is always in .NET round-trip
 * form. Anything else means the group was corrupted on its way (it crosses Durable Functions as JSON).
 * @param text - the round-trip string
 * @param field - what the string is, for the error message
 * @throws PipelineError `MEASUREMENT_INVALID` when the text is not in round-trip form
 */
export function parseGroupTime(text: string, field: string): Instant {
  const instant = parseRoundTrip(text);
  if (instant === undefined) {
    throw new PipelineError(ErrorCode.MeasurementInvalid, `${field} is not a .NET round-trip time.`, {
      details: { field },
    });
  }
  return instant;
}

/**
 * The bounds of a window as instants.
 * @param window - the window of a measurement group
 */
export function parseWindow(window: ObservationWindow): WindowBounds {
  return { start: parseGroupTime(window.start, 'window.start'), end: parseGroupTime(window.end, 'window.end') };
}
