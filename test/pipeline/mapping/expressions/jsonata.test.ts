import fc from 'fast-check';

import { ErrorCode, PipelineError } from '../../../../src/pipeline/errors';
import type { CompiledExpression } from '../../../../src/pipeline/mapping/expressions/expression';
import {
  compileJsonata,
  DEFAULT_JSONATA_LIMITS,
  MAX_JSONATA_MATCHES,
} from '../../../../src/pipeline/mapping/expressions/jsonata';

async function failure(run: () => unknown): Promise<PipelineError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    return error as PipelineError;
  }
  throw new Error('expected a PipelineError');
}

const NOTHING = Symbol('nothing');
const MULTIPLE = Symbol('multiple tokens');

describe('compiling', () => {
  it.each([
    ['Body.heartRate', false],
    ['$.Body.heartRate', false],
    ['`iothub-connection-device-id`', false],
    ['SystemProperties.`iothub-connection-device-id`', false],
    ['$', false],
    ['Body.values[0]', true],
    ['Body.values[]', true],
    ['Body.*', true],
    ['$$.Body', true],
    ['Body.(heartRate)', true],
    ['$sum(Body.values)', true],
    ['Body.heartRate * 2', true],
  ])('%s evaluates asynchronously: %s', (source, isAsync) => {
    expect(compileJsonata(source)).toMatchObject({ language: 'JsonAta', source, isAsync });
  });

  it('can be forced onto jsonata’s own evaluator', () => {
    expect(compileJsonata('Body.heartRate', { fastPath: false }).isAsync).toBe(true);
  });

  it('reports a syntax error with jsonata’s code and position', async () => {
    const error = await failure(() => compileJsonata('Body.(heartRate'));
    expect(error.code).toBe(ErrorCode.TemplateExpressionInvalid);
    expect(error.message).toMatch(
      /^The following JsonAta expression could not be parsed: Body\.\(heartRate\. Cause: S0203/,
    );
    expect(error.details).toMatchObject({ expression: 'Body.(heartRate', engineCode: 'S0203', position: 15 });
  });

  it.each([
    ['$now()', '$now'],
    ['$millis()', '$millis'],
    ['$random()', '$random'],
    ['$eval(Body.script)', '$eval'],
    ['Body.{ "at": $now() }', '$now'],
    ['$map(Body.values, function($v) { $v + $millis() })', '$millis'],
    ['($clock := $now; $clock())', '$now'],
    ['Body.values ~> $map($random)', '$random'],
  ])('rejects %s (results must be reproducible)', async (source, name) => {
    const error = await failure(() => compileJsonata(source));
    expect(error.code).toBe(ErrorCode.TemplateExpressionInvalid);
    expect(error.message).toContain(`${name} is not allowed`);
    expect(error.details.expression).toBe(source);
  });

  it('allows deterministic date functions', () => {
    expect(() => compileJsonata('$fromMillis(Body.ts)')).not.toThrow();
  });
});

describe('select-many (type matching) and select-one', () => {
  const envelope = {
    Body: {
      heartRate: 72,
      flag: false,
      nil: null,
      readings: [{ hr: 1 }, { hr: 2 }, null],
      single: [{ hr: 9 }],
      empty: [],
      nested: [[{ hr: 1 }], [{ hr: 2 }, { hr: 3 }]],
    },
  };

  it.each<[string, unknown[], unknown]>([
    ['Body.heartRate', [72], 72],
    ['$.Body.heartRate', [72], 72],
    ['Body.flag', [false], false],
    ['Body.nil', [], null],
    ['Body.missing', [], NOTHING],
    ['Body.readings', [{ hr: 1 }, { hr: 2 }], MULTIPLE],
    ['Body.readings.hr', [1, 2], MULTIPLE],
    ['Body.single', [{ hr: 9 }], { hr: 9 }],
    ['Body.single.hr', [9], 9],
    ['Body.empty', [], NOTHING],
    ['Body.nested.hr', [1, 2, 3], MULTIPLE],
    ['Body.readings[hr > 1]', [{ hr: 2 }], { hr: 2 }],
    ['Body.readings[hr > 5]', [], NOTHING],
    ['Body.readings[0].hr', [1], 1],
    ['$count(Body.readings)', [3], 3],
    ['[Body.heartRate]', [72], 72],
    ['{ "hr": Body.heartRate }', [{ hr: 72 }], { hr: 72 }],
  ])('%s', async (source, many, one) => {
    for (const expression of [compileJsonata(source), compileJsonata(source, { fastPath: false })]) {
      expect(await expression.selectMany(envelope)).toEqual(many);
      if (one === MULTIPLE) {
        const error = await failure(() => expression.selectOne(envelope));
        expect(error.code).toBe(ErrorCode.ExpressionMultipleTokens);
        expect(error.message).toBe(`Multiple tokens were returned using expression ${source}`);
      } else if (one === NOTHING) {
        expect(await expression.selectOne(envelope)).toBeUndefined();
      } else {
        expect(await expression.selectOne(envelope)).toEqual(one);
      }
    }
  });

  it('fails when the result is a function rather than data', async () => {
    const error = await failure(() => compileJsonata('$string').selectOne({}));
    expect(error.code).toBe(ErrorCode.ExpressionFailed);
  });

  it('bounds the number of matches', async () => {
    const body = { Body: { values: Array.from({ length: MAX_JSONATA_MATCHES + 1 }, (_, i) => i) } };
    const error = await failure(() => compileJsonata('Body.values').selectMany(body));
    expect(error.code).toBe(ErrorCode.ExpressionLimitExceeded);
  });
});

describe('guardrails', () => {
  it('uses defaults of 1 s, depth 200 and sequences of 10,000', () => {
    expect(DEFAULT_JSONATA_LIMITS).toEqual({ timeoutMs: 1000, maxDepth: 200, maxSequence: 10_000 });
  });

  it.each([
    ['an infinite recursion', '($f := function($x) { 1 + $f($x) }; $f(0))', 'D1011', undefined],
    ['a long loop', '$count([1..9999].($count([1..9999])))', 'D1012', 50],
    ['a long sequence', '$sum([1..100000])', 'D2015', undefined],
    ['a huge range', '$count([1..100000000])', 'D2014', undefined],
  ])('stops %s with EXPRESSION_LIMIT_EXCEEDED', async (_name, source, engineCode, timeoutMs) => {
    const error = await failure(() => compileJsonata(source, { timeoutMs }).selectOne({}));
    expect(error.code).toBe(ErrorCode.ExpressionLimitExceeded);
    expect(error.details).toMatchObject({ expression: source, engineCode });
  });

  it('takes limits from the options', async () => {
    const error = await failure(() => compileJsonata('$count([1..10])', { maxSequence: 5 }).selectOne({}));
    expect(error.details.engineCode).toBe('D2015');
    expect(await compileJsonata('$count([1..10])', { maxSequence: 10 }).selectOne({})).toBe(10);
  });

  it('applies the sequence limit on the fast path too', async () => {
    const body = { Body: [{ v: 1 }, { v: 2 }, { v: 3 }] };
    const fast = compileJsonata('Body.v', { maxSequence: 2 });
    expect(fast.isAsync).toBe(false);
    const error = await failure(() => fast.selectMany(body));
    expect(error.code).toBe(ErrorCode.ExpressionLimitExceeded);
    expect(error.details.engineCode).toBe('D2015');
  });
});

describe('evaluation errors', () => {
  it.each([
    ['$number(Body.name)', 'D3030'],
    ['Body.name + 1', 'T2001'],
    ['$error("rejected: " & Body.name)', 'D3137'],
    ['$assert(false, Body.name)', 'D3141'],
    ['Body.name < 3', 'T2009'],
  ])('%s fails with EXPRESSION_FAILED, jsonata’s code and no data', async (source, engineCode) => {
    const error = await failure(() => compileJsonata(source).selectOne({ Body: { name: 'Jane Doe' } }));
    expect(error.code).toBe(ErrorCode.ExpressionFailed);
    expect(error.details).toMatchObject({ expression: source, engineCode });
    expect(typeof error.details.position).toBe('number');
    expect(error.message).toContain(engineCode);
    expect(error.message).not.toContain('Jane');
    expect(JSON.stringify(error.toJSON())).not.toContain('Jane');
  });

  it('reports engine errors on big integers without their value', async () => {
    const error = await failure(() => compileJsonata('Body.id + 1').selectOne({ Body: { id: 12345678901234567890n } }));
    expect(error.code).toBe(ErrorCode.ExpressionFailed);
    expect(error.message).not.toContain('1234567890');
  });
});

describe('the synchronous fast path is equivalent to jsonata', () => {
  type Outcome = { readonly value: unknown } | { readonly code: string };

  async function outcome(run: () => unknown): Promise<Outcome> {
    try {
      return { value: await run() };
    } catch (error) {
      return { code: (error as PipelineError).code };
    }
  }

  async function outcomes(expression: CompiledExpression, data: unknown): Promise<Outcome[]> {
    return [await outcome(() => expression.selectMany(data)), await outcome(() => expression.selectOne(data))];
  }

  // Keys include the names jsonata treats specially (`outerWrapper`, function flags) and an index-like key.
  const key = fc.constantFrom('a', 'b', '0', 'outerWrapper', '_jsonata_lambda');
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: -3, max: 3 }),
      fc.constantFrom('', 'x'),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(key, tie('value'), { maxKeys: 4 }),
    ),
  }));
  const path = fc
    .record({ rooted: fc.boolean(), names: fc.array(key, { maxLength: 4 }) })
    .filter(({ rooted, names }) => rooted || names.length > 0)
    .map(({ rooted, names }) => {
      const steps = names.map((name) => `\`${name}\``);
      return rooted ? ['$', ...steps].join('.') : steps.join('.');
    });

  it('gives the same matches, single values and errors for random paths and documents', async () => {
    await fc.assert(
      fc.asyncProperty(path, value, fc.constantFrom(3, 10_000), async (source, data, maxSequence) => {
        const fast = compileJsonata(source, { maxSequence });
        const reference = compileJsonata(source, { maxSequence, fastPath: false });
        expect(fast.isAsync).toBe(false);
        expect(reference.isAsync).toBe(true);
        expect(await outcomes(fast, data)).toEqual(await outcomes(reference, data));
      }),
      { numRuns: 2000 },
    );
  });
});
