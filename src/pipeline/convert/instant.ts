/**
 * Instants with .NET `DateTime` precision (100 ns ticks). JavaScript dates stop at milliseconds, but MedTech keeps
 * seven fractional digits in `effectivePeriod` and measurement times, so the extra ticks are carried alongside.
 */

/**
 * How .NET would label the value: `utc` (`Z`), `local` (converted from an explicit offset on a UTC host, written
 * `+00:00`) or `unspecified` (no zone in the input; treated as UTC, written without suffix).
 */
export type InstantKind = 'utc' | 'local' | 'unspecified';

/** A point in time, UTC. */
export interface Instant {
  /** Whole milliseconds since 1970-01-01T00:00:00Z. */
  readonly epochMs: number;
  /** Extra 100 ns ticks within the millisecond, 0..9999. */
  readonly subMsTicks: number;
  readonly kind: InstantKind;
}

/**
 * A JSON value that MedTech would hold as a Newtonsoft date token: results of `fromUnixTimestamp*` and date-like
 * strings of the message body (§2). Value conversion renders it as `MM/dd/yyyy HH:mm:ss`; timestamp conversion
 * uses the instant as is.
 */
export class DateToken {
  readonly instant: Instant;
  /** @param instant - the instant the token holds */
  constructor(instant: Instant) {
    this.instant = instant;
  }
}
