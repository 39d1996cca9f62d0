/**
 * The pure pipeline core: the only module adapters import from. No Azure SDK, no I/O, no ambient clock.
 */
export * from './clock';
export * from './errors';
export * from './metrics';
export * from './outcome';

export type * from './model/device-event';
export type * from './model/measurement';

export * from './convert/instant';
export { parseDotNetDateTime } from './convert/datetime-parse';
export { formatDotNetDouble, tokenToDotNetString, tokenToInstant } from './convert/dotnet-string';
export { parseJsonBody, DEFAULT_MAX_BODY_BYTES } from './convert/json-body';

export * from './mapping/mapping-issue';
export { parseJsonDocument, toJsonPointer } from './mapping/json-document';
export type { JsonDocument, JsonPath } from './mapping/json-document';
export * from './mapping/mapping-kind';
export * from './mapping/cross-check-mappings';
export type * from './mapping/device-template';
export * from './mapping/fhir-template';
export * from './mapping/load-device-mapping';
export * from './mapping/load-fhir-mapping';
export { DeviceTemplateKind, matchesTemplateName } from './mapping/template-type-names';
export * from './mapping/expressions/expression';
export { compileExpression, parseExpressionLanguage } from './mapping/expressions/compile-expression';

export { toEnvelope, createBodyDateIndex } from './normalize/envelope';
export * from './normalize/normalize';
export * from './normalize/normalize-batch';

export type * from './persist/fhir-store';

export type * from './model/measurement-group';
export { groupMeasurements, measurementGroupKey } from './group/group-measurements';
export * from './transform/observation-identity';
export { buildObservation } from './transform/build-observation';
export { mergeObservation } from './transform/merge-observation';
export * from './identity/resolve-identity';
export * from './persist/save-observations';
export * from './persist/observation-cache';
export { chunkGroups } from './group/chunk-groups';
export * from './process-batch';
export * from './debug-session';
export * from './config/settings';
export * from './logger';
export * from './dead-letter';
