import type { Node, ParseError } from 'jsonc-parser';
import { findNodeAtLocation, parseTree, printParseErrorCode } from 'jsonc-parser';

/** A path into a JSON document: member names and array indices. */
export type JsonPath = readonly (string | number)[];

/** A mapping document parsed with positions, so every issue can be reported at its line and column. */
export interface JsonDocument {
  /** The parsed value (`undefined` when the text holds no JSON value at all). */
  readonly value: unknown;
  /** Syntax errors, each with a 1-based line and column. */
  readonly syntaxErrors: readonly { message: string; line: number; column: number }[];
  /**
   * The position of the member or element at `path` (its key for members), or of its closest existing ancestor.
   * @param path - a path as written in the document
   */
  locate(path: JsonPath): { line: number; column: number };
}

const BOM = 0xfeff;

/**
 * Parses mapping text the way MedTech's JSON reader accepts it: a UTF-8 byte-order mark is ignored; comments and
 * trailing commas are allowed (Newtonsoft.Json allows both).
 *
 * @param text - the document text
 */
export function parseJsonDocument(text: string): JsonDocument {
  const source = text.charCodeAt(0) === BOM ? text.slice(1) : text;
  const lineStarts = computeLineStarts(source);
  const position = (offset: number): { line: number; column: number } => toLineColumn(lineStarts, offset);
  const errors: ParseError[] = [];
  const root = parseTree(source, errors, {
    allowTrailingComma: true,
    disallowComments: false,
    allowEmptyContent: true,
  });
  const syntaxErrors = errors.map((e) => ({ message: describeSyntaxError(e.error), ...position(e.offset) }));
  const value: unknown = root === undefined ? undefined : toValue(root);
  return {
    value,
    syntaxErrors,
    locate(path) {
      if (root === undefined) {
        return { line: 1, column: 1 };
      }
      for (let n = path.length; n >= 0; n--) {
        const node = findNodeAtLocation(root, path.slice(0, n));
        if (node !== undefined) {
          // A member is reported at its key, which is where editors put the cursor.
          const keyNode = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
          return position((keyNode ?? node).offset);
        }
      }
      return position(root.offset);
    },
  };
}

/**
 * Converts a parse tree to a plain value. Unlike `getNodeValue`, members named `__proto__` become own data
 * properties instead of replacing the prototype, and a repeated member keeps its last value (as Newtonsoft does).
 */
function toValue(node: Node): unknown {
  switch (node.type) {
    case 'object': {
      const result: Record<string, unknown> = {};
      for (const property of node.children ?? []) {
        const [key, child] = property.children ?? [];
        if (key !== undefined && child !== undefined) {
          Object.defineProperty(result, String(key.value), {
            value: toValue(child),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
      }
      return result;
    }
    case 'array':
      return (node.children ?? []).map(toValue);
    case 'property':
      return node.children?.[1] === undefined ? undefined : toValue(node.children[1]);
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
      return node.value as unknown;
  }
}

function describeSyntaxError(code: ParseError['error']): string {
  const name = printParseErrorCode(code);
  const text: Record<string, string> = {
    InvalidSymbol: 'Invalid symbol',
    InvalidNumberFormat: 'Invalid number format',
    PropertyNameExpected: 'Property name expected',
    ValueExpected: 'Value expected',
    ColonExpected: 'Colon expected',
    CommaExpected: 'Comma expected',
    CloseBraceExpected: 'Closing brace expected',
    CloseBracketExpected: 'Closing bracket expected',
    EndOfFileExpected: 'End of file expected',
    InvalidCommentToken: 'Invalid comment token',
    UnexpectedEndOfComment: 'Unexpected end of comment',
    UnexpectedEndOfString: 'Unexpected end of string',
    UnexpectedEndOfNumber: 'Unexpected end of number',
    InvalidUnicode: 'Invalid unicode sequence',
    InvalidEscapeCharacter: 'Invalid escape character',
    InvalidCharacter: 'Invalid character',
  };
  return `Invalid JSON: ${text[name] ?? name}.`;
}

function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      starts.push(i + 1);
    } else if (c === 0x0d) {
      if (text.charCodeAt(i + 1) === 0x0a) {
        i++;
      }
      starts.push(i + 1);
    }
  }
  return starts;
}

function toLineColumn(lineStarts: readonly number[], offset: number): { line: number; column: number } {
  let low = 0;
  let high = lineStarts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((lineStarts[mid] ?? 0) <= offset) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  return { line: low + 1, column: offset - (lineStarts[low] ?? 0) + 1 };
}

/**
 * Encodes a path as a JSON Pointer (RFC 6901).
 * @param path - member names and indices
 */
export function toJsonPointer(path: JsonPath): string {
  return path.map((segment) => `/${String(segment).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}
