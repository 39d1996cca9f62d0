/**
 * Splitting a JSON array text into the texts of its elements without re-serializing them, so each event of a batch
 * keeps the exact bytes the device sent (big integers, number spelling, escapes — what MedTech's body parser sees).
 * A single pass over the characters that tracks nesting and strings.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

const isWhitespace = (ch: number): boolean => ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09;

/**
 * The `[start, end)` offsets of the elements of a JSON array. The text must be valid JSON whose value is an array
 * (check with `JSON.parse` first); surrounding whitespace of each element is excluded.
 * @param text - the array text
 */
export function arrayElementSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  let end = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === BACKSLASH) {
        i++;
      } else if (ch === QUOTE) {
        inString = false;
        end = i + 1;
      }
      continue;
    }
    if (isWhitespace(ch)) {
      continue;
    }
    if (depth === 1 && (ch === COMMA || ch === CLOSE_BRACKET)) {
      if (start >= 0) {
        spans.push([start, end]);
      }
      start = -1;
      if (ch === CLOSE_BRACKET) {
        depth = 0;
      }
      continue;
    }
    if (depth === 1 && start < 0) {
      start = i;
    }
    if (ch === QUOTE) {
      inString = true;
    } else if (ch === OPEN_BRACKET || ch === OPEN_BRACE) {
      depth++;
    } else if (ch === CLOSE_BRACKET || ch === CLOSE_BRACE) {
      depth--;
    }
    end = i + 1;
  }
  return spans;
}

/**
 * Which element of a top-level array the character at `offset` belongs to: the number of element separators
 * before it. Works on invalid JSON too (to name the event a syntax error is in); undefined when the text is not an
 * array or the offset lies before its first element.
 * @param text - the (possibly invalid) array text
 * @param offset - a character offset
 */
export function arrayElementIndexAt(text: string, offset: number): number | undefined {
  let depth = 0;
  let inString = false;
  let index = 0;
  let sawArray = false;
  for (let i = 0; i < Math.min(offset, text.length); i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === BACKSLASH) {
        i++;
      } else if (ch === QUOTE) {
        inString = false;
      }
      continue;
    }
    if (depth === 0 && !sawArray) {
      if (ch === OPEN_BRACKET) {
        sawArray = true;
        depth = 1;
      } else if (!isWhitespace(ch)) {
        return undefined;
      }
      continue;
    }
    if (ch === QUOTE) {
      inString = true;
    } else if (ch === OPEN_BRACKET || ch === OPEN_BRACE) {
      depth++;
    } else if (ch === CLOSE_BRACKET || ch === CLOSE_BRACE) {
      depth--;
    } else if (ch === COMMA && depth === 1) {
      index++;
    }
  }
  return sawArray ? index : undefined;
}
