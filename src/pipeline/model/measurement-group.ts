/**
 * The unit of work of the FHIR stage: the measurements of one MedTech measurement group (§9.2) that fall into one
 * observation window (§9.4), i.e. the data that lands in one Observation. Produced by grouping, consumed by saving.
 * Plain JSON with ISO strings: it crosses Durable Functions as activity input unchanged.
 */
import type { PipelineErrorJson } from '../errors';
import type { PeriodInterval } from '../mapping/fhir-template';
import type { Measurement } from './measurement';

/** The bounds of an observation window, both inclusive, in .NET round-trip form (7 fractional digits). */
export interface ObservationWindow {
  /** Window start: `…Z` for time-based intervals; correlation windows keep the measurement's kind suffix. */
  readonly start: string;
  /** Window end (inclusive): start + interval − 100 ns for Hourly/Daily, the latest time for CorrelationId. */
  readonly end: string;
}

/** One observation window of one measurement group. */
export interface MeasurementGroup {
  /** MedTech's measurement-group key `{DeviceId}-{Type}-{PatientId}-{EncounterId}-{CorrelationId}` (nulls empty). */
  readonly key: string;
  /** The measurement type (spelling of the first kept measurement). */
  readonly type: string;
  readonly deviceId: string;
  readonly patientId: string | null;
  readonly encounterId: string | null;
  readonly correlationId: string | null;
  /** The template's interval; `null` when no FHIR template matches the type. */
  readonly periodInterval: PeriodInterval | null;
  /** The window; `null` when the group cannot be windowed (no template, or no correlation id). */
  readonly window: ObservationWindow | null;
  /** The kept measurements of the window (duplicates by occurrence time removed), in batch order. */
  readonly measurements: readonly Measurement[];
  /** A problem found while grouping (e.g. `CORRELATION_ID_NOT_DEFINED`); reported by the FHIR stage. */
  readonly error?: PipelineErrorJson;
}
