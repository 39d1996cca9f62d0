import type { JsonPath } from './json-document';
import { toJsonPointer } from './json-document';
import { matchesTemplateName } from './template-type-names';

/**
 * Member names in mappings are case-insensitive (MedTech deserializes with case-insensitive contracts, §3.2).
 * Before schema validation, known members are renamed to their canonical spelling; unknown members keep theirs so
 * the schema reports them. The map remembers where each canonical node came from, so issues point at the text
 * exactly as written.
 */
export class CanonicalPaths {
  private readonly originals = new Map<string, JsonPath>();

  /**
   * Records that the node at canonical `canonical` was written at `original`.
   * @param canonical - path in the canonical document
   * @param original - path in the document as written
   */
  record(canonical: JsonPath, original: JsonPath): void {
    this.originals.set(toJsonPointer(canonical), original);
  }

  /**
   * The written path of a canonical path (or of its closest recorded ancestor, extended by the rest).
   * @param canonical - path in the canonical document
   */
  original(canonical: JsonPath): JsonPath {
    for (let n = canonical.length; n >= 0; n--) {
      const found = this.originals.get(toJsonPointer(canonical.slice(0, n)));
      if (found !== undefined) {
        return [...found, ...canonical.slice(n)];
      }
    }
    return canonical;
  }
}

/** True for a plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Returns a copy of `value` whose members matching `members` case-insensitively carry the canonical name. When two
 * members fold to one name, the later wins (Newtonsoft's behaviour). Records original paths of renamed members.
 *
 * @param value - the object as written
 * @param members - canonical member names of the object's type
 * @param at - canonical and original paths of the object itself
 * @param paths - where to record original paths
 */
export function canonicalizeMembers(
  value: Record<string, unknown>,
  members: readonly string[],
  at: { canonical: JsonPath; original: JsonPath },
  paths: CanonicalPaths,
): Record<string, unknown> {
  const byLower = new Map(members.map((m) => [m.toLowerCase(), m]));
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const canonical = byLower.get(key.toLowerCase()) ?? key;
    Object.defineProperty(result, canonical, {
      value: value[key],
      enumerable: true,
      writable: true,
      configurable: true,
    });
    paths.record([...at.canonical, canonical], [...at.original, key]);
  }
  return result;
}

/**
 * Canonicalizes the `{templateType, template: [...]}` root of a mapping: member names, the root type name (when it
 * names the collection `collectionName`, it becomes `canonicalName`), and each child through `child`.
 *
 * @param value - the document as written
 * @param paths - where to record original paths
 * @param collectionName - the collection factory's canonical name, e.g. `CollectionContentTemplate`
 * @param canonicalName - the spelling the schema expects, e.g. `CollectionContent`
 * @param child - canonicalizes one child container (already member-canonicalized) at index `i`
 */
export function canonicalizeCollection(
  value: unknown,
  paths: CanonicalPaths,
  collectionName: string,
  canonicalName: string,
  child: (container: Record<string, unknown>, index: number) => Record<string, unknown>,
): unknown {
  if (!isJsonObject(value)) {
    return value;
  }
  const members = ['templateType', 'template'];
  const root = canonicalizeMembers(value, members, { canonical: [], original: [] }, paths);
  if (typeof root.templateType === 'string' && matchesTemplateName(root.templateType, collectionName)) {
    root.templateType = canonicalName;
  }
  if (Array.isArray(root.template)) {
    const original = paths.original(['template']);
    root.template = root.template.map((item: unknown, i) =>
      isJsonObject(item)
        ? child(
            canonicalizeMembers(item, members, { canonical: ['template', i], original: [...original, i] }, paths),
            i,
          )
        : item,
    );
  }
  return root;
}
