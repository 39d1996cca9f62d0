/**
 * Turns a parsed JSONPath into closures, once per expression. Evaluation streams tokens depth-first through a
 * chain of steps, in the order Newtonsoft's lazy `IEnumerable` pipeline produces them, and can stop early (a
 * select-one stops at the second token). Nothing is allocated per visited token: recursive descent walks an
 * explicit stack (so 10,000 levels of nesting cannot overflow the call stack), and paths made only of member
 * names and indices compile to plain property reads.
 */

import { DateToken } from '../../../convert/instant';
import type { Literal, Operand, PathSegment, Predicate, QueryOperator } from './ast';
import { compileDotNetRegex, matchTokens } from './compare';
import { JsonPathFault, JsonPathLimitExceeded, JsonPathSyntaxError } from './fault';
import type { JsonObject } from './tokens';
import { PropertyToken, TokenType, isContainer, isJsonObject, ownMember, tokenTypeOf } from './tokens';

/** Receives the tokens a path selects; returns true to stop the evaluation. */
export interface Sink {
  emit(token: unknown): boolean;
}

/** One compiled step: passes what it selects from `token` on; returns true once the sink asked to stop. */
export type Step = (token: unknown, root: unknown, sink: Sink) => boolean;

/** A path that selects at most one token without searching: returns it, or `undefined`. */
export type Getter = (token: unknown, root: unknown) => unknown;

type Test = (token: unknown, root: unknown) => boolean;

/**
 * Scratch stack shared by all traversals. Scans nest (a filter inside a scan starts its own scan), each working
 * above the part in use and restoring the height it found. The array only grows: its height is `top`, not its
 * length, because an array that shrinks (`pop`, `length = n`) gives its storage back and must allocate it again on
 * the next evaluation. Slots above `top` are cleared, so no document stays referenced.
 */
const scratch: unknown[] = [];
let top = 0;

/**
 * Entries pushed by scans in one evaluation at most (a member is a name and a value): ten million is a few hundred
 * milliseconds, and hundreds of times what any scan over a 1 MiB body needs once.
 */
export const MAX_JSONPATH_SCAN_STEPS = 10_000_000;

/** Entries pushed in the current evaluation. */
let steps = 0;

function push(value: unknown): void {
  if (++steps > MAX_JSONPATH_SCAN_STEPS) {
    throw new JsonPathLimitExceeded(`its scans visited more than ${MAX_JSONPATH_SCAN_STEPS} tokens`);
  }
  scratch[top++] = value;
}

function pop(): unknown {
  const value = scratch[--top];
  scratch[top] = undefined;
  return value;
}

/** Drops everything above `height`. */
function truncate(height: number): void {
  while (top > height) {
    scratch[--top] = undefined;
  }
}

/** Empties the traversal stack (after an evaluation, also one that threw), so no document stays referenced. */
export function resetScratch(): void {
  truncate(0);
  steps = 0;
}

/** The final step: hands every token to the sink. */
const toSink: Step = (token, _root, sink) => sink.emit(token);

/**
 * Compiles a path into a chain of steps ending at the sink.
 * @param segments - the parsed path
 */
export function compileSteps(segments: readonly PathSegment[]): Step {
  let next = toSink;
  for (let i = segments.length - 1; i >= 0; i--) {
    next = compileSegment(segments[i] as PathSegment, next);
  }
  return next;
}

/**
 * Compiles a path made only of member names and indices (optionally starting at `$`) into a direct read.
 * @param segments - the parsed path
 * @returns the getter, or `undefined` when the path can select more than one token
 */
export function compileGetter(segments: readonly PathSegment[]): Getter | undefined {
  const fromRoot = segments[0]?.kind === 'root';
  let read: ((token: unknown) => unknown) | undefined;
  for (let i = segments.length - 1; i >= (fromRoot ? 1 : 0); i--) {
    const segment = segments[i] as PathSegment;
    if (segment.kind === 'field' && segment.name !== null) {
      read = memberRead(segment.name, read);
    } else if (segment.kind === 'index' && segment.index !== null) {
      read = indexRead(segment.index, read);
    } else {
      return undefined;
    }
  }
  const path = read;
  if (path === undefined) {
    return fromRoot ? (_token, root) => root : (token) => token;
  }
  return fromRoot ? (_token, root) => path(root) : (token) => path(token);
}

function memberRead(name: string, next: ((token: unknown) => unknown) | undefined): (token: unknown) => unknown {
  if (next === undefined) {
    return (token) => (isJsonObject(token) ? ownMember(token, name) : undefined);
  }
  return (token) => {
    if (!isJsonObject(token)) {
      return undefined;
    }
    const value = ownMember(token, name);
    return value === undefined ? undefined : next(value);
  };
}

function indexRead(index: number, next: ((token: unknown) => unknown) | undefined): (token: unknown) => unknown {
  return (token) => {
    if (!Array.isArray(token)) {
      return undefined;
    }
    if (index < 0) {
      throw negativeIndex();
    }
    const value: unknown = index < token.length ? token[index] : undefined;
    return value === undefined || next === undefined ? value : next(value);
  };
}

/** Newtonsoft's `GetTokenIndex` indexes the array's list directly, which throws for a negative index. */
function negativeIndex(): JsonPathFault {
  return new JsonPathFault('ArgumentOutOfRangeException', 'a negative array index was applied to an array');
}

function compileSegment(segment: PathSegment, next: Step): Step {
  switch (segment.kind) {
    case 'root':
      return (_token, root, sink) => next(root, root, sink);
    case 'field':
      return segment.name === null ? memberValues(next) : member(segment.name, next);
    case 'fields':
      return members(segment.names, next);
    case 'index':
      return segment.index === null ? arrayElements(next) : arrayIndexes([segment.index], next);
    case 'indexes':
      return arrayIndexes(segment.indexes, next);
    case 'slice':
      return arraySlice(segment.start, segment.end, segment.step ?? 1, next);
    case 'scan':
      return segment.name === null ? scanAll(next) : scanMembers([segment.name], next);
    case 'scanFields':
      return scanMembers(segment.names, next);
    case 'filter':
      return segment.scan ? filterDescendants(segment.predicate, next) : filterChildren(segment.predicate, next);
  }
}

/** `FieldFilter` with a name. */
function member(name: string, next: Step): Step {
  return (token, root, sink) => {
    if (!isJsonObject(token)) {
      return false;
    }
    const value = ownMember(token, name);
    return value !== undefined && next(value, root, sink);
  };
}

/** `FieldFilter` without a name (`.*`): the values of an object, in order; nothing for arrays. */
function memberValues(next: Step): Step {
  return (token, root, sink) => {
    if (!isJsonObject(token)) {
      return false;
    }
    for (const name in token) {
      if (Object.prototype.hasOwnProperty.call(token, name)) {
        const value = token[name];
        if (value !== undefined && next(value, root, sink)) {
          return true;
        }
      }
    }
    return false;
  };
}

/** `FieldMultipleFilter` (`['a','b']`): in the order written, repeated names repeated. */
function members(names: readonly string[], next: Step): Step {
  return (token, root, sink) => {
    if (!isJsonObject(token)) {
      return false;
    }
    for (const name of names) {
      const value = ownMember(token, name);
      if (value !== undefined && next(value, root, sink)) {
        return true;
      }
    }
    return false;
  };
}

/** `ArrayIndexFilter` without an index (`[*]`): the elements of an array; nothing for objects. */
function arrayElements(next: Step): Step {
  return (token, root, sink) => {
    if (!Array.isArray(token)) {
      return false;
    }
    for (let i = 0; i < token.length; i++) {
      if (next(token[i], root, sink)) {
        return true;
      }
    }
    return false;
  };
}

/** `ArrayIndexFilter` / `ArrayMultipleIndexFilter`: out-of-range indices select nothing, negative ones throw. */
function arrayIndexes(indexes: readonly number[], next: Step): Step {
  return (token, root, sink) => {
    if (!Array.isArray(token)) {
      return false;
    }
    for (const index of indexes) {
      if (index < 0) {
        throw negativeIndex();
      }
      if (index < token.length && next(token[index], root, sink)) {
        return true;
      }
    }
    return false;
  };
}

/** `ArraySliceFilter`, bounds arithmetic as Newtonsoft does it. */
function arraySlice(start: number | null, end: number | null, step: number, next: Step): Step {
  const positive = step > 0;
  return (token, root, sink) => {
    if (!Array.isArray(token)) {
      return false;
    }
    const count = token.length;
    let from = start ?? (positive ? 0 : count - 1);
    let to = end ?? (positive ? count : -1);
    if (start !== null && start < 0) {
      from = count + from;
    }
    if (end !== null && end < 0) {
      to = count + to;
    }
    from = Math.min(Math.max(from, positive ? 0 : -2147483648), positive ? count : count - 1);
    to = Math.min(Math.max(to, -1), count);
    for (let i = from; positive ? i < to : i > to; i += step) {
      if (next(token[i], root, sink)) {
        return true;
      }
    }
    return false;
  };
}

/** Pushes `(name, value)` pairs for the children of a container, last child first; arrays use name `undefined`. */
function pushChildPairs(token: unknown): void {
  if (typeof token !== 'object' || token === null || token instanceof DateToken) {
    return;
  }
  if (Array.isArray(token)) {
    for (let i = token.length - 1; i >= 0; i--) {
      push(undefined);
      push(token[i]);
    }
  } else if (token instanceof PropertyToken) {
    push(undefined);
    push(token.value);
  } else {
    const from = top;
    const object = token as JsonObject;
    for (const name in object) {
      if (Object.prototype.hasOwnProperty.call(object, name)) {
        const value = object[name];
        if (value !== undefined) {
          push(name);
          push(value);
        }
      }
    }
    reversePairs(from);
  }
}

function reversePairs(from: number): void {
  for (let i = from, j = top - 2; i < j; i += 2, j -= 2) {
    const name = scratch[i];
    const value = scratch[i + 1];
    scratch[i] = scratch[j];
    scratch[i + 1] = scratch[j + 1];
    scratch[j] = name;
    scratch[j + 1] = value;
  }
}

/**
 * `ScanFilter` / `ScanMultipleFilter` (`..name`, `..['a','b']`): walks the descendants in document pre-order and
 * passes on the value of every member with one of the names, before looking inside that value.
 */
function scanMembers(names: readonly string[], next: Step): Step {
  const single = names.length === 1 ? (names[0] as string) : undefined;
  return (token, root, sink) => {
    const base = top;
    pushChildPairs(token);
    while (top > base) {
      const value = pop();
      const name = pop();
      if (typeof name === 'string') {
        if (single !== undefined) {
          if (name === single && next(value, root, sink)) {
            truncate(base);
            return true;
          }
        } else {
          for (const wanted of names) {
            if (name === wanted && next(value, root, sink)) {
              truncate(base);
              return true;
            }
          }
        }
      }
      pushChildPairs(value);
    }
    return false;
  };
}

/** `ScanFilter` without a name (`..*`): the token itself, then every descendant value in document pre-order. */
function scanAll(next: Step): Step {
  return (token, root, sink) => {
    if (next(token, root, sink)) {
      return true;
    }
    const base = top;
    pushChildPairs(token);
    while (top > base) {
      const value = pop();
      pop();
      if (next(value, root, sink)) {
        truncate(base);
        return true;
      }
      pushChildPairs(value);
    }
    return false;
  };
}

/**
 * `QueryFilter` (`[?(…)]`): tests the children of the token — the elements of an array, the members of an object
 * (as member tokens, which paths like `@.x` never match, so a filter on an object usually selects nothing), the
 * value of a member token.
 */
function filterChildren(predicate: Predicate, next: Step): Step {
  const test = compilePredicate(predicate);
  const testMembers = !isInert(predicate, 'member');
  return (token, root, sink) => {
    if (Array.isArray(token)) {
      for (let i = 0; i < token.length; i++) {
        const element: unknown = token[i];
        if (test(element, root) && next(element, root, sink)) {
          return true;
        }
      }
    } else if (token instanceof PropertyToken) {
      return test(token.value, root) && next(token.value, root, sink);
    } else if (testMembers && isJsonObject(token)) {
      for (const name in token) {
        const value = token[name];
        if (value !== undefined && Object.prototype.hasOwnProperty.call(token, name)) {
          const property = new PropertyToken(name, value);
          if (test(property, root) && next(property, root, sink)) {
            return true;
          }
        }
      }
    }
    return false;
  };
}

/**
 * `QueryScanFilter` (`..[?(…)]`): tests the token itself and every descendant (`DescendantsAndSelf`) in document
 * pre-order, passing on each match before descending into it. Member tokens and primitive values are only
 * materialised and tested when the predicate could be true for them (it rarely can).
 */
function filterDescendants(predicate: Predicate, next: Step): Step {
  const test = compilePredicate(predicate);
  const testPrimitives = !isInert(predicate, 'primitive');
  if (!isInert(predicate, 'member')) {
    return filterDescendantsWithMembers(test, testPrimitives, next);
  }
  return (token, root, sink) => {
    if (!isContainer(token)) {
      return test(token, root) && next(token, root, sink);
    }
    const base = top;
    push(token);
    while (top > base) {
      const node = pop();
      if (test(node, root) && next(node, root, sink)) {
        truncate(base);
        return true;
      }
      if (typeof node !== 'object' || node === null) {
        continue;
      }
      if (Array.isArray(node)) {
        for (let i = node.length - 1; i >= 0; i--) {
          const child: unknown = node[i];
          if (testPrimitives || isContainer(child)) {
            push(child);
          }
        }
      } else if (node instanceof PropertyToken) {
        if (testPrimitives || isContainer(node.value)) {
          push(node.value);
        }
      } else if (!(node instanceof DateToken)) {
        const from = top;
        const object = node as JsonObject;
        for (const name in object) {
          if (Object.prototype.hasOwnProperty.call(object, name)) {
            const child = object[name];
            if (child !== undefined && (testPrimitives || isContainer(child))) {
              push(child);
            }
          }
        }
        for (let i = from, j = top - 1; i < j; i++, j--) {
          const swap = scratch[i];
          scratch[i] = scratch[j];
          scratch[j] = swap;
        }
      }
    }
    return false;
  };
}

function filterDescendantsWithMembers(test: Test, testPrimitives: boolean, next: Step): Step {
  return (token, root, sink) => {
    if (!isContainer(token)) {
      return test(token, root) && next(token, root, sink);
    }
    const base = top;
    push(undefined);
    push(token);
    while (top > base) {
      const value = pop();
      const name = pop();
      if (typeof name === 'string') {
        const property = new PropertyToken(name, value);
        if (test(property, root) && next(property, root, sink)) {
          truncate(base);
          return true;
        }
      }
      if ((testPrimitives || isContainer(value)) && test(value, root) && next(value, root, sink)) {
        truncate(base);
        return true;
      }
      pushChildPairs(value);
    }
    return false;
  };
}

/**
 * True when a predicate is certainly false for every candidate of a kind *without evaluating anything that could
 * throw*, so that such candidates can be skipped. From a member token or a primitive, paths starting with a
 * member, index or slice select nothing, and a comparison whose left side selects nothing is false (the right
 * side is never evaluated). `&&` stops at its first operand, `||` needs all operands to be inert.
 */
function isInert(predicate: Predicate, candidate: 'member' | 'primitive'): boolean {
  switch (predicate.kind) {
    case 'and':
      return predicate.operands[0] !== undefined && isInert(predicate.operands[0], candidate);
    case 'or':
      return predicate.operands.every((operand) => isInert(operand, candidate));
    case 'comparison':
      return selectsNothingFrom(predicate.left, candidate);
  }
}

function selectsNothingFrom(operand: Operand, candidate: 'member' | 'primitive'): boolean {
  if (operand.kind === 'literal') {
    return false;
  }
  const first = operand.segments[0];
  switch (first?.kind) {
    case 'field':
    case 'fields':
    case 'index':
    case 'indexes':
    case 'slice':
      return true;
    case 'scanFields':
      return candidate === 'primitive';
    case 'scan':
      return candidate === 'primitive' && first.name !== null;
    case 'filter':
      return candidate === 'primitive' && !first.scan;
    case 'root':
    case undefined:
      return false;
  }
}

/** A compiled operand: a literal, a direct read, or a general path. */
type CompiledOperand =
  | { readonly kind: 'literal'; readonly value: unknown; readonly type: TokenType }
  | { readonly kind: 'getter'; readonly get: Getter }
  | { readonly kind: 'path'; readonly step: Step };

function literalValue(literal: Literal): { value: unknown; type: TokenType } {
  switch (literal.type) {
    case 'null':
      return { value: null, type: TokenType.Null };
    case 'boolean':
      return { value: literal.value, type: TokenType.Boolean };
    case 'integer':
      return { value: literal.value, type: TokenType.Integer };
    case 'float':
      return { value: literal.value, type: TokenType.Float };
    case 'string':
      return { value: literal.value, type: TokenType.String };
  }
}

function compileOperand(operand: Operand): CompiledOperand {
  if (operand.kind === 'literal') {
    return { kind: 'literal', ...literalValue(operand.literal) };
  }
  const get = compileGetter(operand.segments);
  return get !== undefined ? { kind: 'getter', get } : { kind: 'path', step: compileSteps(operand.segments) };
}

function compilePredicate(predicate: Predicate): Test {
  switch (predicate.kind) {
    case 'and': {
      const tests = predicate.operands.map(compilePredicate);
      const [a, b] = tests;
      if (tests.length === 2 && a !== undefined && b !== undefined) {
        return (token, root) => a(token, root) && b(token, root);
      }
      return (token, root) => tests.every((test) => test(token, root));
    }
    case 'or': {
      const tests = predicate.operands.map(compilePredicate);
      const [a, b] = tests;
      if (tests.length === 2 && a !== undefined && b !== undefined) {
        return (token, root) => a(token, root) || b(token, root);
      }
      return (token, root) => tests.some((test) => test(token, root));
    }
    case 'comparison':
      return predicate.operator === 'exists' || predicate.right === null
        ? compileExists(compileOperand(predicate.left))
        : compileComparison(predicate.operator, predicate.left, predicate.right);
  }
}

/** Existence (`@x`): true when the path selects anything at all, whatever the value (null, false and 0 too). */
function compileExists(left: CompiledOperand): Test {
  switch (left.kind) {
    case 'literal':
      return () => true;
    case 'getter': {
      const get = left.get;
      return (token, root) => get(token, root) !== undefined;
    }
    case 'path': {
      const step = left.step;
      const sink = new FirstTokenSink();
      return (token, root) => {
        sink.found = false;
        step(token, root, sink);
        return sink.found;
      };
    }
  }
}

function compileComparison(operator: QueryOperator, left: Operand, right: Operand): Test {
  const l = compileOperand(left);
  const r = compileOperand(right);
  let regex: RegExp | undefined;
  if (operator === '=~' && r.kind === 'literal' && r.type === TokenType.String && right.kind === 'literal') {
    try {
      regex = compileDotNetRegex(r.value as string);
    } catch (error) {
      throw new JsonPathSyntaxError((error as Error).message, right.position);
    }
  }
  if (l.kind === 'getter' && r.kind === 'literal') {
    // The common shape (`@.type == 'hr'`, `@.value > 100`): no sink, no allocation.
    const get = l.get;
    const { value, type } = r;
    return (token, root) => {
      const found = get(token, root);
      return found !== undefined && matchTokens(operator, found, tokenTypeOf(found), value, type, regex);
    };
  }
  const comparison = new ComparisonSink(operator, l, r, regex);
  return (token, root) => comparison.test(token, root);
}

/** Stops at the first token. */
class FirstTokenSink implements Sink {
  found = false;
  emit(): boolean {
    this.found = true;
    return true;
  }
}

/** Collects every token (the right-hand side of a comparison). */
class CollectingSink implements Sink {
  values: unknown[] = [];
  emit(token: unknown): boolean {
    this.values.push(token);
    return false;
  }
}

/**
 * `BooleanQueryExpression.IsMatch` for general operands: the left tokens are produced lazily; at the first one the
 * right side is evaluated completely; the first matching pair ends the test. A compiled predicate never runs
 * inside itself (each nested filter has its own), so its state can be reused from one candidate to the next.
 */
class ComparisonSink implements Sink {
  private readonly operator: QueryOperator;
  private readonly left: CompiledOperand;
  private readonly right: CompiledOperand;
  private readonly regex: RegExp | undefined;
  private readonly rights = new CollectingSink();
  private readonly rightTypes: TokenType[] = [];
  private token: unknown;
  private root: unknown;
  private rightsReady = false;
  private matched = false;

  constructor(operator: QueryOperator, left: CompiledOperand, right: CompiledOperand, regex: RegExp | undefined) {
    this.operator = operator;
    this.left = left;
    this.right = right;
    this.regex = regex;
  }

  test(token: unknown, root: unknown): boolean {
    this.token = token;
    this.root = root;
    this.rightsReady = false;
    this.matched = false;
    try {
      const left = this.left;
      switch (left.kind) {
        case 'literal':
          this.emit(left.value);
          break;
        case 'getter': {
          const value = left.get(token, root);
          if (value !== undefined) {
            this.emit(value);
          }
          break;
        }
        case 'path':
          left.step(token, root, this);
      }
      return this.matched;
    } finally {
      this.token = this.root = undefined;
      this.rights.values.length = 0;
    }
  }

  emit(left: unknown): boolean {
    if (!this.rightsReady) {
      this.collectRights();
    }
    const leftType = this.left.kind === 'literal' ? this.left.type : tokenTypeOf(left);
    const values = this.rights.values;
    for (let i = 0; i < values.length; i++) {
      if (matchTokens(this.operator, left, leftType, values[i], this.rightTypes[i] as TokenType, this.regex)) {
        this.matched = true;
        return true;
      }
    }
    return false;
  }

  private collectRights(): void {
    this.rightsReady = true;
    const values = this.rights.values;
    const types = this.rightTypes;
    values.length = 0;
    types.length = 0;
    const right = this.right;
    switch (right.kind) {
      case 'literal':
        values.push(right.value);
        types.push(right.type);
        return;
      case 'getter': {
        const value = right.get(this.token, this.root);
        if (value !== undefined) {
          values.push(value);
        }
        break;
      }
      case 'path':
        right.step(this.token, this.root, this.rights);
    }
    for (const value of values) {
      types.push(tokenTypeOf(value));
    }
  }
}
