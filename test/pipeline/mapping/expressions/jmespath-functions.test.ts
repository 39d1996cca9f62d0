import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { DateToken } from '../../../../src/pipeline/convert/instant';
import { ErrorCode, PipelineError } from '../../../../src/pipeline/errors';
import { compileJmesPath } from '../../../../src/pipeline/mapping/expressions/jmespath';
import { MEDTECH_JMESPATH_FUNCTIONS } from '../../../../src/pipeline/mapping/expressions/jmespath-functions';

interface FunctionCase {
  readonly name: string;
  readonly expression: string;
  readonly given: unknown;
  readonly result?: unknown;
  readonly integer?: string;
  readonly date?: string;
  readonly error?: string;
}

const table = JSON.parse(readFileSync(join(__dirname, '../../../cases/jmespath/custom-functions.json'), 'utf8')) as {
  cases: FunctionCase[];
};

function evaluate(expression: string, given: unknown): unknown {
  return compileJmesPath(expression).selectOne(given);
}

function failure(run: () => unknown): PipelineError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    return error as PipelineError;
  }
  throw new Error('expected a PipelineError');
}

describe('MedTech custom JMESPath functions (docs/CustomFunctions.md and MedTech unit tests)', () => {
  it.each(table.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    if (c.error !== undefined) {
      expect(failure(() => evaluate(c.expression, c.given)).code).toBe(c.error);
    } else if (c.date !== undefined) {
      const result = evaluate(c.expression, c.given);
      expect(result).toBeInstanceOf(DateToken);
      const token = result as DateToken;
      expect(new Date(token.instant.epochMs).toISOString()).toBe(c.date);
      expect(token.instant).toMatchObject({ subMsTicks: 0, kind: 'utc' });
    } else if (c.integer !== undefined) {
      expect(evaluate(c.expression, c.given)).toBe(BigInt(c.integer));
    } else {
      expect(evaluate(c.expression, c.given)).toBe(c.result);
    }
  });

  it('registers exactly MedTech’s eight functions with their arities', () => {
    expect(Object.fromEntries([...MEDTECH_JMESPATH_FUNCTIONS.values()].map((f) => [f.name, f.arity]))).toEqual({
      add: 2,
      subtract: 2,
      multiply: 2,
      divide: 2,
      pow: 2,
      insertString: 3,
      fromUnixTimestamp: 1,
      fromUnixTimestampMs: 1,
    });
  });
});

describe('argument kinds are checked before execution, with MedTech’s message', () => {
  it.each([
    [
      "add('bad', `1`)",
      {},
      'Error: invalid-type, function add expects argument 0 to be one of the following: Integer|Float',
    ],
    [
      'subtract(`1`, left)',
      { left: [1, 2, 3] },
      'function subtract expects argument 1 to be one of the following: Integer|Float',
    ],
    [
      'multiply(left, `1`)',
      { left: { value: 1 } },
      'function multiply expects argument 0 to be one of the following: Integer|Float',
    ],
    ['divide(`1`, missing)', {}, 'function divide expects argument 1 to be one of the following: Integer|Float'],
    ['pow(left, `2`)', { left: true }, 'function pow expects argument 0 to be one of the following: Integer|Float'],
    [
      'insertString(original, `"x"`, `0`)',
      { original: 6 },
      'function insertString expects argument 0 to be one of the following: String',
    ],
    [
      "insertString('text', toInsert, `0`)",
      { toInsert: 123 },
      'function insertString expects argument 1 to be one of the following: String',
    ],
    [
      "insertString('text', 'x', pos)",
      { pos: 1.5 },
      'function insertString expects argument 2 to be one of the following: Integer',
    ],
    [
      'fromUnixTimestamp(ts)',
      { ts: '1625677200' },
      'function fromUnixTimestamp expects argument 0 to be one of the following: Integer',
    ],
    [
      'fromUnixTimestampMs(ts)',
      { ts: 1.5 },
      'function fromUnixTimestampMs expects argument 0 to be one of the following: Integer',
    ],
  ])('%s', (expression, given, message) => {
    const error = failure(() => evaluate(expression, given));
    expect(error.code).toBe(ErrorCode.FunctionInvalidArgument);
    expect(error.medtechErrorType).toBe('InvalidTypeException');
    expect(error.message).toContain(message);
    expect(error.details.expression).toBe(expression);
  });

  it('never quotes the offending value', () => {
    const error = failure(() => evaluate('add(Body.patientName, `1`)', { Body: { patientName: 'Jane Doe' } }));
    expect(error.message).not.toContain('Jane');
  });

  it('treats a date token as a date, not a string (MedTech: insertString fails on dates)', () => {
    const error = failure(() => evaluate("insertString(fromUnixTimestamp(`0`), 'x', `0`)", {}));
    expect(error.code).toBe(ErrorCode.FunctionInvalidArgument);
  });

  it('fails even where an optional value would be missing (null is not a number)', () => {
    expect(failure(() => evaluate('add(Body.missing, `1`)', { Body: {} })).code).toBe(
      ErrorCode.FunctionInvalidArgument,
    );
  });
});

describe('integers and 64-bit arithmetic', () => {
  const maxInt64 = 9223372036854775807n;
  const minInt64 = -9223372036854775808n;

  it.each([
    ['add at the Int64 maximum', 'add(left, right)', { left: 0, right: maxInt64 }, maxInt64],
    ['add at the Int64 minimum', 'add(left, right)', { left: 0, right: minInt64 }, minInt64],
    ['add beyond 2^53 stays exact', 'add(left, right)', { left: 9007199254740991, right: 10 }, 9007199254741001n],
    ['multiply of a big integer', 'multiply(left, `2`)', { left: 2n ** 61n }, 2n ** 62n],
    ['subtract back into the safe range', 'subtract(left, right)', { left: 2n ** 60n, right: 2n ** 60n - 5n }, 5],
    ['pow with an Int64 result', 'pow(`2`, `62`)', {}, 2n ** 62n],
    ['exact division of big integers', 'divide(left, `2`)', { left: 2n ** 62n }, 2n ** 61n],
    ['division of a big integer with a remainder is a double', 'divide(left, `2`)', { left: 2n ** 62n + 1n }, 2 ** 61],
    ['a float operand makes a double', 'add(left, `0.5`)', { left: 2n ** 60n }, 2 ** 60 + 0.5],
  ])('%s', (_name, expression, given, expected) => {
    expect(evaluate(expression, given)).toBe(expected);
  });

  it.each([
    ['add past the Int64 maximum', 'add(left, `1`)', { left: maxInt64 }],
    ['subtract past the Int64 minimum', 'subtract(left, `1`)', { left: minInt64 }],
    ['multiply past the Int64 range', 'multiply(left, left)', { left: 2n ** 32n }],
    ['pow of long.MaxValue (MedTech test)', 'pow(left, `10`)', { left: maxInt64 }],
    ['an integer beyond Int64 in the message', 'add(left, `0`)', { left: 2n ** 64n }],
  ])('%s overflows (documented: results must fit in a C# long)', (_name, expression, given) => {
    const error = failure(() => evaluate(expression, given));
    expect(error.code).toBe(ErrorCode.FunctionOverflow);
    expect(error.medtechErrorType).toBe('OverflowException');
  });

  it('rounds integer powers half to even like Convert.ToInt64', () => {
    expect(evaluate('pow(`2`, `-1`)', {})).toBe(0);
    expect(evaluate('pow(`-2`, `-1`)', {})).toBe(0);
    expect(evaluate('pow(`1`, `-1`)', {})).toBe(1);
    expect(evaluate('pow(`-1`, `-1`)', {})).toBe(-1);
  });
});

describe('built-in corrections', () => {
  it.each([
    ["to_number('78')", 78],
    ["to_number('-1.5')", -1.5],
    ["to_number(' 12 ')", 12],
    ["to_number('1.')", 1],
    ["to_number('.5')", 0.5],
    ["to_number('')", undefined],
    ["to_number(' ')", undefined],
    ["to_number('0x10')", undefined],
    ["to_number('1e3')", undefined],
    ["to_number('Infinity')", undefined],
    ["to_number('abc')", undefined],
    ['to_number(`true`)', undefined],
    ["to_number('9223372036854775807')", 9223372036854775807n],
    ["to_number('9223372036854775808')", 9223372036854775808],
    ['to_number(`36.6`)', 36.6],
  ])('%s', (expression, expected) => {
    expect(evaluate(expression, {})).toBe(expected);
  });

  it('keeps big integers as they are', () => {
    expect(evaluate('to_number(id)', { id: 2n ** 60n })).toBe(2n ** 60n);
  });

  it('sorts numbers numerically and strings ordinally', () => {
    expect(evaluate('sort(values)', { values: [10, 9, 100, 1.5] })).toEqual([1.5, 9, 10, 100]);
    expect(evaluate('sort(values)', { values: ['b', 'B', 'a'] })).toEqual(['B', 'a', 'b']);
    expect(evaluate('sort(values)', { values: [] })).toEqual([]);
  });

  it('still type-checks sort', () => {
    expect(failure(() => evaluate('sort(values)', { values: [1, 'a'] })).code).toBe(ErrorCode.ExpressionFailed);
  });
});
