/**
 * Deep equality of JSON values (FHIR resources), the analogue of Firely's `IsExactly` used by MedTech to skip writes
 * of unchanged Observations (§9.7). Member order is irrelevant, array order matters, a member whose value is
 * `undefined` counts as absent, and numbers compare by value (`37.20` and `37.2` are the same decimal).
 */

/**
 * True when `a` and `b` are the same JSON value.
 * @param a - first value
 * @param b - second value
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return false;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) {
      return false;
    }
    for (let i = 0; i < a.length; i++) {
      if (!jsonEqual(a[i], b[i])) {
        return false;
      }
    }
    return true;
  }
  if (Array.isArray(b)) {
    return false;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const key in x) {
    const v = x[key];
    if (v === undefined) {
      continue;
    }
    defined++;
    if (!jsonEqual(v, y[key])) {
      return false;
    }
  }
  for (const key in y) {
    if (y[key] !== undefined) {
      defined--;
    }
  }
  return defined === 0;
}
