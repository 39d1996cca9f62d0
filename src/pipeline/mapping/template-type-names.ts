/**
 * MedTech's template type-name matching (medtech-reference §3.1, `TemplateContainer.MatchTemplateName`): a name
 * matches when it equals the factory's canonical name ignoring case, or when the name plus the literal suffix
 * `Template` does. So `JsonPathContent` and `jsonpathcontenttemplate` both match `JsonPathContentTemplate`, while
 * `CalculatedContentTemplate` matches nothing (its canonical name is `CalculatedContent`).
 */

/** Canonical names of the device template factories, in the order MedTech tries them. */
export const DeviceTemplateKind = {
  JsonPathContent: 'JsonPathContent',
  IotJsonPathContent: 'IotJsonPathContent',
  IotCentralJsonPathContent: 'IotCentralJsonPathContent',
  CalculatedContent: 'CalculatedContent',
} as const;

/** A device template type. */
export type DeviceTemplateKind = (typeof DeviceTemplateKind)[keyof typeof DeviceTemplateKind];

const DEVICE_FACTORIES: readonly (readonly [DeviceTemplateKind, string])[] = [
  [DeviceTemplateKind.JsonPathContent, 'JsonPathContentTemplate'],
  [DeviceTemplateKind.IotJsonPathContent, 'IotJsonPathContentTemplate'],
  [DeviceTemplateKind.IotCentralJsonPathContent, 'IotCentralJsonPathContent'],
  [DeviceTemplateKind.CalculatedContent, 'CalculatedContent'],
];

/**
 * True when `kind` is one of the canonical device template kinds.
 * @param kind - a canonical name
 */
export function isDeviceTemplateKind(kind: string): kind is DeviceTemplateKind {
  return DEVICE_FACTORIES.some(([k]) => k === kind);
}

/**
 * True when `given` names the factory whose canonical name is `canonical`.
 * @param given - the `templateType` as written
 * @param canonical - the factory's canonical name
 */
export function matchesTemplateName(given: string, canonical: string): boolean {
  const lower = canonical.toLowerCase();
  const name = given.toLowerCase();
  return name === lower || `${name}template` === lower;
}

/**
 * The device template kind a `templateType` selects, or `undefined` ("No match found for template type X.").
 * @param given - the `templateType` as written
 */
export function matchDeviceTemplateKind(given: string): DeviceTemplateKind | undefined {
  return DEVICE_FACTORIES.find(([, canonical]) => matchesTemplateName(given, canonical))?.[0];
}

/** Canonical name of the device mapping root. */
export const DEVICE_COLLECTION = 'CollectionContentTemplate';
/** Canonical name of the FHIR mapping root. */
export const FHIR_COLLECTION = 'CollectionFhirTemplate';
/** Canonical name of the FHIR template type. */
export const CODE_VALUE_FHIR = 'CodeValueFhirTemplate';
