/**
 * Compiles a TypeScript entry file and every module it reaches through relative imports into plain CommonJS with
 * `typescript.transpileModule`, so a test can run it in a child process with `node` — without depending on a prior
 * `npm run build` (dist/ may be stale when a single test file is run) and without a loader. Type-only imports vanish
 * in transpilation and are not followed. JSON files that are required are copied; `node_modules` is linked.
 */
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '../../..');

const OPTIONS: ts.CompilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  esModuleInterop: true,
  sourceMap: false,
};

function resolveSource(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate)) {
      return candidate;
    }
  }
  return base.endsWith('.json') && existsSync(base) ? base : undefined;
}

/**
 * Compiles `entries` and their relative imports into `outDir`, mirroring the repository layout.
 * @param entries - repository-relative TypeScript files
 * @param outDir - an empty directory
 * @param extraFiles - repository-relative files to copy as they are (e.g. mappings read at run time)
 * @returns the compiled path of each entry
 */
export function compileForNode(
  entries: readonly string[],
  outDir: string,
  extraFiles: readonly string[] = [],
): string[] {
  const queue = entries.map((e) => path.join(ROOT, e));
  const done = new Set<string>();
  const copy = (file: string): void => {
    const target = path.join(outDir, path.relative(ROOT, file));
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(file, target);
  };
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (done.has(file)) {
      continue;
    }
    done.add(file);
    if (file.endsWith('.json')) {
      copy(file);
      continue;
    }
    const output = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: OPTIONS,
      fileName: file,
      reportDiagnostics: true,
    });
    if (output.diagnostics !== undefined && output.diagnostics.length > 0) {
      const first = ts.flattenDiagnosticMessageText(output.diagnostics[0]?.messageText ?? '', '\n');
      throw new Error(`compileForNode: ${path.relative(ROOT, file)} does not compile: ${first}`);
    }
    const target = path.join(outDir, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, output.outputText);
    for (const match of output.outputText.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
      const resolved = resolveSource(file, match[1] as string);
      if (resolved === undefined) {
        throw new Error(`compileForNode: cannot resolve ${match[1]} from ${path.relative(ROOT, file)}`);
      }
      queue.push(resolved);
    }
  }
  for (const extra of extraFiles) {
    copy(path.join(ROOT, extra));
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
  return entries.map((e) => path.join(outDir, e.replace(/\.ts$/, '.js')));
}
