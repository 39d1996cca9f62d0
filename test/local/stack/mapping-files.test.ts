import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { checkMappingFiles, InvalidMappingsError, watchMappingFiles } from '../../../src/local/stack/mapping-files';

const ROOT = join(__dirname, '../../..');
const DEVICE_TEXT = readFileSync(join(ROOT, 'mappings/devicecontent.json'), 'utf8');
const FHIR_TEXT = readFileSync(join(ROOT, 'mappings/fhirmapping.json'), 'utf8');
const BROKEN =
  '{\n  "templateType": "CollectionContent",\n  "template": [\n    { "templateType": "Unknown", "template": {} }\n  ]\n}\n';

let dir: string;
let files: { device: string; fhir: string };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iomt-mappings-'));
  files = { device: join(dir, 'device.json'), fhir: join(dir, 'fhir.json') };
  writeFileSync(files.device, DEVICE_TEXT);
  writeFileSync(files.fhir, FHIR_TEXT);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Rewrites a file so that its size or modification time changes for sure. */
function rewrite(file: string, text: string, secondsLater: number): void {
  writeFileSync(file, text);
  const t = new Date(Date.now() + secondsLater * 1000);
  utimesSync(file, t, t);
}

async function rejection(promise: Promise<unknown>): Promise<InvalidMappingsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidMappingsError);
  return error as InvalidMappingsError;
}

describe('checkMappingFiles', () => {
  it('loads the example mappings', async () => {
    const checked = await checkMappingFiles(files);
    expect(checked.device.templates).toHaveLength(9);
    expect(checked.fhir.templates).toHaveLength(7);
  });

  it('reports the issues of both files at once, each at file:line:col', async () => {
    writeFileSync(files.device, BROKEN);
    writeFileSync(files.fhir, '{ "templateType": "CollectionFhir", "template": [ 1 ] }');
    const { report } = await rejection(checkMappingFiles(files));
    expect(report).toMatch(new RegExp(`^${escape(files.device)}:4:\\d+  \\w+`, 'm'));
    expect(report).toMatch(new RegExp(`^${escape(files.fhir)}:1:\\d+  \\w+`, 'm'));
  });

  it('names a file it cannot read', async () => {
    rmSync(files.fhir);
    expect((await rejection(checkMappingFiles(files))).report).toBe(`${files.fhir}: cannot read the mapping (ENOENT)`);
  });

  it('warns about device types without a FHIR template', async () => {
    const fhir = JSON.parse(FHIR_TEXT) as { template: { template: { typeName: string } }[] };
    fhir.template = fhir.template.filter((t) => t.template.typeName !== 'stepcount');
    writeFileSync(files.fhir, JSON.stringify(fhir));
    const { warnings } = await checkMappingFiles(files);
    expect(warnings.join('\n')).toContain('stepcount');
  });
});

describe('watchMappingFiles', () => {
  it('reloads an edited mapping for the next batch and says so', async () => {
    const notices: string[] = [];
    const current = watchMappingFiles(files, {
      clock: Date.now,
      refreshIntervalMs: 0,
      onNotice: (m) => notices.push(m),
    });
    const first = await current();
    expect(await current()).toBe(first);
    const fhir = JSON.parse(FHIR_TEXT) as { template: { template: { typeName: string; periodInterval?: number } }[] };
    fhir.template[1]!.template.periodInterval = 60;
    rewrite(files.fhir, JSON.stringify(fhir), 5);
    const second = await current();
    expect(second.version).not.toBe(first.version);
    expect(second.fhirMapping.templateFor('oxygensaturation')?.periodInterval).toBe(60);
    expect(second.normalizer).toBe(first.normalizer); // the device mapping did not change
    expect(notices).toEqual([`reloaded ${files.fhir}`]);
  });

  it('keeps the previous mapping when an edit is invalid, reporting its issues once', async () => {
    const notices: string[] = [];
    const current = watchMappingFiles(files, {
      clock: Date.now,
      refreshIntervalMs: 0,
      onNotice: (m) => notices.push(m),
    });
    const first = await current();
    rewrite(files.device, BROKEN, 5);
    expect(await current()).toBe(first);
    expect(await current()).toBe(first);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(
      new RegExp(
        `^${escape(files.device)} changed but is invalid; still using the previous version:\\n${escape(files.device)}:4:`,
      ),
    );
    rewrite(files.device, DEVICE_TEXT.replace('"heartrate"', '"heartrate" '), 10);
    expect((await current()).normalizer).not.toBe(first.normalizer);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
