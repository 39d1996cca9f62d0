/**
 * Every scenario of mappings/examples runs through the real pipeline (Create mode, in-memory FHIR store) and must
 * produce exactly its expected measurements, Observations and errors. The expected files were derived from the
 * MedTech reference by hand, not recorded from the engine: a difference is a bug on one side or the other.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { readEventsFile } from '../../src/local/cli/events-file';
import { crossCheckMappings, loadDeviceMapping, loadFhirMapping } from '../../src/pipeline';
import { runExample, sortObservations } from './example-runner';

const MAPPINGS = join(__dirname, '..', '..', 'mappings');
const EXAMPLES = join(MAPPINGS, 'examples');

/** The files a scenario folder holds; `expected.errors.json` only when some event is meant to fail. */
const REQUIRED_FILES = [
  'device-mapping.json',
  'events.json',
  'expected.measurements.json',
  'expected.observations.json',
  'fhir-mapping.json',
];
const OPTIONAL_FILES = ['expected.errors.json'];

/** Scenarios whose templates are part of the deployable mappings/devicecontent.json and fhirmapping.json. */
const DEPLOYABLE = [
  'blood-pressure',
  'glucose',
  'heart-rate',
  'iot-central',
  'iot-hub',
  'spo2',
  'steps',
  'temperature',
] as const;

const scenarios = readdirSync(EXAMPLES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

const read = (path: string): string => readFileSync(path, 'utf8');
const readJson = (path: string): unknown => JSON.parse(read(path));

interface Scenario {
  readonly dir: string;
  readonly deviceMapping: string;
  readonly fhirMapping: string;
  readonly events: ReturnType<typeof readEventsFile>;
  readonly expected: { measurements: unknown; observations: unknown; errors: unknown };
}

function loadScenario(name: string): Scenario {
  const dir = join(EXAMPLES, name);
  const errorsFile = join(dir, 'expected.errors.json');
  return {
    dir,
    deviceMapping: read(join(dir, 'device-mapping.json')),
    fhirMapping: read(join(dir, 'fhir-mapping.json')),
    events: readEventsFile(join(dir, 'events.json')),
    expected: {
      measurements: readJson(join(dir, 'expected.measurements.json')),
      observations: sortObservations(readJson(join(dir, 'expected.observations.json')) as never[]),
      errors: existsSync(errorsFile) ? readJson(errorsFile) : [],
    },
  };
}

test('the scenarios cover the common devices and both IoT shapes', () => {
  expect(scenarios).toEqual(expect.arrayContaining([...DEPLOYABLE, 'jmespath-functions', 'jsonata']));
});

describe.each(scenarios)('scenario %s', (name) => {
  const scenario = loadScenario(name);

  test('holds exactly the scenario files', () => {
    const files = readdirSync(scenario.dir).sort();
    expect(files).toEqual(expect.arrayContaining(REQUIRED_FILES));
    expect(files.filter((f) => !REQUIRED_FILES.includes(f) && !OPTIONAL_FILES.includes(f))).toEqual([]);
  });

  test('its mappings load without any issue, agree with each other and name their schema', () => {
    const device = loadDeviceMapping(scenario.deviceMapping);
    const fhir = loadFhirMapping(scenario.fhirMapping);
    expect(device.issues).toEqual([]);
    expect(fhir.issues).toEqual([]);
    expect(crossCheckMappings(device.mapping!, fhir.mapping!)).toEqual([]);
    for (const file of ['device-mapping.json', 'fhir-mapping.json']) {
      const { $schema } = readJson(join(scenario.dir, file)) as { $schema?: string };
      expect(existsSync(resolve(dirname(join(scenario.dir, file)), $schema ?? ''))).toBe(true);
    }
  });

  test('its events give the expected measurements, Observations and errors (Create mode)', async () => {
    const run = await runExample({
      deviceMapping: scenario.deviceMapping,
      fhirMapping: scenario.fhirMapping,
      events: scenario.events.map(({ batch, event }) => ({ batch, event })),
    });
    expect(run.mappingsValid).toBe(true);
    expect(run.errors).toEqual(scenario.expected.errors);
    expect(run.measurements).toStrictEqual(scenario.expected.measurements);
    expect(run.observations).toStrictEqual(scenario.expected.observations);
  });
});

describe.each(DEPLOYABLE)('the deployable mappings handle scenario %s', (name) => {
  const scenario = loadScenario(name);
  const deployableDevice = read(join(MAPPINGS, 'devicecontent.json'));
  const deployableFhir = read(join(MAPPINGS, 'fhirmapping.json'));

  test('every template of the scenario is a template of the deployable mappings, verbatim', () => {
    const templatesOf = (text: string): unknown[] => (JSON.parse(text) as { template: unknown[] }).template;
    for (const [scenarioText, deployableText] of [
      [scenario.deviceMapping, deployableDevice],
      [scenario.fhirMapping, deployableFhir],
    ] as const) {
      const deployable = templatesOf(deployableText);
      for (const template of templatesOf(scenarioText)) {
        expect(deployable).toContainEqual(template);
      }
    }
  });

  test('the scenario events give the same results through the whole deployable mappings', async () => {
    const run = await runExample({
      deviceMapping: deployableDevice,
      fhirMapping: deployableFhir,
      events: scenario.events.map(({ batch, event }) => ({ batch, event })),
    });
    expect(run.errors).toEqual(scenario.expected.errors);
    expect(run.measurements).toStrictEqual(scenario.expected.measurements);
    expect(run.observations).toStrictEqual(scenario.expected.observations);
  });
});
