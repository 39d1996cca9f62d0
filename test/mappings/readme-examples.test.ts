/**
 * mappings/README.md, the authoring guide, shows no JSON that is not executed: every `json` block belongs to an
 * example (see markdown-examples.ts for the format), and every example runs through the real pipeline — the mapping
 * loaders, `runDebugSession` and the in-memory FHIR store — and must produce what it shows.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Observation, Resource } from '@medplum/fhirtypes';

import { toFileEvent } from '../../src/local/cli/events-file';
import type { DebugEvent } from '../../src/pipeline';
import { loadDeviceMapping, loadFhirMapping } from '../../src/pipeline';
import { runExample } from './example-runner';
import type { ExampleBlock, ExampleRole, MarkdownExample } from './markdown-examples';
import { parseMarkdownExamples } from './markdown-examples';

const README = join(__dirname, '..', '..', 'mappings', 'README.md');
const parsed = parseMarkdownExamples(readFileSync(README, 'utf8'));

describe('the example format', () => {
  const fence = (info: string, body: string): string => `\`\`\`${info}\n${body}\n\`\`\``;
  const template = '{ "templateType": "CalculatedContent", "template": {} }';
  const cases: [string, string, string][] = [
    ['a json block outside an example', fence('json', '{}'), 'a json block outside an example'],
    ['an unknown role', `<!-- example: a -->\n${fence('json measurment', '[]')}`, 'does not name a block role'],
    ['a block that is not JSON', `<!-- example: a -->\n${fence('json device-template', '{ x }')}`, 'is not JSON'],
    [
      'an example without expectation',
      `<!-- example: a -->\n${fence('json device-template', template)}`,
      'no expectation',
    ],
    [
      'expectations without events',
      `<!-- example: a -->\n${fence('json device-template', template)}\n${fence('json measurements', '[]')}`,
      'needs a device mapping and events',
    ],
    [
      'observations without a FHIR mapping',
      `<!-- example: a -->\n${fence('json device-template', template)}\n${fence('json event', '{}')}\n${fence('json observations', '[]')}`,
      'need a FHIR mapping',
    ],
    [
      'a duplicate id',
      `<!-- example: a -->\n${fence('json device-template', template)}\n${fence('json issues', '[]')}\n<!-- example: a -->`,
      'used twice',
    ],
    ['a marker without id', '<!-- example: -->', 'without a kebab-case id'],
    ['an unknown attribute', `<!-- example: a mode=Lookup -->`, "unknown attribute 'mode=Lookup'"],
    ['an unclosed fence', '<!-- example: a -->\n```json event\n{}', 'never closed'],
    [
      'an expectation of the wrong shape',
      `<!-- example: a -->\n${fence('json device-template', template)}\n${fence('json issues', '{}')}`,
      'must be a JSON array',
    ],
  ];
  test.each(cases)('%s is reported', (_name, markdown, problem) => {
    expect(parseMarkdownExamples(markdown).problems).toEqual(
      expect.arrayContaining([expect.stringContaining(problem)]),
    );
  });

  test('a well-formed example is read with its blocks and attributes', () => {
    const markdown = [
      '# Title',
      '<!-- example: heart-rate resolution=Lookup -->',
      'Some prose.',
      fence('json device-template', template),
      fence('sh', 'iomt normalize'),
      fence('json event', '{ "body": {} }'),
      fence('json measurements', '[]'),
      '## Next',
      fence('text', 'not json'),
    ].join('\n');
    const { examples, problems } = parseMarkdownExamples(markdown);
    expect(problems).toEqual([]);
    expect(examples).toMatchObject([
      {
        id: 'heart-rate',
        line: 2,
        resolution: 'Lookup',
        blocks: [{ role: 'device-template' }, { role: 'event' }, { role: 'measurements' }],
      },
    ]);
  });
});

test('every json block of the guide belongs to a well-formed example', () => {
  expect(parsed.problems).toEqual([]);
  expect(parsed.examples.length).toBeGreaterThanOrEqual(25);
});

const blocksOf = (example: MarkdownExample, role: ExampleRole): ExampleBlock[] =>
  example.blocks.filter((b) => b.role === role);
const valueOf = (example: MarkdownExample, role: ExampleRole): unknown => blocksOf(example, role)[0]?.value;

/** The mapping text of an example: a whole mapping as written, or its templates wrapped in a collection. */
function mappingText(example: MarkdownExample, kind: 'device' | 'fhir'): string | undefined {
  const whole = blocksOf(example, `${kind}-mapping`)[0];
  if (whole !== undefined) {
    return whole.text;
  }
  const templates = blocksOf(example, `${kind}-template`).map((b) => b.value);
  if (templates.length === 0) {
    return undefined;
  }
  const templateType = kind === 'device' ? 'CollectionContent' : 'CollectionFhir';
  return JSON.stringify({ templateType, template: templates }, null, 2);
}

function eventsOf(example: MarkdownExample): DebugEvent[] {
  const entries = example.blocks.flatMap((b) =>
    b.role === 'event' ? [b.value] : b.role === 'events' ? (b.value as unknown[]) : [],
  );
  return entries.map((entry, index) => {
    const { batch, event } = toFileEvent(entry, index, example.id);
    return { batch, event };
  });
}

const chronological = (a: Observation, b: Observation): number => {
  const key = (o: Observation): string => `${o.effectivePeriod?.start ?? ''}|${o.code.text ?? ''}`;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
};

describe.each(parsed.examples.map((e) => [e.id, e] as const))('guide example %s', (_id, example) => {
  const deviceMapping = mappingText(example, 'device');
  const fhirMapping = mappingText(example, 'fhir');

  if (blocksOf(example, 'issues').length > 0) {
    test('its mappings load with exactly the issues shown', () => {
      const issues = [
        ...(deviceMapping === undefined ? [] : loadDeviceMapping(deviceMapping).issues),
        ...(fhirMapping === undefined ? [] : loadFhirMapping(fhirMapping).issues),
      ];
      expect(issues).toMatchObject(valueOf(example, 'issues') as object[]);
    });
    return;
  }

  test('it runs as shown', async () => {
    const run = await runExample({
      deviceMapping: deviceMapping ?? '',
      ...(fhirMapping === undefined ? {} : { fhirMapping }),
      events: eventsOf(example),
      resolution: example.resolution,
      seed: (valueOf(example, 'seed') as Resource[] | undefined) ?? [],
    });
    expect(run.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(run.errors).toMatchObject((valueOf(example, 'errors') as object[] | undefined) ?? []);
    const measurements = valueOf(example, 'measurements');
    if (measurements !== undefined) {
      expect(run.measurements).toStrictEqual(measurements);
    }
    const observations = valueOf(example, 'observations');
    if (observations !== undefined) {
      expect([...run.observations].sort(chronological)).toMatchObject(observations as object[]);
    }
    const resources = valueOf(example, 'resources');
    if (resources !== undefined) {
      expect(run.resources).toMatchObject(resources as object[]);
    }
  });
});
