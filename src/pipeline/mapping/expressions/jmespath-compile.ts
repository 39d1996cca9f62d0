/**
 * JMESPath ASTs compiled to closures, once per expression: field paths such as `matchedToken.heartRate` become plain
 * property reads, and filters such as `to_array(Body)[?spo2 != null]` a loop, where `TreeInterpreter.search` would
 * dispatch on every node and validate every function call's arguments on every evaluation (which allocates).
 *
 * Each closure reproduces the node's case of @jmespath-community/jmespath 1.3.0's `TreeInterpreter.visit` exactly,
 * down to its quirks (a field read returns inherited members; `undefined` reads become `null`); a differential test
 * checks the closures against the library. Node types outside this set (slices, expression references and the
 * functions that take them, variables, …) make the whole expression fall back to the library.
 */
import { TreeInterpreter } from '@jmespath-community/jmespath';
import type { compile } from '@jmespath-community/jmespath';

type JmesNode = ReturnType<typeof compile>;

/** Evaluates a compiled node against the current value. */
export type JmesEvaluator = (value: unknown) => unknown;

/** The library's `isObject`. */
function isObject(obj: unknown): boolean {
  return obj !== null && Object.prototype.toString.call(obj) === '[object Object]';
}

/** The library's `strictDeepEqual` (not exported by it). */
function strictDeepEqual(first: unknown, second: unknown): boolean {
  if (first === second) {
    return true;
  }
  if (typeof first !== typeof second) {
    return false;
  }
  if (Array.isArray(first) && Array.isArray(second)) {
    if (first.length !== second.length) {
      return false;
    }
    for (let i = 0; i < first.length; i += 1) {
      if (!strictDeepEqual(first[i], second[i])) {
        return false;
      }
    }
    return true;
  }
  if (isObject(first) && isObject(second)) {
    const firstEntries = Object.entries(first as object);
    const secondKeys = new Set(Object.keys(second as object));
    if (firstEntries.length !== secondKeys.size) {
      return false;
    }
    for (const [key, value] of firstEntries) {
      if (!strictDeepEqual(value, (second as Record<string, unknown>)[key])) {
        return false;
      }
      secondKeys.delete(key);
    }
    return secondKeys.size === 0;
  }
  return false;
}

/** The library's `isFalse` (JMESPath truthiness). */
function isFalse(obj: unknown): boolean {
  if (obj === null || obj === undefined || obj === false) {
    return true;
  }
  if (typeof obj === 'string') {
    return obj === '';
  }
  if (typeof obj === 'object') {
    return Array.isArray(obj) ? obj.length === 0 : Object.keys(obj).length === 0;
  }
  return false;
}

function field(name: string): JmesEvaluator {
  return (value) =>
    value === null || typeof value !== 'object' || Array.isArray(value)
      ? null
      : ((value as Record<string, unknown>)[name] ?? null);
}

function comparator(name: string, left: JmesEvaluator, right: JmesEvaluator): JmesEvaluator | undefined {
  switch (name) {
    case 'EQ':
      return (value) => strictDeepEqual(left(value), right(value));
    case 'NE':
      return (value) => !strictDeepEqual(left(value), right(value));
    case 'GT':
    case 'GTE':
    case 'LT':
    case 'LTE':
      return (value) => {
        const first = left(value);
        const second = right(value);
        if (typeof first !== 'number' || typeof second !== 'number') {
          return null;
        }
        return name === 'GT'
          ? first > second
          : name === 'GTE'
            ? first >= second
            : name === 'LT'
              ? first < second
              : first <= second;
      };
    default:
      return undefined;
  }
}

function projection(base: JmesEvaluator, right: JmesEvaluator, condition?: JmesEvaluator): JmesEvaluator {
  return (value) => {
    const elements = base(value);
    if (!Array.isArray(elements)) {
      return null;
    }
    const results: unknown[] = [];
    for (const element of elements as unknown[]) {
      if (condition !== undefined && isFalse(condition(element))) {
        continue;
      }
      const result = right(element);
      if (result !== null) {
        results.push(result);
      }
    }
    return results;
  };
}

function call(name: string, args: readonly JmesEvaluator[]): JmesEvaluator {
  if (name === 'to_array' && args.length === 1) {
    // Its only argument accepts any type and the arity is checked when the mapping loads: nothing to validate.
    const [arg] = args as [JmesEvaluator];
    return (value) => {
      const input = arg(value);
      return Array.isArray(input) ? (input as unknown[]) : [input];
    };
  }
  const runtime = TreeInterpreter.runtime;
  return (value) => {
    const resolved: unknown[] = [];
    for (const arg of args) {
      resolved.push(arg(value));
    }
    return runtime.callFunction(name, resolved as Parameters<typeof runtime.callFunction>[1]);
  };
}

/** Compiles every node of a list; undefined when one of them cannot be. */
function compileAll(nodes: readonly JmesNode[]): JmesEvaluator[] | undefined {
  const compiled: JmesEvaluator[] = [];
  for (const node of nodes) {
    const evaluator = compileJmesNode(node);
    if (evaluator === undefined) {
      return undefined;
    }
    compiled.push(evaluator);
  }
  return compiled;
}

/**
 * Compiles a JMESPath AST to a closure with the library's semantics.
 * @param node - the AST, as `compile` returns it
 * @returns the evaluator, or `undefined` when the AST holds a node type this compiler does not handle
 */
// eslint-disable-next-line complexity -- one flat case per node type of the library's AST
export function compileJmesNode(node: JmesNode): JmesEvaluator | undefined {
  switch (node.type) {
    case 'Field':
      return field(node.name);
    case 'Identity':
    case 'Current':
      return (value) => value;
    case 'Literal': {
      const literal: unknown = node.value;
      return () => literal;
    }
    case 'Index': {
      const index = node.value;
      return (value) => {
        if (!Array.isArray(value)) {
          return null;
        }
        return (value[index < 0 ? value.length + index : index] as unknown) ?? null;
      };
    }
    case 'Subexpression':
    case 'IndexExpression':
    case 'Pipe':
    case 'Comparator':
    case 'AndExpression':
    case 'OrExpression': {
      const children = compileAll([node.left, node.right]);
      if (children === undefined) {
        return undefined;
      }
      const [left, right] = children as [JmesEvaluator, JmesEvaluator];
      switch (node.type) {
        case 'Subexpression':
          return (value) => {
            const result = left(value);
            return result != null ? (right(result) ?? null) : null;
          };
        case 'IndexExpression':
        case 'Pipe':
          return (value) => right(left(value));
        case 'Comparator':
          return comparator(node.name, left, right);
        case 'AndExpression':
          return (value) => {
            const result = left(value);
            return isFalse(result) ? result : right(value);
          };
        case 'OrExpression':
          return (value) => {
            const result = left(value);
            return isFalse(result) ? right(value) : result;
          };
      }
      return undefined;
    }
    case 'Projection': {
      // A projection over a slice also projects strings; slices are left to the library.
      const children = compileAll([node.left, node.right]);
      return children === undefined
        ? undefined
        : projection(children[0] as JmesEvaluator, children[1] as JmesEvaluator);
    }
    case 'FilterProjection': {
      const children = compileAll([node.left, node.right, node.condition]);
      if (children === undefined) {
        return undefined;
      }
      const [left, right, condition] = children as [JmesEvaluator, JmesEvaluator, JmesEvaluator];
      return projection(left, right, condition);
    }
    case 'NotExpression': {
      const child = compileJmesNode(node.child);
      return child === undefined ? undefined : (value) => isFalse(child(value));
    }
    case 'Flatten': {
      const child = compileJmesNode(node.child);
      return child === undefined
        ? undefined
        : (value) => {
            const original = child(value);
            return Array.isArray(original) ? (original as unknown[]).flat() : null;
          };
    }
    case 'MultiSelectList': {
      const children = compileAll(node.children);
      return children === undefined ? undefined : (value) => children.map((child) => child(value));
    }
    case 'Function': {
      const args = compileAll(node.children);
      return args === undefined ? undefined : call(node.name, args);
    }
    case 'Slice':
    case 'ValueProjection':
    case 'MultiSelectHash':
    case 'ExpressionReference':
    case 'Arithmetic':
    case 'Unary':
    case 'Root':
    case 'Variable':
    case 'LetExpression':
    case 'Binding':
    case 'Ternary':
      // Left to the library (slices also project strings; the others are rare or rejected when a mapping loads).
      return undefined;
  }
}
