/**
 * How a filter compares two tokens: Newtonsoft.Json 13 `BooleanQueryExpression.MatchTokens` with
 * `EqualsWithStringCoercion`, `EqualsWithStrictMatch`, `RegexEquals` and `JValue.CompareTo`/`JValue.Compare`.
 * Summary of the rules:
 * - Objects, arrays and members never compare; against them only `!=` and existence are true.
 * - `==` needs equal types, except integer/float (compared numerically) and a date against a string (the date's
 *   ISO text). A number never equals a string.
 * - `<`, `<=`, `>`, `>=` convert to the left token's type — or, when the left token is a string, to the right
 *   token's type: `'26' > 3` parses `'26'` as an integer. A conversion that fails throws (FormatException), as
 *   Newtonsoft does. `null` is less than everything; floats compare with a relative tolerance of about 2e-16.
 * - `=~` needs two strings; the right one is `/pattern/flags` (flags i, m, s; x is ignored).
 */

import { nestsRepetition } from '../regex-safety';
import { parseDotNetDateTime } from '../../../convert/datetime-parse';
import { compareInstants } from '../../../convert/instant';
import type { QueryOperator } from './ast';
import { formatIsoDate, parseBigInteger, parseBoolean, parseDouble, parseInt64 } from './dotnet-convert';
import { JsonPathFault } from './fault';
import { TokenType, instantOfDate } from './tokens';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const EPSILON = 2.2204460492503131e-16;

/**
 * Whether two tokens satisfy a filter operator (`MatchTokens`).
 * @param operator - the filter operator
 * @param left - left token
 * @param leftType - its {@link TokenType}
 * @param right - right token
 * @param rightType - its {@link TokenType}
 * @param regex - the compiled right-hand regex literal, if there is one
 * @throws JsonPathFault where Newtonsoft throws (a value that cannot be converted for `<`, `>`, …)
 */
export function matchTokens(
  operator: QueryOperator,
  left: unknown,
  leftType: TokenType,
  right: unknown,
  rightType: TokenType,
  regex: RegExp | undefined,
): boolean {
  if (leftType === TokenType.Container || rightType === TokenType.Container) {
    // "you can only specify primitive types in a comparison; notequals will always be true"
    return operator === '!=' || operator === 'exists';
  }
  switch (operator) {
    case '=~':
      return leftType === TokenType.String && rightType === TokenType.String
        ? (regex ?? compileDotNetRegex(right as string)).test(left as string)
        : false;
    case '==':
      return equalsWithStringCoercion(left, leftType, right, rightType);
    case '!=':
      return !equalsWithStringCoercion(left, leftType, right, rightType);
    case '===':
      return equalsStrict(left, leftType, right, rightType);
    case '!==':
      return !equalsStrict(left, leftType, right, rightType);
    case '<':
      return compareTokens(left, leftType, right, rightType) < 0;
    case '<=':
      return compareTokens(left, leftType, right, rightType) <= 0;
    case '>':
      return compareTokens(left, leftType, right, rightType) > 0;
    case '>=':
      return compareTokens(left, leftType, right, rightType) >= 0;
    case 'exists':
      return true;
  }
}

/**
 * Turns Newtonsoft's regex text `/pattern/flags` into a RegExp (`RegexEquals`). .NET-only syntax (inline options,
 * `\A`, atomic groups, …) is not available in JavaScript.
 * @param text - the regex text, slashes included
 * @throws JsonPathFault when the text has no closing slash or the pattern is invalid
 */
export function compileDotNetRegex(text: string): RegExp {
  const slash = text.lastIndexOf('/');
  if (slash < 1) {
    throw new JsonPathFault('ArgumentOutOfRangeException', 'a regex operand is not of the form /pattern/flags');
  }
  let flags = '';
  for (const option of text.substring(slash + 1)) {
    if ((option === 'i' || option === 'm' || option === 's') && !flags.includes(option)) {
      flags += option;
    }
  }
  const pattern = text.substring(1, slash);
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, flags);
  } catch (error) {
    throw new JsonPathFault('ArgumentException', `the regex pattern is not valid: ${(error as Error).message}`);
  }
  if (nestsRepetition(pattern)) {
    throw new JsonPathFault(
      'ArgumentException',
      'the regex pattern repeats a group that itself repeats (such as (a+)+), which backtracks for exponential time ' +
        'on some inputs; rewrite it without the nesting',
    );
  }
  return regex;
}

/** `JValue.Equals`: same type and `Compare(type, a, b) == 0`. */
function valuesEqual(a: unknown, at: TokenType, b: unknown, bt: TokenType): boolean {
  return at === bt && compareValues(at, a, at, b, bt) === 0;
}

function isIntegerFloatPair(at: TokenType, bt: TokenType): boolean {
  return (at === TokenType.Integer && bt === TokenType.Float) || (at === TokenType.Float && bt === TokenType.Integer);
}

/** `EqualsWithStringCoercion(value, queryValue)`. */
function equalsWithStringCoercion(value: unknown, vt: TokenType, query: unknown, qt: TokenType): boolean {
  if (valuesEqual(value, vt, query, qt)) {
    return true;
  }
  if (isIntegerFloatPair(vt, qt)) {
    return compareValues(vt, value, vt, query, qt) === 0;
  }
  if (qt !== TokenType.String) {
    return false;
  }
  return vt === TokenType.Date && formatIsoDate(instantOfDate(value)) === query;
}

/** `EqualsWithStrictMatch(value, queryValue)`. */
function equalsStrict(value: unknown, vt: TokenType, query: unknown, qt: TokenType): boolean {
  if (isIntegerFloatPair(vt, qt)) {
    return compareValues(vt, value, vt, query, qt) === 0;
  }
  return vt === qt && valuesEqual(value, vt, query, qt);
}

/** `JValue.CompareTo(JValue)`: a string on the left takes the right token's type. */
function compareTokens(left: unknown, lt: TokenType, right: unknown, rt: TokenType): number {
  const type = lt === TokenType.String && rt !== TokenType.String ? rt : lt;
  return compareValues(type, left, lt, right, rt);
}

/** `JValue.Compare(valueType, objA, objB)`. */
function compareValues(type: TokenType, a: unknown, at: TokenType, b: unknown, bt: TokenType): number {
  if (a === null || b === null) {
    return a === b ? 0 : b === null ? 1 : -1;
  }
  switch (type) {
    case TokenType.Integer:
    case TokenType.Float:
      if (isBigInteger(a)) {
        return compareBigInteger(a, b, bt);
      }
      if (isBigInteger(b)) {
        return -compareBigInteger(b, a, at);
      }
      if (type === TokenType.Float || at === TokenType.Float || bt === TokenType.Float) {
        return compareFloat(toDouble(a, at), toDouble(b, bt));
      }
      return compareIntegers(toInt64(a, at), toInt64(b, bt));
    case TokenType.String:
      return a === b ? 0 : (a as string) < (b as string) ? -1 : 1;
    case TokenType.Boolean:
      return Number(toBoolean(a, at)) - Number(toBoolean(b, bt));
    case TokenType.Date:
      return compareDate(a, at, b, bt);
    case TokenType.Null:
    case TokenType.Container:
      // Unreachable: nulls are ordered above and containers never compare.
      throw new JsonPathFault('ArgumentOutOfRangeException', 'unexpected token type in a comparison');
  }
}

/** Beyond Int64, where Newtonsoft holds a `BigInteger` (in range, it holds a `long`). */
function isBigInteger(value: unknown): value is bigint {
  return typeof value === 'bigint' && (value < INT64_MIN || value > INT64_MAX);
}

function compareIntegers(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b ? 0 : a < b ? -1 : 1;
  }
  const x = BigInt(a);
  const y = BigInt(b);
  return x === y ? 0 : x < y ? -1 : 1;
}

/** `CompareFloat`: equal within `MathUtils.ApproxEquals`, otherwise `double.CompareTo` (NaN sorts first). */
function compareFloat(d1: number, d2: number): number {
  if (d1 === d2) {
    return 0;
  }
  const tolerance = (Math.abs(d1) + Math.abs(d2) + 10) * EPSILON;
  const difference = d1 - d2;
  if (-tolerance < difference && tolerance > difference) {
    return 0;
  }
  if (Number.isNaN(d1) || Number.isNaN(d2)) {
    return Number.isNaN(d1) ? (Number.isNaN(d2) ? 0 : -1) : 1;
  }
  return d1 < d2 ? -1 : 1;
}

/** `CompareBigInteger(i1, i2)`, including its fraction rule (a fractional `i2` equal after truncation sorts above). */
function compareBigInteger(i1: bigint, other: unknown, otherType: TokenType): number {
  const i2 = toBigInteger(other, otherType);
  if (i1 !== i2) {
    return i1 < i2 ? -1 : 1;
  }
  if (otherType === TokenType.Float) {
    const d = other as number;
    return d === Math.trunc(d) ? 0 : -1;
  }
  return 0;
}

function compareDate(a: unknown, at: TokenType, b: unknown, bt: TokenType): number {
  if (at !== TokenType.Date) {
    throw new JsonPathFault('InvalidCastException', 'a string was compared with a date');
  }
  const left = instantOfDate(a);
  if (bt === TokenType.Date) {
    return compareInstants(left, instantOfDate(b));
  }
  if (bt !== TokenType.String) {
    throw new JsonPathFault('InvalidCastException', 'a date was compared with a value that is not a date or a string');
  }
  const right = parseDotNetDateTime(b as string);
  if (right === undefined) {
    throw new JsonPathFault('FormatException', 'a date was compared with a string that is not a date');
  }
  return compareInstants(left, right);
}

/** `Convert.ToInt64(value)` for a token that is not a float (the caller has routed floats to `CompareFloat`). */
function toInt64(value: unknown, type: TokenType): number | bigint {
  switch (type) {
    case TokenType.Integer:
      return value as number | bigint;
    case TokenType.Boolean:
      return value === true ? 1 : 0;
    case TokenType.String: {
      const parsed = parseInt64(value as string);
      if (parsed === undefined) {
        throw new JsonPathFault('FormatException', 'a string that is not an Int64 was compared with an integer');
      }
      return parsed;
    }
    case TokenType.Float:
    case TokenType.Date:
    case TokenType.Null:
    case TokenType.Container:
      throw new JsonPathFault('InvalidCastException', 'a date was compared with a number');
  }
}

/** `Convert.ToDouble(value)`. */
function toDouble(value: unknown, type: TokenType): number {
  switch (type) {
    case TokenType.Integer:
      return Number(value);
    case TokenType.Float:
      return value as number;
    case TokenType.Boolean:
      return value === true ? 1 : 0;
    case TokenType.String: {
      const parsed = parseDouble(value as string);
      if (parsed === undefined) {
        throw new JsonPathFault('FormatException', 'a string that is not a number was compared with a float');
      }
      return parsed;
    }
    case TokenType.Date:
    case TokenType.Null:
    case TokenType.Container:
      throw new JsonPathFault('InvalidCastException', 'a date was compared with a number');
  }
}

/** `ConvertUtils.ToBigInteger(value)`. */
function toBigInteger(value: unknown, type: TokenType): bigint {
  switch (type) {
    case TokenType.Integer:
      return BigInt(value as number | bigint);
    case TokenType.Float: {
      const d = value as number;
      if (!Number.isFinite(d)) {
        throw new JsonPathFault('OverflowException', 'a non-finite float was compared with a big integer');
      }
      return BigInt(Math.trunc(d));
    }
    case TokenType.String: {
      const parsed = parseBigInteger(value as string);
      if (parsed === undefined) {
        throw new JsonPathFault('FormatException', 'a string that is not an integer was compared with a big integer');
      }
      return parsed;
    }
    case TokenType.Boolean:
    case TokenType.Date:
    case TokenType.Null:
    case TokenType.Container:
      throw new JsonPathFault('InvalidCastException', 'a value was compared with a big integer it cannot convert to');
  }
}

/** `Convert.ToBoolean(value)`. */
function toBoolean(value: unknown, type: TokenType): boolean {
  switch (type) {
    case TokenType.Boolean:
      return value as boolean;
    case TokenType.Integer:
      if (isBigInteger(value)) {
        throw new JsonPathFault('InvalidCastException', 'a big integer was compared with a boolean');
      }
      return value !== 0 && value !== 0n;
    case TokenType.Float:
      return value !== 0;
    case TokenType.String: {
      const parsed = parseBoolean(value as string);
      if (parsed === undefined) {
        throw new JsonPathFault('FormatException', 'a string that is not a boolean was compared with a boolean');
      }
      return parsed;
    }
    case TokenType.Date:
    case TokenType.Null:
    case TokenType.Container:
      throw new JsonPathFault('InvalidCastException', 'a date was compared with a boolean');
  }
}
