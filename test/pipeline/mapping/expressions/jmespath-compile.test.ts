import { isDeepStrictEqual } from 'node:util';

import { compile, TreeInterpreter } from '@jmespath-community/jmespath';
import fc from 'fast-check';

// Importing the engine registers MedTech's custom functions, which compiled calls must reach too.
import '../../../../src/pipeline/mapping/expressions/jmespath';
import { compileJmesNode } from '../../../../src/pipeline/mapping/expressions/jmespath-compile';

type Outcome = { readonly value: unknown } | { readonly error: string };

function outcome(run: () => unknown): Outcome {
  try {
    return { value: run() };
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

/** Both evaluations of an expression on a value: the compiled closure and the library's interpreter. */
function evaluateBoth(expression: string, data: unknown): { compiled: Outcome; library: Outcome } | undefined {
  const ast = compile(expression, { enable_legacy_literals: true });
  const evaluator = compileJmesNode(ast);
  if (evaluator === undefined) {
    return undefined;
  }
  return {
    compiled: outcome(() => evaluator(data)),
    library: outcome(() => TreeInterpreter.search(ast, data as never)),
  };
}

const NAMES = ['a', 'b', 'spo2', 'null', 'length', 'constructor'] as const;

/** JMESPath expressions over the supported node types, as text. */
const expressions: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...NAMES),
    fc.constantFrom('@', '`1`', '`"a"`', '`null`', '`[1,2]`', '`{"a":1}`', "'text'"),
    fc.tuple(tie('expr'), fc.constantFrom(...NAMES)).map(([e, n]) => `${e}.${n}`),
    fc.tuple(tie('expr'), fc.integer({ min: -2, max: 2 })).map(([e, i]) => `${e}[${i}]`),
    fc
      .tuple(tie('expr'), fc.constantFrom('==', '!=', '<', '<=', '>', '>='), tie('expr'))
      .map(([l, op, r]) => `(${l} ${op} ${r})`),
    tie('expr').map((e) => `!(${e})`),
    fc.tuple(tie('expr'), fc.constantFrom('&&', '||', '|'), tie('expr')).map(([l, op, r]) => `(${l} ${op} ${r})`),
    fc.tuple(tie('expr'), tie('expr')).map(([l, r]) => `${l}[*].${r}`),
    fc.tuple(tie('expr'), tie('expr')).map(([l, c]) => `${l}[?${c}]`),
    tie('expr').map((e) => `${e}[]`),
    fc.tuple(tie('expr'), tie('expr')).map(([x, y]) => `[${x}, ${y}]`),
    fc
      .tuple(fc.constantFrom('to_array', 'length', 'abs', 'type', 'keys', 'not_null', 'sum'), tie('expr'))
      .map(([f, e]) => `${f}(${e})`),
    fc
      .tuple(fc.constantFrom('add', 'multiply', 'divide', 'contains'), tie('expr'), tie('expr'))
      .map(([f, x, y]) => `${f}(${x}, ${y})`),
  ),
})).expr;

const documents: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, 1, -2.5, 97, '', 'x'),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...NAMES), tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('compiled JMESPath', () => {
  it('gives exactly what the library interpreter gives, errors included', () => {
    let compared = 0;
    fc.assert(
      fc.property(expressions, documents, (expression, data) => {
        let both: ReturnType<typeof evaluateBoth>;
        try {
          both = evaluateBoth(expression, data);
        } catch {
          return; // the generator also produces text the parser rejects
        }
        if (both !== undefined) {
          compared++;
          expect(both.compiled).toEqual(both.library);
          expect(isDeepStrictEqual(both.compiled, both.library)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
    expect(compared).toBeGreaterThan(1000);
  });

  it.each([
    ['a field path', 'matchedToken.heartRate', { matchedToken: { heartRate: 72 } }, 72],
    ['a missing member', 'matchedToken.spo2', { matchedToken: { heartRate: 72 } }, null],
    ['an inherited member, as the library reads it', 'a.constructor', { a: {} }, Object],
    ['a type match filter', 'to_array(Body)[?spo2 != null]', { Body: { spo2: 97 } }, [{ spo2: 97 }]],
    ['a filter that rejects', 'to_array(Body)[?spo2 != null]', { Body: { hr: 60 } }, []],
    ['a custom function', 'multiply(matchedToken.g, `18`)', { matchedToken: { g: 5.5 } }, 99],
  ])('compiles %s', (_, expression, data, expected) => {
    const both = evaluateBoth(expression, data);
    expect(both?.compiled).toEqual({ value: expected });
    expect(both?.library).toEqual({ value: expected });
  });

  it.each([
    ['a slice', 'a[0:2]'],
    ['an expression reference', 'sort_by(a, &b)'],
    ['a hash', '{x: a}'],
    ['a value projection', 'a.*'],
  ])('leaves %s to the library', (_, expression) => {
    expect(compileJmesNode(compile(expression))).toBeUndefined();
  });

  it('reports a function error as the library does', () => {
    const both = evaluateBoth('divide(a, `0`)', { a: 1 });
    expect(both?.compiled).toEqual(both?.library);
    expect(both?.compiled).toHaveProperty('error');
  });
});
