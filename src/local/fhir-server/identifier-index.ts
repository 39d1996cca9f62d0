/**
 * An exact index of `Resource.identifier` (system, value) pairs, so `GET [type]?identifier=[system|]value` costs
 * O(1) instead of medplum's scan, which evaluates the long shared R4 `identifier` FHIRPath on every stored
 * resource (about 0.55 ms each, platform-notes §7).
 *
 * Matching is exact and case-sensitive, as FHIR token search on identifiers means it
 * (https://hl7.org/fhir/R4/search.html#token) and as the pipeline needs it (medtech-reference §9.7: keep only
 * exact matches).
 */

/** One identifier token of a search: `value` (any system), `system|value`, or `|value` (no system). */
export type IdentifierToken =
  | { readonly match: 'any-system'; readonly value: string }
  | { readonly match: 'system'; readonly system: string; readonly value: string }
  | { readonly match: 'no-system'; readonly value: string };

/** An identifier as stored: the system is `undefined` when absent. */
interface IdentifierPair {
  readonly system: string | undefined;
  readonly value: string;
}

/** The index of one resource type. */
interface TypeIndex {
  /** system (undefined: none) → value → ids, in first-indexed order. */
  readonly bySystem: Map<string | undefined, Map<string, Set<string>>>;
  /** value → ids, whatever the system. */
  readonly byValue: Map<string, Set<string>>;
  /** id → the pairs indexed for it, to undo them on update and delete. */
  readonly pairsById: Map<string, readonly IdentifierPair[]>;
}

/**
 * Parses the value of an `identifier` search parameter into its comma-separated tokens, honouring FHIR's
 * backslash escapes (`\,` `\|` `\$` `\\`, https://hl7.org/fhir/R4/search.html#escaping).
 * @param text - the parameter value, already URL-decoded
 * @returns the tokens, or `undefined` for a form the index does not answer (`system|` alone, an empty value,
 * more than one `|`) — the caller then lets medplum evaluate it.
 */
export function parseIdentifierTokens(text: string): IdentifierToken[] | undefined {
  const tokens: IdentifierToken[] = [];
  let parts: string[] = [];
  let current = '';
  let escaped = false;
  const finish = (): boolean => {
    const token = toToken([...parts, current]);
    if (token === undefined) {
      return false;
    }
    tokens.push(token);
    parts = [];
    current = '';
    return true;
  };
  for (const char of text) {
    if (escaped) {
      current += char;
      escaped = false;
    } else if (char === '\\') {
      escaped = true;
    } else if (char === '|') {
      parts.push(current);
      current = '';
    } else if (char === ',') {
      if (!finish()) {
        return undefined;
      }
    } else {
      current += char;
    }
  }
  return finish() ? tokens : undefined;
}

function toToken(parts: readonly string[]): IdentifierToken | undefined {
  const [first, second, ...rest] = parts;
  if (first === undefined || rest.length > 0) {
    return undefined;
  }
  if (second === undefined) {
    return first === '' ? undefined : { match: 'any-system', value: first };
  }
  if (second === '') {
    return undefined;
  }
  return first === '' ? { match: 'no-system', value: second } : { match: 'system', system: first, value: second };
}

function identifierPairs(resource: object): IdentifierPair[] {
  const { identifier } = resource as { identifier?: unknown };
  const identifiers: unknown[] = Array.isArray(identifier) ? identifier : [identifier];
  const pairs: IdentifierPair[] = [];
  for (const identifier of identifiers) {
    if (typeof identifier !== 'object' || identifier === null) {
      continue;
    }
    const { system, value } = identifier as { system?: unknown; value?: unknown };
    if (typeof value === 'string') {
      pairs.push({ system: typeof system === 'string' ? system : undefined, value });
    }
  }
  return pairs;
}

function addTo<K>(map: Map<K, Set<string>>, key: K, id: string): void {
  const ids = map.get(key);
  if (ids === undefined) {
    map.set(key, new Set([id]));
  } else {
    ids.add(id);
  }
}

function removeFrom<K>(map: Map<K, Set<string>>, key: K, id: string): void {
  const ids = map.get(key);
  if (ids?.delete(id) === true && ids.size === 0) {
    map.delete(key);
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** The identifier index of a FHIR store, maintained on every write and delete. */
export class IdentifierIndex {
  private readonly types = new Map<string, TypeIndex>();

  /**
   * Records the identifiers of a resource's new current version (replacing its previous version's).
   * Identifiers that did not change keep their place, so results keep a stable order.
   * @param resourceType - the resource type
   * @param id - the resource id
   * @param resource - the stored version
   */
  put(resourceType: string, id: string, resource: object): void {
    const index = this.typeIndex(resourceType);
    const next = identifierPairs(resource);
    const previous = index.pairsById.get(id) ?? [];
    const has = (pairs: readonly IdentifierPair[], pair: IdentifierPair): boolean =>
      pairs.some((p) => p.system === pair.system && p.value === pair.value);
    this.unindex(
      index,
      id,
      previous.filter((pair) => !has(next, pair)),
      next,
    );
    for (const pair of next) {
      if (!has(previous, pair)) {
        let byValue = index.bySystem.get(pair.system);
        if (byValue === undefined) {
          byValue = new Map();
          index.bySystem.set(pair.system, byValue);
        }
        addTo(byValue, pair.value, id);
        addTo(index.byValue, pair.value, id);
      }
    }
    if (next.length === 0) {
      index.pairsById.delete(id);
    } else {
      index.pairsById.set(id, next);
    }
  }

  /**
   * Forgets a deleted resource.
   * @param resourceType - the resource type
   * @param id - the resource id
   */
  remove(resourceType: string, id: string): void {
    const index = this.types.get(resourceType);
    const previous = index?.pairsById.get(id);
    if (index === undefined || previous === undefined) {
      return;
    }
    this.unindex(index, id, previous, []);
    index.pairsById.delete(id);
  }

  /**
   * Finds the ids of the resources that carry any of the tokens.
   * @param resourceType - the resource type
   * @param tokens - the tokens of one `identifier` parameter (OR-ed, as FHIR's comma)
   * @returns the ids, each once
   */
  find(resourceType: string, tokens: readonly IdentifierToken[]): ReadonlySet<string> {
    const index = this.types.get(resourceType);
    if (index === undefined) {
      return EMPTY;
    }
    const lookup = (token: IdentifierToken): ReadonlySet<string> => {
      switch (token.match) {
        case 'any-system':
          return index.byValue.get(token.value) ?? EMPTY;
        case 'system':
          return index.bySystem.get(token.system)?.get(token.value) ?? EMPTY;
        case 'no-system':
          return index.bySystem.get(undefined)?.get(token.value) ?? EMPTY;
      }
    };
    const [only, ...more] = tokens;
    if (only === undefined) {
      return EMPTY;
    }
    if (more.length === 0) {
      return lookup(only);
    }
    const union = new Set<string>();
    for (const token of tokens) {
      for (const id of lookup(token)) {
        union.add(id);
      }
    }
    return union;
  }

  private typeIndex(resourceType: string): TypeIndex {
    let index = this.types.get(resourceType);
    if (index === undefined) {
      index = { bySystem: new Map(), byValue: new Map(), pairsById: new Map() };
      this.types.set(resourceType, index);
    }
    return index;
  }

  /** Removes `stale` pairs; a value stays in `byValue` while a `kept` pair still carries it. */
  private unindex(
    index: TypeIndex,
    id: string,
    stale: readonly IdentifierPair[],
    kept: readonly IdentifierPair[],
  ): void {
    for (const pair of stale) {
      const byValue = index.bySystem.get(pair.system);
      if (byValue !== undefined) {
        removeFrom(byValue, pair.value, id);
        if (byValue.size === 0) {
          index.bySystem.delete(pair.system);
        }
      }
      if (!kept.some((p) => p.value === pair.value)) {
        removeFrom(index.byValue, pair.value, id);
      }
    }
  }
}
