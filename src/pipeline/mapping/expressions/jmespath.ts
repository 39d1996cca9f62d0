/**
 * JMESPath expressions as MedTech evaluates them (JmesPath.Net 1.0.205 plus MedTech's custom functions,
 * medtech-reference §3.3, §5.1, §5.2), on `@jmespath-community/jmespath`: parsed once when a mapping loads, then
 * evaluated by closures compiled from the AST (jmespath-compile.ts), or by `TreeInterpreter.search` for the rare
 * node types those do not cover.
 *
 * The community library accepts more than JmesPath.Net 1.0.205 did: arithmetic operators, `$` root references,
 * `let` variables, the ternary operator and extra functions (`lower`, `split`, …). Mappings using them are rejected
 * when they load, as MedTech rejects them (policy §0.2); that also keeps every evaluation linear in the size of the
 * input (no `$`-based cross products).
 *
 * Known nuances against JmesPath.Net: date-like strings of a message body are plain strings here (MedTech's
 * Newtonsoft reader makes them date tokens, which fail `insertString`'s string check); a date token returned by
 * `fromUnixTimestamp*` reaches built-ins as an object (`type()` says `object`, MedTech says `string`); JSON `null`
 * elements of a projection are dropped (`[*]`/`[]` at the very end of a JmesPath.Net expression keep them).
 */

import { compile, TreeInterpreter } from '@jmespath-community/jmespath';
import type { JSONValue } from '@jmespath-community/jmespath';

import { ErrorCode, PipelineError } from '../../errors';
import { ExpressionLanguage } from './expression';
import type { SyncExpression } from './expression';
import { compileJmesNode } from './jmespath-compile';
import { MEDTECH_JMESPATH_FUNCTIONS, registerJmesPathFunctions } from './jmespath-functions';

registerJmesPathFunctions();

type JmesNode = ReturnType<typeof compile>;

/** Upper bound on the matches one type-match expression may yield for one message. */
export const MAX_JMESPATH_MATCHES = 100_000;

/** The built-in functions of JmesPath.Net 1.0.205 (the JMESPath specification's set, §5.1). */
const BUILT_IN_FUNCTIONS: ReadonlySet<string> = new Set([
  'abs',
  'avg',
  'ceil',
  'contains',
  'ends_with',
  'floor',
  'join',
  'keys',
  'length',
  'map',
  'max',
  'max_by',
  'merge',
  'min',
  'min_by',
  'not_null',
  'reverse',
  'sort',
  'sort_by',
  'starts_with',
  'sum',
  'to_array',
  'to_number',
  'to_string',
  'type',
  'values',
]);

/** Syntax of the community library that JmesPath.Net 1.0.205 does not have, with a readable name. */
const UNSUPPORTED_SYNTAX: Readonly<Record<string, string>> = {
  Root: 'the root reference `$`',
  Variable: 'variables',
  LetExpression: '`let` expressions',
  Binding: '`let` expressions',
  Ternary: 'the ternary operator `? :`',
  Arithmetic: 'arithmetic operators (use add, subtract, multiply, divide)',
  Unary: 'arithmetic operators (use add, subtract, multiply, divide)',
};

/** How the result of an expression is to be read: as a projection (each element a match), a value, or either. */
type ResultShape = 'projection' | 'value' | 'dynamic';

interface Evaluation {
  readonly value: unknown;
  readonly projection: boolean;
}

function parseError(source: string, reason: string, cause?: unknown): PipelineError {
  return new PipelineError(
    ErrorCode.TemplateExpressionInvalid,
    `The following JmesPath expression could not be parsed: ${source}. Cause: ${reason}`,
    { details: { expression: source }, cause },
  );
}

/** Rejects syntax and functions JmesPath.Net 1.0.205 does not know, and calls with a wrong number of arguments. */
// eslint-disable-next-line complexity -- one flat case per node type of the library's AST, checked exhaustively
function validate(node: JmesNode, source: string): void {
  switch (node.type) {
    case 'Field':
    case 'Literal':
    case 'Index':
    case 'Slice':
    case 'Identity':
    case 'Current':
      return;
    case 'Subexpression':
    case 'IndexExpression':
    case 'Projection':
    case 'ValueProjection':
    case 'Pipe':
    case 'OrExpression':
    case 'AndExpression':
    case 'Comparator':
      validate(node.left, source);
      validate(node.right, source);
      return;
    case 'FilterProjection':
      validate(node.left, source);
      validate(node.condition, source);
      validate(node.right, source);
      return;
    case 'Flatten':
    case 'NotExpression':
    case 'ExpressionReference':
      validate(node.child, source);
      return;
    case 'MultiSelectList':
      for (const child of node.children) {
        validate(child, source);
      }
      return;
    case 'MultiSelectHash':
      for (const pair of node.children) {
        validate(pair.value, source);
      }
      return;
    case 'Function':
      validateCall(node.name, node.children.length, source);
      for (const child of node.children) {
        validate(child, source);
      }
      return;
    case 'Root':
    case 'Variable':
    case 'LetExpression':
    case 'Binding':
    case 'Ternary':
    case 'Arithmetic':
    case 'Unary':
      throw parseError(source, `MedTech's JMESPath does not support ${UNSUPPORTED_SYNTAX[node.type] ?? node.type}.`);
  }
}

function validateCall(name: string, argumentCount: number, source: string): void {
  const custom = MEDTECH_JMESPATH_FUNCTIONS.get(name);
  if (custom === undefined && !BUILT_IN_FUNCTIONS.has(name)) {
    throw parseError(source, `Unknown function: ${name}()`);
  }
  let min: number;
  let max: number;
  if (custom !== undefined) {
    min = max = custom.arity;
  } else {
    const entry = TreeInterpreter.runtime._functionTable[name];
    const parameters = entry?._signature ?? [];
    min = parameters.filter((p) => p.optional !== true).length;
    max = parameters.at(-1)?.variadic === true ? Infinity : parameters.length;
  }
  if (argumentCount < min || argumentCount > max) {
    const expected = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw parseError(source, `Invalid arity: ${name}() takes ${expected} argument(s) but received ${argumentCount}`);
  }
}

function shapeOf(node: JmesNode): ResultShape {
  if (node.type === 'Projection' || node.type === 'ValueProjection' || node.type === 'FilterProjection') {
    return 'projection';
  }
  // The parser nests projections to the right: `Body.devices[*].id` is Subexpression(Body, Projection(…)).
  if (node.type === 'Subexpression' || node.type === 'Pipe') {
    return shapeOf(node.right);
  }
  if (node.type === 'OrExpression' || node.type === 'AndExpression') {
    const left = shapeOf(node.left);
    return left === shapeOf(node.right) ? left : 'dynamic';
  }
  return 'value';
}

/** JMESPath truthiness: null, false, "", [] and {} are false. */
function isFalse(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === '') {
    return true;
  }
  if (Array.isArray(value)) {
    return value.length === 0;
  }
  return typeof value === 'object' && Object.keys(value).length === 0;
}

function search(node: JmesNode, value: unknown): unknown {
  return TreeInterpreter.search(node, value as JSONValue);
}

/**
 * For `a || b` and `a && b`, whether the result is a projection depends on the branch taken (JmesPath.Net returns
 * the branch's own result, projection or not). Only the chain that decides the result's shape is walked here
 * (a sub-expression's right side is never an `||`/`&&`); everything else is evaluated by the library as usual.
 */
function evaluateDynamic(node: JmesNode, value: unknown): Evaluation {
  if (node.type === 'Pipe') {
    return evaluateDynamic(node.right, search(node.left, value));
  }
  if (node.type === 'OrExpression' || node.type === 'AndExpression') {
    const left = evaluateDynamic(node.left, value);
    const takeLeft = node.type === 'OrExpression' ? !isFalse(left.value) : isFalse(left.value);
    return takeLeft ? left : evaluateDynamic(node.right, value);
  }
  return { value: search(node, value), projection: shapeOf(node) === 'projection' };
}

/**
 * Translates what an evaluation threw. Custom functions already throw PipelineErrors (the expression is added to
 * their details). The library's own errors carry messages built from the expression and type names only; engine
 * TypeErrors are reported without their message, which could quote data.
 */
function evaluationError(source: string, error: unknown): PipelineError {
  if (error instanceof PipelineError) {
    return new PipelineError(error.code, error.message, { details: { ...error.details, expression: source } });
  }
  const details = { expression: source };
  if (error instanceof RangeError) {
    return new PipelineError(
      ErrorCode.ExpressionLimitExceeded,
      `The JmesPath expression ${source} exceeded the engine's limits: ${error.message}`,
      { details },
    );
  }
  if (error instanceof TypeError) {
    return new PipelineError(
      ErrorCode.ExpressionFailed,
      `The JmesPath expression ${source} failed: a value has a type the JMESPath engine cannot process.`,
      { details },
    );
  }
  const reason = error instanceof Error ? error.message : 'unknown failure';
  return new PipelineError(ErrorCode.ExpressionFailed, `The JmesPath expression ${source} failed: ${reason}`, {
    details,
  });
}

/**
 * Compiles a JMESPath expression. Syntax errors, unsupported syntax, unknown functions and wrong argument counts
 * throw `PipelineError(TEMPLATE_EXPRESSION_INVALID)` with MedTech's message.
 *
 * select-many: a projection (`[*]`, `[]`, `[?…]`, slices, `*`) yields each element; any other result is one
 * match unless it is null (`false` is a match; a plain array is one match). select-one: a projection with more
 * than one element throws EXPRESSION_MULTIPLE_TOKENS, one with 0 or 1 elements is returned as an array (so that it
 * fails conversion, as in MedTech); null is "nothing".
 *
 * @param source - the expression text as written in the mapping
 */
export function compileJmesPath(source: string): SyncExpression {
  let ast: JmesNode;
  try {
    ast = compile(source, { enable_legacy_literals: true });
  } catch (error) {
    throw parseError(source, error instanceof Error ? error.message : 'unknown parse failure', error);
  }
  validate(ast, source);

  const shape = shapeOf(ast);
  // Compiled to closures where the AST allows (nearly every mapping expression); the library's interpreter otherwise.
  const compiled = shape === 'dynamic' ? undefined : compileJmesNode(ast);
  const run = compiled ?? ((scope: unknown): unknown => search(ast, scope));
  const projection = shape === 'projection';
  const evaluate = (scope: unknown): Evaluation => {
    try {
      return shape === 'dynamic' ? evaluateDynamic(ast, scope) : { value: run(scope), projection };
    } catch (error) {
      throw evaluationError(source, error);
    }
  };

  return {
    language: ExpressionLanguage.JmesPath,
    source,
    isAsync: false,
    selectMany(scope: unknown): unknown[] {
      const { value, projection } = evaluate(scope);
      if (projection && Array.isArray(value)) {
        if (value.length > MAX_JMESPATH_MATCHES) {
          throw new PipelineError(
            ErrorCode.ExpressionLimitExceeded,
            `The JmesPath expression ${source} returned more than ${MAX_JMESPATH_MATCHES} matches.`,
            { details: { expression: source } },
          );
        }
        // A projection builds a fresh array, so it can be handed out as is.
        return value;
      }
      return value === null || value === undefined ? [] : [value];
    },
    selectOne(scope: unknown): unknown {
      const { value, projection } = evaluate(scope);
      if (projection && Array.isArray(value) && value.length > 1) {
        throw new PipelineError(
          ErrorCode.ExpressionMultipleTokens,
          `Multiple tokens were returned using expression ${source}`,
          { details: { expression: source } },
        );
      }
      return value === null ? undefined : value;
    },
  };
}
