/**
 * The deployable example mappings, loaded as the Functions app loads them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { DeviceMapping, FhirMapping } from '../../src/pipeline';
import { formatIssues, loadDeviceMapping, loadFhirMapping } from '../../src/pipeline';

/** The repository root (this file runs from dist/bench/bench/lib). */
export const ROOT = join(__dirname, '..', '..', '..', '..');

/** `mappings/devicecontent.json`, loaded. */
export function exampleDeviceMapping(): DeviceMapping {
  const { mapping, issues } = loadDeviceMapping(readFileSync(join(ROOT, 'mappings', 'devicecontent.json'), 'utf8'));
  if (mapping === undefined) {
    throw new Error(`mappings/devicecontent.json does not load:\n${formatIssues(issues)}`);
  }
  return mapping;
}

/** `mappings/fhirmapping.json`, loaded. */
export function exampleFhirMapping(): FhirMapping {
  const { mapping, issues } = loadFhirMapping(readFileSync(join(ROOT, 'mappings', 'fhirmapping.json'), 'utf8'));
  if (mapping === undefined) {
    throw new Error(`mappings/fhirmapping.json does not load:\n${formatIssues(issues)}`);
  }
  return mapping;
}
