/**
 * Instants with .NET `DateTime` precision (100 ns ticks). JavaScript dates stop at milliseconds, but MedTech keeps
 * seven fractional digits in `effectivePeriod` and measurement times, so the extra ticks are carried alongside.
 *
 * Every function here is pure and allocation-light: the hot paths (window keys, identifier segments) format
 * from integer arithmetic instead of going through `Date` objects.
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

/** 100 ns ticks per millisecond. */
export const TICKS_PER_MS = 10_000;
const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;

/** `DateTime.MinValue` (0001-01-01T00:00:00) in epoch milliseconds. */
export const MIN_EPOCH_MS = -62_135_596_800_000;
/** The last millisecond of `DateTime.MaxValue` (9999-12-31T23:59:59.9999999) in epoch milliseconds. */
export const MAX_EPOCH_MS = 253_402_300_799_999;

/** Calendar fields of an instant (proleptic Gregorian, UTC). */
export interface CivilDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`). Unlike `Date.UTC`, years
 * 0–99 are not shifted into the 1900s.
 *
 * @param year - full year
 * @param month - 1..12
 * @param day - 1..31 (not validated)
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** True for Gregorian leap years. @param year - full year */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/**
 * `DateTime.DaysInMonth`. @param year - full year @param month - 1..12
 */
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/**
 * True when year/month/day name a real date in .NET's range (years 0001–9999).
 *
 * @param year - full year
 * @param month - 1..12
 * @param day - day of month
 */
export function isValidDate(year: number, month: number, day: number): boolean {
  return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/**
 * Calendar fields of an epoch millisecond value (UTC).
 *
 * @param epochMs - whole milliseconds since the Unix epoch
 */
export function toCivil(epochMs: number): CivilDateTime {
  const days = Math.floor(epochMs / MS_PER_DAY);
  let msOfDay = epochMs - days * MS_PER_DAY;
  // civil_from_days (Hinnant).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(msOfDay / MS_PER_HOUR);
  msOfDay -= hour * MS_PER_HOUR;
  const minute = Math.floor(msOfDay / MS_PER_MINUTE);
  msOfDay -= minute * MS_PER_MINUTE;
  const second = Math.floor(msOfDay / MS_PER_SECOND);
  return { year, month, day, hour, minute, second, millisecond: msOfDay - second * MS_PER_SECOND };
}

/**
 * Epoch milliseconds of calendar fields, without validation.
 *
 * @param year - full year
 * @param month - 1..12
 * @param day - day of month
 * @param hour - 0..23
 * @param minute - 0..59
 * @param second - 0..59
 */
export function civilToEpochMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  return daysFromCivil(year, month, day) * MS_PER_DAY + hour * MS_PER_HOUR + minute * MS_PER_MINUTE + second * 1000;
}

/** True when (epochMs, subMsTicks) lies within `DateTime.MinValue..MaxValue`. */
function inRange(epochMs: number, subMsTicks: number): boolean {
  return epochMs >= MIN_EPOCH_MS && epochMs <= MAX_EPOCH_MS && subMsTicks >= 0 && subMsTicks < TICKS_PER_MS;
}

/**
 * An instant from (possibly fractional) epoch milliseconds. The fraction becomes 100 ns ticks, truncated toward zero
 * like .NET 8's `AddMilliseconds`.
 *
 * @param ms - milliseconds since the Unix epoch
 * @param kind - the .NET kind to carry (default `utc`)
 * @throws RangeError when `ms` is not finite or lies outside years 0001–9999
 */
export function instantFromEpochMs(ms: number, kind: InstantKind = 'utc'): Instant {
  if (!Number.isFinite(ms)) {
    throw new RangeError('instantFromEpochMs: milliseconds must be finite');
  }
  const whole = Math.floor(ms);
  const subMsTicks = Math.trunc((ms - whole) * TICKS_PER_MS);
  if (!inRange(whole, subMsTicks)) {
    throw new RangeError('instantFromEpochMs: outside the .NET DateTime range (years 0001-9999)');
  }
  return { epochMs: whole, subMsTicks, kind };
}

/**
 * An instant from calendar fields and a tick fraction of the second; `undefined` when the fields do not name a valid
 * date and time in years 0001–9999. Used by the parsers.
 *
 * @param year - full year
 * @param month - 1..12
 * @param day - day of month
 * @param hour - 0..23
 * @param minute - 0..59
 * @param second - 0..59
 * @param fractionTicks - 0..9_999_999 ticks within the second
 * @param kind - the kind to carry
 */
export function instantFromCivil(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  fractionTicks: number,
  kind: InstantKind,
): Instant | undefined {
  if (!isValidDate(year, month, day) || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const ms = civilToEpochMs(year, month, day, hour, minute, second);
  const fractionMs = Math.floor(fractionTicks / TICKS_PER_MS);
  return { epochMs: ms + fractionMs, subMsTicks: fractionTicks - fractionMs * TICKS_PER_MS, kind };
}

/**
 * Orders two instants by time (kind is ignored, as .NET compares ticks).
 *
 * @param a - first instant
 * @param b - second instant
 * @returns negative, zero or positive
 */
export function compareInstants(a: Instant, b: Instant): number {
  return a.epochMs !== b.epochMs ? a.epochMs - b.epochMs : a.subMsTicks - b.subMsTicks;
}

/**
 * Adds milliseconds (fraction → ticks, truncated toward zero like .NET 8 `DateTime.AddMilliseconds`).
 *
 * @param instant - the starting instant (its kind is kept)
 * @param ms - milliseconds to add; may be negative or fractional
 * @throws RangeError when the result leaves years 0001–9999 (.NET throws `ArgumentOutOfRangeException`)
 */
export function addMilliseconds(instant: Instant, ms: number): Instant {
  if (!Number.isFinite(ms)) {
    throw new RangeError('addMilliseconds: milliseconds must be finite');
  }
  const whole = Math.trunc(ms);
  let ticks = instant.subMsTicks + Math.trunc((ms - whole) * TICKS_PER_MS);
  const carry = Math.floor(ticks / TICKS_PER_MS);
  ticks -= carry * TICKS_PER_MS;
  const epochMs = instant.epochMs + whole + carry;
  if (!inRange(epochMs, ticks)) {
    throw new RangeError('addMilliseconds: result outside the .NET DateTime range (years 0001-9999)');
  }
  return { epochMs, subMsTicks: ticks, kind: instant.kind };
}

/**
 * Adds whole 100 ns ticks exactly (e.g. `addTicks(windowEnd, -1)` for MedTech's `+1h − 100ns` window ends).
 *
 * @param instant - the starting instant (its kind is kept)
 * @param ticks - a safe integer number of ticks; may be negative
 * @throws RangeError when `ticks` is not a safe integer or the result leaves years 0001–9999
 */
export function addTicks(instant: Instant, ticks: number): Instant {
  if (!Number.isSafeInteger(ticks)) {
    throw new RangeError('addTicks: ticks must be a safe integer');
  }
  const wholeMs = Math.trunc(ticks / TICKS_PER_MS);
  let sub = instant.subMsTicks + (ticks - wholeMs * TICKS_PER_MS);
  const carry = Math.floor(sub / TICKS_PER_MS);
  sub -= carry * TICKS_PER_MS;
  const epochMs = instant.epochMs + wholeMs + carry;
  if (!inRange(epochMs, sub)) {
    throw new RangeError('addTicks: result outside the .NET DateTime range (years 0001-9999)');
  }
  return { epochMs, subMsTicks: sub, kind: instant.kind };
}

/**
 * The start of the UTC hour containing the instant (kind `utc`: MedTech converts to universal time first, §9.4).
 *
 * @param instant - any instant
 */
export function floorToHour(instant: Instant): Instant {
  return { epochMs: Math.floor(instant.epochMs / MS_PER_HOUR) * MS_PER_HOUR, subMsTicks: 0, kind: 'utc' };
}

/**
 * UTC midnight of the instant's day (kind `utc`).
 *
 * @param instant - any instant
 */
export function floorToDay(instant: Instant): Instant {
  return { epochMs: Math.floor(instant.epochMs / MS_PER_DAY) * MS_PER_DAY, subMsTicks: 0, kind: 'utc' };
}

/**
 * Milliseconds since the epoch including the sub-millisecond fraction (for slot arithmetic in SampledData).
 * Exact to the tick for any date before about year 2255 (2^53 / 10^4 ms); beyond that the fraction rounds.
 *
 * @param instant - any instant
 */
export function instantToEpochMsFloat(instant: Instant): number {
  return instant.epochMs + instant.subMsTicks / TICKS_PER_MS;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad4(n: number): string {
  return n < 10 ? `000${n}` : n < 100 ? `00${n}` : n < 1000 ? `0${n}` : String(n);
}

function pad7(n: number): string {
  const s = String(n);
  return '0000000'.slice(s.length) + s;
}

const KIND_SUFFIX: Readonly<Record<InstantKind, string>> = { utc: 'Z', local: '+00:00', unspecified: '' };

/**
 * .NET round-trip (`"o"`) format: `yyyy-MM-ddTHH:mm:ss.fffffff` followed by `Z` (utc), `+00:00` (local on a UTC host)
 * or nothing (unspecified). This is how MedTech serializes measurement times and `effectivePeriod` bounds.
 *
 * @param instant - the instant to format
 */
export function formatRoundTrip(instant: Instant): string {
  const c = toCivil(instant.epochMs);
  return (
    `${pad4(c.year)}-${pad2(c.month)}-${pad2(c.day)}T${pad2(c.hour)}:${pad2(c.minute)}:${pad2(c.second)}.` +
    pad7(c.millisecond * TICKS_PER_MS + instant.subMsTicks) +
    KIND_SUFFIX[instant.kind]
  );
}

/**
 * The value of the `count` ASCII digits at `start`, or -1 when one of them is not a digit (the parsers read
 * fixed-position fields with it, without slicing strings).
 * @param s - the text
 * @param start - index of the first digit
 * @param count - how many digits
 */
export function digitsAt(s: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) {
      return -1;
    }
    value = value * 10 + d;
  }
  return value;
}

/**
 * Inverse of {@link formatRoundTrip}: exactly `yyyy-MM-ddTHH:mm:ss.fffffff` with suffix `Z`, `+00:00` or none.
 * Anything else (other offsets, fewer fraction digits, invalid dates) gives `undefined`.
 *
 * @param s - the text to parse
 */
export function parseRoundTrip(s: string): Instant | undefined {
  let kind: InstantKind;
  if (s.length === 27) {
    kind = 'unspecified';
  } else if (s.length === 28 && s.charCodeAt(27) === 90 /* Z */) {
    kind = 'utc';
  } else if (s.length === 33 && s.endsWith('+00:00')) {
    kind = 'local';
  } else {
    return undefined;
  }
  if (s[4] !== '-' || s[7] !== '-' || s[10] !== 'T' || s[13] !== ':' || s[16] !== ':' || s[19] !== '.') {
    return undefined;
  }
  const year = digitsAt(s, 0, 4);
  const month = digitsAt(s, 5, 2);
  const day = digitsAt(s, 8, 2);
  const hour = digitsAt(s, 11, 2);
  const minute = digitsAt(s, 14, 2);
  const second = digitsAt(s, 17, 2);
  const fraction = digitsAt(s, 20, 7);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || fraction < 0) {
    return undefined;
  }
  return instantFromCivil(year, month, day, hour, minute, second, fraction, kind);
}

/**
 * The invariant culture's general format `MM/dd/yyyy HH:mm:ss` of the UTC time (what `DateTime.ToString(
 * CultureInfo.InvariantCulture)` prints on a UTC host; fraction and zone are dropped).
 *
 * @param instant - the instant to format
 */
export function formatInvariantGeneral(instant: Instant): string {
  const c = toCivil(instant.epochMs);
  return `${pad2(c.month)}/${pad2(c.day)}/${pad4(c.year)} ${pad2(c.hour)}:${pad2(c.minute)}:${pad2(c.second)}`;
}

/**
 * `yyyyMMddHHmmss` followed by a literal `Z`: the window segment of Observation identifiers (§9.4), second precision.
 *
 * @param instant - the instant to format
 */
export function formatIdentifierTime(instant: Instant): string {
  const c = toCivil(instant.epochMs);
  return `${pad4(c.year)}${pad2(c.month)}${pad2(c.day)}${pad2(c.hour)}${pad2(c.minute)}${pad2(c.second)}Z`;
}
