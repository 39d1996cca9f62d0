import { ErrorCode, isPipelineError } from '../errors';
import { CanonicalPaths, canonicalizeCollection, canonicalizeMembers, isJsonObject } from './canonicalize';
import type { DeviceMapping, DeviceTemplate, FieldExtraction } from './device-template';
import { compileExpression, parseExpressionLanguage } from './expressions/compile-expression';
import type { CompiledExpression, ExpressionLanguage } from './expressions/expression';
import type { JsonDocument, JsonPath } from './json-document';
import { parseJsonDocument, toJsonPointer } from './json-document';
import type { MappingIssue } from './mapping-issue';
import { createMappingIssue, hasErrors } from './mapping-issue';
import { validateMappingSchema } from './schema-validation';
import {
  DEVICE_COLLECTION,
  DeviceTemplateKind,
  isDeviceTemplateKind,
  matchDeviceTemplateKind,
} from './template-type-names';

/** The result of loading a mapping: the mapping when it has no errors, and every issue found. */
export interface LoadResult<T> {
  readonly mapping: T | undefined;
  readonly issues: readonly MappingIssue[];
}

const JSONPATH_MEMBERS = [
  'typeName',
  'typeMatchExpression',
  'deviceIdExpression',
  'timestampExpression',
  'patientIdExpression',
  'encounterIdExpression',
  'correlationIdExpression',
  'values',
] as const;
const CALCULATED_MEMBERS = [...JSONPATH_MEMBERS, 'defaultExpressionLanguage'] as const;
const VALUE_MEMBERS = ['valueName', 'valueExpression', 'required'] as const;
const EXPRESSION_MEMBERS = ['value', 'language'] as const;
const EXPRESSION_FIELDS = JSONPATH_MEMBERS.filter((m) => m !== 'typeName' && m !== 'values');

/** MedTech's names for the fields, used in error messages (§6.2). */
const FIELD_NAMES = {
  deviceIdExpression: 'DeviceIdExpression',
  timestampExpression: 'TimestampExpression',
  patientIdExpression: 'PatientIdExpression',
  encounterIdExpression: 'EncounterIdExpression',
  correlationIdExpression: 'CorrelationIdExpression',
} as const;

/** The fixed expressions of the IoT templates (§4.4, §4.5), compiled once. */
const FIXED_EXPRESSIONS = {
  [DeviceTemplateKind.IotJsonPathContent]: {
    deviceId: ['$.SystemProperties.iothub-connection-device-id'],
    timestamp: ['$.Properties.iothub-creation-time-utc', '$.SystemProperties.iothub-enqueuedtime'],
  },
  [DeviceTemplateKind.IotCentralJsonPathContent]: { deviceId: ['$.deviceId'], timestamp: ['$.enqueuedTime'] },
} as const;

/** Options of {@link loadDeviceMapping}. */
export interface DeviceMappingOptions {
  /** Guardrails for JSONata expressions. */
  readonly jsonata?: { readonly timeoutMs?: number; readonly maxDepth?: number; readonly maxSequence?: number };
}

/**
 * Loads a device mapping (`CollectionContent`): parses the text, validates it against
 * `mappings/schemas/device-mapping.schema.json`, and compiles every expression. Every problem is reported with its
 * JSON Pointer, line and column and MedTech's error type; the mapping is returned only when there is none (a mapping
 * with any error is unusable, as in MedTech, §3.2).
 *
 * @param text - the mapping JSON (a UTF-8 byte-order mark, comments and trailing commas are accepted)
 * @param options - expression guardrails
 */
export function loadDeviceMapping(text: string, options: DeviceMappingOptions = {}): LoadResult<DeviceMapping> {
  const document = parseJsonDocument(text);
  if (document.syntaxErrors.length > 0) {
    return {
      mapping: undefined,
      issues: document.syntaxErrors.map((e) =>
        createMappingIssue(ErrorCode.TemplateJsonInvalid, e.message, {
          jsonPointer: '',
          line: e.line,
          column: e.column,
        }),
      ),
    };
  }
  if (document.value === undefined) {
    return { mapping: undefined, issues: [issueAt(document, ErrorCode.TemplateInvalid, 'The mapping is empty.', [])] };
  }
  const paths = new CanonicalPaths();
  const canonical = canonicalizeDocument(document.value, paths);
  const schemaIssues = validateMappingSchema('device', canonical);
  const issues: MappingIssue[] = [];
  const failedChildren = new Set<number>();
  // Members the schema found wrong; a missing member is reported at its object, which says nothing of the rest.
  const reported: string[] = [];
  for (const issue of schemaIssues) {
    const child = typeof issue.path[1] === 'number' ? issue.path[1] : undefined;
    if (child !== undefined) {
      failedChildren.add(child);
    }
    const located = issueAt(
      document,
      issue.code,
      issue.message,
      paths.original(issue.path),
      typeNameOf(canonical, child),
    );
    issues.push(located);
    if (issue.missingMember !== true) {
      reported.push(located.jsonPointer);
    }
  }
  const templates: DeviceTemplate[] = [];
  const children = isJsonObject(canonical) && Array.isArray(canonical.template) ? canonical.template : [];
  children.forEach((child: unknown, index) => {
    const kind = isJsonObject(child) && typeof child.templateType === 'string' ? child.templateType : undefined;
    if (kind === undefined || !isDeviceTemplateKind(kind) || !isJsonObject(child) || !isJsonObject(child.template)) {
      return;
    }
    // Build even a template with schema issues, so its expression problems are reported in the same pass; issues
    // at or under a member the schema already reported are not repeated.
    const builder = new TemplateBuilder(document, paths, index, options);
    const template = builder.build(kind, child.template);
    issues.push(
      ...builder.issues.filter((i) => !reported.some((p) => i.jsonPointer === p || i.jsonPointer.startsWith(`${p}/`))),
    );
    if (template !== undefined && !failedChildren.has(index)) {
      templates.push(template);
    }
  });
  issues.sort((a, b) => a.line - b.line || a.column - b.column);
  return { mapping: hasErrors(issues) ? undefined : { templates }, issues };
}

function typeNameOf(canonical: unknown, child: number | undefined): string | undefined {
  if (child === undefined || !isJsonObject(canonical) || !Array.isArray(canonical.template)) {
    return undefined;
  }
  const container: unknown = canonical.template[child];
  const typeName =
    isJsonObject(container) && isJsonObject(container.template) ? container.template.typeName : undefined;
  return typeof typeName === 'string' ? typeName : undefined;
}

function issueAt(
  document: JsonDocument,
  code: ErrorCode,
  message: string,
  path: JsonPath,
  template?: string,
): MappingIssue {
  return createMappingIssue(
    code,
    message,
    { jsonPointer: toJsonPointer(path), ...document.locate(path) },
    { template },
  );
}

/** Renames members to their canonical spelling and template types to their canonical kind (§3.1, §3.2). */
function canonicalizeDocument(value: unknown, paths: CanonicalPaths): unknown {
  return canonicalizeCollection(value, paths, DEVICE_COLLECTION, 'CollectionContent', (container, i) => {
    const kind =
      typeof container.templateType === 'string' ? matchDeviceTemplateKind(container.templateType) : undefined;
    if (kind !== undefined) {
      container.templateType = kind;
      if (isJsonObject(container.template)) {
        container.template = canonicalizeTemplate(kind, container.template, ['template', i, 'template'], paths);
      }
    }
    return container;
  });
}

function canonicalizeTemplate(
  kind: DeviceTemplateKind,
  template: Record<string, unknown>,
  at: JsonPath,
  paths: CanonicalPaths,
): Record<string, unknown> {
  const calculated = kind === DeviceTemplateKind.CalculatedContent;
  const members = calculated ? CALCULATED_MEMBERS : JSONPATH_MEMBERS;
  const result = canonicalizeMembers(template, members, { canonical: at, original: paths.original(at) }, paths);
  const canonicalExpression = (value: unknown, path: JsonPath): unknown =>
    calculated && isJsonObject(value)
      ? canonicalizeMembers(value, EXPRESSION_MEMBERS, { canonical: path, original: paths.original(path) }, paths)
      : value;
  for (const field of EXPRESSION_FIELDS) {
    if (field in result) {
      result[field] = canonicalExpression(result[field], [...at, field]);
    }
  }
  if (Array.isArray(result.values)) {
    result.values = result.values.map((entry: unknown, j) => {
      if (!isJsonObject(entry)) {
        return entry;
      }
      const path = [...at, 'values', j];
      const value = canonicalizeMembers(
        entry,
        VALUE_MEMBERS,
        { canonical: path, original: paths.original(path) },
        paths,
      );
      if ('valueExpression' in value) {
        value.valueExpression = canonicalExpression(value.valueExpression, [...path, 'valueExpression']);
      }
      return value;
    });
  }
  return result;
}

/** Builds one schema-valid template: decides languages and compiles every expression, collecting issues. */
class TemplateBuilder {
  readonly issues: MappingIssue[] = [];
  private typeName = '';
  private isAsync = false;
  private readonly document: JsonDocument;
  private readonly paths: CanonicalPaths;
  private readonly index: number;
  private readonly options: DeviceMappingOptions;

  constructor(document: JsonDocument, paths: CanonicalPaths, index: number, options: DeviceMappingOptions) {
    this.document = document;
    this.paths = paths;
    this.index = index;
    this.options = options;
  }

  build(kind: DeviceTemplateKind, t: Record<string, unknown>): DeviceTemplate | undefined {
    this.typeName = typeof t.typeName === 'string' ? t.typeName : '';
    const calculated = kind === DeviceTemplateKind.CalculatedContent;
    const defaultLanguage = calculated
      ? (parseExpressionLanguage(
          typeof t.defaultExpressionLanguage === 'string' ? t.defaultExpressionLanguage : 'JsonPath',
        ) ?? 'JsonPath')
      : 'JsonPath';
    const expressionOf = (field: string, value: unknown, path: JsonPath): CompiledExpression | undefined =>
      this.compileMember(value, path, defaultLanguage, calculated, field);
    const at = (field: string): JsonPath => ['template', this.index, 'template', field];
    const single = (field: keyof typeof FIELD_NAMES, required: boolean): FieldExtraction => {
      const expression = expressionOf(field, t[field], at(field));
      return { name: FIELD_NAMES[field], candidates: expression === undefined ? [] : [expression], required };
    };
    const fixed =
      kind === DeviceTemplateKind.IotJsonPathContent || kind === DeviceTemplateKind.IotCentralJsonPathContent;
    const typeMatch = expressionOf('typeMatchExpression', t.typeMatchExpression, at('typeMatchExpression'));
    const template: DeviceTemplate = {
      kind,
      typeName: this.typeName,
      index: this.index,
      typeMatch,
      scope: calculated ? 'envelope' : 'match',
      deviceId: fixed ? fixedField(kind, 'deviceId') : single('deviceIdExpression', true),
      timestamp: fixed ? fixedField(kind, 'timestamp') : single('timestampExpression', true),
      correlationId: isBlank(t.correlationIdExpression) ? undefined : single('correlationIdExpression', true),
      patientId: single('patientIdExpression', false),
      encounterId: single('encounterIdExpression', false),
      values: (Array.isArray(t.values) ? t.values : []).map((entry: unknown, j) => {
        const value = isJsonObject(entry) ? entry : {};
        const path: JsonPath = [...at('values'), j, 'valueExpression'];
        const expression = expressionOf(String(value.valueName), value.valueExpression, path);
        return {
          name: String(value.valueName),
          candidates: expression === undefined ? [] : [expression],
          required: toBoolean(value.required),
        };
      }),
      isAsync: false,
    };
    if (this.issues.some((i) => i.severity === 'error')) {
      return undefined;
    }
    return { ...template, isAsync: this.isAsync };
  }

  /**
   * Compiles one expression member. JsonPathContent-family blanks mean "not set" (they fail or yield null per
   * message, §4.3); a blank CalculatedContent expression makes MedTech's mapping load fail, so it is an issue here.
   */
  private compileMember(
    value: unknown,
    path: JsonPath,
    defaultLanguage: ExpressionLanguage,
    calculated: boolean,
    field: string,
  ): CompiledExpression | undefined {
    if (value === undefined || value === null) {
      return undefined;
    }
    let source: string;
    let language: ExpressionLanguage = defaultLanguage;
    let sourcePath = path;
    if (typeof value === 'string') {
      source = value;
    } else {
      const text = isJsonObject(value) ? value.value : undefined;
      if (!isJsonObject(value) || typeof text !== 'string') {
        return undefined; // the schema reports the wrong type
      }
      const object = value;
      source = text;
      sourcePath = [...path, 'value'];
      if (typeof object.language === 'string') {
        language = parseExpressionLanguage(object.language) ?? defaultLanguage;
      }
    }
    if (source.trim() === '') {
      if (calculated) {
        this.report(
          ErrorCode.TemplateExpressionInvalid,
          `The expression for '${field}' must not be empty.`,
          sourcePath,
        );
      }
      return undefined;
    }
    try {
      const compiled = compileExpression(language, source, this.options.jsonata);
      this.isAsync ||= compiled.isAsync;
      return compiled;
    } catch (error) {
      const message = isPipelineError(error)
        ? error.message
        : `The ${language} expression '${source}' could not be compiled.`;
      this.report(ErrorCode.TemplateExpressionInvalid, message, sourcePath);
      return undefined;
    }
  }

  private report(code: ErrorCode, message: string, path: JsonPath): void {
    this.issues.push(
      issueAt(
        this.document,
        code,
        message,
        this.paths.original(path),
        this.typeName === '' ? undefined : this.typeName,
      ),
    );
  }
}

let fixedCache: Map<string, FieldExtraction> | undefined;

/** The fixed device-id/timestamp fields of the IoT templates, compiled once per process. */
function fixedField(
  kind: typeof DeviceTemplateKind.IotJsonPathContent | typeof DeviceTemplateKind.IotCentralJsonPathContent,
  field: 'deviceId' | 'timestamp',
): FieldExtraction {
  fixedCache ??= new Map();
  const key = `${kind}.${field}`;
  let extraction = fixedCache.get(key);
  if (extraction === undefined) {
    extraction = {
      name: field === 'deviceId' ? FIELD_NAMES.deviceIdExpression : FIELD_NAMES.timestampExpression,
      candidates: FIXED_EXPRESSIONS[kind][field].map((source) => compileExpression('JsonPath', source)),
      required: true,
    };
    fixedCache.set(key, extraction);
  }
  return extraction;
}

function isBlank(value: unknown): boolean {
  if (value === undefined || value === null) {
    return true;
  }
  const source = typeof value === 'string' ? value : isJsonObject(value) ? value.value : undefined;
  return typeof source !== 'string' || source.trim() === '';
}

/** `required` may be a boolean or the strings "true"/"false" (MedTech's JSON reader coerces them). */
function toBoolean(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}
