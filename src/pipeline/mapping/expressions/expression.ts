/**
 * One interface for the three expression languages (JSONPath with Newtonsoft semantics, JMESPath with MedTech's
 * custom functions, JSONata). Expressions are compiled once, when a mapping loads, never per message.
 */

/** Language names as mappings spell them (matched case-insensitively when loading). */
export const ExpressionLanguage = {
  JsonPath: 'JsonPath',
  JmesPath: 'JmesPath',
  JsonAta: 'JsonAta',
} as const;

/** A supported expression language. */
export type ExpressionLanguage = (typeof ExpressionLanguage)[keyof typeof ExpressionLanguage];

/** Per-message facts an evaluation may need. */
export interface EvaluationContext {
  /** Whether a string is one Newtonsoft would have read as a date token in the message body (§2). */
  readonly isBodyDate?: (s: string) => boolean;
}

interface CompiledExpressionBase {
  readonly language: ExpressionLanguage;
  /** The expression text exactly as written in the mapping. */
  readonly source: string;
}

/**
 * An expression evaluated synchronously (JSONPath, JMESPath, and JSONata expressions simple enough to compile to
 * direct property access).
 */
export interface SyncExpression extends CompiledExpressionBase {
  readonly isAsync: false;
  /**
   * Select-many (type matching): every token selected, in document order. Never throws for "no match".
   * @param scope - the JSON value `$` denotes
   * @param context - per-message facts (body date tokens)
   */
  selectMany(scope: unknown, context?: EvaluationContext): unknown[];
  /**
   * Select-one: the single token selected, or `undefined` for nothing. A JSON `null` token is returned as `null`.
   * More than one token throws `PipelineError(EXPRESSION_MULTIPLE_TOKENS)`.
   * @param scope - the JSON value `$` denotes
   * @param context - per-message facts (body date tokens)
   */
  selectOne(scope: unknown, context?: EvaluationContext): unknown;
}

/** An expression whose engine only evaluates asynchronously (general JSONata). Same contract as {@link SyncExpression}. */
export interface AsyncExpression extends CompiledExpressionBase {
  readonly isAsync: true;
  selectMany(scope: unknown, context?: EvaluationContext): Promise<unknown[]>;
  selectOne(scope: unknown, context?: EvaluationContext): Promise<unknown>;
}

/** A compiled expression of any language. */
export type CompiledExpression = SyncExpression | AsyncExpression;
