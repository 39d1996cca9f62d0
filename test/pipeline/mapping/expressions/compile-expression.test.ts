import { ErrorCode, PipelineError } from '../../../../src/pipeline/errors';
import {
  compileExpression,
  parseExpressionLanguage,
} from '../../../../src/pipeline/mapping/expressions/compile-expression';
import { ExpressionLanguage } from '../../../../src/pipeline/mapping/expressions/expression';

describe('parseExpressionLanguage', () => {
  it.each([
    ['JsonPath', 'JsonPath'],
    ['jsonpath', 'JsonPath'],
    ['JSONPATH', 'JsonPath'],
    ['JmesPath', 'JmesPath'],
    ['jmespath', 'JmesPath'],
    ['JMESPath', 'JmesPath'],
    ['JsonAta', 'JsonAta'],
    ['jsonata', 'JsonAta'],
    ['JSONata', 'JsonAta'],
    [' JmesPath ', 'JmesPath'],
    ['Jmes Path', undefined],
    ['XPath', undefined],
    ['', undefined],
  ])('%j is %s', (name, expected) => {
    expect(parseExpressionLanguage(name)).toBe(expected);
  });
});

describe('compileExpression', () => {
  const envelope = { Body: { heartRate: 72 } };

  it.each([
    [ExpressionLanguage.JsonPath, '$.Body.heartRate'],
    [ExpressionLanguage.JmesPath, 'Body.heartRate'],
    [ExpressionLanguage.JsonAta, 'Body.heartRate'],
  ])('compiles %s with its own engine', async (language, source) => {
    const expression = compileExpression(language, source);
    expect(expression).toMatchObject({ language, source });
    expect(await expression.selectOne(envelope)).toBe(72);
  });

  it('tells the languages apart', () => {
    // `$` is JSONPath and JSONata syntax; JmesPath.Net (and therefore this project) rejects it in JMESPath.
    expect(() => compileExpression(ExpressionLanguage.JmesPath, '$.Body.heartRate')).toThrow(PipelineError);
    expect(compileExpression(ExpressionLanguage.JsonAta, '$.Body.heartRate').isAsync).toBe(false);
  });

  it('passes JSONata guardrails through', async () => {
    const expression = compileExpression(ExpressionLanguage.JsonAta, '$count([1..10])', { maxSequence: 5 });
    await expect(expression.selectOne({})).rejects.toMatchObject({ code: ErrorCode.ExpressionLimitExceeded });
  });
});
