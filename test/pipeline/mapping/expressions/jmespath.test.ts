import { ErrorCode, PipelineError } from '../../../../src/pipeline/errors';
import { compileJmesPath, MAX_JMESPATH_MATCHES } from '../../../../src/pipeline/mapping/expressions/jmespath';

function failure(run: () => unknown): PipelineError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    return error as PipelineError;
  }
  throw new Error('expected a PipelineError');
}

const NOTHING = Symbol('nothing');
const MULTIPLE = Symbol('multiple tokens');

describe('compiling', () => {
  it('produces a synchronous JmesPath expression that keeps its source', () => {
    const expression = compileJmesPath('Body.heartRate');
    expect(expression).toMatchObject({ language: 'JmesPath', source: 'Body.heartRate', isAsync: false });
  });

  it.each([
    ['a syntax error', 'Body.[', 'Syntax error'],
    ['an empty expression', '', 'Syntax error'],
    ['an unknown function', 'upper(Body.name)', 'Unknown function: upper()'],
    ['a misspelt custom function', 'fromUnixTimeStamp(Body.ts)', 'Unknown function: fromUnixTimeStamp()'],
    ['too few arguments to a custom function', 'add(Body.a)', 'add() takes 2 argument(s) but received 1'],
    ['too many arguments to a custom function', 'fromUnixTimestamp(Body.a, Body.b)', 'fromUnixTimestamp() takes 1'],
    ['too few arguments to insertString', 'insertString(a, b)', 'insertString() takes 3 argument(s)'],
    ['too few arguments to a built-in', 'abs()', 'abs() takes 1 argument(s) but received 0'],
    ['too many arguments to a built-in', "join(', ', a, b)", 'join() takes 2 argument(s) but received 3'],
    ['a bad call nested in a filter', 'Body[?starts_with(id)]', 'starts_with() takes 2'],
    ['the root reference (not in JmesPath.Net)', '$.Body', 'does not support the root reference'],
    ['arithmetic operators (not in JmesPath.Net)', 'Body.a + Body.b', 'does not support arithmetic operators'],
    ['let expressions (not in JmesPath.Net)', 'let $x = Body in $x', 'does not support'],
    ['the ternary operator (not in JmesPath.Net)', 'Body.a ? Body.b : Body.c', 'does not support the ternary operator'],
  ])('rejects %s when the mapping loads', (_name, source, reason) => {
    const error = failure(() => compileJmesPath(source));
    expect(error.code).toBe(ErrorCode.TemplateExpressionInvalid);
    expect(error.message.startsWith(`The following JmesPath expression could not be parsed: ${source}. Cause: `)).toBe(
      true,
    );
    expect(error.message).toContain(reason);
    expect(error.details.expression).toBe(source);
  });

  it('accepts variadic built-ins with any number of arguments', () => {
    expect(compileJmesPath('not_null(a, b, c, d)').selectOne({ d: 4 })).toBe(4);
    expect(compileJmesPath('merge(a, b)').selectOne({ a: { x: 1 }, b: { y: 2 } })).toEqual({ x: 1, y: 2 });
  });
});

describe('select-many (type matching) and select-one', () => {
  const devices = [
    { deviceId: 'a', heartRate: 70 },
    { deviceId: 'b', heartRate: 80 },
    { deviceId: 'c', heartRate: null },
  ];
  const body = { Body: { devices, one: [{ deviceId: 'a' }], empty: [], flag: false, zero: 0, text: '', nil: null } };

  it.each<[string, string, unknown[], unknown]>([
    // Projections: each element is a match; select-one wants at most one element and returns it as an array.
    ['a wildcard projection', 'Body.devices[*].deviceId', ['a', 'b', 'c'], MULTIPLE],
    ['a projection dropping nulls', 'Body.devices[*].heartRate', [70, 80], MULTIPLE],
    ['a flatten projection', 'Body.devices[]', devices, MULTIPLE],
    ['a filter projection', 'Body.devices[?heartRate > `75`]', [devices[1]], [devices[1]]],
    ['a filter projection with no match', 'Body.devices[?heartRate > `100`]', [], []],
    ['a slice projection', 'Body.devices[0:1].deviceId', ['a'], ['a']],
    ['an object wildcard', 'Body.devices[0].*', ['a', 70], MULTIPLE],
    ['a one-element projection', 'Body.one[*].deviceId', ['a'], ['a']],
    ['a projection on a non-array', 'Body.flag[*]', [], NOTHING],
    // Values: one match unless null; false, 0 and "" are matches; a plain array is one match.
    ['a member', 'Body.devices[1].heartRate', [80], 80],
    ['false', 'Body.flag', [false], false],
    ['zero', 'Body.zero', [0], 0],
    ['an empty string', 'Body.text', [''], ''],
    ['null', 'Body.nil', [], NOTHING],
    ['a missing member', 'Body.missing.deeper', [], NOTHING],
    ['a plain array', 'Body.one', [[{ deviceId: 'a' }]], [{ deviceId: 'a' }]],
    ['an empty plain array', 'Body.empty', [[]], []],
    ['an index into a projection result (pipe stops projecting)', 'Body.devices[*].deviceId | [0]', ['a'], 'a'],
    ['a function of a projection', 'length(Body.devices[*])', [3], 3],
    ['a multi-select list', '[Body.zero, Body.flag]', [[0, false]], [0, false]],
    ['a pipe into a projection', 'Body | devices[*].deviceId', ['a', 'b', 'c'], MULTIPLE],
    // `||`/`&&` return the chosen branch, projection or not.
    ['an or taking its projection branch', 'Body.missing || Body.devices[*].deviceId', ['a', 'b', 'c'], MULTIPLE],
    ['an or skipping an empty projection', 'Body.empty[*] || Body.zero', [0], 0],
    ['an and returning its falsy projection', 'Body.empty[*] && Body.zero', [], []],
    ['an and returning its value branch', 'Body.devices[*] && Body.zero', [0], 0],
    ['an or after a pipe', 'Body | missing || devices[*].deviceId', ['a', 'b', 'c'], MULTIPLE],
    ['an or of two projections', 'Body.empty[*] || Body.one[*].deviceId', ['a'], ['a']],
  ])('%s: %s', (_name, source, many, one) => {
    const expression = compileJmesPath(source);
    expect(expression.selectMany(body)).toEqual(many);
    if (one === MULTIPLE) {
      const error = failure(() => expression.selectOne(body));
      expect(error.code).toBe(ErrorCode.ExpressionMultipleTokens);
      expect(error.message).toBe(`Multiple tokens were returned using expression ${source}`);
      expect(error.medtechErrorType).toBe('TemplateExpressionException');
    } else if (one === NOTHING) {
      expect(expression.selectOne(body)).toBeUndefined();
    } else {
      expect(expression.selectOne(body)).toEqual(one);
    }
  });

  it('evaluates MedTech’s sample of matching one device type inside an array body', () => {
    const source = "to_array(@.Body) | [? deviceId && starts_with(deviceId, 'deviceTypeB')].data[]";
    const envelope = {
      Body: [
        { deviceId: 'deviceTypeA-1', data: [{ hr: 1 }] },
        { deviceId: 'deviceTypeB-7', data: [{ hr: 2 }, { hr: 3 }] },
        { data: [{ hr: 4 }] },
        { deviceId: 'deviceTypeB-8', data: [{ hr: 5 }] },
      ],
      Properties: {},
      SystemProperties: {},
    };
    expect(compileJmesPath(source).selectMany(envelope)).toEqual([{ hr: 2 }, { hr: 3 }, { hr: 5 }]);
    // The same expression over a single-object body.
    const single = { Body: { deviceId: 'deviceTypeB-1', data: [{ hr: 9 }] } };
    expect(compileJmesPath(source).selectMany(single)).toEqual([{ hr: 9 }]);
  });

  it('reads hyphenated members through double-quoted identifiers', () => {
    const envelope = { SystemProperties: { 'iothub-connection-device-id': 'device-1' } };
    expect(compileJmesPath('SystemProperties."iothub-connection-device-id"').selectOne(envelope)).toBe('device-1');
  });

  it.each([
    ['an integer literal', 'Body[?v == `10`].v', [10]],
    ['a float literal', 'multiply(Body[0].v, `0.5`)', [5]],
    ['a JSON object literal', 'merge(Body[0], `{"unit": "bpm"}`).unit', ['bpm']],
    ['a raw string literal', "Body[?name == 'x y'].v", [20]],
    ['a legacy unquoted literal', 'Body[?name == `z`].v', [30]],
  ])('understands %s', (_name, source, expected) => {
    const body = { Body: [{ v: 10 }, { v: 20, name: 'x y' }, { v: 30, name: 'z' }] };
    expect(compileJmesPath(source).selectMany(body)).toEqual(expected);
  });

  it('converts strings with to_number', () => {
    const expression = compileJmesPath('to_number(Body.value)');
    expect(expression.selectOne({ Body: { value: '78' } })).toBe(78);
    expect(expression.selectOne({ Body: { value: '36.6' } })).toBe(36.6);
    expect(expression.selectOne({ Body: { value: 'n/a' } })).toBeUndefined();
  });
});

describe('evaluation errors', () => {
  it('reports a built-in’s type error as EXPRESSION_FAILED without the value', () => {
    const source = 'abs(Body.patient)';
    const error = failure(() => compileJmesPath(source).selectOne({ Body: { patient: 'Jane Doe' } }));
    expect(error.code).toBe(ErrorCode.ExpressionFailed);
    expect(error.message).toContain(source);
    expect(error.message).toContain('abs()');
    expect(error.message).not.toContain('Jane');
    expect(error.details.expression).toBe(source);
  });

  it('adds the expression to a custom function’s error', () => {
    const error = failure(() => compileJmesPath('divide(Body.a, Body.b)').selectOne({ Body: { a: 1, b: 0 } }));
    expect(error.code).toBe(ErrorCode.FunctionDivideByZero);
    expect(error.details).toMatchObject({ expression: 'divide(Body.a, Body.b)', function: 'divide' });
  });

  it('reports values the engine cannot handle without their content', () => {
    const error = failure(() =>
      compileJmesPath('to_string(Body.id)').selectOne({ Body: { id: 12345678901234567890n } }),
    );
    expect(error.code).toBe(ErrorCode.ExpressionFailed);
    expect(error.message).not.toContain('1234567890');
  });

  it('survives very deep input', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) {
      deep = { a: deep };
    }
    const error = failure(() => compileJmesPath('to_string(Body)').selectOne({ Body: deep }));
    expect(error.code).toBe(ErrorCode.ExpressionLimitExceeded);
    // Navigation itself does not recurse over the data.
    expect(compileJmesPath('Body.a.a.a.a').selectMany({ Body: deep })).toHaveLength(1);
  });

  it('bounds the number of matches', () => {
    const body = { Body: Array.from({ length: MAX_JMESPATH_MATCHES + 1 }, (_, i) => i) };
    expect(compileJmesPath('Body[*]').selectMany({ Body: body.Body.slice(0, MAX_JMESPATH_MATCHES) })).toHaveLength(
      MAX_JMESPATH_MATCHES,
    );
    expect(failure(() => compileJmesPath('Body[*]').selectMany(body)).code).toBe(ErrorCode.ExpressionLimitExceeded);
    const nested = { Body: [Array.from({ length: MAX_JMESPATH_MATCHES + 1 }, () => [[1]])] };
    expect(failure(() => compileJmesPath('Body[][][]').selectMany(nested)).code).toBe(
      ErrorCode.ExpressionLimitExceeded,
    );
  });
});
