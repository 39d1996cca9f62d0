/**
 * JSONata expressions (language `JsonAta`, our addition beyond MedTech) on jsonata 2.2.2, always with the
 * engine's guardrails (evaluation timeout, call depth, sequence length).
 *
 * jsonata 2.x only evaluates asynchronously, which costs a lot per message. A plain field path (`Body.heartRate`,
 * `$.a.b`, `$`) is therefore evaluated synchronously by direct property access, reproducing JSONata's sequence
 * semantics for that path shape exactly (arrays met along the path are mapped and flattened as JSONata does; a
 * differential test checks it against jsonata itself). Anything else goes through jsonata's evaluator.
 *
 * Determinism: `$now`, `$millis` and `$random` would make normalization irreproducible and `$eval` would run
 * text from the message as an expression without guardrails, so expressions referring to them are rejected when
 * they load.
 *
 * Concurrency: the timeout measures wall-clock time from the start of one evaluation, and jsonata yields to other
 * promises between steps, so time spent by concurrent work (other invocations in the same worker, garbage
 * collection) counts too. The default is therefore generous: it exists to stop runaway expressions, not to police
 * slow ones, and a spurious timeout would fail a good message as a template error. Await evaluations one at a time.
 */

import { nestsRepetition } from './regex-safety';
import jsonata from 'jsonata';

import { ErrorCode, PipelineError } from '../../errors';
import { ExpressionLanguage } from './expression';
import type { CompiledExpression } from './expression';

/** JSONata guardrails. */
export interface JsonataLimits {
  /** Evaluation timeout in milliseconds (jsonata `timeout`, error D1012). */
  readonly timeoutMs?: number;
  /** Maximum evaluation depth (jsonata `stack`, error D1011). */
  readonly maxDepth?: number;
  /** Maximum length of any sequence built during evaluation (jsonata `sequence`, error D2015). */
  readonly maxSequence?: number;
}

/** Options of {@link compileJsonata}. */
export interface CompileJsonataOptions extends JsonataLimits {
  /**
   * Evaluate plain field paths synchronously (default `true`). `false` forces jsonata's own evaluator, which the
   * differential tests and the mapping debugger use as the reference.
   */
  readonly fastPath?: boolean;
}

/** The guardrails used when none are given. */
export const DEFAULT_JSONATA_LIMITS: Required<JsonataLimits> = {
  timeoutMs: 1000,
  maxDepth: 200,
  maxSequence: 10_000,
};

/** Upper bound on the matches one type-match expression may yield for one message. */
export const MAX_JSONATA_MATCHES = 100_000;

/** Functions whose results depend on the clock or on chance, or that evaluate text as an expression. */
const FORBIDDEN_FUNCTIONS: ReadonlySet<string> = new Set(['now', 'millis', 'random', 'eval']);

/** Error codes of jsonata's guardrails (and of its fixed range limit). */
const LIMIT_CODES: ReadonlySet<string> = new Set(['D1011', 'D1012', 'D2014', 'D2015']);

/** What jsonata throws: an object literal with a code, a position, sometimes a token and offending values. */
interface JsonataFailure {
  readonly code: string;
  readonly position?: number;
  readonly token?: unknown;
  readonly message?: unknown;
  readonly value?: unknown;
  readonly value2?: unknown;
  readonly exp?: unknown;
}

function isJsonataFailure(error: unknown): error is JsonataFailure {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string';
}

function engineDetails(source: string, failure: JsonataFailure): Record<string, unknown> {
  const details: Record<string, unknown> = { expression: source, engineCode: failure.code };
  if (typeof failure.position === 'number') {
    details.position = failure.position;
  }
  if (typeof failure.token === 'string') {
    details.token = failure.token;
  }
  return details;
}

function parseError(source: string, reason: string, details: Record<string, unknown>): PipelineError {
  return new PipelineError(
    ErrorCode.TemplateExpressionInvalid,
    `The following JsonAta expression could not be parsed: ${source}. Cause: ${reason}`,
    { details: { ...details, expression: source } },
  );
}

/**
 * jsonata's message without the data it quotes: `{{value}}`-style placeholders are filled with
 * `JSON.stringify(value)`, so those exact texts are cut out again; `$error`/`$assert` messages are dropped whole.
 */
function redactedMessage(failure: JsonataFailure): string {
  if (failure.code === 'D3137' || failure.code === 'D3141') {
    return failure.code === 'D3137' ? 'the expression called $error()' : 'an $assert() condition was false';
  }
  let message = typeof failure.message === 'string' ? failure.message : '';
  for (const quoted of [failure.value, failure.value2, failure.exp]) {
    let text: string | undefined;
    try {
      text = JSON.stringify(quoted);
    } catch {
      text = undefined;
    }
    if (text !== undefined && text !== '') {
      message = message.split(text).join('<value>');
    }
  }
  return message;
}

/** Translates anything an evaluation threw into a PipelineError that keeps jsonata's code and position, never data. */
function evaluationError(source: string, error: unknown): PipelineError {
  if (error instanceof PipelineError) {
    return error;
  }
  if (isJsonataFailure(error)) {
    const limit = LIMIT_CODES.has(error.code);
    return new PipelineError(
      limit ? ErrorCode.ExpressionLimitExceeded : ErrorCode.ExpressionFailed,
      // Guardrail messages quote our own limits, not data.
      `The JsonAta expression ${source} failed: ${error.code}: ${limit ? String(error.message) : redactedMessage(error)}`,
      { details: engineDetails(source, error) },
    );
  }
  if (error instanceof RangeError) {
    return new PipelineError(
      ErrorCode.ExpressionLimitExceeded,
      `The JsonAta expression ${source} exceeded the engine's limits: ${error.message}`,
      { details: { expression: source } },
    );
  }
  // Engine TypeErrors (e.g. a bigint in arithmetic) are reported without their message, which could quote data.
  const kind = error instanceof Error ? error.name : typeof error;
  return new PipelineError(ErrorCode.ExpressionFailed, `The JsonAta expression ${source} failed (${kind}).`, {
    details: { expression: source },
  });
}

/**
 * Rejects references to clock, randomness and `$eval`, wherever they appear (calls, arguments, bindings), and regular
 * expressions that can backtrack for exponential time.
 */
function assertDeterministic(source: string, ast: unknown): void {
  const seen = new Set<object>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) {
      return;
    }
    seen.add(node);
    const record = node as Record<string, unknown>;
    if (record.type === 'regex' && record.value instanceof RegExp && nestsRepetition(record.value.source)) {
      throw parseError(
        source,
        'a regular expression repeats a group that itself repeats (such as (a+)+), which backtracks for exponential ' +
          'time on some inputs; rewrite it without the nesting.',
        { position: record.position },
      );
    }
    if (record.type === 'variable' && typeof record.value === 'string' && FORBIDDEN_FUNCTIONS.has(record.value)) {
      throw parseError(
        source,
        `$${record.value} is not allowed: mapping expressions must give the same result every time they run.`,
        { position: record.position },
      );
    }
    for (const child of Object.values(record)) {
      visit(child);
    }
  };
  visit(ast);
}

/** A plain field path: optionally rooted at `$`, then zero or more member names. */
interface FieldPath {
  readonly rooted: boolean;
  readonly names: readonly string[];
}

function hasOnlyKeys(node: object, allowed: readonly string[]): boolean {
  return Object.keys(node).every((key) => allowed.includes(key));
}

const STEP_KEYS = ['type', 'value', 'position'];

/** The parts of jsonata's AST the fast path looks at (its typings omit the `path` node type). */
interface AstNode {
  readonly type: string;
  readonly value?: unknown;
  readonly steps?: readonly AstNode[];
}

function isContextVariable(node: AstNode): boolean {
  return node.type === 'variable' && node.value === '' && hasOnlyKeys(node, STEP_KEYS);
}

/** The field path an AST denotes, or undefined when it is anything more (predicates, wildcards, functions…). */
function fieldPathOf(ast: AstNode): FieldPath | undefined {
  if (isContextVariable(ast)) {
    return { rooted: true, names: [] };
  }
  if (ast.type !== 'path' || !hasOnlyKeys(ast, ['type', 'steps']) || ast.steps === undefined) {
    return undefined;
  }
  const [first, ...rest] = ast.steps;
  if (first === undefined) {
    return undefined;
  }
  const rooted = isContextVariable(first);
  const names: string[] = [];
  for (const step of rooted ? rest : ast.steps) {
    if (step.type !== 'name' || typeof step.value !== 'string' || !hasOnlyKeys(step, STEP_KEYS)) {
      return undefined;
    }
    names.push(step.value);
  }
  return rooted && names.length === 0 ? undefined : { rooted, names };
}

// ---- Synchronous evaluation of a field path with JSONata's semantics ----------------------------------------------

const SEQUENCE = Symbol('jsonata-sequence');

/** jsonata's sequence: an array flagged as such (results of mapping over arrays, flattened at each step). */
type Sequence = unknown[] & { [SEQUENCE]?: true };

function isSequence(value: unknown): value is Sequence {
  return Array.isArray(value) && (value as Sequence)[SEQUENCE] === true;
}

/** jsonata treats objects flagged as its function values as opaque (`isFunction` in its `lookup`). */
function isFunctionLike(value: object): boolean {
  const flags = value as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return flags._jsonata_function === true || flags._jsonata_lambda === true;
}

/** jsonata's test for its outer-wrapper sequence (`input && input.outerWrapper`), applied to any value. */
function hasOuterWrapperFlag(value: unknown): boolean {
  return Boolean(value) && Boolean((value as { outerWrapper?: unknown }).outerWrapper);
}

function lookupOwn(value: unknown, name: string): unknown {
  if (
    value === null ||
    typeof value !== 'object' ||
    isFunctionLike(value) ||
    !Object.prototype.hasOwnProperty.call(value, name)
  ) {
    return undefined;
  }
  return (value as Record<string, unknown>)[name];
}

/** Evaluates field paths the way jsonata 2.2.2's `evaluatePath`/`evaluateStep`/`lookup` do. */
class SequenceEvaluator {
  private readonly limit: number;
  private readonly source: string;

  constructor(source: string, limit: number) {
    this.source = source;
    this.limit = limit;
  }

  private sequence(): Sequence {
    const s: Sequence = [];
    s[SEQUENCE] = true;
    return s;
  }

  private push(sequence: Sequence, value: unknown): void {
    if (this.limit > 0 && sequence.length >= this.limit) {
      throw new PipelineError(
        ErrorCode.ExpressionLimitExceeded,
        `The JsonAta expression ${this.source} failed: D2015: The maximum sequence length of ${this.limit} was exceeded.`,
        { details: { expression: this.source, engineCode: 'D2015' } },
      );
    }
    sequence.push(value);
  }

  /** `evaluate()`'s unwrapping of sequences: empty is undefined, a singleton is its item. */
  private unwrap(value: unknown): unknown {
    if (isSequence(value)) {
      if (value.length === 0) {
        return undefined;
      }
      if (value.length === 1) {
        return value[0];
      }
    }
    return value;
  }

  /** `lookup`: arrays map (recursively) and flatten one level; objects give their own member. */
  private lookup(input: unknown, name: string): unknown {
    if (!Array.isArray(input)) {
      return lookupOwn(input, name);
    }
    const result = this.sequence();
    for (const item of input as unknown[]) {
      const found = this.lookup(item, name);
      if (found === undefined) {
        continue;
      }
      if (Array.isArray(found)) {
        for (const value of found as unknown[]) {
          this.push(result, value);
        }
      } else {
        this.push(result, found);
      }
    }
    return result;
  }

  /** `evaluateStep`: applies one step to every item, then flattens (a lone array at the last step is kept). */
  private step(input: readonly unknown[], apply: (item: unknown) => unknown, lastStep: boolean): unknown[] {
    const results = this.sequence();
    for (const item of input) {
      const value = apply(item);
      if (value !== undefined) {
        this.push(results, value);
      }
    }
    const only = results[0];
    if (lastStep && results.length === 1 && Array.isArray(only) && !isSequence(only)) {
      return only;
    }
    const flattened = this.sequence();
    for (const value of results) {
      if (Array.isArray(value)) {
        for (const item of value as unknown[]) {
          this.push(flattened, item);
        }
      } else {
        this.push(flattened, value);
      }
    }
    return flattened;
  }

  evaluate(path: FieldPath, scope: unknown): unknown {
    // jsonata wraps an array input in a one-item "outer wrapper" sequence; `$` unwraps it again.
    const contextValue = (item: unknown): unknown =>
      Array.isArray(item) ? item : hasOuterWrapperFlag(item) ? (item as Record<string, unknown>)[0] : item;
    if (path.names.length === 0) {
      return contextValue(scope);
    }
    const start = this.sequence();
    this.push(start, scope);
    let input: unknown[] = start;
    if (path.rooted) {
      input = this.step(input, contextValue, false);
    }
    for (let i = 0; i < path.names.length && input.length > 0; i++) {
      const name = path.names[i] as string;
      input = this.step(input, (item) => this.unwrap(this.lookup(item, name)), i === path.names.length - 1);
    }
    return this.unwrap(input);
  }
}

/**
 * The common case without building sequences: objects all the way down. Returns `BAIL` when an array (or
 * jsonata's outer-wrapper quirk) is met, in which case the full sequence semantics apply.
 */
const BAIL = Symbol('bail');

function evaluateDirect(path: FieldPath, scope: unknown): unknown {
  let value = scope;
  if (path.rooted && (Array.isArray(value) || hasOuterWrapperFlag(value))) {
    return BAIL;
  }
  for (const name of path.names) {
    if (Array.isArray(value)) {
      return BAIL;
    }
    value = lookupOwn(value, name);
    if (value === undefined) {
      return undefined;
    }
  }
  return Array.isArray(value) ? BAIL : value;
}

// ---- Results --------------------------------------------------------------------------------------------------------

function isFunctionValue(value: unknown): boolean {
  return typeof value === 'function' || (typeof value === 'object' && value !== null && isFunctionLike(value));
}

function notJson(source: string): PipelineError {
  return new PipelineError(
    ErrorCode.ExpressionFailed,
    `The JsonAta expression ${source} returned a function instead of a JSON value.`,
    { details: { expression: source } },
  );
}

/** select-many: an array (sequence) gives each non-null item, a single non-null value one match, undefined none. */
function toMatches(source: string, result: unknown): unknown[] {
  if (result === undefined || result === null) {
    return [];
  }
  if (!Array.isArray(result)) {
    if (isFunctionValue(result)) {
      throw notJson(source);
    }
    return [result];
  }
  if (result.length > MAX_JSONATA_MATCHES) {
    throw new PipelineError(
      ErrorCode.ExpressionLimitExceeded,
      `The JsonAta expression ${source} returned more than ${MAX_JSONATA_MATCHES} matches.`,
      { details: { expression: source } },
    );
  }
  const matches: unknown[] = [];
  for (const item of result as unknown[]) {
    if (item === null || item === undefined) {
      continue;
    }
    if (isFunctionValue(item)) {
      throw notJson(source);
    }
    matches.push(item);
  }
  return matches;
}

/** select-one: undefined is nothing; an array of two or more items is an error; a singleton is its item. */
function toSingle(source: string, result: unknown): unknown {
  if (Array.isArray(result)) {
    if (result.length > 1) {
      throw new PipelineError(
        ErrorCode.ExpressionMultipleTokens,
        `Multiple tokens were returned using expression ${source}`,
        { details: { expression: source } },
      );
    }
    result = result[0];
  }
  if (isFunctionValue(result)) {
    throw notJson(source);
  }
  return result;
}

/**
 * Compiles a JSONata expression with guardrails. Syntax errors and references to `$now`, `$millis`, `$random` or
 * `$eval` throw `PipelineError(TEMPLATE_EXPRESSION_INVALID)` with jsonata's code and position in the details.
 * Evaluation errors become EXPRESSION_FAILED, or EXPRESSION_LIMIT_EXCEEDED for the guardrails.
 *
 * Plain field paths compile to a {@link SyncExpression}; everything else to an {@link AsyncExpression}.
 *
 * @param source - the expression text as written in the mapping
 * @param options - guardrails (defaults: {@link DEFAULT_JSONATA_LIMITS}) and the fast-path switch
 */
export function compileJsonata(source: string, options: CompileJsonataOptions = {}): CompiledExpression {
  const limits: Required<JsonataLimits> = {
    timeoutMs: options.timeoutMs ?? DEFAULT_JSONATA_LIMITS.timeoutMs,
    maxDepth: options.maxDepth ?? DEFAULT_JSONATA_LIMITS.maxDepth,
    maxSequence: options.maxSequence ?? DEFAULT_JSONATA_LIMITS.maxSequence,
  };
  let expression: jsonata.Expression;
  try {
    expression = jsonata(source, { timeout: limits.timeoutMs, stack: limits.maxDepth, sequence: limits.maxSequence });
  } catch (error) {
    if (isJsonataFailure(error)) {
      throw parseError(source, `${error.code}: ${redactedMessage(error)}`, engineDetails(source, error));
    }
    throw parseError(source, error instanceof Error ? error.message : 'unknown parse failure', {});
  }
  const ast = expression.ast() as unknown as AstNode;
  assertDeterministic(source, ast);

  const path = options.fastPath === false ? undefined : fieldPathOf(ast);
  if (path !== undefined) {
    const sequences = new SequenceEvaluator(source, limits.maxSequence);
    const evaluate = (scope: unknown): unknown => {
      const direct = evaluateDirect(path, scope);
      if (direct !== BAIL) {
        return direct;
      }
      try {
        return sequences.evaluate(path, scope);
      } catch (error) {
        throw evaluationError(source, error);
      }
    };
    return {
      language: ExpressionLanguage.JsonAta,
      source,
      isAsync: false,
      selectMany: (scope: unknown): unknown[] => toMatches(source, evaluate(scope)),
      selectOne: (scope: unknown): unknown => toSingle(source, evaluate(scope)),
    };
  }

  const evaluate = async (scope: unknown): Promise<unknown> => {
    try {
      return (await expression.evaluate(scope)) as unknown;
    } catch (error) {
      throw evaluationError(source, error);
    }
  };
  return {
    language: ExpressionLanguage.JsonAta,
    source,
    isAsync: true,
    selectMany: async (scope: unknown): Promise<unknown[]> => toMatches(source, await evaluate(scope)),
    selectOne: async (scope: unknown): Promise<unknown> => toSingle(source, await evaluate(scope)),
  };
}
