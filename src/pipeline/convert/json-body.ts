/**
 * Reads an event body the way MedTech does (medtech-reference §2): a `StreamReader` (UTF-8, byte-order marks
 * honoured) under a Newtonsoft 13 `JsonTextReader` with default settings, loaded by `JToken.ReadFrom`.
 *
 * What that reader accepts, and therefore what this module accepts:
 * - only the first JSON value; anything after it is never read (`{"a":1} garbage` is `{"a":1}`);
 * - Newtonsoft's lenient syntax: `//` and `/* *\/` comments, single-quoted strings, unquoted property names
 *   (letters, digits, `_`, `$`), trailing commas, empty array slots and property values (`[1,,2]`, `{"a":,}`: read
 *   as `undefined`, held here as `null`), `NaN`, `Infinity`, `-Infinity`, `undefined`, hexadecimal (`0x1F`) and
 *   octal (`017`) integers, numbers such as `.5` and `5.`, raw control characters inside strings, any Unicode
 *   white space between tokens;
 * - integers that overflow Int64 as BigInteger, up to 380 characters; lone surrogate escapes become U+FFFD;
 * - at most 64 nested containers (`JsonReader.MaxDepth`, 64 by default since Newtonsoft 13.0.1).
 *
 * Integers beyond ±2^53 are returned as `bigint` with every digit. Constructors (`new Date(…)`) are rejected although
 * Newtonsoft reads them: they are not JSON data a device sends, and the pipeline has no value for them.
 *
 * Objects are plain objects; keys such as `__proto__` become own data properties. Residual difference: JavaScript
 * objects enumerate array-index keys (`"0"`, `"1"`…) first in ascending order, where Newtonsoft keeps document order.
 *
 * Speed: bodies without long digit runs or surrogate escapes go through `JSON.parse` (native) plus a nesting check;
 * only bodies `JSON.parse` rejects, or that need exact big integers, take the hand-written reader.
 */

import { ErrorCode, PipelineError } from '../errors';
import type { JsonValue } from '../model/device-event';
import { isDotNetWhiteSpace } from './datetime-parse';

/** Options of {@link parseJsonBody}. */
export interface JsonBodyOptions {
  /**
   * Largest accepted body in bytes (UTF-8 bytes for string bodies). Default {@link DEFAULT_MAX_BODY_BYTES}; `0` or
   * `Infinity` disables the check.
   */
  readonly maxBytes?: number;
}

/**
 * 1 MiB: the largest event Event Hubs Premium and Dedicated accept (Standard stops at 256 KiB), so no legitimate
 * device message is refused, while a misconfigured producer cannot make the pipeline parse arbitrarily large text.
 */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

/** Newtonsoft's default `JsonReader.MaxDepth`. */
export const MAX_JSON_DEPTH = 64;

const MESSAGE_PREFIX = 'The message body cannot be parsed into a JSON object';

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const utf16le = new TextDecoder('utf-16le', { ignoreBOM: true });
const utf16be = new TextDecoder('utf-16be', { ignoreBOM: true });

/**
 * Parses an event body into the envelope's `Body`.
 *
 * @param body - raw bytes, or text already decoded by the transport
 * @param options - size limit
 * @returns the JSON value; `null` for a zero-length body
 * @throws PipelineError `BODY_TOO_LARGE` above the size limit, `BODY_INVALID_JSON` for anything Newtonsoft rejects
 *   (the reason names a position, never content)
 */
export function parseJsonBody(body: Uint8Array | string, options: JsonBodyOptions = {}): JsonValue {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (body.length === 0) {
    return null;
  }
  let text: string;
  if (typeof body === 'string') {
    if (maxBytes > 0 && body.length * 3 > maxBytes && utf8Length(body) > maxBytes) {
      throw tooLarge(maxBytes);
    }
    text = body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  } else {
    if (maxBytes > 0 && body.length > maxBytes) {
      throw tooLarge(maxBytes);
    }
    text = decode(body);
  }
  if (!needsExactReader(text)) {
    let value: JsonValue;
    try {
      value = JSON.parse(text) as JsonValue;
    } catch {
      return readNewtonsoft(text);
    }
    if (text.length > 2 * MAX_JSON_DEPTH && exceedsDepth(value, 1)) {
      // Report it through the exact reader, which knows the position.
      return readNewtonsoft(text);
    }
    return value;
  }
  return readNewtonsoft(text);
}

/**
 * Long digit runs may be integers beyond 2^53; surrogate escapes may be lone ones (Newtonsoft → U+FFFD). The digit
 * pattern is spelled out because V8 scans `\d\d…` about ten times faster than `\d{16}`.
 */
const SIXTEEN_DIGITS = /\d\d\d\d\d\d\d\d\d\d\d\d\d\d\d\d/;
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

function needsExactReader(text: string): boolean {
  return SIXTEEN_DIGITS.test(text) || (text.includes('\\u') && SURROGATE_ESCAPE.test(text));
}

function exceedsDepth(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  if (depth > MAX_JSON_DEPTH) {
    return true;
  }
  // Containers only: the type test before the call keeps scalars off the call stack.
  if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item === 'object' && item !== null && exceedsDepth(item, depth + 1)) {
        return true;
      }
    }
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    if (typeof item === 'object' && item !== null && exceedsDepth(item, depth + 1)) {
      return true;
    }
  }
  return false;
}

function tooLarge(maxBytes: number): PipelineError {
  return new PipelineError(ErrorCode.BodyTooLarge, `The message body exceeds the maximum size of ${maxBytes} bytes.`);
}

function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

/** `StreamReader(stream, Encoding.UTF8)`: UTF-8 unless a UTF-8/16/32 byte-order mark says otherwise. */
function decode(bytes: Uint8Array): string {
  const b0 = bytes[0];
  const b1 = bytes[1];
  if (b0 === 0xef && b1 === 0xbb && bytes[2] === 0xbf) {
    return utf8.decode(bytes.subarray(3));
  }
  if (b0 === 0xff && b1 === 0xfe) {
    return bytes[2] === 0 && bytes[3] === 0 ? decodeUtf32(bytes.subarray(4), true) : utf16le.decode(bytes.subarray(2));
  }
  if (b0 === 0xfe && b1 === 0xff) {
    return utf16be.decode(bytes.subarray(2));
  }
  if (b0 === 0 && b1 === 0 && bytes[2] === 0xfe && bytes[3] === 0xff) {
    return decodeUtf32(bytes.subarray(4), false);
  }
  return utf8.decode(bytes);
}

function decodeUtf32(bytes: Uint8Array, littleEndian: boolean): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: string[] = [];
  let i = 0;
  for (; i + 4 <= bytes.length; i += 4) {
    const cp = view.getUint32(i, littleEndian);
    parts.push(cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? '\ufffd' : String.fromCodePoint(cp));
  }
  if (i < bytes.length) {
    parts.push('\ufffd');
  }
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------------------------
// The exact reader: a port of the grammar JsonTextReader accepts (ParseValue, ParseObject, ParsePostValue,
// ParseProperty, ReadStringIntoBuffer, ParseNumber/ParseReadNumber, ParseComment, MatchValueWithTrailingSeparator).
// ---------------------------------------------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const MAX_BIG_INTEGER_LENGTH = 380;
const DECIMAL_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const LETTER_OR_DIGIT = /[\p{L}\p{Nd}]/u;

class JsonSyntaxError extends Error {
  readonly index: number;
  /**
   * @param reason - what went wrong, without content
   * @param index - where, as a character index
   */
  constructor(reason: string, index: number) {
    super(reason);
    this.index = index;
  }
}

function readNewtonsoft(text: string): JsonValue {
  const reader = new NewtonsoftReader(text);
  try {
    return reader.readRoot();
  } catch (error) {
    if (error instanceof JsonSyntaxError) {
      throw new PipelineError(
        ErrorCode.BodyInvalidJson,
        `${MESSAGE_PREFIX}: ${error.message} ${where(text, error.index)}.`,
      );
    }
    throw error;
  }
}

function where(text: string, index: number): string {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(index, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  return `at line ${line}, position ${end - lineStart + 1}`;
}

function isNumberChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || // 0-9
    (c >= 97 && c <= 102) || // a-f
    (c >= 65 && c <= 70) || // A-F
    c === 45 || // -
    c === 43 || // +
    c === 46 || // .
    c === 120 || // x
    c === 88 // X
  );
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

function isIdentifierChar(ch: string): boolean {
  return ch === '_' || ch === '$' || LETTER_OR_DIGIT.test(ch);
}

/** Sets a member without ever touching the prototype chain (`__proto__` becomes an own property). */
function setMember(target: Record<string, JsonValue>, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

class NewtonsoftReader {
  private readonly text: string;
  private pos = 0;

  /** @param text - the decoded body */
  constructor(text: string) {
    this.text = text;
  }

  readRoot(): JsonValue {
    this.skipBlanks(true);
    if (this.pos >= this.text.length) {
      throw new JsonSyntaxError('the body holds no JSON value', this.pos);
    }
    // `JToken.ReadFrom` returns after the first complete value; the rest of the text is never read.
    return this.readValue(0);
  }

  /** Skips white space and NUL characters, and comments when allowed. */
  private skipBlanks(comments: boolean): void {
    const text = this.text;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c === 0 || isDotNetWhiteSpace(c)) {
        this.pos++;
      } else if (c === 47 /* / */ && comments) {
        this.skipComment();
      } else {
        return;
      }
    }
  }

  private skipComment(): void {
    const start = this.pos;
    const text = this.text;
    const next = text.charCodeAt(this.pos + 1);
    if (Number.isNaN(next)) {
      throw new JsonSyntaxError('unexpected end while parsing a comment', start);
    }
    if (next === 42 /* * */) {
      const end = text.indexOf('*/', this.pos + 2);
      if (end < 0) {
        throw new JsonSyntaxError('unterminated comment', start);
      }
      this.pos = end + 2;
    } else if (next === 47 /* / */) {
      let i = this.pos + 2;
      while (i < text.length && text.charCodeAt(i) !== 10 && text.charCodeAt(i) !== 13) {
        i++;
      }
      this.pos = i;
    } else {
      throw new JsonSyntaxError('invalid comment', start);
    }
  }

  /**
   * A value at nesting `depth` (the number of containers around it). Returns `null` without consuming anything for
   * an empty slot (`,`), as Newtonsoft's `ParseValue` yields `undefined` there.
   */
  private readValue(depth: number): JsonValue {
    this.skipBlanks(true);
    const text = this.text;
    if (this.pos >= text.length) {
      throw new JsonSyntaxError('unexpected end of the body', this.pos);
    }
    const c = text.charCodeAt(this.pos);
    switch (c) {
      case 34: // "
      case 39: // '
        return this.readString(c);
      case 123: // {
        return this.readObject(depth + 1);
      case 91: // [
        return this.readArray(depth + 1);
      case 44: // , (empty slot)
        return null;
      case 116: // t
        return this.readLiteral('true', true);
      case 102: // f
        return this.readLiteral('false', false);
      case 110: // n
        if (text.charCodeAt(this.pos + 1) === 101 /* e */) {
          throw new JsonSyntaxError('JavaScript constructors are not supported', this.pos);
        }
        return this.readLiteral('null', null);
      case 117: // u
        return this.readLiteral('undefined', null);
      case 78: // N
        return this.readLiteral('NaN', NaN);
      case 73: // I
        return this.readLiteral('Infinity', Infinity);
      case 45: // -
        return text.charCodeAt(this.pos + 1) === 73 ? this.readLiteral('-Infinity', -Infinity) : this.readNumber();
      default:
        if ((c >= 48 && c <= 57) || c === 46) {
          return this.readNumber();
        }
        throw new JsonSyntaxError('unexpected character while parsing a value', this.pos);
    }
  }

  /** `MatchValueWithTrailingSeparator`: the word, then the end, a separator, white space or a comment. */
  private readLiteral(word: string, value: JsonValue): JsonValue {
    const text = this.text;
    const start = this.pos;
    if (!text.startsWith(word, start)) {
      throw new JsonSyntaxError('invalid literal', start);
    }
    const after = start + word.length;
    if (after < text.length) {
      const c = text.charCodeAt(after);
      const separator =
        c === 125 || // }
        c === 93 || // ]
        c === 44 || // ,
        c === 0 ||
        isDotNetWhiteSpace(c) ||
        (c === 47 && (text.charCodeAt(after + 1) === 42 || text.charCodeAt(after + 1) === 47));
      if (!separator) {
        throw new JsonSyntaxError('invalid literal', start);
      }
    }
    this.pos = after;
    return value;
  }

  private readString(quote: number): string {
    const text = this.text;
    const start = this.pos;
    let i = start + 1;
    let out = '';
    let runStart = i;
    for (;;) {
      if (i >= text.length) {
        throw new JsonSyntaxError('unterminated string', start);
      }
      const c = text.charCodeAt(i);
      if (c === quote) {
        this.pos = i + 1;
        return out + text.slice(runStart, i);
      }
      if (c !== 92 /* \ */) {
        i++;
        continue;
      }
      out += text.slice(runStart, i);
      if (i + 1 >= text.length) {
        throw new JsonSyntaxError('unterminated string', start);
      }
      const e = text.charAt(i + 1);
      i += 2;
      switch (e) {
        case 'b':
          out += '\b';
          break;
        case 't':
          out += '\t';
          break;
        case 'n':
          out += '\n';
          break;
        case 'f':
          out += '\f';
          break;
        case 'r':
          out += '\r';
          break;
        case '\\':
        case '"':
        case "'":
        case '/':
          out += e;
          break;
        case 'u': {
          const [decoded, next] = this.readUnicodeEscapes(i);
          out += decoded;
          i = next;
          break;
        }
        default:
          throw new JsonSyntaxError('bad escape sequence in a string', i - 2);
      }
      runStart = i;
    }
  }

  /** Four hex digits at `i`. */
  private hex4(i: number): number {
    const text = this.text;
    if (i + 4 > text.length) {
      throw new JsonSyntaxError('unexpected end while parsing a Unicode escape', i);
    }
    let value = 0;
    for (let k = i; k < i + 4; k++) {
      const c = text.charCodeAt(k);
      if (!isHexDigit(c)) {
        throw new JsonSyntaxError('invalid Unicode escape sequence', i - 2);
      }
      value = value * 16 + Number.parseInt(text[k] ?? '0', 16);
    }
    return value;
  }

  /**
   * The characters of a `\uXXXX` escape whose hex digits start at `i` (and of the escapes it pairs with), with
   * Newtonsoft's surrogate handling: pairs are kept, lone surrogates become U+FFFD.
   */
  private readUnicodeEscapes(i: number): [string, number] {
    const text = this.text;
    let unit = this.hex4(i);
    i += 4;
    if (unit >= 0xdc00 && unit <= 0xdfff) {
      return ['\ufffd', i];
    }
    if (unit < 0xd800 || unit > 0xdbff) {
      return [String.fromCharCode(unit), i];
    }
    let out = '';
    for (;;) {
      // A high surrogate: it needs `\u` + a low surrogate right after it.
      if (i + 2 <= text.length && text.charCodeAt(i) === 92 && text.charCodeAt(i + 1) === 117 /* u */) {
        const next = this.hex4(i + 2);
        i += 6;
        if (next >= 0xdc00 && next <= 0xdfff) {
          return [out + String.fromCharCode(unit, next), i];
        }
        out += '\ufffd';
        if (next >= 0xd800 && next <= 0xdbff) {
          unit = next; // another high surrogate: check again
          continue;
        }
        return [out + String.fromCharCode(next), i];
      }
      return [out + '\ufffd', i];
    }
  }

  private readNumber(): JsonValue {
    const text = this.text;
    const start = this.pos;
    let i = start;
    while (i < text.length && isNumberChar(text.charCodeAt(i))) {
      i++;
    }
    if (i < text.length) {
      const c = text.charCodeAt(i);
      const terminator = c === 0 || c === 44 || c === 125 || c === 93 || c === 41 || c === 47 || isDotNetWhiteSpace(c);
      if (!terminator) {
        throw new JsonSyntaxError('unexpected character while parsing a number', i);
      }
    }
    this.pos = i;
    const token = text.slice(start, i);
    const value = numberValue(token);
    if (value === undefined) {
      throw new JsonSyntaxError(
        token.length > MAX_BIG_INTEGER_LENGTH ? 'integer too large to parse' : 'invalid number',
        start,
      );
    }
    return value;
  }

  private readObject(depth: number): JsonValue {
    const open = this.pos;
    if (depth > MAX_JSON_DEPTH) {
      throw new JsonSyntaxError(`nesting deeper than ${MAX_JSON_DEPTH} levels`, open);
    }
    this.pos++;
    const text = this.text;
    const result: Record<string, JsonValue> = {};
    for (;;) {
      this.skipBlanks(true);
      if (this.pos >= text.length) {
        throw new JsonSyntaxError('unexpected end inside an object', this.pos);
      }
      if (text.charCodeAt(this.pos) === 125 /* } */) {
        this.pos++;
        return result;
      }
      const key = this.readPropertyName();
      this.skipBlanks(false);
      if (text.charCodeAt(this.pos) !== 58 /* : */) {
        throw new JsonSyntaxError("expected ':' after a property name", this.pos);
      }
      this.pos++;
      setMember(result, key, this.readValue(depth));
      // ParsePostValue
      this.skipBlanks(true);
      const c = text.charCodeAt(this.pos);
      if (c === 125 /* } */) {
        this.pos++;
        return result;
      }
      if (c !== 44 /* , */) {
        throw new JsonSyntaxError(
          Number.isNaN(c) ? 'unexpected end inside an object' : 'unexpected character after a value',
          this.pos,
        );
      }
      this.pos++;
    }
  }

  private readPropertyName(): string {
    const text = this.text;
    const c = text.charCodeAt(this.pos);
    if (c === 34 || c === 39) {
      return this.readString(c);
    }
    const start = this.pos;
    if (!isIdentifierChar(text[start] ?? '')) {
      throw new JsonSyntaxError('invalid property name character', start);
    }
    let i = start;
    while (i < text.length) {
      const ch = text[i] ?? '';
      if (isIdentifierChar(ch)) {
        i++;
      } else if (ch === ':' || isDotNetWhiteSpace(ch.charCodeAt(0)) || ch === '\0') {
        break;
      } else {
        throw new JsonSyntaxError('invalid character in an unquoted property name', i);
      }
    }
    if (i >= text.length) {
      throw new JsonSyntaxError('unexpected end while parsing a property name', i);
    }
    this.pos = i;
    return text.slice(start, i);
  }

  private readArray(depth: number): JsonValue {
    const open = this.pos;
    if (depth > MAX_JSON_DEPTH) {
      throw new JsonSyntaxError(`nesting deeper than ${MAX_JSON_DEPTH} levels`, open);
    }
    this.pos++;
    const text = this.text;
    const result: JsonValue[] = [];
    for (;;) {
      this.skipBlanks(true);
      if (this.pos >= text.length) {
        throw new JsonSyntaxError('unexpected end inside an array', this.pos);
      }
      if (text.charCodeAt(this.pos) === 93 /* ] */) {
        this.pos++;
        return result;
      }
      result.push(this.readValue(depth));
      this.skipBlanks(true);
      const c = text.charCodeAt(this.pos);
      if (c === 93 /* ] */) {
        this.pos++;
        return result;
      }
      if (c !== 44 /* , */) {
        throw new JsonSyntaxError(
          Number.isNaN(c) ? 'unexpected end inside an array' : 'unexpected character after a value',
          this.pos,
        );
      }
      this.pos++;
    }
  }
}

/** An integer as a number when exact, else as a bigint. */
function exactInteger(value: bigint): JsonValue {
  return value >= -(2n ** 53n) && value <= 2n ** 53n ? Number(value) : value;
}

/**
 * `ParseReadNumber` for `ReadType.Read`: single digits; `0x…` hexadecimal and `0…` octal Int64 (two's complement
 * above 2^63); base-10 Int64; BigInteger up to 380 characters; otherwise a double (`NumberStyles.Float`).
 */
function numberValue(token: string): JsonValue | undefined {
  const first = token.charCodeAt(0);
  if (token.length === 1) {
    return first >= 48 && first <= 57 ? first - 48 : undefined;
  }
  const second = token[1];
  if (first === 48 && second !== '.' && second !== 'e' && second !== 'E') {
    return nonDecimalInteger(token);
  }
  if (/^-?\d+$/.test(token)) {
    const digits = token.length - (first === 45 ? 1 : 0);
    if (digits <= 15) {
      const n = Number(token);
      return n === 0 ? 0 : n; // `-0` is the Int64 0
    }
    if (token.length > MAX_BIG_INTEGER_LENGTH) {
      return undefined;
    }
    const big = BigInt(token);
    return big >= INT64_MIN && big <= INT64_MAX ? exactInteger(big) : big;
  }
  return DECIMAL_FLOAT.test(token) ? Number(token) : undefined;
}

/** `Convert.ToInt64(s, 16 | 8)`: unsigned 64-bit digits reinterpreted as a signed Int64. */
function nonDecimalInteger(token: string): JsonValue | undefined {
  let big: bigint;
  if (token[1] === 'x' || token[1] === 'X') {
    const digits = token.slice(2);
    if (!/^[0-9a-fA-F]+$/.test(digits)) {
      return undefined;
    }
    big = BigInt(`0x${digits}`);
  } else {
    if (!/^[0-7]+$/.test(token)) {
      return undefined;
    }
    big = BigInt(`0o${token}`);
  }
  if (big > UINT64_MAX) {
    return undefined;
  }
  return exactInteger(big > INT64_MAX ? big - 2n ** 64n : big);
}
