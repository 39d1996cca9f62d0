/**
 * Parsing of Quantity values the way MedTech does it: `decimal.Parse(text, CultureInfo.InvariantCulture)`, whose
 * default style is `NumberStyles.Number` (medtech-reference §9.6).
 *
 * Accepted: leading and trailing white space (U+0009–U+000D, U+0020), one sign either leading (`-5`) or trailing
 * (`5-`, `5 -`; never both, and a leading sign must touch the digits), digits with `,` thousands separators after
 * the first digit and before the point, one `.` decimal point (`.5` and `5.` are fine).
 * Rejected: exponents (`1e3`), `NaN`, `Infinity`, currency symbols, parentheses, anything beyond the decimal range.
 *
 * The result is a JavaScript number. FHIR decimals keep their lexical scale (`37.20`), but a JSON number in
 * JavaScript cannot: `37.20` is written as `37.2`. That is the same decimal value; merges compare numbers, so a
 * MedTech-written `37.20` read back equals our `37.2` and causes no update. Digits beyond double precision
 * (about 15–17 significant digits) are rounded.
 */

/** `decimal.MaxValue` (79 228 162 514 264 337 593 543 950 335) as the nearest double. */
const DECIMAL_MAX = 7.922816251426434e28;

/** `[sign]digits[,digits…][.digits]` or `.digits`, white space and signs already removed. */
const NUMBER_BODY = /^(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)$/;

/**
 * Parses a Quantity value with .NET invariant `NumberStyles.Number` rules.
 * @param text - the measurement value
 * @returns the number, or `undefined` when .NET would reject the text
 */
export function parseDecimalValue(text: string): number | undefined {
  let start = 0;
  let end = text.length;
  while (start < end && isWhite(text.charCodeAt(start))) {
    start++;
  }
  while (end > start && isWhite(text.charCodeAt(end - 1))) {
    end--;
  }
  let sign = 1;
  const lead = text.charAt(start);
  const trail = text.charAt(end - 1);
  if (lead === '-' || lead === '+') {
    sign = lead === '-' ? -1 : 1;
    start++;
  } else if ((trail === '-' || trail === '+') && end - 1 > start) {
    sign = trail === '-' ? -1 : 1;
    end--;
    // White space may separate the digits from a trailing sign ("5 -").
    while (end > start && isWhite(text.charCodeAt(end - 1))) {
      end--;
    }
  }
  const body = text.slice(start, end);
  if (!NUMBER_BODY.test(body)) {
    return undefined;
  }
  const magnitude = Number(body.replaceAll(',', '').replace(/^\./, '0.').replace(/\.$/, ''));
  if (magnitude > DECIMAL_MAX) {
    return undefined;
  }
  return magnitude === 0 ? 0 : sign * magnitude;
}

function isWhite(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}
