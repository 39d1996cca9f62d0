import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger, LogFields } from '../../../src/pipeline';
import type { DebuggerServer } from '../../../src/local/web';
import { createDebuggerHandler, startDebuggerServer } from '../../../src/local/web';
import { DEVICE_MAPPING, FHIR_MAPPING, HEART_RATE_EVENT } from '../../adapters/debug/debug-fixtures';

const REPO = path.resolve(__dirname, '..', '..', '..');
const STATIC = path.join(REPO, 'src', 'local', 'web', 'static');

/** A logger that keeps every entry. */
function recordingLogger(): Logger & { entries: { message: string; fields?: LogFields }[] } {
  const entries: { message: string; fields?: LogFields }[] = [];
  const log = (message: string, fields?: LogFields): void => {
    entries.push({ message, ...(fields === undefined ? {} : { fields }) });
  };
  return { entries, debug: log, info: log, warn: log, error: log };
}

let server: DebuggerServer;
let logger: ReturnType<typeof recordingLogger>;
beforeAll(async () => {
  logger = recordingLogger();
  server = await startDebuggerServer({ port: 0, clock: () => Date.UTC(2024, 2, 10, 15), logger });
});
afterAll(async () => {
  await server.close();
});

/** GETs a path as written: fetch would normalize `..` away before sending it. */
function rawGet(p: string): Promise<number> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: p }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

const url = (p: string): string => new URL(p, server.url).toString();
const post = (p: string, body: unknown, type = 'application/json'): Promise<Response> =>
  fetch(url(p), { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(body) });

describe('the debugger page and its assets', () => {
  test('GET / serves the page with a same-origin-only content security policy', async () => {
    const response = await fetch(server.url);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'self'(;|$)/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.text()).toContain('<script type="module" src="/static/debugger.js"></script>');
  });

  test('every asset the page references is served, with its content type', async () => {
    const html = await readFile(path.join(STATIC, 'index.html'), 'utf8');
    const references = [...html.matchAll(/(?:src|href)="(\/[^"#]*)"/g)].map((m) => m[1] as string);

    expect(references).toEqual(
      expect.arrayContaining(['/static/debugger.css', '/static/debugger.js', '/static/favicon.svg']),
    );
    const types: Record<string, string> = {
      '.css': 'text/css; charset=utf-8',
      '.js': 'text/javascript; charset=utf-8',
      '.svg': 'image/svg+xml',
    };
    for (const reference of references) {
      const response = await fetch(url(reference));
      expect([reference, response.status]).toEqual([reference, 200]);
      expect(response.headers.get('content-type')).toBe(types[path.extname(reference)]);
      expect(await response.text()).toBe(await readFile(path.join(STATIC, path.basename(reference)), 'utf8'));
    }
  });

  test('the page loads nothing from elsewhere (works offline)', async () => {
    for (const file of ['index.html', 'debugger.css', 'debugger.js']) {
      const text = await readFile(path.join(STATIC, file), 'utf8');
      expect([file, text.match(/\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/gi)]).toEqual([file, null]);
    }
  });

  test.each([
    '/static/../package.json',
    '/static/%2e%2e/package.json',
    '/static/%2e%2e%2fpackage.json',
    '/static/..%5cpackage.json',
    '/static/.env',
    '/static/a/b.js',
    '/mappings/x.txt',
    '/mappings/../package.json',
    '/mappings/examples/../../package.json',
  ])('%s is not served', async (p) => {
    expect(await rawGet(p)).toBe(404);
  });

  test('the repository mappings are served for the "load example" buttons', async () => {
    const response = await fetch(url('/mappings/devicecontent.json'));

    expect(response.status).toBe(200);
    expect(await response.text()).toBe(await readFile(path.join(REPO, 'mappings', 'devicecontent.json'), 'utf8'));
  });

  test('GET /api/examples lists the deployable mappings first, and every URL it lists is served', async () => {
    const { examples } = (await (await fetch(url('/api/examples'))).json()) as {
      examples: { id: string; deviceMapping: string; fhirMapping: string; events?: string }[];
    };

    expect(examples[0]).toEqual({
      id: 'deployable',
      title: expect.any(String),
      deviceMapping: '/mappings/devicecontent.json',
      fhirMapping: '/mappings/fhirmapping.json',
      events: '/static/sample-events.json',
    });
    for (const example of examples) {
      for (const link of [example.deviceMapping, example.fhirMapping, example.events ?? example.deviceMapping]) {
        const response = await fetch(url(link));
        expect([link, response.status]).toEqual([link, 200]);
        JSON.parse(await response.text());
      }
    }
  });

  test('the sample events run through the deployable mappings without errors', async () => {
    const read = (p: string): Promise<string> => readFile(path.join(REPO, p), 'utf8');
    const response = await post('/api/debug', {
      deviceMapping: await read('mappings/devicecontent.json'),
      fhirMapping: await read('mappings/fhirmapping.json'),
      events: JSON.parse(await readFile(path.join(STATIC, 'sample-events.json'), 'utf8')),
    });
    const json = (await response.json()) as { errors: unknown[]; measurements: { type: string }[] };

    expect(json.errors).toEqual([]);
    expect(new Set(json.measurements.map((m) => m.type))).toEqual(
      new Set([
        'heartrate',
        'oxygensaturation',
        'bloodpressure',
        'bloodglucose',
        'bodytemperature',
        'stepcount',
        'respiratoryrate',
      ]),
    );
  });
});

describe('the API over HTTP', () => {
  test('POST /api/validate answers the issues', async () => {
    const response = await post('/api/validate', { deviceMapping: '{', fhirMapping: FHIR_MAPPING });
    const json = (await response.json()) as { deviceMapping: { issues: { line: number }[] } };

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(json.deviceMapping.issues[0]).toMatchObject({ code: 'TEMPLATE_JSON_INVALID', line: 1 });
  });

  test('POST /api/debug runs the events, and nothing of the request is logged', async () => {
    const response = await post('/api/debug', {
      deviceMapping: DEVICE_MAPPING,
      fhirMapping: FHIR_MAPPING,
      events: [HEART_RATE_EVENT],
    });
    const json = (await response.json()) as { observations: { valueQuantity: { value: number } }[] };

    expect(response.status).toBe(200);
    expect(json.observations.map((o) => o.valueQuantity.value)).toEqual([72]);
    expect(logger.entries).toEqual([]);
  });

  test('a request error is answered with its reason', async () => {
    const response = await post('/api/debug', { deviceMapping: DEVICE_MAPPING });

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: expect.stringContaining(`'events' is required`) });
  });

  test('the API takes JSON only (a cross-site form post cannot reach it without a preflight)', async () => {
    const response = await post('/api/debug', { deviceMapping: DEVICE_MAPPING, events: [] }, 'text/plain');

    expect(response.status).toBe(415);
  });

  test('a body over 5 MB is refused with 413 before it is read whole', async () => {
    const response = await fetch(url('/api/debug'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"deviceMapping": "${'x'.repeat(5 * 1024 * 1024)}"}`,
    });

    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toContain('larger than 5242880 bytes');
  });

  test.each([
    ['GET', '/api/debug', 405, 'POST'],
    ['PUT', '/api/validate', 405, 'POST'],
    ['POST', '/static/debugger.js', 405, 'GET, HEAD'],
  ])('%s %s is %d', async (method, p, status, allow) => {
    const response = await fetch(url(p), { method });

    expect(response.status).toBe(status);
    expect(response.headers.get('allow')).toBe(allow);
  });
});

describe('createDebuggerHandler, mounted on another server', () => {
  test('answers its routes and leaves the others to the server', async () => {
    const handler = createDebuggerHandler();
    const outer = createServer((req, res) => {
      void handler(req, res).then((handled) => {
        if (!handled) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('the stack');
        }
      });
    });
    await new Promise<void>((resolve) => outer.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(outer.address() as AddressInfo).port}`;

      expect(await (await fetch(`${base}/metrics`)).text()).toBe('the stack');
      expect(await (await fetch(`${base}/static/debugger.css`)).text()).toContain('.editor');
    } finally {
      await new Promise((resolve) => outer.close(resolve));
    }
  });

  test('lists the scenarios of mappings/examples that have both mappings', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'debugger-root-'));
    try {
      for (const [scenario, files] of [
        ['b-full', ['device-mapping.json', 'fhir-mapping.json', 'events.json']],
        ['a-no-events', ['device-mapping.json', 'fhir-mapping.json']],
        ['c-device-only', ['device-mapping.json']],
      ] as const) {
        await mkdir(path.join(root, 'mappings', 'examples', scenario), { recursive: true });
        for (const file of files) {
          await writeFile(path.join(root, 'mappings', 'examples', scenario, file), '{}');
        }
      }
      const local = await startDebuggerServer({ port: 0, rootDir: root });
      try {
        const { examples } = (await (await fetch(new URL('/api/examples', local.url))).json()) as {
          examples: { id: string; events?: string }[];
        };

        expect(examples.map((e) => [e.id, e.events])).toEqual([
          ['deployable', '/static/sample-events.json'],
          ['example:a-no-events', undefined],
          ['example:b-full', '/mappings/examples/b-full/events.json'],
        ]);
        expect((await fetch(new URL('/mappings/examples/b-full/events.json', local.url))).status).toBe(200);
        expect((await fetch(new URL('/mappings/examples/b-full/../x.json', local.url))).status).toBe(404);
      } finally {
        await local.close();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('an unexpected failure is a bare 500, logged with its code only', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'debugger-root-'));
    const local = recordingLogger();
    // The page's path is a folder here: reading it fails with EISDIR.
    await mkdir(path.join(root, 'src', 'local', 'web', 'static', 'index.html'), { recursive: true });
    const broken = await startDebuggerServer({ port: 0, rootDir: root, logger: local });
    try {
      const response = await fetch(broken.url);

      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'Internal error' });
      expect(local.entries).toEqual([{ message: 'debugger request failed', fields: { code: 'INTERNAL' } }]);
    } finally {
      await broken.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
