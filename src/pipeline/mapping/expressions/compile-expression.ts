/**
 * Chooses the engine for an expression's language (medtech-reference §3.3): the one place that knows all three.
 */

import { ExpressionLanguage } from './expression';
import type { CompiledExpression } from './expression';
import { compileJmesPath } from './jmespath';
import { compileJsonata } from './jsonata';
import type { JsonataLimits } from './jsonata';
import { compileJsonPath } from './jsonpath/index';

const LANGUAGES_BY_LOWER_CASE_NAME: ReadonlyMap<string, ExpressionLanguage> = new Map(
  Object.values(ExpressionLanguage).map((language) => [language.toLowerCase(), language]),
);

/**
 * Compiles an expression once, when its mapping loads. Invalid expressions throw
 * `PipelineError(TEMPLATE_EXPRESSION_INVALID)` where the engine can tell at load time.
 *
 * @param language - the expression's language
 * @param source - the expression text as written in the mapping
 * @param jsonata - guardrails for JSONata expressions (defaults apply when omitted)
 */
export function compileExpression(
  language: ExpressionLanguage,
  source: string,
  jsonata?: JsonataLimits,
): CompiledExpression {
  switch (language) {
    case ExpressionLanguage.JsonPath:
      return compileJsonPath(source);
    case ExpressionLanguage.JmesPath:
      return compileJmesPath(source);
    case ExpressionLanguage.JsonAta:
      return compileJsonata(source, jsonata);
  }
}

/**
 * Reads a language name as mappings spell it: MedTech's enum names `JsonPath` and `JmesPath`, plus our `JsonAta`,
 * case-insensitively (surrounding whitespace is ignored). Returns undefined for anything else.
 *
 * @param name - the `language` or `defaultExpressionLanguage` value of a mapping
 */
export function parseExpressionLanguage(name: string): ExpressionLanguage | undefined {
  return LANGUAGES_BY_LOWER_CASE_NAME.get(name.trim().toLowerCase());
}
