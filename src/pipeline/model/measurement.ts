/**
 * A normalized reading: MedTech's `Measurement` (§6.6) with camel-case members. JSON-serializable; times are
 * strings so the record crosses Durable Functions and the dead-letter store unchanged.
 */
export interface Measurement {
  /** The device template's `typeName`, verbatim. Binds the measurement to a FHIR template. */
  readonly type: string;
  /**
   * Occurrence time in .NET round-trip form, `yyyy-MM-ddTHH:mm:ss.fffffff` plus the kind suffix MedTech keeps:
   * `Z` (UTC), `+00:00` (converted from an offset) or nothing (no zone in the input; treated as UTC).
   */
  readonly occurrenceTimeUtc: string;
  /** When the event was enqueued (UTC, round-trip form with `Z`). */
  readonly ingestionTimeUtc: string;
  readonly deviceId: string;
  readonly patientId: string | null;
  readonly encounterId: string | null;
  readonly correlationId: string | null;
  /** One entry per value that was found, in template order; duplicates are kept. */
  readonly properties: readonly MeasurementProperty[];
}

/** A named value of a measurement, always a string (§6.4). */
export interface MeasurementProperty {
  readonly name: string;
  readonly value: string;
}
