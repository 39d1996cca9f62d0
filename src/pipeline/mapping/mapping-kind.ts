import { isJsonObject } from './canonicalize';
import type { JsonDocument } from './json-document';
import { DEVICE_COLLECTION, FHIR_COLLECTION, matchesTemplateName } from './template-type-names';

/** Which of the two mapping documents a text holds. */
export type MappingKind = 'device' | 'fhir';

/**
 * Detects the mapping kind from the root `templateType` (member name and value matched as MedTech does), or
 * `undefined` when the document is neither a `CollectionContent` nor a `CollectionFhir`.
 *
 * @param document - a parsed document
 */
export function detectMappingKind(document: JsonDocument): MappingKind | undefined {
  if (!isJsonObject(document.value)) {
    return undefined;
  }
  const key = Object.keys(document.value).find((k) => k.toLowerCase() === 'templatetype');
  const type = key === undefined ? undefined : document.value[key];
  if (typeof type !== 'string') {
    return undefined;
  }
  if (matchesTemplateName(type, DEVICE_COLLECTION)) {
    return 'device';
  }
  return matchesTemplateName(type, FHIR_COLLECTION) ? 'fhir' : undefined;
}
