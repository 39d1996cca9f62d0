/**
 * A deep copy of a JSON value (a FHIR resource as parsed from a response, or as built by the pipeline): objects,
 * arrays and primitives, members in their order. `structuredClone` does the same for such values but goes through
 * the serializer, which costs several times as much; the merge copies every stored Observation it updates.
 */

/**
 * Copies a JSON value. Members named `__proto__` are copied as own members (as `JSON.parse` creates them), never
 * as the prototype; members whose value is `undefined` are kept (as `structuredClone` keeps them).
 * @param value - a JSON value (plain objects, arrays, strings, numbers, booleans, null)
 */
export function cloneJson<T>(value: T): T {
  return copy(value) as T;
}

function copy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) {
    return value;
  }
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      out[i] = copy(value[i]);
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (Object.prototype.hasOwnProperty.call(value, key)) {
      const member = copy((value as Record<string, unknown>)[key]);
      if (key === '__proto__') {
        Object.defineProperty(out, key, { value: member, writable: true, enumerable: true, configurable: true });
      } else {
        out[key] = member;
      }
    }
  }
  return out;
}
