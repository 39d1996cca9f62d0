import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';

import deviceMappingSchema from '../../../mappings/schemas/device-mapping.schema.json';
import fhirMappingSchema from '../../../mappings/schemas/fhir-mapping.schema.json';
import type { ErrorCode } from '../errors';
import { ErrorCode as Codes } from '../errors';
import type { JsonPath } from './json-document';

/** A schema violation at a path of the canonical document. */
export interface SchemaIssue {
  readonly path: JsonPath;
  readonly code: ErrorCode;
  readonly message: string;
  /** True when the issue is a missing member: it is reported at the enclosing object, not about its contents. */
  readonly missingMember?: boolean;
}

/** Which mapping schema to validate against. */
export type MappingSchema = 'device' | 'fhir';

let validators: Record<MappingSchema, ValidateFunction> | undefined;

/** Compiles both schemas once per process (load time only; never on the message path). */
function getValidators(): Record<MappingSchema, ValidateFunction> {
  if (validators === undefined) {
    // allErrors: report every problem of a mapping at once; verbose: the failing schema's title names MedTech's type.
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictTuples: false });
    validators = { device: ajv.compile(deviceMappingSchema), fhir: ajv.compile(fhirMappingSchema) };
  }
  return validators;
}

/**
 * Validates a canonicalized mapping document against its JSON Schema (shipped in `mappings/schemas/`) and translates
 * every violation into MedTech's wording.
 *
 * @param schema - which mapping schema
 * @param document - the canonicalized document
 */
export function validateMappingSchema(schema: MappingSchema, document: unknown): SchemaIssue[] {
  const validate = getValidators()[schema];
  if (validate(document)) {
    return [];
  }
  const errors = dropBranchNoise(validate.errors ?? []);
  const code = schema === 'device' ? Codes.TemplateInvalid : Codes.FhirTemplateInvalid;
  const seen = new Set<string>();
  return errors.flatMap((error) => {
    const issue = translate(error, document, code, schema);
    const key = issue === undefined ? '' : `${issue.path.join('/')}\u0000${issue.message}`;
    if (issue === undefined || seen.has(key)) {
      return [];
    }
    seen.add(key);
    return [issue];
  });
}

/**
 * Keeps the errors a mapping author can act on:
 * - `if` failures only say a `then` failed; the `then` errors follow.
 * - For an `anyOf` (an expression string or object; a boolean or its string form), errors inside the value mean the
 *   author chose a branch and got it wrong: those are kept and the generic message dropped. Otherwise only the
 *   generic message is kept.
 * - Under a `templateType` MedTech does not know, the template's own errors are noise.
 */
function dropBranchNoise(errors: readonly ErrorObject[]): ErrorObject[] {
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  const unknownTypes = errors
    .filter((e) => (e.keyword === 'enum' || e.keyword === 'const') && e.instancePath.endsWith('/templateType'))
    .map((e) => `${e.instancePath.slice(0, -'templateType'.length)}template`);
  const deeper = (e: ErrorObject, path: string): boolean => e.instancePath.startsWith(`${path}/`);
  return errors.filter((e) => {
    if (e.keyword === 'if') {
      return false;
    }
    if (unknownTypes.some((t) => e.instancePath === t || deeper(e, t))) {
      return false;
    }
    for (const a of anyOfs) {
      const branchChosen = errors.some((other) => deeper(other, a.instancePath));
      if (e === a) {
        return !branchChosen;
      }
      if (e.instancePath === a.instancePath) {
        return false;
      }
    }
    return true;
  });
}

function translate(
  error: ErrorObject,
  document: unknown,
  code: ErrorCode,
  schema: MappingSchema,
): SchemaIssue | undefined {
  const path = toPath(error.instancePath, document);
  const member = String(path[path.length - 1] ?? 'document');
  const title = typeof error.parentSchema?.title === 'string' ? error.parentSchema.title : 'template';
  const params = error.params as Record<string, unknown>;
  const value: unknown = error.data;
  switch (error.keyword) {
    case 'required':
      return {
        path,
        code,
        message: `Required property '${String(params.missingProperty)}' not found in JSON.`,
        missingMember: true,
      };
    case 'additionalProperties':
      return {
        path: [...path, String(params.additionalProperty)],
        code,
        message: `Could not find member '${String(params.additionalProperty)}' on object of type '${title}'.`,
      };
    case 'type':
      return { path, code, message: typeMessage(member, String(params.type), path.length) };
    case 'enum':
    case 'const':
      return enumIssue(path, member, value, code, schema);
    case 'anyOf':
      return { path, code, message: anyOfMessage(member) };
    case 'pattern':
      return { path, code, message: patternMessage(member, value) };
    case 'minLength':
      return {
        path,
        code: Codes.TemplateExpressionInvalid,
        message: `The expression in '${member}' must not be empty.`,
      };
    case 'exclusiveMinimum':
      return { path, code, message: `Member '${member}' must be greater than ${String(params.limit)}.` };
    default:
      return { path, code, message: `Member '${member}' ${error.message ?? 'is invalid'}.` };
  }
}

function typeMessage(member: string, type: string, depth: number): string {
  const article = (t: string): string => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);
  if (member === 'template') {
    // MedTech's own wording for the two structural mistakes people make most.
    return depth <= 1
      ? `Expected an array for the template property value.`
      : `Expected an object for the template property value.`;
  }
  return `Member '${member}' must be ${type.split(',').map(article).join(' or ')}.`;
}

function enumIssue(
  path: JsonPath,
  member: string,
  value: unknown,
  code: ErrorCode,
  schema: MappingSchema,
): SchemaIssue {
  if (member === 'templateType') {
    const shown = typeof value === 'string' ? value : JSON.stringify(value);
    if (path.length === 1) {
      const expected = schema === 'device' ? 'CollectionContentTemplate' : 'CollectionFhirTemplate';
      return { path, code, message: `Expected TemplateType value ${expected}, actual ${shown}.` };
    }
    return schema === 'device'
      ? { path, code: Codes.TemplateTypeUnknown, message: `No match found for template type ${shown}.` }
      : { path, code, message: `Expected TemplateType value CodeValueFhirTemplate, actual ${shown}.` };
  }
  if (member === 'aggregation') {
    return { path, code, message: `Member 'aggregation' must be one of first, last, min, max, avg.` };
  }
  return { path, code, message: `Member '${member}' has a value that is not allowed.` };
}

function anyOfMessage(member: string): string {
  switch (member) {
    case 'required':
      return `Member 'required' must be true or false.`;
    case 'periodInterval':
      return `Member 'periodInterval' must be 0 (Single), 60 (Hourly), 1440 (Daily) or -1 (CorrelationId).`;
    default:
      return `Member '${member}' must be an expression string or an object {"value": "...", "language": "JsonPath|JmesPath|JsonAta"}.`;
  }
}

function patternMessage(member: string, value: unknown): string {
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  switch (member) {
    case 'language':
    case 'defaultExpressionLanguage':
      return `Unknown expression language '${shown}' in '${member}'; expected JsonPath, JmesPath or JsonAta.`;
    case 'valueType':
      return `Unknown valueType '${shown}'; expected Quantity, SampledData, String or CodeableConcept.`;
    case 'required':
      return `Member 'required' must be true or false.`;
    default:
      return `Member '${member}' has a value that is not allowed.`;
  }
}

/** Turns an instance path into segments, with array indices as numbers (so positions can be found). */
function toPath(pointer: string, document: unknown): JsonPath {
  if (pointer === '') {
    return [];
  }
  const segments: (string | number)[] = [];
  let node: unknown = document;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const index = Number(segment);
      segments.push(index);
      node = node[index];
    } else {
      segments.push(segment);
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[segment] : undefined;
    }
  }
  return segments;
}
