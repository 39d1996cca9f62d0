/**
 * The few .NET conversions Newtonsoft's JSONPath comparisons perform (`Convert.ToInt64`, `Convert.ToDouble`,
 * `Convert.ToBoolean`, `Convert.ToDateTime` of strings, and the ISO rendering of date tokens), with invariant
 * culture. Each parser returns `undefined` where .NET would throw; the caller decides what that means.
 */

import type { DateToken, Instant } from '../../../convert/instant';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** `NumberStyles.Integer`: optional white space (U+0009–U+000D, U+0020) around an optional sign and ASCII digits. */
const INTEGER_TEXT = /^[\t\n\v\f\r ]*([+-]?\d+)[\t\n\v\f\r ]*$/;

/** `NumberStyles.Float | AllowThousands`: group separators in the integral part, optional fraction and exponent. */
const FLOAT_TEXT = /^[\t\n\v\f\r ]*([+-]?)(\d[\d,]*)?(?:\.(\d*))?(?:[eE]([+-]?\d+))?[\t\n\v\f\r ]*$/;
const FLOAT_SYMBOL = /^[\t\n\v\f\r ]*([+-]?)(infinity|∞|nan)[\t\n\v\f\r ]*$/i;

/** `char.IsWhiteSpace` (not JavaScript's set: .NET counts U+0085 and not U+FEFF), plus NUL for `Boolean.Parse`. */
const DOTNET_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRAILING_SPACE = new RegExp(`[${DOTNET_SPACE}]+$`);
const BOOLEAN_TEXT = new RegExp(`^[${DOTNET_SPACE}\\0]*(true|false)[${DOTNET_SPACE}\\0]*$`, 'i');

/**
 * `BigInteger.Parse(text, CultureInfo.InvariantCulture)`.
 * @param text - the string to convert
 */
export function parseBigInteger(text: string): bigint | undefined {
  const match = INTEGER_TEXT.exec(text);
  return match?.[1] === undefined ? undefined : BigInt(match[1]);
}

/**
 * `long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture)`. Values outside ±2^53 come back as
 * `bigint` so that no digit is lost.
 * @param text - the string to convert
 */
export function parseInt64(text: string): number | bigint | undefined {
  const value = parseBigInteger(text);
  if (value === undefined || value < INT64_MIN || value > INT64_MAX) {
    return undefined;
  }
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value;
}

/**
 * `double.Parse(text, NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture)` as .NET Core
 * 3.0+ does it: overflow gives ±Infinity, and the invariant infinity and NaN symbols are accepted.
 * @param text - the string to convert
 */
export function parseDouble(text: string): number | undefined {
  const match = FLOAT_TEXT.exec(text);
  if (match === null) {
    const symbol = FLOAT_SYMBOL.exec(text);
    if (symbol === null) {
      return undefined;
    }
    const word = (symbol[2] ?? '').toLowerCase();
    if (word === 'nan') {
      return Number.NaN;
    }
    return symbol[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  const sign = match[1] ?? '';
  const integral = (match[2] ?? '').replaceAll(',', '');
  const fraction = match[3] ?? '';
  if (integral === '' && fraction === '') {
    return undefined;
  }
  const exponent = match[4] === undefined ? '' : `e${match[4]}`;
  return Number(`${sign}${integral === '' ? '0' : integral}.${fraction === '' ? '0' : fraction}${exponent}`);
}

/**
 * `bool.Parse(text)`: `true`/`false` in any letter case, surrounding white space and NULs ignored.
 * @param text - the string to convert
 */
export function parseBoolean(text: string): boolean | undefined {
  const match = BOOLEAN_TEXT.exec(text);
  return match === null ? undefined : (match[1] ?? '').toLowerCase() === 'true';
}

/**
 * `string.TrimEnd()`: removes trailing characters for which .NET's `char.IsWhiteSpace` holds.
 * @param text - the string to trim
 */
export function trimEndDotNet(text: string): string {
  return text.replace(TRAILING_SPACE, '');
}

/** Round-trip ISO-8601 date-times, the forms `DateTime.Parse` reads the same way everywhere. */
const ISO_DATE_TIME =
  /^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7})\d*)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$/i;

/**
 * `Convert.ToDateTime(text, CultureInfo.InvariantCulture)` for ISO-8601 forms (date, date and time with optional
 * seconds, fraction and zone). A zone converts to UTC (MedTech hosts run in UTC, so "local" is UTC); without one the
 * wall time is taken as is. `DateTime.Parse` accepts further, culture-style forms; those are not recognised here.
 * @param text - the string to convert
 */
export function parseDateTime(text: string): Instant | undefined {
  const m = ISO_DATE_TIME.exec(text);
  if (m === null) {
    return undefined;
  }
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((part) =>
    part === undefined ? 0 : Number(part),
  ) as [number, number, number, number, number, number];
  const valid = year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
  if (!valid || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const ticks = Number((m[7] ?? '').padEnd(7, '0'));
  let epochMs = utcFromParts(year, month, day, hour, minute, second) + Math.floor(ticks / 10_000);
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const digits = zone.replace(':', '');
    const offsetMinutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || '0');
    epochMs -= (zone.startsWith('-') ? -1 : 1) * offsetMinutes * 60_000;
  }
  return { epochMs, subMsTicks: ticks % 10_000, kind: zone === undefined ? 'unspecified' : 'utc' };
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  return month === 2 ? (isLeap(year) ? 29 : 28) : ([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0);
}

/** `Date.UTC` would read years 0–99 as 1900–1999, so the year is set explicitly. */
function utcFromParts(year: number, month: number, day: number, h: number, min: number, s: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(h, min, s, 0);
  return date.getTime();
}

/**
 * Orders two instants the way `DateTime.CompareTo` orders Newtonsoft date tokens: by ticks, ignoring the kind.
 * @param a - left instant
 * @param b - right instant
 */
export function compareInstants(a: Instant, b: Instant): number {
  if (a.epochMs !== b.epochMs) {
    return a.epochMs < b.epochMs ? -1 : 1;
  }
  return a.subMsTicks === b.subMsTicks ? 0 : a.subMsTicks < b.subMsTicks ? -1 : 1;
}

/**
 * The ISO text Newtonsoft compares a date token with when a filter compares it to a string
 * (`DateTimeUtils.WriteDateTimeString`, `DateFormatHandling.IsoDateFormat`): `yyyy-MM-ddTHH:mm:ss`, up to seven
 * fractional digits without trailing zeros, then `Z` (UTC), `+00:00` (local time on a UTC host) or nothing.
 * @param token - the date token
 */
export function formatIsoDateToken(token: DateToken): string {
  const { epochMs, subMsTicks, kind } = token.instant;
  const date = new Date(epochMs);
  const pad = (n: number, width: number): string => String(n).padStart(width, '0');
  let text =
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}`;
  const fraction = date.getUTCMilliseconds() * 10_000 + subMsTicks;
  if (fraction !== 0) {
    text += `.${pad(fraction, 7).replace(/0+$/, '')}`;
  }
  return kind === 'utc' ? `${text}Z` : kind === 'local' ? `${text}+00:00` : text;
}
