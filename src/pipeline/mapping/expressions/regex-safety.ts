/**
 * Refusing regular expressions that can backtrack for exponential time (ReDoS): mapping expressions run them on strings
 * from devices, and a JavaScript RegExp cannot be interrupted.
 */

/**
 * True when a repeated group (`*`, `+`, `{n,}`, `{n,m}` with m > 1) contains a repetition itself: the "star height"
 * test of safe-regex, which finds the common catastrophic-backtracking shapes (`(a+)+`, `(\w*)*`, `(x+y?){2,}`).
 * Overlapping alternatives (`(a|a)+`) are not detected. JavaScript regular expressions have no match timeout, and
 * the strings they run on come from devices, so JSONPath `=~` and JSONata regex literals that can backtrack
 * exponentially are refused when the mapping loads.
 * @param pattern - the pattern source
 */
export function nestsRepetition(pattern: string): boolean {
  const repeats: boolean[] = [false];
  let inClass = false;
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (inClass) {
      inClass = c !== ']';
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      i++;
      continue;
    }
    if (c === '(') {
      repeats.push(false);
      i++;
      continue;
    }
    const closing = c === ')';
    const inner = closing ? (repeats.pop() ?? false) : false;
    if (repeats.length === 0) {
      repeats.push(false);
    }
    const quantifier = quantifierAt(pattern, closing ? i + 1 : i);
    if (closing && inner && quantifier?.repeats === true) {
      return true;
    }
    if (inner || quantifier?.repeats === true) {
      repeats[repeats.length - 1] = true;
    }
    i += (closing ? 1 : 0) + (quantifier?.length ?? (closing ? 0 : 1));
  }
  return false;
}

/** The quantifier at `i` (with a lazy or possessive suffix), or undefined. */
function quantifierAt(pattern: string, i: number): { length: number; repeats: boolean } | undefined {
  const c = pattern[i];
  let length: number;
  let repeats: boolean;
  if (c === '*' || c === '+' || c === '?') {
    length = 1;
    repeats = c !== '?';
  } else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (m === null) {
      return undefined;
    }
    length = m[0].length;
    const min = Number(m[1]);
    repeats = min > 1 || (m[2] !== undefined && (m[3] === '' || Number(m[3]) > 1));
  } else {
    return undefined;
  }
  const suffix = pattern[i + length];
  return { length: length + (suffix === '?' || suffix === '+' ? 1 : 0), repeats };
}
