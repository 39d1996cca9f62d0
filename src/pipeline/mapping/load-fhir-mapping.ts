import { ErrorCode } from '../errors';
import { CanonicalPaths, canonicalizeCollection, canonicalizeMembers, isJsonObject } from './canonicalize';
import type {
  CodeValueFhirTemplate,
  FhirCategory,
  FhirCode,
  FhirComponentTemplate,
  FhirMapping,
  FhirValueTemplate,
  PeriodInterval,
  ValueAggregation,
} from './fhir-template';
import type { JsonPath } from './json-document';
import { parseJsonDocument, toJsonPointer } from './json-document';
import type { LoadResult } from './load-device-mapping';
import type { MappingIssue } from './mapping-issue';
import { createMappingIssue, hasErrors } from './mapping-issue';
import { validateMappingSchema } from './schema-validation';
import { CODE_VALUE_FHIR, FHIR_COLLECTION, matchesTemplateName } from './template-type-names';

const TEMPLATE_MEMBERS = ['typeName', 'periodInterval', 'codes', 'category', 'value', 'components'] as const;
const CODE_MEMBERS = ['code', 'system', 'display'] as const;
const CATEGORY_MEMBERS = ['text', 'codes'] as const;
const COMPONENT_MEMBERS = ['codes', 'value'] as const;
const VALUE_MEMBERS = [
  'valueType',
  'valueName',
  'unit',
  'system',
  'code',
  'defaultPeriod',
  'text',
  'codes',
  'aggregation',
] as const;
const VALUE_TYPES = ['Quantity', 'SampledData', 'String', 'CodeableConcept'] as const;
const PERIOD_NAMES: Readonly<Record<string, PeriodInterval>> = {
  single: 0,
  hourly: 60,
  daily: 1440,
  correlationid: -1,
};

/**
 * Loads a FHIR destination mapping (`CollectionFhir` of `CodeValueFhir`, medtech-reference §7): parses the text,
 * validates it against `mappings/schemas/fhir-mapping.schema.json`, then checks what a schema cannot (unique type
 * names, per-value-type members). Problems MedTech only meets while converting (a SampledData without
 * `defaultPeriod`, a component without value) are reported here, at load time (policy §0.2).
 *
 * @param text - the mapping JSON (a UTF-8 byte-order mark, comments and trailing commas are accepted)
 */
export function loadFhirMapping(text: string): LoadResult<FhirMapping> {
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
  const issues: MappingIssue[] = [];
  const paths = new CanonicalPaths();
  const report = (
    message: string,
    path: JsonPath,
    severity: 'error' | 'warning' = 'error',
    template?: string,
  ): void => {
    const original = paths.original(path);
    issues.push(
      createMappingIssue(
        ErrorCode.FhirTemplateInvalid,
        message,
        { jsonPointer: toJsonPointer(original), ...document.locate(original) },
        { severity, template },
      ),
    );
  };
  if (document.value === undefined) {
    report('The mapping is empty.', []);
    return { mapping: undefined, issues };
  }
  const canonical = canonicalizeDocument(document.value, paths);
  const failed = new Set<number>();
  // Members the schema found wrong; a missing member is reported at its object, which says nothing of the rest.
  const reported: string[] = [];
  for (const issue of validateMappingSchema('fhir', canonical)) {
    const child = typeof issue.path[1] === 'number' ? issue.path[1] : undefined;
    if (child !== undefined) {
      failed.add(child);
    }
    const original = paths.original(issue.path);
    issues.push(
      createMappingIssue(issue.code, issue.message, {
        jsonPointer: toJsonPointer(original),
        ...document.locate(original),
      }),
    );
    if (issue.missingMember !== true) {
      reported.push(toJsonPointer(original));
    }
  }
  const templates: CodeValueFhirTemplate[] = [];
  const seen = new Map<string, number>();
  const children: unknown[] = isJsonObject(canonical) && Array.isArray(canonical.template) ? canonical.template : [];
  children.forEach((child, index) => {
    if (!isJsonObject(child) || child.templateType !== 'CodeValueFhir' || !isJsonObject(child.template)) {
      return;
    }
    // Checked even when the schema found problems, so every issue is reported in one pass; issues at or under a
    // member the schema already reported are not repeated.
    const at: JsonPath = ['template', index, 'template'];
    const typeName = typeof child.template.typeName === 'string' ? child.template.typeName : undefined;
    const template = buildTemplate(child.template, at, (message, path, severity) => {
      const pointer = toJsonPointer(paths.original(path));
      if (!reported.some((p) => pointer === p || pointer.startsWith(`${p}/`))) {
        report(message, path, severity, typeName);
      }
    });
    if (template === undefined || failed.has(index)) {
      return;
    }
    const key = template.typeName.toLowerCase();
    if (seen.has(key)) {
      report(`Duplicate template defined for type name: '${template.typeName}'.`, [...at, 'typeName']);
      return;
    }
    seen.set(key, index);
    templates.push(template);
  });
  issues.sort((a, b) => a.line - b.line || a.column - b.column);
  return { mapping: hasErrors(issues) ? undefined : createFhirMapping(templates), issues };
}

/**
 * A {@link FhirMapping} over templates (lookup by measurement type is case-insensitive, §7).
 * @param templates - the templates, in document order
 */
export function createFhirMapping(templates: readonly CodeValueFhirTemplate[]): FhirMapping {
  const byType = new Map(templates.map((t) => [t.typeName.toLowerCase(), t]));
  return { templates, templateFor: (type) => byType.get(type.toLowerCase()) };
}

type Report = (message: string, path: JsonPath, severity?: 'error' | 'warning') => void;

function buildTemplate(t: Record<string, unknown>, at: JsonPath, report: Report): CodeValueFhirTemplate | undefined {
  const state = { ok: true };
  const fail: Report = (message, path, severity = 'error') => {
    state.ok &&= severity !== 'error';
    report(message, path, severity);
  };
  const typeName = typeof t.typeName === 'string' ? t.typeName : '';
  if (typeof t.typeName === 'string' && typeName.trim() === '') {
    fail('Empty type name is not allowed.', [...at, 'typeName']);
  }
  const value = isJsonObject(t.value) ? buildValue(t.value, [...at, 'value'], fail) : undefined;
  const components: FhirComponentTemplate[] = [];
  (Array.isArray(t.components) ? t.components : []).forEach((c: unknown, i) => {
    if (!isJsonObject(c) || !isJsonObject(c.value)) {
      return; // the schema reports it
    }
    const built = buildValue(c.value, [...at, 'components', i, 'value'], fail);
    if (built !== undefined) {
      components.push({ codes: toCodes(c.codes), value: built });
    }
  });
  if (!state.ok) {
    return undefined;
  }
  return {
    typeName,
    periodInterval: toPeriodInterval(t.periodInterval),
    codes: toCodes(t.codes),
    ...(Array.isArray(t.category) ? { category: t.category.map(toCategory) } : {}),
    ...(value === undefined ? {} : { value }),
    components,
  };
}

function buildValue(v: Record<string, unknown>, at: JsonPath, report: Report): FhirValueTemplate | undefined {
  const valueType = VALUE_TYPES.find((t) => t.toLowerCase() === String(v.valueType).toLowerCase());
  const valueName = typeof v.valueName === 'string' ? v.valueName : undefined;
  const aggregation = typeof v.aggregation === 'string' ? (v.aggregation as ValueAggregation) : undefined;
  const optional = <K extends string>(key: K): { [P in K]?: string } =>
    (typeof v[key] === 'string' ? { [key]: v[key] } : {}) as { [P in K]?: string };
  if (valueName === undefined || valueName.trim() === '') {
    report(`The value has no 'valueName'; it will never receive a measurement value.`, at, 'warning');
  }
  const named = valueName === undefined ? {} : { valueName };
  const noAggregation = (): void => {
    if (aggregation !== undefined) {
      report(`Member 'aggregation' applies to Quantity and String values only.`, [...at, 'aggregation']);
    }
  };
  switch (valueType) {
    case 'Quantity':
      return {
        valueType,
        ...named,
        ...optional('unit'),
        ...optional('system'),
        ...optional('code'),
        aggregation: aggregation ?? 'first',
      };
    case 'SampledData':
      noAggregation();
      if (typeof v.defaultPeriod !== 'number') {
        report(`Required property 'defaultPeriod' not found in JSON.`, at);
        return undefined;
      }
      return { valueType, ...named, defaultPeriod: v.defaultPeriod, ...optional('unit') };
    case 'String':
      if (aggregation !== undefined && aggregation !== 'first' && aggregation !== 'last') {
        report(`Member 'aggregation' of a String value must be first or last.`, [...at, 'aggregation']);
        return undefined;
      }
      return { valueType, ...named, ...(aggregation === undefined ? {} : { aggregation }) };
    case 'CodeableConcept':
      noAggregation();
      if (!Array.isArray(v.codes)) {
        report(`Required property 'codes' not found in JSON.`, at);
        return undefined;
      }
      return { valueType, ...named, ...optional('text'), codes: toCodes(v.codes) };
    case undefined:
      return undefined; // the schema already reported it
  }
}

function toCodes(value: unknown): FhirCode[] {
  return (Array.isArray(value) ? value : []).map((c: unknown) => {
    const code = c as Record<string, unknown>;
    const result: { code?: string; system?: string; display?: string } = {};
    for (const key of CODE_MEMBERS) {
      if (typeof code[key] === 'string') {
        result[key] = code[key];
      }
    }
    return result;
  });
}

function toCategory(value: unknown): FhirCategory {
  const category = value as Record<string, unknown>;
  return {
    ...(typeof category.text === 'string' ? { text: category.text } : {}),
    ...(Array.isArray(category.codes) ? { codes: toCodes(category.codes) } : {}),
  };
}

function toPeriodInterval(value: unknown): PeriodInterval {
  if (typeof value === 'string') {
    return PERIOD_NAMES[value.toLowerCase()] ?? 0;
  }
  return value === 60 || value === 1440 || value === -1 ? value : 0;
}

/** Renames members to their canonical spelling (case-insensitive, §3.2) and recognises the template type names. */
function canonicalizeDocument(value: unknown, paths: CanonicalPaths): unknown {
  const members = (object: unknown, names: readonly string[], path: JsonPath): unknown =>
    isJsonObject(object)
      ? canonicalizeMembers(object, names, { canonical: path, original: paths.original(path) }, paths)
      : object;
  const list = (items: unknown, names: readonly string[], path: JsonPath): unknown =>
    Array.isArray(items) ? items.map((item: unknown, i) => members(item, names, [...path, i])) : items;
  const valueOf = (v: unknown, path: JsonPath): unknown => {
    const result = members(v, VALUE_MEMBERS, path);
    if (isJsonObject(result)) {
      result.codes = 'codes' in result ? list(result.codes, CODE_MEMBERS, [...path, 'codes']) : undefined;
      if (result.codes === undefined) {
        delete result.codes;
      }
    }
    return result;
  };
  return canonicalizeCollection(value, paths, FHIR_COLLECTION, 'CollectionFhir', (container, i) => {
    if (typeof container.templateType === 'string' && matchesTemplateName(container.templateType, CODE_VALUE_FHIR)) {
      container.templateType = 'CodeValueFhir';
    }
    const at: JsonPath = ['template', i, 'template'];
    const template = members(container.template, TEMPLATE_MEMBERS, at);
    if (isJsonObject(template)) {
      if ('codes' in template) {
        template.codes = list(template.codes, CODE_MEMBERS, [...at, 'codes']);
      }
      if (Array.isArray(template.category)) {
        template.category = template.category.map((c: unknown, j) => {
          const category = members(c, CATEGORY_MEMBERS, [...at, 'category', j]);
          if (isJsonObject(category) && 'codes' in category) {
            category.codes = list(category.codes, CODE_MEMBERS, [...at, 'category', j, 'codes']);
          }
          return category;
        });
      }
      if ('value' in template) {
        template.value = valueOf(template.value, [...at, 'value']);
      }
      if (Array.isArray(template.components)) {
        template.components = template.components.map((c: unknown, j) => {
          const component = members(c, COMPONENT_MEMBERS, [...at, 'components', j]);
          if (isJsonObject(component)) {
            if ('codes' in component) {
              component.codes = list(component.codes, CODE_MEMBERS, [...at, 'components', j, 'codes']);
            }
            if ('value' in component) {
              component.value = valueOf(component.value, [...at, 'components', j, 'value']);
            }
          }
          return component;
        });
      }
    }
    container.template = template;
    return container;
  });
}
