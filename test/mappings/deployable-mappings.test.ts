/**
 * The deployable mappings (mappings/devicecontent.json and mappings/fhirmapping.json, the defaults of
 * DeviceMappingSource and FhirMappingSource) load without a single issue, agree with each other, and every one of
 * their templates is exercised by a scenario of mappings/examples.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import {
  crossCheckMappings,
  DEFAULT_DEVICE_MAPPING_SOURCE,
  DEFAULT_FHIR_MAPPING_SOURCE,
  loadDeviceMapping,
  loadFhirMapping,
} from '../../src/pipeline';

const ROOT = join(__dirname, '..', '..');
const MAPPINGS = join(ROOT, 'mappings');

const read = (path: string): string => readFileSync(path, 'utf8');
const templatesOf = (text: string): unknown[] => (JSON.parse(text) as { template: unknown[] }).template;

const deviceText = read(join(MAPPINGS, 'devicecontent.json'));
const fhirText = read(join(MAPPINGS, 'fhirmapping.json'));
const device = loadDeviceMapping(deviceText);
const fhir = loadFhirMapping(fhirText);

test('they are the files the default mapping sources name', () => {
  expect(DEFAULT_DEVICE_MAPPING_SOURCE).toBe('package:mappings/devicecontent.json');
  expect(DEFAULT_FHIR_MAPPING_SOURCE).toBe('package:mappings/fhirmapping.json');
});

test('the device mapping loads without errors or warnings', () => {
  expect(device.issues).toEqual([]);
  expect(device.mapping?.templates.length).toBe(templatesOf(deviceText).length);
});

test('the FHIR destination mapping loads without errors or warnings', () => {
  expect(fhir.issues).toEqual([]);
  expect(fhir.mapping?.templates.length).toBe(templatesOf(fhirText).length);
});

test('every device type has a FHIR template and every device value reaches an Observation', () => {
  expect(crossCheckMappings(device.mapping!, fhir.mapping!)).toEqual([]);
});

test('every FHIR template receives measurements from some device template', () => {
  const deviceTypes = new Set(device.mapping!.templates.map((t) => t.typeName.toLowerCase()));
  expect(fhir.mapping!.templates.map((t) => t.typeName).filter((t) => !deviceTypes.has(t.toLowerCase()))).toEqual([]);
});

test('both name their JSON Schema for editors', () => {
  for (const [file, schema] of [
    ['devicecontent.json', 'device-mapping.schema.json'],
    ['fhirmapping.json', 'fhir-mapping.schema.json'],
  ] as const) {
    const { $schema } = JSON.parse(read(join(MAPPINGS, file))) as { $schema?: string };
    expect(resolve(MAPPINGS, $schema ?? '')).toBe(join(MAPPINGS, 'schemas', schema));
    expect(existsSync(join(MAPPINGS, 'schemas', schema))).toBe(true);
  }
});

test('every template of the deployable mappings is exercised by an example scenario', () => {
  const examples = join(MAPPINGS, 'examples');
  const scenarioTemplates = readdirSync(examples).flatMap((name) => [
    ...templatesOf(read(join(examples, name, 'device-mapping.json'))),
    ...templatesOf(read(join(examples, name, 'fhir-mapping.json'))),
  ]);
  for (const template of [...templatesOf(deviceText), ...templatesOf(fhirText)]) {
    expect(scenarioTemplates).toContainEqual(template);
  }
});
