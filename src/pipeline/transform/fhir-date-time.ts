/**
 * Reading FHIR `dateTime` values of stored Observations (their `effectivePeriod`), the way MedTech reads them:
 * Firely's `FhirDateTime.ToDateTimeOffset(TimeSpan.Zero).UtcDateTime` — partial dates take their first moment, a
 * missing offset means UTC, an offset is converted to UTC. See: https://hl7.org/fhir/R4/datatypes.html#dateTime
 */
import { instantFromCivil, type Instant } from '../convert/instant';

const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * Parses a FHIR `dateTime` into a UTC instant (kind `utc`), 100 ns precision (further digits are truncated).
 * @param text - the dateTime
 * @returns the instant, or `undefined` when the text is not a valid dateTime
 */
export function parseFhirDateTime(text: string): Instant | undefined {
  const m = DATE_TIME.exec(text);
  if (m === null) {
    return undefined;
  }
  const [, y, mo, d, h, mi, s, fraction, zone] = m;
  const ticks = fraction === undefined ? 0 : Number(fraction.slice(0, 7).padEnd(7, '0'));
  const local = instantFromCivil(
    Number(y),
    mo === undefined ? 1 : Number(mo),
    d === undefined ? 1 : Number(d),
    h === undefined ? 0 : Number(h),
    mi === undefined ? 0 : Number(mi),
    s === undefined ? 0 : Number(s),
    ticks,
    'utc',
  );
  if (local === undefined) {
    return undefined;
  }
  if (zone === undefined || zone === 'Z') {
    return local;
  }
  const sign = zone.startsWith('-') ? -1 : 1;
  const offsetMinutes = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6));
  if (offsetMinutes > 14 * 60) {
    return undefined;
  }
  return { epochMs: local.epochMs - sign * offsetMinutes * 60_000, subMsTicks: local.subMsTicks, kind: 'utc' };
}
