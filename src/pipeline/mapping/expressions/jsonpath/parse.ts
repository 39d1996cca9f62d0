/**
 * JSONPath parser following Newtonsoft.Json 13 `JPath` character by character, so that exactly the expressions
 * MedTech accepts parse, with the same meaning — including its quirks:
 * - `$` is optional; only `$.` and `$[` skip it (`$a` is a member named `$a`).
 * - Unbracketed member names run until `.`, `[`, `(`, `]`, `)` or a space (`iothub-connection-device-id` works,
 *   a name with a space needs `['…']`); only single-quoted strings are accepted in brackets.
 * - `(` works like `[` as an indexer; `..[n]`, `..[*]` and slices ignore the `..` (they apply to the current token).
 * - Filters: `@name` ≡ `@.name`; operands are paths (`@…`, `$…`) or literals; `&&`/`||` without precedence (each
 *   change of operator nests the rest to the right); no parentheses, no `!`; a number literal runs to the next
 *   space or `)`, so `@.a==1&&@.b` is an invalid number.
 * Where .NET would crash on an index past the end of the text, a syntax error is reported instead. A zero slice
 * step, which Newtonsoft only rejects when the path is evaluated, is reported here (mapping policy §0.2).
 */

import type { Literal, Operand, PathSegment, Predicate, QueryOperator } from './ast';
import { parseDouble, parseInt64, trimEndDotNet } from './dotnet-convert';
import { JsonPathSyntaxError } from './fault';

const OPEN_INDEXER = 'Path ended with open indexer.';
const OPEN_QUERY = 'Path ended with open query.';
const FLOAT_CHARACTERS = /[.eE]/;
const INDEX_TEXT = /^-?[0-9]+$/;
const LETTER = /^\p{L}$/u;

/**
 * Parses a JSONPath expression into the segments Newtonsoft would evaluate.
 * @param expression - the expression text from the mapping
 * @throws JsonPathSyntaxError when Newtonsoft would reject the expression
 */
export function parseJsonPath(expression: string): PathSegment[] {
  return new Parser(expression).parseMain();
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function memberSegment(member: string, scan: boolean): PathSegment {
  const name = member === '*' ? null : member;
  return scan ? { kind: 'scan', name } : { kind: 'field', name };
}

class Parser {
  private readonly text: string;
  private index = 0;

  constructor(text: string) {
    this.text = text;
  }

  parseMain(): PathSegment[] {
    const segments: PathSegment[] = [];
    const text = this.text;
    // Newtonsoft takes the start of the first member before skipping leading spaces, so they belong to the name.
    let partStart = this.index;
    this.eatWhitespace();
    if (this.index === text.length) {
      return segments;
    }
    if (text.charAt(this.index) === '$') {
      if (text.length === 1) {
        return segments;
      }
      const next = this.charAt(this.index + 1, 'Path ended after $.');
      if (next === '.' || next === '[') {
        this.index++;
        partStart = this.index;
      }
    }
    if (!this.parsePath(segments, partStart, false)) {
      const last = this.index;
      this.eatWhitespace();
      if (this.index < text.length) {
        this.fail(`Unexpected character while parsing path: '${text.charAt(last)}'`, last);
      }
    }
    return segments;
  }

  /** Reads segments until the end, a space or a closing bracket; returns true when the text is exhausted. */
  private parsePath(segments: PathSegment[], partStart: number, query: boolean): boolean {
    const text = this.text;
    let start = partStart;
    let scan = false;
    let followingIndexer = false;
    let followingDot = false;
    let ended = false;
    while (this.index < text.length && !ended) {
      const c = text.charAt(this.index);
      switch (c) {
        case '[':
        case '(':
          if (this.index > start) {
            segments.push(memberSegment(text.substring(start, this.index), scan));
            scan = false;
          }
          segments.push(this.parseIndexer(c, scan));
          scan = false;
          this.index++;
          start = this.index;
          followingIndexer = true;
          followingDot = false;
          break;
        case ']':
        case ')':
        case ' ':
          ended = true;
          break;
        case '.':
          if (this.index > start) {
            segments.push(memberSegment(text.substring(start, this.index), scan));
            scan = false;
          }
          if (text.charAt(this.index + 1) === '.') {
            scan = true;
            this.index++;
          }
          this.index++;
          start = this.index;
          followingIndexer = false;
          followingDot = true;
          break;
        default:
          if (query && '=<!>|&'.includes(c)) {
            ended = true;
          } else {
            if (followingIndexer) {
              this.fail(`Unexpected character following indexer: '${c}'`);
            }
            this.index++;
          }
      }
    }
    const atPathEnd = this.index === text.length;
    if (this.index > start) {
      segments.push(memberSegment(trimEndDotNet(text.substring(start, this.index)), scan));
    } else if (followingDot && (atPathEnd || query)) {
      this.fail('Unexpected end while parsing path.');
    }
    return atPathEnd;
  }

  private parseIndexer(open: string, scan: boolean): PathSegment {
    this.index++;
    const close = open === '[' ? ']' : ')';
    this.eatWhitespace();
    const c = this.charAt(this.index, OPEN_INDEXER);
    if (c === "'") {
      return this.parseQuotedField(close, scan);
    }
    if (c === '?') {
      return this.parseQuery(close, scan);
    }
    return this.parseArrayIndexer(close);
  }

  // Mirrors JPath.ParseArrayIndexer branch for branch (its quirks included: `[1,*]` is `[*]`).
  private parseArrayIndexer(close: string): PathSegment {
    const text = this.text;
    let start = this.index;
    let end: number | undefined;
    let indexes: number[] | undefined;
    let colonCount = 0;
    let sliceStart: number | null = null;
    let sliceEnd: number | null = null;
    let step: number | null = null;
    const slotPosition = this.index;
    while (this.index < text.length) {
      const c = text.charAt(this.index);
      if (c === ' ') {
        end = this.index;
        this.eatWhitespace();
        continue;
      }
      const length = (end ?? this.index) - start;
      if (c === close) {
        if (indexes !== undefined) {
          indexes.push(this.toInt32(start, length, true));
          return { kind: 'indexes', indexes };
        }
        if (colonCount > 0) {
          if (length > 0) {
            const value = this.toInt32(start, length, false);
            if (colonCount === 1) {
              sliceEnd = value;
            } else {
              step = value;
            }
          }
          if (step === 0) {
            this.fail('Step cannot be zero.', slotPosition);
          }
          return { kind: 'slice', start: sliceStart, end: sliceEnd, step };
        }
        return { kind: 'index', index: this.toInt32(start, length, true) };
      }
      if (c === ',') {
        (indexes ??= []).push(this.toInt32(start, length, true));
        this.index++;
        this.eatWhitespace();
        start = this.index;
        end = undefined;
      } else if (c === '*') {
        this.index++;
        this.eatWhitespace();
        if (this.charAt(this.index, OPEN_INDEXER) !== close) {
          this.fail(`Unexpected character while parsing path indexer: '${c}'`);
        }
        return { kind: 'index', index: null };
      } else if (c === ':') {
        if (length > 0) {
          const value = this.toInt32(start, length, false);
          if (colonCount === 0) {
            sliceStart = value;
          } else if (colonCount === 1) {
            sliceEnd = value;
          } else {
            step = value;
          }
        }
        colonCount++;
        this.index++;
        this.eatWhitespace();
        start = this.index;
        end = undefined;
      } else if ((!isDigit(c) && c !== '-') || end !== undefined) {
        this.fail(`Unexpected character while parsing path indexer: '${c}'`);
      } else {
        this.index++;
      }
    }
    return this.fail(OPEN_INDEXER);
  }

  /** `Convert.ToInt32` of the digits between `start` and `start + length`. */
  private toInt32(start: number, length: number, required: boolean): number {
    if (length === 0 && required) {
      this.fail('Array index expected.', start);
    }
    const digits = this.text.substring(start, start + length);
    const value = INDEX_TEXT.test(digits) ? Number(digits) : Number.NaN;
    if (!(value >= -2147483648 && value <= 2147483647)) {
      this.fail(`Array index is not a 32-bit integer: ${digits}`, start);
    }
    return value;
  }

  private parseQuery(close: string, scan: boolean): PathSegment {
    this.index++;
    const c = this.charAt(this.index, OPEN_INDEXER);
    if (c !== '(') {
      this.fail(`Unexpected character while parsing path indexer: '${c}'`);
    }
    this.index++;
    const predicate = this.parseExpression();
    this.index++;
    this.eatWhitespace();
    const after = this.charAt(this.index, OPEN_INDEXER);
    if (after !== close) {
      this.fail(`Unexpected character while parsing path indexer: '${after}'`);
    }
    return { kind: 'filter', predicate, scan };
  }

  // Mirrors JPath.ParseExpression, including how operator changes nest composites.
  private parseExpression(): Predicate {
    const text = this.text;
    let root: Predicate | undefined;
    let parent: { readonly kind: 'and' | 'or'; readonly operands: Predicate[] } | undefined;
    while (this.index < text.length) {
      const left = this.parseSide();
      let right: Operand | null = null;
      let operator: QueryOperator = 'exists';
      const c = text.charAt(this.index);
      if (c !== ')' && c !== '|' && c !== '&') {
        operator = this.parseOperator();
        right = this.parseSide();
      }
      const comparison: Predicate = { kind: 'comparison', operator, left, right };
      if (text.charAt(this.index) === ')') {
        if (parent !== undefined && root !== undefined) {
          parent.operands.push(comparison);
          return root;
        }
        return comparison;
      }
      for (const [symbol, kind] of [
        ['&', 'and'],
        ['|', 'or'],
      ] as const) {
        if (text.charAt(this.index) !== symbol) {
          continue;
        }
        if (!this.match(symbol + symbol)) {
          this.fail(`Unexpected character while parsing path query: '${symbol}'`);
        }
        if (parent?.kind !== kind) {
          const composite = { kind, operands: [] as Predicate[] };
          parent?.operands.push(composite);
          parent = composite;
          root ??= composite;
        }
        parent.operands.push(comparison);
      }
    }
    return this.fail(OPEN_QUERY);
  }

  private parseSide(): Operand {
    this.eatWhitespace();
    const c = this.charAt(this.index, OPEN_QUERY);
    const position = this.index;
    const segments = this.tryParsePath(c);
    if (segments !== undefined) {
      this.eatWhitespace();
      this.charAt(this.index, OPEN_QUERY);
      return { kind: 'path', segments };
    }
    const literal = this.tryParseValue(c);
    if (literal === undefined) {
      this.fail(
        isDigit(c) || c === '-'
          ? `Invalid number in path query: ${this.text.substring(position, this.index)}`
          : `Unexpected character while parsing path query: '${c}'`,
        position,
      );
    }
    this.eatWhitespace();
    this.charAt(this.index, OPEN_QUERY);
    return { kind: 'literal', literal, position };
  }

  private tryParsePath(c: string): PathSegment[] | undefined {
    if (c !== '$' && c !== '@') {
      return undefined;
    }
    const segments: PathSegment[] = c === '$' ? [{ kind: 'root' }] : [];
    this.index++;
    if (this.parsePath(segments, this.index, true)) {
      this.fail(OPEN_QUERY);
    }
    return segments;
  }

  private tryParseValue(c: string): Literal | undefined {
    const text = this.text;
    if (c === "'") {
      return { type: 'string', value: this.readQuotedString() };
    }
    if (isDigit(c) || c === '-') {
      const start = this.index;
      this.index++;
      while (this.index < text.length) {
        const d = text.charAt(this.index);
        if (d === ' ' || d === ')') {
          const number = text.substring(start, this.index);
          if (FLOAT_CHARACTERS.test(number)) {
            const value = parseDouble(number);
            return value === undefined ? undefined : { type: 'float', value };
          }
          const value = parseInt64(number);
          return value === undefined ? undefined : { type: 'integer', value };
        }
        this.index++;
      }
      return undefined;
    }
    if (c === 't' && this.match('true')) {
      return { type: 'boolean', value: true };
    }
    if (c === 'f' && this.match('false')) {
      return { type: 'boolean', value: false };
    }
    if (c === 'n' && this.match('null')) {
      return { type: 'null' };
    }
    if (c === '/') {
      return { type: 'string', value: this.readRegexString() };
    }
    return undefined;
  }

  /** Reads a single-quoted string; like Newtonsoft it skips the opening character without checking it. */
  private readQuotedString(): string {
    const text = this.text;
    let value = '';
    this.index++;
    while (this.index < text.length) {
      const c = text.charAt(this.index);
      if (c === '\\' && this.index + 1 < text.length) {
        this.index++;
        const escaped = text.charAt(this.index);
        value += this.unescape(escaped);
        this.index++;
      } else if (c === "'") {
        this.index++;
        return value;
      } else {
        this.index++;
        value += c;
      }
    }
    return this.fail('Path ended with an open string.');
  }

  private unescape(c: string): string {
    switch (c) {
      case 'b':
        return '\b';
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'f':
        return '\f';
      case 'r':
        return '\r';
      case '\\':
      case '"':
      case "'":
      case '/':
        return c;
      default:
        return this.fail(`Unknown escape character: \\${c}`);
    }
  }

  /** Reads `/pattern/flags` verbatim (flags are the letters after the closing slash). */
  private readRegexString(): string {
    const text = this.text;
    const start = this.index;
    this.index++;
    while (this.index < text.length) {
      const c = text.charAt(this.index);
      if (c === '\\' && this.index + 1 < text.length) {
        this.index += 2;
      } else if (c === '/') {
        this.index++;
        while (this.index < text.length && LETTER.test(text.charAt(this.index))) {
          this.index++;
        }
        return text.substring(start, this.index);
      } else {
        this.index++;
      }
    }
    return this.fail('Path ended with an open regex.');
  }

  private parseOperator(): QueryOperator {
    if (this.index + 1 >= this.text.length) {
      this.fail(OPEN_QUERY);
    }
    const operators: readonly [string, QueryOperator][] = [
      ['===', '==='],
      ['==', '=='],
      ['=~', '=~'],
      ['!==', '!=='],
      ['!=', '!='],
      ['<>', '!='],
      ['<=', '<='],
      ['<', '<'],
      ['>=', '>='],
      ['>', '>'],
    ];
    for (const [symbol, operator] of operators) {
      if (this.match(symbol)) {
        return operator;
      }
    }
    return this.fail('Could not read query operator.');
  }

  private parseQuotedField(close: string, scan: boolean): PathSegment {
    const text = this.text;
    let fields: string[] | undefined;
    while (this.index < text.length) {
      const field = this.readQuotedString();
      this.eatWhitespace();
      const c = this.charAt(this.index, OPEN_INDEXER);
      if (c === close) {
        if (fields !== undefined) {
          fields.push(field);
          return scan ? { kind: 'scanFields', names: fields } : { kind: 'fields', names: fields };
        }
        return scan ? { kind: 'scan', name: field } : { kind: 'field', name: field };
      }
      if (c !== ',') {
        this.fail(`Unexpected character while parsing path indexer: '${c}'`);
      }
      this.index++;
      this.eatWhitespace();
      (fields ??= []).push(field);
    }
    return this.fail(OPEN_INDEXER);
  }

  private match(s: string): boolean {
    if (!this.text.startsWith(s, this.index)) {
      return false;
    }
    this.index += s.length;
    return true;
  }

  /** Newtonsoft only skips U+0020, not other white space. */
  private eatWhitespace(): void {
    while (this.text.charAt(this.index) === ' ') {
      this.index++;
    }
  }

  /** The character at `position`, or a syntax error `endMessage` past the end of the text. */
  private charAt(position: number, endMessage: string): string {
    if (position >= this.text.length) {
      this.fail(endMessage, this.text.length);
    }
    return this.text.charAt(position);
  }

  private fail(message: string, position: number = this.index): never {
    throw new JsonPathSyntaxError(message, position);
  }
}
