/**
 * JSONPath with the semantics of Newtonsoft.Json 13 `SelectTokens`/`SelectToken`, which MedTech uses for device
 * mappings (medtech-reference §5.1). Expressions are parsed when the mapping loads — syntax errors surface then,
 * not per message — and compiled to closures that are evaluated without re-parsing.
 */

import { ErrorCode, PipelineError } from '../../../errors';
import { ExpressionLanguage } from '../expression';
import type { SyncExpression } from '../expression';
import type { Getter, Sink, Step } from './compile';
import { compileGetter, compileSteps, resetScratch } from './compile';
import { JsonPathFault, JsonPathLimitExceeded, JsonPathSyntaxError } from './fault';
import { parseJsonPath } from './parse';
import { PropertyToken, setBodyDatePredicate } from './tokens';

/** Per-message facts an evaluation may need. */
export interface JsonPathEvaluationOptions {
  /**
   * Whether a string is one Newtonsoft would have read as a date token in the message body (the envelope keeps such
   * strings as strings; see `createBodyDateIndex`). Filters then compare it as a date: `==` against its ISO text,
   * `<`/`>` by instant, never matched by `=~`. Without it, body strings compare as strings.
   */
  readonly isBodyDate?: (s: string) => boolean;
}

/** A compiled JSONPath expression: a {@link SyncExpression} whose selections accept evaluation options. */
export interface JsonPathExpression extends SyncExpression {
  /**
   * `SelectTokens`: every token selected, in Newtonsoft's order.
   * @param scope - the JSON value `$` denotes
   * @param options - per-message facts (body dates)
   */
  selectMany(scope: unknown, options?: JsonPathEvaluationOptions): unknown[];
  /**
   * `SelectToken`: the single token selected, `undefined` for none; several → `EXPRESSION_MULTIPLE_TOKENS`.
   * @param scope - the JSON value `$` denotes
   * @param options - per-message facts (body dates)
   */
  selectOne(scope: unknown, options?: JsonPathEvaluationOptions): unknown;
}

/**
 * Compiles a JSONPath expression.
 * @param source - the expression exactly as written in the mapping
 * @returns the compiled expression; `selectMany` is `SelectTokens`, `selectOne` is `SelectToken`
 * @throws PipelineError `TEMPLATE_EXPRESSION_INVALID` (details: `expression`, 0-based `position`) for a syntax error
 */
export function compileJsonPath(source: string): JsonPathExpression {
  try {
    const segments = parseJsonPath(source);
    return new CompiledJsonPath(source, compileGetter(segments), compileSteps(segments));
  } catch (error) {
    if (error instanceof JsonPathSyntaxError) {
      throw new PipelineError(
        ErrorCode.TemplateExpressionInvalid,
        `The JsonPath expression ${source} could not be parsed at position ${error.position}: ${error.message}`,
        { details: { expression: source, position: error.position }, cause: error },
      );
    }
    throw error;
  }
}

/**
 * Collects all tokens of a select-many. One per compiled expression, reused (evaluations are synchronous and never
 * nested); the array is made on the first token, so a scan that selects nothing allocates nothing but its result.
 */
class AllTokensSink implements Sink {
  tokens: unknown[] | undefined = undefined;
  emit(token: unknown): boolean {
    if (token instanceof PropertyToken) {
      throw memberSelected();
    }
    const tokens = (this.tokens ??= []);
    if (tokens.length >= MAX_JSONPATH_MATCHES) {
      throw new JsonPathLimitExceeded(`it selected more than ${MAX_JSONPATH_MATCHES} tokens`);
    }
    tokens.push(token);
    return false;
  }
}

/** Tokens a select-many returns at most (as for JMESPath and JSONata): each becomes a measurement. */
export const MAX_JSONPATH_MATCHES = 100_000;

/** `SelectToken`: remembers the first token and fails at the second, like Newtonsoft. */
class SingleTokenSink implements Sink {
  count = 0;
  token: unknown = undefined;
  private readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
  emit(token: unknown): boolean {
    if (this.count !== 0) {
      throw new PipelineError(
        ErrorCode.ExpressionMultipleTokens,
        `Unable to retrieve JsonToken using expression ${this.source}: Path returned multiple tokens.`,
        { details: { expression: this.source } },
      );
    }
    this.count = 1;
    this.token = token;
    return false;
  }
}

/**
 * A filter applied to an object, or a `..[?()]` scan, can select an object member (Newtonsoft `JProperty`) when its
 * predicate holds for one — `[?(@)]`, `[?($.x)]`. MedTech cannot use such a token either (it fails adding it to the
 * envelope or converting it), so it is reported as an evaluation failure.
 */
function memberSelected(): JsonPathFault {
  return new JsonPathFault('ArgumentException', 'the path selected an object member (a name/value pair), not a value');
}

class CompiledJsonPath implements JsonPathExpression {
  readonly language = ExpressionLanguage.JsonPath;
  readonly isAsync = false;
  readonly source: string;
  private readonly getter: Getter | undefined;
  private readonly step: Step;
  private readonly single: SingleTokenSink;
  private readonly all = new AllTokensSink();

  constructor(source: string, getter: Getter | undefined, step: Step) {
    this.source = source;
    this.getter = getter;
    this.step = step;
    this.single = new SingleTokenSink(source);
  }

  selectMany(scope: unknown, options?: JsonPathEvaluationOptions): unknown[] {
    if (this.getter !== undefined) {
      try {
        const token = this.getter(scope, scope);
        return token === undefined ? [] : [token];
      } catch (error) {
        throw this.translate(error, 'JsonTokens');
      }
    }
    const sink = this.all;
    try {
      setBodyDatePredicate(options?.isBodyDate);
      this.step(scope, scope, sink);
      return sink.tokens ?? [];
    } catch (error) {
      throw this.translate(error, 'JsonTokens');
    } finally {
      sink.tokens = undefined;
      setBodyDatePredicate(undefined);
      resetScratch();
    }
  }

  selectOne(scope: unknown, options?: JsonPathEvaluationOptions): unknown {
    if (this.getter !== undefined) {
      try {
        return this.getter(scope, scope);
      } catch (error) {
        throw this.translate(error, 'JsonToken');
      }
    }
    const sink = this.single;
    sink.count = 0;
    sink.token = undefined;
    try {
      setBodyDatePredicate(options?.isBodyDate);
      this.step(scope, scope, sink);
      if (sink.token instanceof PropertyToken) {
        throw memberSelected();
      }
      return sink.token;
    } catch (error) {
      throw this.translate(error, 'JsonToken');
    } finally {
      sink.token = undefined;
      setBodyDatePredicate(undefined);
      resetScratch();
    }
  }

  private translate(error: unknown, what: 'JsonToken' | 'JsonTokens'): unknown {
    if (error instanceof JsonPathLimitExceeded) {
      return new PipelineError(
        ErrorCode.ExpressionLimitExceeded,
        `The JsonPath expression ${this.source} exceeded the engine's limits: ${error.message}.`,
        { details: { expression: this.source }, cause: error },
      );
    }
    if (!(error instanceof JsonPathFault)) {
      return error;
    }
    return new PipelineError(
      ErrorCode.ExpressionFailed,
      `Unable to retrieve ${what} using expression ${this.source}: ${error.message} (${error.dotnetException}).`,
      { details: { expression: this.source, dotnetException: error.dotnetException }, cause: error },
    );
  }
}
