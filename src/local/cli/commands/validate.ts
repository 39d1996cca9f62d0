import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

import type { DeviceMapping, FhirMapping, MappingIssue, MappingKind } from '../../../pipeline';
import {
  crossCheckMappings,
  detectMappingKind,
  ErrorCode,
  createMappingIssue,
  loadDeviceMapping,
  loadFhirMapping,
  parseJsonDocument,
  toJsonPointer,
} from '../../../pipeline';
import type { CliIo, Command } from '../io';
import { UsageError } from '../io';

interface Checked {
  readonly file: string;
  readonly kind: MappingKind | undefined;
  readonly issues: readonly MappingIssue[];
  readonly device?: DeviceMapping;
  readonly fhir?: FhirMapping;
}

const usage = `usage: iomt validate <file or folder>... [--json]

Validates MedTech device mappings (CollectionContent) and FHIR destination mappings (CollectionFhir); the kind
is detected from the content. Folders are searched for *.json files that hold a mapping. Each problem is printed as
  file:line:col  MedTechErrorType  message
When device and FHIR mappings are validated together (same folder or named together), their disagreements are
printed as warnings. Exit code 0 when every mapping is valid, 2 otherwise.`;

/** `iomt validate`: checks mapping files the way MedTech loads them, reporting every issue with its position. */
export const validateCommand: Command = {
  summary: 'validate device and FHIR destination mappings (every issue, with file:line:col)',
  usage,
  run(args, io) {
    const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean' } }, allowPositionals: true });
    if (positionals.length === 0) {
      throw new UsageError('name at least one mapping file or folder');
    }
    const checked: Checked[] = [];
    for (const target of positionals) {
      let isFolder: boolean;
      try {
        isFolder = statSync(target).isDirectory();
      } catch {
        throw new UsageError(`no such file or folder: ${target}`);
      }
      for (const file of isFolder ? findJsonFiles(target) : [target]) {
        const result = checkFile(file, !isFolder);
        if (result !== undefined) {
          checked.push(result);
        }
      }
    }
    const warnings = crossCheck(checked, positionals.length);
    const valid = checked.every((c) => !c.issues.some((i) => i.severity === 'error'));
    if (values.json === true) {
      io.out(
        `${JSON.stringify({ valid, files: checked.map(({ file, kind, issues }) => ({ file, kind, issues })), warnings }, null, 2)}\n`,
      );
    } else {
      report(io, checked, warnings);
    }
    return Promise.resolve(valid ? 0 : 2);
  },
};

function findJsonFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        return entry.name === 'node_modules' || entry.name.startsWith('.') ? [] : findJsonFiles(path);
      }
      return entry.isFile() && entry.name.toLowerCase().endsWith('.json') ? [path] : [];
    });
}

/** Checks one file; in folders, JSON files that are not mappings at all (sample messages…) are skipped. */
function checkFile(file: string, named: boolean): Checked | undefined {
  const text = readFileSync(file, 'utf8');
  const document = parseJsonDocument(text);
  const kind = detectMappingKind(document);
  if (kind === 'device') {
    const { mapping, issues } = loadDeviceMapping(text);
    return { file, kind, issues, ...(mapping === undefined ? {} : { device: mapping }) };
  }
  if (kind === 'fhir') {
    const { mapping, issues } = loadFhirMapping(text);
    return { file, kind, issues, ...(mapping === undefined ? {} : { fhir: mapping }) };
  }
  const value = document.value;
  const hasTemplateType =
    typeof value === 'object' && value !== null && Object.keys(value).some((k) => k.toLowerCase() === 'templatetype');
  if (!named && !hasTemplateType && document.syntaxErrors.length === 0) {
    return undefined;
  }
  if (document.syntaxErrors.length > 0) {
    const issues = document.syntaxErrors.map((e) =>
      createMappingIssue(ErrorCode.TemplateJsonInvalid, e.message, { jsonPointer: '', line: e.line, column: e.column }),
    );
    return { file, kind: undefined, issues };
  }
  const path = hasTemplateType ? ['templateType'] : [];
  const actual = hasTemplateType ? describeTemplateType(value as Record<string, unknown>) : 'no templateType';
  const issue = createMappingIssue(
    ErrorCode.TemplateInvalid,
    `Expected TemplateType value CollectionContentTemplate or CollectionFhirTemplate, actual ${actual}.`,
    { jsonPointer: toJsonPointer(path), ...document.locate(path) },
  );
  return { file, kind: undefined, issues: [issue] };
}

function describeTemplateType(root: Record<string, unknown>): string {
  const key = Object.keys(root).find((k) => k.toLowerCase() === 'templatetype');
  const value = key === undefined ? undefined : root[key];
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
}

interface Warning {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** Device and FHIR mappings named together, or found in the same folder, are checked against each other. */
function crossCheck(checked: readonly Checked[], targets: number): Warning[] {
  const warnings: Warning[] = [];
  const groups = new Map<string, Checked[]>();
  for (const c of checked) {
    const key = targets === 1 ? dirname(c.file) : '*';
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const group of groups.values()) {
    const devices = group.filter((c) => c.device !== undefined);
    const fhirs = group.filter((c) => c.fhir !== undefined);
    for (const device of devices) {
      for (const fhir of fhirs) {
        const document = parseJsonDocument(readFileSync(device.file, 'utf8'));
        for (const m of crossCheckMappings(device.device as DeviceMapping, fhir.fhir as FhirMapping)) {
          const path =
            m.valueIndex === undefined
              ? ['template', m.templateIndex, 'template', 'typeName']
              : ['template', m.templateIndex, 'template', 'values', m.valueIndex, 'valueName'];
          warnings.push({
            file: device.file,
            ...document.locate(path),
            message: `${m.message} (FHIR mapping: ${fhir.file})`,
          });
        }
      }
    }
  }
  return warnings;
}

function report(io: CliIo, checked: readonly Checked[], warnings: readonly Warning[]): void {
  for (const c of checked) {
    for (const issue of c.issues) {
      const level = issue.severity === 'warning' ? 'warning ' : '';
      io.out(`${c.file}:${issue.line}:${issue.column}  ${level}${issue.medtechErrorType}  ${issue.message}\n`);
    }
  }
  for (const w of warnings) {
    io.out(`${w.file}:${w.line}:${w.column}  warning  ${w.message}\n`);
  }
  const invalid = checked.filter((c) => c.issues.some((i) => i.severity === 'error')).length;
  io.out(`${checked.length} mapping file(s) checked: ${checked.length - invalid} valid, ${invalid} invalid\n`);
}
