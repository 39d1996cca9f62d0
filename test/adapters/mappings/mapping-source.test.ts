import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

import {
  createBlobMappingSource,
  createMappingCache,
  createPackageMappingSource,
  type MappingRejection,
  type MappingText,
  type MappingValidation,
  openMappingSource,
} from '../../../src/adapters/mappings/mapping-source';
import { secret } from '../../../src/pipeline/config/settings';
import { ErrorCode, PipelineError } from '../../../src/pipeline/errors';
import { type Azurite, startAzurite } from '../../helpers/azurite';

const DEVICE_MAPPING = '{"templateType":"CollectionContent","template":[]}';

/** A stand-in for the mapping loader: valid when the text is JSON with a `template` array. */
function validate(text: string): MappingValidation<{ templates: number }, string> {
  try {
    const doc = JSON.parse(text) as { template?: unknown };
    return Array.isArray(doc.template)
      ? { ok: true, value: { templates: doc.template.length } }
      : { ok: false, issues: ['/template: must be an array'] };
  } catch {
    return { ok: false, issues: ['not JSON'] };
  }
}

describe('package mapping source', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'iomt-mappings-'));
    mkdirSync(join(root, 'mappings'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('reads the file with a content-hash version and answers "unchanged" for that version', async () => {
    writeFileSync(join(root, 'mappings/devicecontent.json'), DEVICE_MAPPING);
    const source = createPackageMappingSource(root, 'mappings/devicecontent.json');
    expect(source.description).toBe('package:mappings/devicecontent.json');
    const first = await source.read();
    expect(first).toEqual({ text: DEVICE_MAPPING, version: expect.stringMatching(/^sha256:[0-9a-f]{32}$/) });
    await expect(source.read(first!.version)).resolves.toBeUndefined();
  });

  it('sees an edit, and a touch that changes nothing is still "unchanged"', async () => {
    const file = join(root, 'mappings/devicecontent.json');
    writeFileSync(file, DEVICE_MAPPING);
    const source = createPackageMappingSource(root, 'mappings/devicecontent.json');
    const first = await source.read();
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await expect(source.read(first!.version)).resolves.toBeUndefined();
    writeFileSync(file, '{"templateType":"CollectionContent","template":[{}]}');
    const second = await source.read(first!.version);
    expect(second?.version).not.toBe(first!.version);
    expect(second?.text).toContain('[{}]');
  });

  it('drops a UTF-8 byte-order mark', async () => {
    writeFileSync(
      join(root, 'mappings/bom.json'),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(DEVICE_MAPPING)]),
    );
    await expect(createPackageMappingSource(root, 'mappings/bom.json').read()).resolves.toMatchObject({
      text: DEVICE_MAPPING,
    });
  });

  it('reports a missing file as a configuration error', async () => {
    await expect(createPackageMappingSource(root, 'mappings/missing.json').read()).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
      message: 'mapping package:mappings/missing.json not found',
    });
  });

  it('refuses a path outside the app folder', () => {
    expect(() => createPackageMappingSource(root, '../outside.json')).toThrow(PipelineError);
  });
});

describe('blob mapping source (Azurite)', () => {
  let azurite: Azurite;
  let container: ContainerClient;

  beforeAll(async () => {
    azurite = await startAzurite();
    container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('mappings');
    await container.create();
  }, 60_000);

  afterAll(async () => {
    await azurite.stop();
  });

  const upload = async (name: string, text: string | Buffer): Promise<void> => {
    await container.getBlockBlobClient(name).uploadData(Buffer.from(text));
  };

  it('reads the blob with its ETag as version; the same ETag is answered 304, "unchanged"', async () => {
    await upload('device.json', DEVICE_MAPPING);
    const source = createBlobMappingSource(container, 'device.json');
    expect(source.description).toBe('blob:mappings/device.json');
    const first = await source.read();
    const { etag } = await container.getBlobClient('device.json').getProperties();
    expect(first).toEqual({ text: DEVICE_MAPPING, version: etag });
    await expect(source.read(first!.version)).resolves.toBeUndefined();

    await upload('device.json', '{"template":[1]}');
    const second = await source.read(first!.version);
    expect(second).toEqual({ text: '{"template":[1]}', version: expect.any(String) });
    expect(second!.version).not.toBe(first!.version);
  });

  it('is opened from a blob: setting on the MappingStorage connection', async () => {
    await upload('fhir.json', '{"template":[]}');
    const source = openMappingSource(
      { kind: 'blob', container: 'mappings', blobName: 'fhir.json' },
      {
        packageRoot: '/nonexistent',
        storage: {
          kind: 'connectionString',
          setting: 'MappingStorage',
          connectionString: secret(azurite.connectionString),
        },
      },
    );
    await expect(source.read()).resolves.toMatchObject({ text: '{"template":[]}' });
  });

  it('reports a missing blob as a configuration error', async () => {
    await expect(createBlobMappingSource(container, 'nope.json').read()).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
      message: 'mapping blob:mappings/nope.json not found',
    });
  });

  it('reports unreachable storage as retryable', async () => {
    const port = await closedPort();
    const unreachable = azurite.connectionString.replace(
      /BlobEndpoint=[^;]+/,
      `BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1`,
    );
    const source = createBlobMappingSource(
      BlobServiceClient.fromConnectionString(unreachable, {
        retryOptions: { maxTries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
      }).getContainerClient('mappings'),
      'device.json',
    );
    await expect(source.read()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true });
  });

  it('keeps serving the last valid mapping while an invalid one is uploaded, then takes the fix', async () => {
    await upload('live.json', '{"template":[1,2]}');
    const rejections: MappingRejection<string>[] = [];
    const source = createBlobMappingSource(container, 'live.json');
    const cache = createMappingCache((v) => source.read(v), validate, { onRejected: (r) => rejections.push(r) });

    const v1 = await cache.get();
    expect(v1.value).toEqual({ templates: 2 });

    await upload('live.json', '{"template":');
    await expect(cache.get()).resolves.toBe(v1);
    await expect(cache.get()).resolves.toBe(v1);
    expect(rejections).toEqual([{ version: expect.any(String), issues: ['not JSON'], keptVersion: v1.version }]);

    await upload('live.json', '{"template":[1,2,3]}');
    const v3 = await cache.get();
    expect(v3.value).toEqual({ templates: 3 });
    expect(cache.rejected).toBeUndefined();
  });
});

describe('createMappingCache', () => {
  /** A scripted source: each entry is what the next read returns (a text, `null` for "unchanged", or an error). */
  function scripted(...steps: (string | null | Error)[]): {
    load: (known?: string) => Promise<MappingText | undefined>;
    calls: (string | undefined)[];
  } {
    const calls: (string | undefined)[] = [];
    let n = 0;
    return {
      calls,
      load: (known) => {
        calls.push(known);
        const step = steps[Math.min(n, steps.length - 1)];
        n++;
        if (step instanceof Error) {
          return Promise.reject(step);
        }
        return Promise.resolve(step == null ? undefined : { text: step, version: `v${n}` });
      },
    };
  }

  it('loads, then asks with the version it holds', async () => {
    const source = scripted('{"template":[]}', null);
    const cache = createMappingCache(source.load, validate);
    await expect(cache.get()).resolves.toEqual({ value: { templates: 0 }, version: 'v1' });
    await expect(cache.get()).resolves.toEqual({ value: { templates: 0 }, version: 'v1' });
    expect(source.calls).toEqual([undefined, 'v1']);
  });

  it('rejects a first invalid version with every issue, and keeps failing until a valid one arrives', async () => {
    const source = scripted('{"nope":1}', null, '{"template":[9]}');
    const rejections: MappingRejection<string>[] = [];
    const cache = createMappingCache(source.load, validate, {
      onRejected: (r) => rejections.push(r),
      description: 'device mapping',
    });
    const error = await cache.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineError);
    expect(error).toMatchObject({
      code: ErrorCode.TemplateInvalid,
      message: 'device mapping version v1 is invalid (1 issue) and no earlier valid version is loaded',
      details: { mappingVersion: 'v1', issueCount: 1, issues: ['/template: must be an array'] },
    });
    await expect(cache.get()).rejects.toBe(error);
    expect(rejections).toHaveLength(1);
    expect(cache.rejected).toEqual({ version: 'v1', issues: ['/template: must be an array'] });
    await expect(cache.get()).resolves.toEqual({ value: { templates: 1 }, version: 'v3' });
    expect(source.calls).toEqual([undefined, 'v1', 'v1']);
  });

  it('serves the last valid mapping when the source fails, and reports it as stale', async () => {
    const outage = new PipelineError(ErrorCode.StorageUnavailable, 'down');
    const source = scripted('{"template":[]}', outage);
    const stale: [string, string][] = [];
    const cache = createMappingCache(source.load, validate, { onStale: (e, v) => stale.push([e.code, v]) });
    const v1 = await cache.get();
    await expect(cache.get()).resolves.toBe(v1);
    expect(stale).toEqual([['STORAGE_UNAVAILABLE', 'v1']]);
  });

  it('fails when the source fails before any valid mapping', async () => {
    const outage = new PipelineError(ErrorCode.StorageUnavailable, 'down');
    const cache = createMappingCache(scripted(outage).load, validate);
    await expect(cache.get()).rejects.toBe(outage);
  });

  it('checks the source at most once per refresh interval', async () => {
    let now = 0;
    const source = scripted('{"template":[]}', null);
    const cache = createMappingCache(source.load, validate, { refreshIntervalMs: 1000, clock: () => now });
    await cache.get();
    now = 999;
    await cache.get();
    expect(source.calls).toHaveLength(1);
    now = 1000;
    await cache.get();
    expect(source.calls).toHaveLength(2);
  });

  it('shares one read between concurrent callers', async () => {
    const source = scripted('{"template":[]}');
    const cache = createMappingCache(source.load, validate);
    const results = await Promise.all([cache.get(), cache.get(), cache.get()]);
    expect(source.calls).toHaveLength(1);
    expect(new Set(results).size).toBe(1);
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => {
    server.close(() => {
      done();
    });
  });
  return port;
}
