/**
 * MedTech's custom JMESPath functions (medtech-reference §5.2; iomt-fhir `src/lib/Microsoft.Health.Expressions`,
 * `docs/CustomFunctions.md`) and two corrections of `@jmespath-community/jmespath` built-ins, registered in the
 * library's module-global function table.
 *
 * Number kinds: MedTech checks Newtonsoft token kinds (`Integer`, `Float`). JavaScript numbers do not keep the
 * lexical form, so an integral number within the Int64 range counts as `Integer` (JSON `36.0` therefore counts as an
 * integer here) and `bigint` (integers beyond ±2^53 read losslessly from raw bodies) always counts as `Integer`.
 * Integer results are plain numbers while they are safe integers and `bigint` beyond.
 *
 * Every function is pure (no shared state), so concurrent or nested evaluations cannot interfere.
 */

import { registerFunction, TYPE_ANY, TYPE_ARRAY_NUMBER, TYPE_ARRAY_STRING } from '@jmespath-community/jmespath';
import type { InputSignature } from '@jmespath-community/jmespath';

import { DateToken } from '../../convert/instant';
import { ErrorCode, PipelineError } from '../../errors';

/** One custom function: its name, its fixed number of arguments and its implementation. */
export interface JmesPathCustomFunction {
  readonly name: string;
  readonly arity: number;
  /** Computes the result; throws `PipelineError` (FUNCTION_*) for bad arguments. */
  readonly apply: (args: readonly unknown[]) => unknown;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const TWO_POW_63 = 2 ** 63;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// DateTimeOffset.FromUnixTimeSeconds/-Milliseconds accept 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z.
const MIN_UNIX_SECONDS = -62_135_596_800n;
const MAX_UNIX_SECONDS = 253_402_300_799n;
const MIN_UNIX_MS = -62_135_596_800_000n;
const MAX_UNIX_MS = 253_402_300_799_999n;

/** The Newtonsoft token kinds MedTech names in its type-check message. */
type TokenKind = 'Integer' | 'Float' | 'String';
const NUMBER_KINDS: readonly TokenKind[] = ['Integer', 'Float'];

function isIntegerToken(value: unknown): value is number | bigint {
  return (
    typeof value === 'bigint' ||
    (typeof value === 'number' && Number.isInteger(value) && value >= -TWO_POW_63 && value < TWO_POW_63)
  );
}

function isKind(value: unknown, kind: TokenKind): boolean {
  switch (kind) {
    case 'Integer':
      return isIntegerToken(value);
    case 'Float':
      return typeof value === 'number' && !isIntegerToken(value);
    case 'String':
      return typeof value === 'string';
  }
}

/**
 * MedTech's `ValidatePositionalArgument`: checks the raw token kind before execution. The message is MedTech's
 * (zero-based argument index, kinds joined by `|`) and never contains the argument's value.
 */
function expectKind(fn: string, args: readonly unknown[], index: number, kinds: readonly TokenKind[]): void {
  const value = args[index];
  if (!kinds.some((kind) => isKind(value, kind))) {
    throw new PipelineError(
      ErrorCode.FunctionInvalidArgument,
      `Error: invalid-type, function ${fn} expects argument ${index} to be one of the following: ${kinds.join('|')}`,
      { details: { function: fn, argument: index } },
    );
  }
}

function overflow(fn: string): PipelineError {
  return new PipelineError(
    ErrorCode.FunctionOverflow,
    `Function ${fn}: the result does not fit in a 64-bit integer (arithmetic overflow).`,
    { details: { function: fn } },
  );
}

function outOfRange(fn: string, what: string): PipelineError {
  return new PipelineError(ErrorCode.FunctionArgumentOutOfRange, `Function ${fn}: ${what}`, {
    details: { function: fn },
  });
}

/** `Token.Value<long>()`: an integer token as Int64 (a BigInteger token beyond the range overflows). */
function toInt64(fn: string, value: number | bigint): bigint {
  const big = typeof value === 'bigint' ? value : BigInt(value);
  if (big < INT64_MIN || big > INT64_MAX) {
    throw overflow(fn);
  }
  return big;
}

/** An Int64 result: checked against the range, then a number when it is a safe integer. */
function fromInt64(fn: string, value: bigint): number | bigint {
  if (value < INT64_MIN || value > INT64_MAX) {
    throw overflow(fn);
  }
  return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value;
}

function toDouble(value: number | bigint): number {
  return typeof value === 'bigint' ? Number(value) : value;
}

/** `Convert.ToInt64(double)`: rounds half to even and overflows outside the Int64 range (and for NaN). */
function doubleToInt64(fn: string, value: number): number | bigint {
  if (Number.isNaN(value) || value >= TWO_POW_63 || value < -TWO_POW_63) {
    throw overflow(fn);
  }
  const floor = Math.floor(value);
  const fraction = value - floor;
  const rounded = fraction > 0.5 || (fraction === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  return Number.isSafeInteger(rounded) ? rounded : BigInt(rounded);
}

/**
 * add/subtract/multiply: a double result when either argument is a float, else Int64 arithmetic. MedTech's code
 * wraps around silently on Int64 overflow; its documentation ("the end result must be able to fit within a C#
 * long value, … a mathematical error will occur") is followed instead (policy §0.3, and §0.4: a wrapped value is
 * silently wrong data), so overflow raises FUNCTION_OVERFLOW.
 */
function arithmetic(
  name: string,
  onNumbers: (a: number, b: number) => number,
  onIntegers: (a: bigint, b: bigint) => bigint,
): JmesPathCustomFunction {
  return {
    name,
    arity: 2,
    apply: (args) => {
      expectKind(name, args, 0, NUMBER_KINDS);
      expectKind(name, args, 1, NUMBER_KINDS);
      const a = args[0] as number | bigint;
      const b = args[1] as number | bigint;
      if (!isIntegerToken(a) || !isIntegerToken(b)) {
        return onNumbers(toDouble(a), toDouble(b));
      }
      if (typeof a === 'number' && typeof b === 'number') {
        // Exact whenever the true result is a safe integer (IEEE results are correctly rounded).
        const result = onNumbers(a, b);
        if (Number.isSafeInteger(result)) {
          return result;
        }
      }
      return fromInt64(name, onIntegers(toInt64(name, a), toInt64(name, b)));
    },
  };
}

/**
 * divide: the documented behaviour (policy §0.3) — always the true quotient (`divide(40, 50)` is 0.8, where
 * MedTech's code truncates to 0). Any zero divisor raises FUNCTION_DIVIDE_BY_ZERO, as the documentation lists
 * ("mathmatic error : divide by zero"). MedTech's code returns ±Infinity/NaN when either operand is a float; that is
 * not followed because JavaScript cannot tell `0.0` from `0` in a message body, and an infinite quotient could not
 * be written into a FHIR Quantity anyway.
 */
const divide: JmesPathCustomFunction = {
  name: 'divide',
  arity: 2,
  apply: (args) => {
    expectKind('divide', args, 0, NUMBER_KINDS);
    expectKind('divide', args, 1, NUMBER_KINDS);
    const a = args[0] as number | bigint;
    const b = args[1] as number | bigint;
    if (b === 0 || b === 0n) {
      throw new PipelineError(ErrorCode.FunctionDivideByZero, 'Function divide: attempted to divide by zero.', {
        details: { function: 'divide' },
      });
    }
    if (typeof a === 'bigint' || typeof b === 'bigint') {
      if (isIntegerToken(a) && isIntegerToken(b)) {
        const x = toInt64('divide', a);
        const y = toInt64('divide', b);
        // Keep exact quotients of large integers exact; anything else is a double like every other quotient.
        if (x % y === 0n) {
          return fromInt64('divide', x / y);
        }
      }
    }
    return toDouble(a) / toDouble(b);
  },
};

/**
 * pow: `Math.Pow` on doubles; with two integers the double result is converted to Int64 as .NET's
 * `Convert.ToInt64` does (round half to even, FUNCTION_OVERFLOW outside the range, e.g. `pow(40, 50)` or `pow(0, -1)`).
 */
const pow: JmesPathCustomFunction = {
  name: 'pow',
  arity: 2,
  apply: (args) => {
    expectKind('pow', args, 0, NUMBER_KINDS);
    expectKind('pow', args, 1, NUMBER_KINDS);
    const a = args[0] as number | bigint;
    const b = args[1] as number | bigint;
    if (!isIntegerToken(a) || !isIntegerToken(b)) {
      return Math.pow(toDouble(a), toDouble(b));
    }
    const base = Number(toInt64('pow', a));
    const exponent = Number(toInt64('pow', b));
    return doubleToInt64('pow', Math.pow(base, exponent));
  },
};

/** insertString: `s` with `ins` inserted at the zero-based UTF-16 position `pos`, `0 <= pos <= length(s)`. */
const insertString: JmesPathCustomFunction = {
  name: 'insertString',
  arity: 3,
  apply: (args) => {
    expectKind('insertString', args, 0, ['String']);
    expectKind('insertString', args, 1, ['String']);
    expectKind('insertString', args, 2, ['Integer']);
    const original = args[0] as string;
    const toInsert = args[1] as string;
    // `Token.Value<int>()` overflows before the position is range-checked.
    const position = toInt64('insertString', args[2] as number | bigint);
    if (position < INT32_MIN || position > INT32_MAX) {
      throw overflow('insertString');
    }
    const pos = Number(position);
    if (pos < 0 || pos > original.length) {
      throw outOfRange('insertString', 'the position must lie between 0 and the length of the string.');
    }
    return original.slice(0, pos) + toInsert + original.slice(pos);
  },
};

function fromUnix(name: string, unit: 'seconds' | 'milliseconds'): JmesPathCustomFunction {
  const [min, max, msPerUnit] =
    unit === 'seconds' ? [MIN_UNIX_SECONDS, MAX_UNIX_SECONDS, 1000] : [MIN_UNIX_MS, MAX_UNIX_MS, 1];
  return {
    name,
    arity: 1,
    apply: (args) => {
      expectKind(name, args, 0, ['Integer']);
      const value = toInt64(name, args[0] as number | bigint);
      if (value < min || value > max) {
        throw outOfRange(name, `the timestamp in ${unit} lies outside the years 0001-9999.`);
      }
      // A date token, not a string: it renders as MM/dd/yyyy HH:mm:ss when used as a value (§5.2, §14.2).
      return new DateToken({ epochMs: Number(value) * msPerUnit, subMsTicks: 0, kind: 'utc' });
    },
  };
}

/** The eight functions MedTech registers for every JMESPath expression (§5.2), by name. */
export const MEDTECH_JMESPATH_FUNCTIONS: ReadonlyMap<string, JmesPathCustomFunction> = new Map(
  [
    arithmetic(
      'add',
      (a, b) => a + b,
      (a, b) => a + b,
    ),
    arithmetic(
      'subtract',
      (a, b) => a - b,
      (a, b) => a - b,
    ),
    arithmetic(
      'multiply',
      (a, b) => a * b,
      (a, b) => a * b,
    ),
    divide,
    pow,
    insertString,
    fromUnix('fromUnixTimestamp', 'seconds'),
    fromUnix('fromUnixTimestampMs', 'milliseconds'),
  ].map((f) => [f.name, f]),
);

const INT64_TEXT = /^[\t-\r ]*[+-]?\d+[\t-\r ]*$/;
const DECIMAL_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)$/;

/**
 * `to_number` as JmesPath.Net does it: a string parses as Int64 (`Int64.TryParse`, surrounding whitespace allowed)
 * or else as a plain decimal (`double.TryParse` with a sign and a decimal point only); anything else is null. The
 * community library's `+value` turns `""` into 0 and accepts `0x10`, `1e3` and `Infinity`, which would silently
 * invent values.
 */
function toNumber(args: readonly unknown[]): unknown {
  const value = args[0];
  if (typeof value === 'number' || typeof value === 'bigint') {
    return value;
  }
  if (typeof value !== 'string') {
    return null;
  }
  if (INT64_TEXT.test(value)) {
    const big = BigInt(value.trim());
    if (big >= INT64_MIN && big <= INT64_MAX) {
      return big >= -MAX_SAFE && big <= MAX_SAFE ? Number(big) : big;
    }
  }
  return DECIMAL_TEXT.test(value) ? Number(value) : null;
}

/**
 * `sort` with numbers compared as numbers: the community library sorts number arrays with the default
 * (lexicographic) `Array.prototype.sort`, so `sort([10, 9])` would be `[10, 9]`. Strings keep ordinal order.
 */
function sort(args: readonly unknown[]): unknown {
  const items = [...(args[0] as readonly (string | number | bigint)[])];
  return items.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The library types results as JSON; ours also include `bigint` and date tokens, which it passes through. */
type LibraryFunction = Parameters<typeof registerFunction>[1];

function signature(arity: number): InputSignature[] {
  return Array.from({ length: arity }, () => ({ types: [TYPE_ANY] }));
}

/**
 * Registers MedTech's functions and the built-in corrections in the library's module-global registry. Idempotent
 * (re-registration replaces the same implementations), so it is safe to call on every module load. Argument
 * counts are checked by the library (and at compile time by `compileJmesPath`); argument kinds by the functions
 * themselves, because MedTech's message and kinds differ from the library's.
 */
export function registerJmesPathFunctions(): void {
  for (const f of MEDTECH_JMESPATH_FUNCTIONS.values()) {
    registerFunction(f.name, f.apply as unknown as LibraryFunction, signature(f.arity), { override: true });
  }
  registerFunction('to_number', toNumber as unknown as LibraryFunction, signature(1), { override: true });
  registerFunction('sort', sort as unknown as LibraryFunction, [{ types: [TYPE_ARRAY_STRING, TYPE_ARRAY_NUMBER] }], {
    override: true,
  });
}
