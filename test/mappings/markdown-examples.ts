/**
 * Reads the executable examples of a Markdown guide (mappings/README.md).
 *
 * An example starts with a marker comment and runs until the next marker or heading:
 *
 *     <!-- example: heart-rate-calculated resolution=Lookup -->
 *     ```json device-template
 *     { "templateType": "CalculatedContent", "template": { … } }
 *     ```
 *     ```json event
 *     { "body": { … }, "enqueuedTimeUtc": "…" }
 *     ```
 *     ```json measurements
 *     [ … ]
 *     ```
 *
 * The word after `json` in a fence names the block's role. Prose may sit between the blocks. Every `json` fence of
 * the guide must belong to an example, so that no JSON shown to readers goes untested.
 */

/** What a block of an example holds. */
export const EXAMPLE_ROLES = {
  /** A whole device mapping (CollectionContent), kept as written. */
  'device-mapping': 'input',
  /** One device template container; several are wrapped, in order, into a CollectionContent. */
  'device-template': 'input',
  /** A whole FHIR destination mapping (CollectionFhir), kept as written. */
  'fhir-mapping': 'input',
  /** One CodeValueFhir container; several are wrapped, in order, into a CollectionFhir. */
  'fhir-template': 'input',
  /** One entry of an events file (`{body, properties?, systemProperties?, enqueuedTimeUtc?, batch?}`). */
  event: 'input',
  /** A JSON array of events-file entries. */
  events: 'input',
  /** Resources stored in the FHIR store before the events run. */
  seed: 'input',
  /** The measurements, exactly. */
  measurements: 'expectation',
  /** The Observations (chronological, then by type); members not shown are not compared. */
  observations: 'expectation',
  /** The Patients, Devices and Encounters in the store afterwards (by type, then id); members not shown are not compared. */
  resources: 'expectation',
  /** The errors of the run, in order; members not shown are not compared. */
  errors: 'expectation',
  /** The mapping load issues (device mapping first), in order; members not shown are not compared. */
  issues: 'expectation',
} as const;

/** A block role. */
export type ExampleRole = keyof typeof EXAMPLE_ROLES;

/** Identity modes an example may ask for with `resolution=…`. */
const RESOLUTIONS = ['Create', 'Lookup', 'LookupWithEncounter'] as const;

/** One JSON block of an example. */
export interface ExampleBlock {
  readonly role: ExampleRole;
  /** The block's text, exactly as written. */
  readonly text: string;
  readonly value: unknown;
  /** 1-based line of the opening fence. */
  readonly line: number;
}

/** One example of the guide. */
export interface MarkdownExample {
  readonly id: string;
  /** 1-based line of the marker. */
  readonly line: number;
  readonly resolution: (typeof RESOLUTIONS)[number];
  readonly blocks: readonly ExampleBlock[];
}

/** The examples of a guide, and everything malformed about them (each problem names its line). */
export interface ParsedExamples {
  readonly examples: MarkdownExample[];
  readonly problems: string[];
}

const MARKER = /^<!--\s*example:\s*(.*?)\s*-->\s*$/;
const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const HEADING = /^#{1,6}\s/;
const ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

function isRole(word: string): word is ExampleRole {
  return Object.prototype.hasOwnProperty.call(EXAMPLE_ROLES, word);
}

/**
 * Finds the examples of a Markdown text and checks that each is well-formed.
 * @param markdown - the guide
 */
export function parseMarkdownExamples(markdown: string): ParsedExamples {
  const lines = markdown.split(/\r?\n/);
  const examples: { id: string; line: number; resolution: MarkdownExample['resolution']; blocks: ExampleBlock[] }[] =
    [];
  const problems: string[] = [];
  const seen = new Set<string>();
  let current: (typeof examples)[number] | undefined;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const lineNumber = i + 1;
    const marker = MARKER.exec(line);
    if (marker !== null) {
      current = startExample(marker[1] ?? '', lineNumber, problems);
      if (current !== undefined) {
        if (seen.has(current.id)) {
          problems.push(`line ${lineNumber}: example id '${current.id}' is used twice`);
        }
        seen.add(current.id);
        examples.push(current);
      }
      continue;
    }
    if (HEADING.test(line)) {
      current = undefined;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence === null) {
      continue;
    }
    const block = readFence(lines, i, fence[2] ?? '```');
    if (block === undefined) {
      problems.push(`line ${lineNumber}: the fence is never closed`);
      break;
    }
    i = block.end;
    const info = fence[3] ?? '';
    const [language = '', role = '', ...rest] = info.trim().split(/\s+/);
    if (language !== 'json') {
      continue;
    }
    if (current === undefined) {
      problems.push(`line ${lineNumber}: a json block outside an example (every json block of the guide is executed)`);
      continue;
    }
    if (!isRole(role) || rest.length > 0) {
      problems.push(`line ${lineNumber}: example '${current.id}': '${info.trim()}' does not name a block role`);
      continue;
    }
    const text = block.body;
    try {
      current.blocks.push({ role, text, value: JSON.parse(text) as unknown, line: lineNumber });
    } catch (error) {
      problems.push(`line ${lineNumber}: example '${current.id}': the ${role} block is not JSON (${String(error)})`);
    }
  }
  for (const example of examples) {
    problems.push(...checkExample(example));
  }
  return { examples, problems };
}

/**
 * The text of the fenced block opened at line index `open`, up to its closing fence (same character, at least as
 * long, nothing after it), and the index of the closing line; `undefined` when the block is never closed.
 */
function readFence(lines: readonly string[], open: number, opening: string): { body: string; end: number } | undefined {
  for (let i = open + 1; i < lines.length; i++) {
    const close = FENCE.exec(lines[i] ?? '');
    if (close !== null && close[2]?.startsWith(opening) === true && (close[3] ?? '').trim() === '') {
      return { body: lines.slice(open + 1, i).join('\n'), end: i };
    }
  }
  return undefined;
}

function startExample(
  text: string,
  line: number,
  problems: string[],
): { id: string; line: number; resolution: MarkdownExample['resolution']; blocks: ExampleBlock[] } | undefined {
  const [id = '', ...attributes] = text.split(/\s+/);
  if (!ID.test(id)) {
    problems.push(`line ${line}: example marker without a kebab-case id`);
    return undefined;
  }
  let resolution: MarkdownExample['resolution'] = 'Create';
  for (const attribute of attributes) {
    const [key, value] = attribute.split('=');
    const mode = RESOLUTIONS.find((r) => r === value);
    if (key !== 'resolution' || mode === undefined) {
      problems.push(`line ${line}: example '${id}': unknown attribute '${attribute}'`);
      continue;
    }
    resolution = mode;
  }
  return { id, line, resolution, blocks: [] };
}

/** The rules an example must follow to mean something when it is executed. */
function checkExample(example: MarkdownExample): string[] {
  const problems: string[] = [];
  const say = (message: string): void => {
    problems.push(`line ${example.line}: example '${example.id}': ${message}`);
  };
  const count = (...roles: ExampleRole[]): number => example.blocks.filter((b) => roles.includes(b.role)).length;
  const isArray = (role: ExampleRole): boolean =>
    example.blocks.filter((b) => b.role === role).every((b) => Array.isArray(b.value));
  const isObject = (role: ExampleRole): boolean =>
    example.blocks
      .filter((b) => b.role === role)
      .every((b) => typeof b.value === 'object' && b.value !== null && !Array.isArray(b.value));

  for (const role of ['measurements', 'observations', 'resources', 'errors', 'issues', 'events', 'seed'] as const) {
    if (!isArray(role)) {
      say(`the ${role} block must be a JSON array`);
    }
    if (count(role) > 1) {
      say(`more than one ${role} block`);
    }
  }
  for (const role of ['device-mapping', 'device-template', 'fhir-mapping', 'fhir-template', 'event'] as const) {
    if (!isObject(role)) {
      say(`the ${role} block must be a JSON object`);
    }
  }
  if (count('device-mapping') > 1 || count('fhir-mapping') > 1) {
    say('more than one whole mapping of a kind');
  }
  if (count('device-mapping') > 0 && count('device-template') > 0) {
    say('both a device-mapping and device-template blocks');
  }
  if (count('fhir-mapping') > 0 && count('fhir-template') > 0) {
    say('both a fhir-mapping and fhir-template blocks');
  }
  const hasDevice = count('device-mapping', 'device-template') > 0;
  const hasFhir = count('fhir-mapping', 'fhir-template') > 0;
  const hasEvents = count('event', 'events') > 0;
  const runs = count('measurements', 'observations', 'resources', 'errors') > 0;
  if (count('measurements', 'observations', 'resources', 'errors', 'issues') === 0) {
    say('no expectation block (measurements, observations, resources, errors or issues)');
  }
  if (!hasDevice && !hasFhir) {
    say('no mapping');
  }
  if (runs && (!hasDevice || !hasEvents)) {
    say('an expectation about a run needs a device mapping and events');
  }
  if (count('observations', 'resources') > 0 && !hasFhir) {
    say('observations and resources need a FHIR mapping');
  }
  if (count('issues') > 0 && (runs || hasEvents)) {
    say('an issues example shows mapping load problems only (no events, no run expectations)');
  }
  return problems;
}
