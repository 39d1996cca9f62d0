/**
 * Token → string conversion with .NET invariant-culture rules (medtech-reference §6.4, §6.5).
 *
 * MedTech reads every id and property value with Newtonsoft's `JToken.Value<string>()`, which ends in
 * `Convert.ChangeType(value, typeof(string), CultureInfo.InvariantCulture)`: `long.ToString()`, `double.ToString()`
 * (shortest round-trip since .NET Core 3.0), `bool.ToString()` and `DateTime.ToString()` (general format
 * `MM/dd/yyyy HH:mm:ss`). Timestamps use `Value<DateTime?>()`, i.e. the date token itself or `DateTime.Parse`.
 */

import { ErrorCode, PipelineError } from '../errors';
import { parseDotNetDateTime } from './datetime-parse';
import { DateToken, formatInvariantGeneral, type Instant } from './instant';
import { parseNewtonsoftDate } from './newtonsoft-date';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * .NET Core 3.0+ `double.ToString()` with the invariant culture: the shortest digits that round-trip, written in
 * fixed notation unless the decimal exponent is below -5 or above 14 (`1E-05`, `1E+15`, `1.5E+20`), with an
 * explicit exponent sign and at least two exponent digits. `-0` stays `-0`; NaN and the infinities use the invariant
 * symbols `NaN`, `Infinity`, `-Infinity`.
 *
 * The digits come from JavaScript's own shortest round-trip algorithm (`toExponential()`), which selects the same
 * digits as .NET's Grisu/Dragon4 shortest mode; only the layout differs.
 *
 * @param n - any number
 */
export function formatDotNetDouble(n: number): string {
  if (Number.isNaN(n)) {
    return 'NaN';
  }
  if (n === Infinity) {
    return 'Infinity';
  }
  if (n === -Infinity) {
    return '-Infinity';
  }
  if (n === 0) {
    return Object.is(n, -0) ? '-0' : '0';
  }
  const exp = n.toExponential(); // "-d.ddde+x"
  const negative = exp.charCodeAt(0) === 45; /* - */
  const ePos = exp.indexOf('e');
  const mantissa = exp.slice(negative ? 1 : 0, ePos);
  const digits = mantissa.length > 1 ? mantissa.charAt(0) + mantissa.slice(2) : mantissa;
  const exponent = Number(exp.slice(ePos + 1));
  // .NET's number buffer "scale" puts the decimal point after `scale` digits: value = 0.d1d2… × 10^scale.
  const scale = exponent + 1;
  const maxDigits = Math.max(digits.length, 15);
  const sign = negative ? '-' : '';
  if (scale > maxDigits || scale < -3) {
    const absExp = Math.abs(exponent);
    const expText = absExp < 10 ? `0${absExp}` : String(absExp);
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    return `${sign}${digits.charAt(0)}${fraction}E${exponent < 0 ? '-' : '+'}${expText}`;
  }
  if (scale <= 0) {
    return `${sign}0.${'0'.repeat(-scale)}${digits}`;
  }
  if (scale >= digits.length) {
    return sign + digits + '0'.repeat(scale - digits.length);
  }
  return `${sign}${digits.slice(0, scale)}.${digits.slice(scale)}`;
}

/**
 * Decimal digits of an integer (`long.ToString()`): no grouping, no exponent, `-0` → `0`.
 *
 * @param n - an integer-valued number or a bigint
 * @throws RangeError when `n` is a number that is not an integer
 */
export function formatDotNetInteger(n: number | bigint): string {
  if (typeof n === 'bigint') {
    return n.toString();
  }
  if (!Number.isInteger(n)) {
    throw new RangeError('formatDotNetInteger: not an integer');
  }
  // Beyond 2^53 String() pads the shortest digits with zeros; BigInt prints the double's exact value.
  return Number.isSafeInteger(n) ? String(n === 0 ? 0 : n) : BigInt(n).toString();
}

const MAX_EXACT_INTEGER = 2 ** 53;

function conversionError(kind: string): PipelineError {
  return new PipelineError(
    ErrorCode.ValueConversionFailed,
    `A JSON ${kind} cannot be converted to a string value; select a scalar token.`,
  );
}

/**
 * Converts a selected token to the string MedTech would produce (§6.4).
 *
 * | token | result |
 * |---|---|
 * | string | unchanged, unless it is a body date token (then `MM/dd/yyyy HH:mm:ss` of its instant) |
 * | integer-valued number, \|n\| ≤ 2^53 | integer digits (a JSON integer is an Int64 in Newtonsoft) |
 * | other number | {@link formatDotNetDouble} |
 * | bigint within Int64 | integer digits (`-9007199254740993` stays exact) |
 * | bigint beyond Int64 | conversion error: Newtonsoft holds it as a `BigInteger`, which is not `IConvertible` |
 * | boolean | `True` / `False` |
 * | {@link DateToken} | `MM/dd/yyyy HH:mm:ss` (UTC, fraction and zone dropped) |
 * | null / undefined | `null` |
 * | object / array | conversion error |
 *
 * Residual ambiguity: JavaScript cannot tell `1e15` (a Newtonsoft double, printed `1E+15`) from `1000000000000000`
 * (an Int64), nor `-0.0` from `-0`; both are printed as integers here.
 *
 * @param token - the token an expression selected
 * @param isBodyDate - whether a string is one Newtonsoft would have read as a date in the message body
 * @throws PipelineError `VALUE_CONVERSION_FAILED` for objects, arrays and integers beyond Int64
 */
export function tokenToDotNetString(token: unknown, isBodyDate: (s: string) => boolean): string | null {
  switch (typeof token) {
    case 'string': {
      if (isBodyDate(token)) {
        const instant = parseNewtonsoftDate(token);
        return instant === undefined ? token : formatInvariantGeneral(instant);
      }
      return token;
    }
    case 'number':
      return Number.isInteger(token) && Math.abs(token) <= MAX_EXACT_INTEGER
        ? formatDotNetInteger(token)
        : formatDotNetDouble(token);
    case 'bigint':
      if (token < INT64_MIN || token > INT64_MAX) {
        throw conversionError('integer beyond the 64-bit range');
      }
      return token.toString();
    case 'boolean':
      return token ? 'True' : 'False';
    case 'undefined':
      return null;
    case 'object':
      if (token === null) {
        return null;
      }
      if (token instanceof DateToken) {
        return formatInvariantGeneral(token.instant);
      }
      throw conversionError(Array.isArray(token) ? 'array' : 'object');
    case 'function':
    case 'symbol':
      throw conversionError(typeof token);
  }
}

/**
 * Converts a selected token to a timestamp (§6.5): date tokens as they are; strings that are body date tokens via
 * Newtonsoft's reading, other strings via invariant-culture `DateTime.Parse`. Anything else (numbers, booleans,
 * objects, null) or an unparsable string gives `undefined`; the caller raises the required-value error.
 *
 * @param token - the token an expression selected
 * @param isBodyDate - whether a string is one Newtonsoft would have read as a date in the message body
 */
export function tokenToInstant(token: unknown, isBodyDate: (s: string) => boolean): Instant | undefined {
  if (typeof token === 'string') {
    return (isBodyDate(token) ? parseNewtonsoftDate(token) : undefined) ?? parseDotNetDateTime(token);
  }
  return token instanceof DateToken ? token.instant : undefined;
}
