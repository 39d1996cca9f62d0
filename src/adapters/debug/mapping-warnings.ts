import type { DeviceMapping, FhirMapping, JsonPath } from '../../pipeline';
import { crossCheckMappings, parseJsonDocument, toJsonPointer } from '../../pipeline';

/** A disagreement between the two mappings, located in the device mapping's text (where the user fixes it). */
export interface MappingWarning {
  /** The editor the warning belongs to (always the device mapping: its type names and values are checked). */
  readonly mapping: 'deviceMapping';
  readonly message: string;
  readonly jsonPointer: string;
  /** 1-based line and column of the member at fault, as written. */
  readonly line: number;
  readonly column: number;
}

/**
 * The portal debugger's and `MappingValidator`'s warnings (medtech-reference §13) — a device type without a FHIR
 * template, a value no FHIR template uses — each at the `typeName` or `valueName` member it is about.
 *
 * @param deviceText - the device mapping's text, as loaded
 * @param device - the loaded device mapping
 * @param fhir - the loaded FHIR destination mapping
 */
export function crossCheckWarnings(deviceText: string, device: DeviceMapping, fhir: FhirMapping): MappingWarning[] {
  const mismatches = crossCheckMappings(device, fhir);
  if (mismatches.length === 0) {
    return [];
  }
  const document = parseJsonDocument(deviceText);
  return mismatches.map((m) => {
    const canonical: JsonPath =
      m.valueIndex === undefined
        ? ['template', m.templateIndex, 'template', 'typeName']
        : ['template', m.templateIndex, 'template', 'values', m.valueIndex, 'valueName'];
    const path = asWritten(document.value, canonical);
    return { mapping: 'deviceMapping', message: m.message, jsonPointer: toJsonPointer(path), ...document.locate(path) };
  });
}

/**
 * Member names in mappings are case-insensitive (medtech-reference §3.2): finds each member as the user spelled it,
 * so the warning lands on `TypeName` as well as on `typeName`. Stops at the first segment that does not exist.
 */
function asWritten(root: unknown, canonical: JsonPath): JsonPath {
  const path: (string | number)[] = [];
  let node = root;
  for (const segment of canonical) {
    if (typeof segment === 'number') {
      if (!Array.isArray(node) || segment >= node.length) {
        break;
      }
      path.push(segment);
      node = node[segment] as unknown;
      continue;
    }
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      break;
    }
    // The last spelling wins, as when the loader folds two spellings of one member (Newtonsoft's behaviour).
    const key = Object.keys(node)
      .filter((k) => k.toLowerCase() === segment.toLowerCase())
      .at(-1);
    if (key === undefined) {
      break;
    }
    path.push(key);
    node = (node as Record<string, unknown>)[key];
  }
  return path;
}
