/**
 * The local stack's mappings: two files, validated before anything starts (every issue reported with
 * file:line:col), then re-read when they change — MedTech re-reads its mappings for every batch (medtech-reference
 * §1), so an edit takes effect on the next batch. An edit that does not validate is reported and the previous valid
 * version stays in use.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

import { createMappingCache, createPackageMappingSource } from '../../adapters/mappings/mapping-source';
import type { Clock, DeviceMapping, FhirMapping, MappingIssue } from '../../pipeline';
import {
  createNormalizer,
  crossCheckMappings,
  formatIssues,
  hasErrors,
  loadDeviceMapping,
  loadFhirMapping,
} from '../../pipeline';
import type { LoadedMappings } from './local-pipeline';

/** Where the mappings are. */
export interface MappingFiles {
  /** The device mapping (`CollectionContent`). */
  readonly device: string;
  /** The FHIR destination mapping (`CollectionFhir`). */
  readonly fhir: string;
}

/** The example mappings, relative to the working folder. */
export const DEFAULT_MAPPING_FILES: MappingFiles = {
  device: 'mappings/devicecontent.json',
  fhir: 'mappings/fhirmapping.json',
};

/** Mappings that cannot be used: `report` lists every issue, one `file:line:col  Type  message` per line. */
export class InvalidMappingsError extends Error {
  override readonly name = 'InvalidMappingsError';
  readonly report: string;

  /**
   * @param report - the issues, formatted
   */
  constructor(report: string) {
    super('the mappings are invalid');
    this.report = report;
  }
}

/** What the first load found. */
export interface CheckedMappings {
  readonly device: DeviceMapping;
  readonly fhir: FhirMapping;
  /** Warnings, formatted: issues of severity warning and device/FHIR disagreements. */
  readonly warnings: string[];
}

/**
 * Reads and validates both mappings.
 * @param files - the files
 * @throws InvalidMappingsError listing every issue of both files
 */
export async function checkMappingFiles(files: MappingFiles): Promise<CheckedMappings> {
  const [deviceText, fhirText] = await Promise.all([readText(files.device), readText(files.fhir)]);
  const problems: string[] = [];
  if (typeof deviceText !== 'string') {
    problems.push(deviceText.problem);
  }
  if (typeof fhirText !== 'string') {
    problems.push(fhirText.problem);
  }
  const device = typeof deviceText === 'string' ? loadDeviceMapping(deviceText) : undefined;
  const fhir = typeof fhirText === 'string' ? loadFhirMapping(fhirText) : undefined;
  for (const [file, result] of [
    [files.device, device],
    [files.fhir, fhir],
  ] as const) {
    if (result !== undefined && (result.mapping === undefined || hasErrors(result.issues))) {
      problems.push(formatIssues(onlyErrors(result.issues), file));
    }
  }
  if (problems.length > 0 || device?.mapping === undefined || fhir?.mapping === undefined) {
    throw new InvalidMappingsError(problems.join('\n'));
  }
  const warnings = [
    ...[
      [files.device, device.issues],
      [files.fhir, fhir.issues],
    ].flatMap(([file, issues]) => {
      const list = (issues as readonly MappingIssue[]).filter((i) => i.severity === 'warning');
      return list.length === 0 ? [] : [formatIssues(list, file as string)];
    }),
    ...crossCheckMappings(device.mapping, fhir.mapping).map((m) => `${files.device}: warning  ${m.message}`),
  ];
  return { device: device.mapping, fhir: fhir.mapping, warnings };
}

const onlyErrors = (issues: readonly MappingIssue[]): MappingIssue[] => issues.filter((i) => i.severity === 'error');

async function readText(file: string): Promise<string | { problem: string }> {
  try {
    return (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { problem: `${file}: cannot read the mapping (${typeof code === 'string' ? code : 'error'})` };
  }
}

/** Options of {@link watchMappingFiles}. */
export interface WatchMappingOptions {
  readonly clock: Clock;
  /** Minimum time between two checks of the files. Default 1000 ms. */
  readonly refreshIntervalMs?: number;
  /** Reports reloads and rejected edits. */
  readonly onNotice?: (message: string) => void;
}

/**
 * The current mappings, re-read when the files change (checked at most once per `refreshIntervalMs`).
 * @param files - the files (validate them with {@link checkMappingFiles} first)
 * @param options - clock, refresh interval and where notices go
 * @returns a function giving the mappings for the next batch
 */
export function watchMappingFiles(files: MappingFiles, options: WatchMappingOptions): () => Promise<LoadedMappings> {
  const common = { clock: options.clock, refreshIntervalMs: options.refreshIntervalMs ?? 1000 };
  const rejected =
    (file: string) =>
    ({ issues }: { issues: readonly MappingIssue[] }): void => {
      options.onNotice?.(
        `${file} changed but is invalid; still using the previous version:\n${formatIssues(onlyErrors(issues), file)}`,
      );
    };
  const source = (file: string): ReturnType<typeof createPackageMappingSource> =>
    createPackageMappingSource(dirname(resolve(file)), basename(file));
  const deviceSource = source(files.device);
  const fhirSource = source(files.fhir);
  const device = createMappingCache(
    (known) => deviceSource.read(known),
    (text) => {
      const { mapping, issues } = loadDeviceMapping(text);
      return mapping === undefined || hasErrors(issues) ? { ok: false, issues } : { ok: true, value: mapping };
    },
    { ...common, description: files.device, onRejected: rejected(files.device) },
  );
  const fhir = createMappingCache(
    (known) => fhirSource.read(known),
    (text) => {
      const { mapping, issues } = loadFhirMapping(text);
      return mapping === undefined || hasErrors(issues) ? { ok: false, issues } : { ok: true, value: mapping };
    },
    { ...common, description: files.fhir, onRejected: rejected(files.fhir) },
  );
  let current: (LoadedMappings & { readonly deviceVersion: string; readonly fhirVersion: string }) | undefined;
  return async () => {
    const [d, f] = await Promise.all([device.get(), fhir.get()]);
    if (current?.deviceVersion === d.version && current.fhirVersion === f.version) {
      return current;
    }
    if (current !== undefined) {
      const changed = [
        ...(current.deviceVersion === d.version ? [] : [files.device]),
        ...(current.fhirVersion === f.version ? [] : [files.fhir]),
      ];
      options.onNotice?.(`reloaded ${changed.join(' and ')}`);
    }
    current = {
      normalizer:
        current !== undefined && current.deviceVersion === d.version
          ? current.normalizer
          : createNormalizer(d.value, options.clock),
      fhirMapping: f.value,
      version: `${d.version}+${f.version}`,
      deviceVersion: d.version,
      fhirVersion: f.version,
    };
    return current;
  };
}
