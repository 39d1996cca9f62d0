import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One conformance case of a `test/cases/<group>/*.json` file. */
export interface ConformanceCase<T> {
  readonly file: string;
  readonly name: string;
  readonly body: T;
}

/**
 * Loads every case of a case group: each `*.json` file of `test/cases/<group>` holds `{ "cases": [...] }`.
 * @param group - the folder name under test/cases
 */
export function loadCases<T extends { name: string }>(group: string): ConformanceCase<T>[] {
  const folder = join(__dirname, '..', 'cases', group);
  return readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((file) => {
      const { cases } = JSON.parse(readFileSync(join(folder, file), 'utf8')) as { cases: T[] };
      return cases.map((c) => ({ file, name: c.name, body: c }));
    });
}
