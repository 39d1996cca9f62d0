import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository root: the nearest folder above `from` holding a package.json. The debugger serves its assets from
 * the source tree (`src/local/web/static`) and the example mappings from `mappings/`, whether it runs from `src/`
 * (ts-jest) or from `dist/src/` (tsc copies no non-TS files, and needs not: the source tree ships with the package).
 *
 * @param from - where to start (this module's folder by default)
 */
export function findPackageRoot(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) {
      return dir;
    }
    if (path.dirname(dir) === dir) {
      throw new Error(`no package.json above ${from}: cannot locate the debugger's assets`);
    }
  }
}
