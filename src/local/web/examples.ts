import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** An example the page can load: URLs of its two mappings and of its events (served by the debugger handler). */
export interface DebuggerExample {
  readonly id: string;
  readonly title: string;
  readonly deviceMapping: string;
  readonly fhirMapping: string;
  readonly events?: string;
}

/** The scenario folders' file names (`mappings/examples/<scenario>/`). */
const SCENARIO_FILES = {
  deviceMapping: 'device-mapping.json',
  fhirMapping: 'fhir-mapping.json',
  events: 'events.json',
} as const;

/** Folder names the handler serves (one plain segment). */
export const EXAMPLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/**
 * The examples: first the deployable mappings (`mappings/devicecontent.json`, `mappings/fhirmapping.json`) with the
 * page's sample events, then every scenario of `mappings/examples/` that has both mappings, by name.
 *
 * @param rootDir - the repository root
 */
export async function listExamples(rootDir: string): Promise<DebuggerExample[]> {
  const examples: DebuggerExample[] = [
    {
      id: 'deployable',
      title: 'Deployable mappings (mappings/) with sample events',
      deviceMapping: '/mappings/devicecontent.json',
      fhirMapping: '/mappings/fhirmapping.json',
      events: '/static/sample-events.json',
    },
  ];
  let entries;
  try {
    entries = await readdir(path.join(rootDir, 'mappings', 'examples'), { withFileTypes: true });
  } catch {
    return examples;
  }
  const scenarios = entries.filter((e) => e.isDirectory() && EXAMPLE_NAME.test(e.name)).map((e) => e.name);
  for (const name of scenarios.sort()) {
    const files = new Set(await readdir(path.join(rootDir, 'mappings', 'examples', name)).catch(() => []));
    if (files.has(SCENARIO_FILES.deviceMapping) && files.has(SCENARIO_FILES.fhirMapping)) {
      const url = (file: string): string => `/mappings/examples/${name}/${file}`;
      examples.push({
        id: `example:${name}`,
        title: `Example: ${name}`,
        deviceMapping: url(SCENARIO_FILES.deviceMapping),
        fhirMapping: url(SCENARIO_FILES.fhirMapping),
        ...(files.has(SCENARIO_FILES.events) ? { events: url(SCENARIO_FILES.events) } : {}),
      });
    }
  }
  return examples;
}
