/**
 * Expression evaluation speed: operations per second for a compiled JMESPath path, a MedTech custom function,
 * a JSONata field path (synchronous fast path) and a general JSONata expression (jsonata's async evaluator).
 * Each figure is the best of three timed rounds after a warm-up round.
 */

import { performance } from 'node:perf_hooks';

import type { CompiledExpression } from '../../src/pipeline/mapping/expressions/expression';
import { compileJmesPath } from '../../src/pipeline/mapping/expressions/jmespath';
import { compileJsonata } from '../../src/pipeline/mapping/expressions/jsonata';

const MESSAGES = Array.from({ length: 1000 }, (_, i) => ({
  matchedToken: {
    heartRate: 60 + (i % 40),
    systolic: 110 + (i % 30),
    diastolic: 70 + (i % 20),
    values: [i, i + 1, i + 2],
  },
}));

async function opsPerSecond(expression: CompiledExpression, iterations: number): Promise<number> {
  let best = 0;
  for (let round = 0; round < 4; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) {
      const message = MESSAGES[i % MESSAGES.length];
      if (expression.isAsync) {
        await expression.selectOne(message);
      } else {
        expression.selectOne(message);
      }
    }
    const elapsedMs = performance.now() - start;
    if (round > 0) {
      best = Math.max(best, (iterations / elapsedMs) * 1000);
    }
  }
  return Math.round(best);
}

/** Runs the benchmark and returns ops/s per case. */
export async function run(): Promise<Record<string, number>> {
  const jsonataField = compileJsonata('matchedToken.heartRate');
  if (jsonataField.isAsync) {
    throw new Error('expected the JSONata field path to take the synchronous fast path');
  }
  return {
    'jmespath path matchedToken.heartRate': await opsPerSecond(compileJmesPath('matchedToken.heartRate'), 1_000_000),
    'jmespath add(matchedToken.systolic, matchedToken.diastolic)': await opsPerSecond(
      compileJmesPath('add(matchedToken.systolic, matchedToken.diastolic)'),
      1_000_000,
    ),
    'jsonata fast path matchedToken.heartRate': await opsPerSecond(jsonataField, 1_000_000),
    'jsonata general $sum(matchedToken.values) / $count(matchedToken.values)': await opsPerSecond(
      compileJsonata('$sum(matchedToken.values) / $count(matchedToken.values)'),
      20_000,
    ),
  };
}
