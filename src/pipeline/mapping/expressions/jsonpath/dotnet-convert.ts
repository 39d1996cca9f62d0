/**
 * The .NET conversions Newtonsoft's JSONPath comparisons perform on strings (`Convert.ToInt64`, `Convert.ToDouble`,
 * `Convert.ToBoolean`, `BigInteger.Parse`, with invariant culture) and the ISO text of a date token. Each parser
 * returns `undefined` where .NET would throw; the caller decides what that means. (`Convert.ToDateTime` is
 * `parseDotNetDateTime` in src/pipeline/convert.)
 */

import { isDotNetWhiteSpace } from '../../../convert/datetime-parse';
import { TICKS_PER_MS, toCivil, type Instant } from '../../../convert/instant';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** `NumberStyles.Integer`: optional white space (U+0009–U+000D, U+0020) around an optional sign and ASCII digits. */
const INTEGER_TEXT = /^[\t\n\v\f\r ]*([+-]?\d+)[\t\n\v\f\r ]*$/;

/** `NumberStyles.Float | AllowThousands`: group separators in the integral part, optional fraction and exponent. */
const FLOAT_TEXT = /^[\t\n\v\f\r ]*([+-]?)(\d[\d,]*)?(?:\.(\d*))?(?:[eE]([+-]?\d+))?[\t\n\v\f\r ]*$/;
const FLOAT_SYMBOL = /^[\t\n\v\f\r ]*([+-]?)(infinity|∞|nan)[\t\n\v\f\r ]*$/i;

/** `bool.Parse` trims `char.IsWhiteSpace` characters and NULs (JavaScript's `trim` differs: U+0085, U+FEFF). */
function isBooleanPadding(c: number): boolean {
  return c === 0 || isDotNetWhiteSpace(c);
}

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
  let start = 0;
  let end = text.length;
  while (start < end && isBooleanPadding(text.charCodeAt(start))) {
    start++;
  }
  while (end > start && isBooleanPadding(text.charCodeAt(end - 1))) {
    end--;
  }
  const word = text.substring(start, end).toLowerCase();
  return word === 'true' ? true : word === 'false' ? false : undefined;
}

/**
 * `string.TrimEnd()`: removes trailing characters for which .NET's `char.IsWhiteSpace` holds.
 * @param text - the string to trim
 */
export function trimEndDotNet(text: string): string {
  let end = text.length;
  while (end > 0 && isDotNetWhiteSpace(text.charCodeAt(end - 1))) {
    end--;
  }
  return text.substring(0, end);
}

/**
 * The ISO text Newtonsoft compares a date token with when a filter compares it to a string
 * (`DateTimeUtils.WriteDateTimeString`, `DateFormatHandling.IsoDateFormat`): `yyyy-MM-ddTHH:mm:ss`, up to seven
 * fractional digits without trailing zeros, then `Z` (UTC), `+00:00` (local time on a UTC host) or nothing.
 * @param instant - the date token's instant
 */
export function formatIsoDate(instant: Instant): string {
  const c = toCivil(instant.epochMs);
  const pad = (n: number, width: number): string => String(n).padStart(width, '0');
  let text = `${pad(c.year, 4)}-${pad(c.month, 2)}-${pad(c.day, 2)}T${pad(c.hour, 2)}:${pad(c.minute, 2)}:${pad(c.second, 2)}`;
  const fraction = c.millisecond * TICKS_PER_MS + instant.subMsTicks;
  if (fraction !== 0) {
    text += `.${pad(fraction, 7).replace(/0+$/, '')}`;
  }
  return instant.kind === 'utc' ? `${text}Z` : instant.kind === 'local' ? `${text}+00:00` : text;
}
