import type { AccessToken, TokenCredential } from '@azure/identity';
import type { Bundle, BundleEntry, Observation, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { FhirHttpStoreOptions, FhirRequestEvent } from '../../../src/adapters/fhir/fhir-http-store';
import {
  escapeSearchValue,
  FhirHttpStore,
  identifierToken,
  normalizeBaseUrl,
} from '../../../src/adapters/fhir/fhir-http-store';
import { ErrorCode, PipelineError } from '../../../src/pipeline/errors';
import type { RecordedRequest, ScriptedReply } from '../../helpers/loopback-fhir';
import { LoopbackFhir } from '../../helpers/loopback-fhir';

const SYSTEM = 'https://azure.microsoft.com/iomt';

function observation(id: string, versionId?: string, value = `${id}-value`): Observation {
  const obs: Observation = {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { text: 'HeartRate' },
    identifier: [{ system: SYSTEM, value }],
  };
  if (versionId !== undefined) {
    obs.meta = { versionId };
  }
  return obs;
}

function searchset(resources: Resource[], next?: string): Bundle {
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    entry: resources.map((resource) => ({ resource, search: { mode: 'match' } })),
  };
  if (next !== undefined) {
    bundle.link = [{ relation: 'next', url: next }];
  }
  return bundle;
}

const outcome = (code: string, diagnostics?: string): OperationOutcome => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: code as 'conflict', ...(diagnostics === undefined ? {} : { diagnostics }) }],
});

let server: LoopbackFhir;
let sleeps: number[];
let events: FhirRequestEvent[];
const NOW = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

/** A store on the loopback server whose waits are recorded instead of slept and whose clock moves only by them. */
function storeFor(options: Partial<FhirHttpStoreOptions> = {}): FhirHttpStore {
  let clock = NOW;
  return new FhirHttpStore({
    baseUrl: server.baseUrl,
    requestTimeoutMs: 2000,
    environment: {
      sleep: (ms) => {
        sleeps.push(ms);
        clock += ms;
        return Promise.resolve();
      },
      random: () => 0.5,
      now: () => clock,
    },
    onRequest: (event) => events.push(event),
    ...options,
  });
}

beforeEach(async () => {
  server = await LoopbackFhir.start();
  sleeps = [];
  events = [];
});

afterEach(async () => {
  await server.close();
});

describe('base URL and search encoding', () => {
  test.each([
    ['https://fhir.example.org/', 'https://fhir.example.org'],
    ['https://fhir.example.org/r4//', 'https://fhir.example.org/r4'],
    ['  http://127.0.0.1:8080/fhir ', 'http://127.0.0.1:8080/fhir'],
  ])('normalizes %j to %j', (input, expected) => {
    expect(normalizeBaseUrl(input)).toBe(expected);
  });

  test.each(['not a url', 'ftp://fhir.example.org', 'https://fhir.example.org/?x=1', 'https://fhir.example.org/#a'])(
    'rejects %j as a configuration error',
    (input) => {
      expect(() => normalizeBaseUrl(input)).toThrow(
        expect.objectContaining({ code: ErrorCode.ConfigurationInvalid }) as Error,
      );
    },
  );

  test.each([
    ['plain', 'plain'],
    ['a|b', 'a\\|b'],
    ['a,b', 'a\\,b'],
    ['a$b', 'a\\$b'],
    ['a\\b', 'a\\\\b'],
  ])('escapes the search value %j as %j', (value, escaped) => {
    expect(escapeSearchValue(value)).toBe(escaped);
  });

  test.each([
    [{ value: 'd1' }, 'd1'],
    [{ system: '', value: 'd1' }, '|d1'],
    [{ system: 'urn:x|y', value: 'd|1' }, 'urn:x\\|y|d\\|1'],
  ])('identifier token of %j is %j', (identifier, token) => {
    expect(identifierToken(identifier)).toBe(token);
  });
});

describe('read and readVersion', () => {
  test('GET [type]/[id] with FHIR JSON headers', async () => {
    server.reply('GET /Observation/o1', { body: observation('o1', '3') });
    await expect(storeFor().read('Observation', 'o1')).resolves.toEqual(observation('o1', '3'));
    const [request] = server.requests;
    expect(request?.headers.accept).toBe('application/fhir+json');
    expect(request?.headers.authorization).toBeUndefined();
    expect(events).toEqual([
      expect.objectContaining({
        interaction: 'read',
        method: 'GET',
        resourceType: 'Observation',
        status: 200,
        attempt: 1,
      }),
    ]);
  });

  test.each([404, 410])('HTTP %i is undefined', async (status) => {
    server.reply('GET /Observation/gone', { status, body: outcome(status === 404 ? 'not-found' : 'deleted') });
    await expect(storeFor().read('Observation', 'gone')).resolves.toBeUndefined();
  });

  test('readVersion GETs _history/[vid]', async () => {
    server.reply('GET /Observation/o1/_history/2', { body: observation('o1', '2') });
    await expect(storeFor().readVersion('Observation', 'o1', '2')).resolves.toMatchObject({ meta: { versionId: '2' } });
    await expect(storeFor().readVersion('Observation', 'o1', '9')).resolves.toBeUndefined();
  });

  test('a body of another type is an error', async () => {
    server.reply('GET /Observation/o1', { body: { resourceType: 'Patient', id: 'o1' } });
    await expect(storeFor().read('Observation', 'o1')).rejects.toMatchObject({ code: ErrorCode.FhirRequestFailed });
  });
});

describe('searchByIdentifier', () => {
  test('sends identifier=system|value URL-encoded with FHIR escaping', async () => {
    server.reply('GET /Observation', { body: searchset([]) });
    await storeFor().searchByIdentifier('Observation', { system: SYSTEM, value: 'p1.d1|x,y$z' });
    const [request] = server.requests;
    expect(request?.query.get('identifier')).toBe(`${SYSTEM}|p1.d1\\|x\\,y\\$z`);
    expect(request?.url).toBe(`/Observation?identifier=${encodeURIComponent(`${SYSTEM}|p1.d1\\|x\\,y\\$z`)}`);
  });

  test('follows next links over all pages and keeps exact matches only', async () => {
    const wanted = { system: SYSTEM, value: 'v' };
    const prefixTwin = observation('twin', '1', 'v-with-a-longer-value'); // servers may match on a prefix (§9.7)
    server
      .reply('GET /Observation', { body: searchset([observation('a', '1', 'v'), prefixTwin], 'Observation?page=2') })
      .reply('GET /Observation', {
        body: searchset([observation('b', '1', 'v')], `${server.baseUrl}/Observation?page=3`),
      })
      .reply('GET /Observation', {
        body: {
          ...searchset([observation('c', '1', 'v')]),
          entry: [
            { resource: observation('c', '1', 'v'), search: { mode: 'match' } },
            { resource: { resourceType: 'Patient', id: 'p' }, search: { mode: 'include' } },
            { resource: outcome('informational'), search: { mode: 'outcome' } },
          ],
        },
      });
    const found = await storeFor().searchByIdentifier('Observation', wanted);
    expect(found.map((o) => o.id)).toEqual(['a', 'b', 'c']);
    expect(server.requests.map((r) => r.url)).toEqual([
      `/Observation?identifier=${encodeURIComponent(`${SYSTEM}|v`)}`,
      '/Observation?page=2',
      '/Observation?page=3',
    ]);
  });

  test('refuses a next link to another origin (the token must not leave the service)', async () => {
    server.reply('GET /Observation', { body: searchset([], 'https://elsewhere.example/fhir/Observation?page=2') });
    await expect(storeFor().searchByIdentifier('Observation', { value: 'v' })).rejects.toMatchObject({
      code: ErrorCode.FhirRequestFailed,
    });
    expect(server.requests).toHaveLength(1);
  });

  test('stops a paging loop', async () => {
    server.otherwise(() => ({ body: searchset([], 'Observation?page=2') }));
    await expect(storeFor().searchByIdentifier('Observation', { value: 'v' })).rejects.toThrow('paging loop');
    expect(server.requests).toHaveLength(2);
  });

  test('without a system any system matches; an empty system matches identifiers without one', async () => {
    const noSystem: Observation = { ...observation('n'), identifier: [{ value: 'v' }] };
    server.otherwise(() => ({ body: searchset([observation('s', '1', 'v'), noSystem]) }));
    const store = storeFor();
    expect((await store.searchByIdentifier('Observation', { value: 'v' })).map((o) => o.id)).toEqual(['s', 'n']);
    expect((await store.searchByIdentifier('Observation', { system: '', value: 'v' })).map((o) => o.id)).toEqual(['n']);
  });
});

describe('put', () => {
  test('PUT [type]/[id] with If-Match W/"version"; 201 is created', async () => {
    server.reply('PUT /Observation/o1', { status: 201, body: observation('o1', '1') });
    const result = await storeFor().put(observation('o1'), { ifMatch: '7' });
    expect(result).toEqual({ resource: observation('o1', '1'), created: true });
    const [request] = server.requests;
    expect(request?.headers['if-match']).toBe('W/"7"');
    expect(request?.headers['content-type']).toBe('application/fhir+json');
    expect(request?.body).toEqual(observation('o1'));
  });

  test('200 is an update; no If-Match without a version', async () => {
    server.reply('PUT /Observation/o1', { status: 200, body: observation('o1', '2') });
    await expect(storeFor().put(observation('o1'))).resolves.toMatchObject({ created: false });
    expect(server.requests[0]?.headers['if-match']).toBeUndefined();
  });

  test('412 surfaces as FHIR_CONFLICT at once (the caller re-reads and merges)', async () => {
    server.reply('PUT /Observation/o1', { status: 412, body: outcome('conflict') });
    const error = await storeFor()
      .put(observation('o1'), { ifMatch: '1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineError);
    expect(error).toMatchObject({ code: ErrorCode.FhirConflict, retryable: true, details: { status: 412 } });
    expect(server.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('no body (Prefer: return=minimal): built from ETag, Location and Last-Modified', async () => {
    server.reply('PUT /Observation/o1', {
      status: 201,
      headers: {
        etag: 'W/"5"',
        location: `${server.baseUrl}/Observation/o1/_history/5`,
        'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT',
      },
    });
    const result = await storeFor().put(observation('o1'));
    expect(result).toEqual({
      resource: { ...observation('o1'), meta: { versionId: '5', lastUpdated: '2015-10-21T07:28:00.000Z' } },
      created: true,
    });
    expect(server.requests).toHaveLength(1);
  });

  test('no body and no version headers: read back', async () => {
    server.reply('PUT /Observation/o1', { status: 200 }).reply('GET /Observation/o1', { body: observation('o1', '4') });
    await expect(storeFor().put(observation('o1'))).resolves.toEqual({
      resource: observation('o1', '4'),
      created: false,
    });
  });

  test('a resource without id is a programming error', async () => {
    await expect(storeFor().put({ resourceType: 'Observation' } as Observation)).rejects.toMatchObject({
      code: ErrorCode.Internal,
    });
    expect(server.requests).toHaveLength(0);
  });
});

describe('retries', () => {
  test('429 with Retry-After in seconds waits that long, then succeeds', async () => {
    server.reply('GET /Observation/o1', { status: 429, headers: { 'retry-after': '2' } }, { body: observation('o1') });
    await expect(storeFor().read('Observation', 'o1')).resolves.toMatchObject({ id: 'o1' });
    expect(sleeps).toEqual([2000]);
    expect(events.map((e) => [e.status, e.attempt])).toEqual([
      [429, 1],
      [200, 2],
    ]);
  });

  test('429 with Retry-After as an HTTP-date waits until then', async () => {
    server.reply(
      'GET /Observation/o1',
      { status: 429, headers: { 'retry-after': 'Wed, 21 Oct 2015 07:28:03 GMT' } },
      { body: observation('o1') },
    );
    await storeFor().read('Observation', 'o1');
    expect(sleeps).toEqual([3000]);
  });

  test('a Retry-After beyond the cap is capped', async () => {
    server.reply(
      'GET /Observation/o1',
      { status: 503, headers: { 'retry-after': '3600' } },
      { body: observation('o1') },
    );
    await storeFor({ retry: { maxRetryAfterMs: 10_000 } }).read('Observation', 'o1');
    expect(sleeps).toEqual([10_000]);
  });

  test('503 then success, with jittered backoff', async () => {
    server.reply(
      'PUT /Observation/o1',
      { status: 503 },
      { status: 502 },
      { status: 201, body: observation('o1', '1') },
    );
    await expect(storeFor().put(observation('o1'))).resolves.toMatchObject({ created: true });
    expect(sleeps).toEqual([125, 250]); // random 0.5 × 250 ms, × 500 ms
    expect(server.requestsTo('PUT /Observation/o1')).toHaveLength(3);
  });

  test('a request timeout, then success', async () => {
    server.reply('GET /Observation/o1', { hang: true }, { body: observation('o1') });
    await expect(storeFor({ requestTimeoutMs: 50 }).read('Observation', 'o1')).resolves.toMatchObject({ id: 'o1' });
    expect(events.map((e) => e.status)).toEqual([0, 200]);
  });

  test('a connection reset, then success', async () => {
    server.reply('PUT /Observation/o1', { reset: true }, { status: 200, body: observation('o1', '2') });
    await expect(storeFor().put(observation('o1'))).resolves.toMatchObject({ created: false });
    expect(server.requestsTo('PUT /Observation/o1')).toHaveLength(2);
  });

  test('a refused connection is retried, then reported as a retryable FHIR_UNAVAILABLE', async () => {
    const port = new URL(server.baseUrl).port;
    await server.close();
    const store = storeFor({ baseUrl: `http://127.0.0.1:${port}/fhir`, retry: { maxAttempts: 3 } });
    await expect(store.read('Observation', 'o1')).rejects.toMatchObject({
      code: ErrorCode.FhirUnavailable,
      retryable: true,
      details: { reason: 'ECONNREFUSED' },
    });
    expect(sleeps).toHaveLength(2);
    server = await LoopbackFhir.start(); // afterEach closes it
  });

  test('attempts are bounded: gives up with a retryable FHIR_UNAVAILABLE', async () => {
    server.otherwise(() => ({ status: 503, body: outcome('transient') }));
    const error = await storeFor()
      .read('Observation', 'o1')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.FhirUnavailable, retryable: true, details: { status: 503 } });
    expect(server.requests).toHaveLength(6);
    expect(sleeps).toHaveLength(5);
  });

  test('the time budget is bounded: no wait that would overrun it', async () => {
    server.otherwise(() => ({ status: 429, headers: { 'retry-after': '20' } }));
    await expect(storeFor({ retry: { totalBudgetMs: 45_000 } }).read('Observation', 'o1')).rejects.toMatchObject({
      code: ErrorCode.FhirThrottled,
      retryable: true,
    });
    expect(sleeps).toEqual([20_000, 20_000]);
  });

  test.each([400, 403, 404, 409, 422])('HTTP %i is not retried', async (status) => {
    server.otherwise(() => ({ status }));
    await expect(storeFor().put(observation('o1'))).rejects.toBeInstanceOf(PipelineError);
    expect(server.requests).toHaveLength(1);
  });

  test('a throwing onRequest hook does not fail the request', async () => {
    server.reply('GET /Observation/o1', { body: observation('o1') });
    const store = storeFor({
      onRequest: () => {
        throw new Error('metrics down');
      },
    });
    await expect(store.read('Observation', 'o1')).resolves.toMatchObject({ id: 'o1' });
  });

  test('no resource content in error messages or details', async () => {
    const secret = 'Jane Doe MRN-4711';
    server.otherwise(() => ({
      status: 422,
      body: {
        resourceType: 'OperationOutcome',
        text: { status: 'generated', div: `<div>${secret}</div>` },
        issue: [{ severity: 'error', code: 'invalid', diagnostics: `bad value ${secret}`, details: { text: secret } }],
      },
    }));
    const error = (await storeFor()
      .put(observation('o1', undefined, secret))
      .catch((e: unknown) => e)) as PipelineError;
    expect(error.code).toBe(ErrorCode.FhirResourceInvalid);
    expect(error.message).toBe('FHIR PUT Observation failed with HTTP 422 (invalid)');
    expect(JSON.stringify(error.toJSON())).not.toContain('Jane');
    expect(JSON.stringify(error.toJSON())).not.toContain('4711');
    expect(JSON.stringify(events)).not.toContain('4711');
  });
});

describe('authentication', () => {
  /** A credential issuing token-1, token-2, … valid for an hour. */
  function credential(): TokenCredential & { issued: number } {
    const fake = {
      issued: 0,
      getToken: (): Promise<AccessToken> => {
        fake.issued++;
        return Promise.resolve({ token: `token-${fake.issued}`, expiresOnTimestamp: Date.now() + 3_600_000 });
      },
    };
    return fake;
  }

  test('sends the bearer token and reuses it while valid', async () => {
    const fake = credential();
    server.otherwise(() => ({ body: observation('o1') }));
    const store = storeFor({ auth: { mode: 'managedIdentity' }, credential: fake });
    await store.read('Observation', 'o1');
    await store.read('Observation', 'o1');
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-1']);
    expect(fake.issued).toBe(1);
  });

  test('a 401 refreshes the token once and repeats the request', async () => {
    const fake = credential();
    server.reply('GET /Observation/o1', { status: 401 }, { body: observation('o1') });
    const store = storeFor({ auth: { mode: 'default' }, credential: fake });
    await expect(store.read('Observation', 'o1')).resolves.toMatchObject({ id: 'o1' });
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
    expect(sleeps).toEqual([]);
  });

  test('a second 401 is FHIR_UNAUTHORIZED, without further attempts', async () => {
    const fake = credential();
    server.otherwise(() => ({ status: 401, body: outcome('login') }));
    const store = storeFor({ auth: { mode: 'azureCli' }, credential: fake });
    await expect(store.read('Observation', 'o1')).rejects.toMatchObject({
      code: ErrorCode.FhirUnauthorized,
      retryable: false,
    });
    expect(server.requests).toHaveLength(2);
  });

  test('a fixed bearer token is not retried on 401', async () => {
    server.otherwise(() => ({ status: 401 }));
    await expect(
      storeFor({ auth: { mode: 'bearer', token: 'static' } }).read('Observation', 'o1'),
    ).rejects.toMatchObject({
      code: ErrorCode.FhirUnauthorized,
    });
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer static']);
  });
});

/** Answers a batch Bundle entry by entry with `answer`, recording entry counts. */
function batchResponder(
  answer: (entry: BundleEntry, index: number) => BundleEntry,
): (r: RecordedRequest) => ScriptedReply {
  return (request) => {
    if (request.method !== 'POST' || request.pathname !== '/') {
      return { status: 404 };
    }
    const bundle = request.body as Bundle;
    return {
      body: { resourceType: 'Bundle', type: 'batch-response', entry: (bundle.entry ?? []).map(answer) },
    };
  };
}

const created = (entry: BundleEntry): BundleEntry => ({
  resource: { ...(entry.resource as Resource), meta: { versionId: '1' } },
  response: { status: '201 Created', etag: 'W/"1"' },
});

describe('putMany', () => {
  test('splits into batch Bundles of at most 500 entries and maps results back per entry', async () => {
    server.otherwise(
      batchResponder((entry) => {
        const id = (entry.resource as Resource).id ?? '';
        if (id === 'o7') {
          return { response: { status: '412 Precondition Failed', outcome: outcome('conflict', 'version 3 != 2') } };
        }
        return id.endsWith('1')
          ? { resource: { ...(entry.resource as Resource), meta: { versionId: '2' } }, response: { status: '200 OK' } }
          : created(entry);
      }),
    );
    const requests = Array.from({ length: 1201 }, (_, i) => ({ resource: observation(`o${i}`), ifMatch: String(i) }));
    const results = await storeFor().putMany(requests);

    const posts = server.requestsTo('POST /');
    expect(posts.map((p) => (p.body as Bundle).entry?.length).sort()).toEqual([201, 500, 500]);
    expect((posts[0]?.body as Bundle).type).toBe('batch');
    expect((posts[0]?.body as Bundle).entry?.[3]?.request).toEqual({
      method: 'PUT',
      url: 'Observation/o3',
      ifMatch: 'W/"3"',
    });
    expect(results).toHaveLength(1201);
    expect(results[0]).toEqual({ ok: true, value: { resource: observation('o0', '1'), created: true } });
    expect(results[1]).toEqual({ ok: true, value: { resource: observation('o1', '2'), created: false } });
    expect(results[7]).toMatchObject({ ok: false, error: { code: ErrorCode.FhirConflict, details: { status: 412 } } });
    expect(JSON.stringify(results[7])).not.toContain('version 3');
    expect(results[1200]).toMatchObject({ ok: true, value: { created: true } });
    expect(
      events
        .filter((e) => e.interaction === 'batch')
        .map((e) => e.entries)
        .sort(),
    ).toEqual([201, 500, 500]);
  });

  test('resends only the entries that came back throttled', async () => {
    let round = 0;
    server.otherwise((request) => {
      round++;
      return batchResponder((entry, i) =>
        round === 1 && i % 2 === 1 ? { response: { status: '429 Too Many Requests' } } : created(entry),
      )(request);
    });
    const results = await storeFor().putMany([0, 1, 2, 3].map((i) => ({ resource: observation(`o${i}`) })));
    expect(results.every((r) => r.ok)).toBe(true);
    const posts = server.requestsTo('POST /');
    expect(posts.map((p) => (p.body as Bundle).entry?.map((e) => e.request?.url))).toEqual([
      ['Observation/o0', 'Observation/o1', 'Observation/o2', 'Observation/o3'],
      ['Observation/o1', 'Observation/o3'],
    ]);
    expect(sleeps).toEqual([125]);
  });

  test('a throttled batch is resent as a whole', async () => {
    server.reply('POST /', { status: 429, headers: { 'retry-after': '1' } });
    server.otherwise(batchResponder(created));
    const results = await storeFor().putMany([{ resource: observation('a') }, { resource: observation('b') }]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(server.requestsTo('POST /')).toHaveLength(2);
    expect(sleeps).toEqual([1000]);
  });

  test('a batch whose connection resets is resent as a whole', async () => {
    server.reply('POST /', { reset: true });
    server.otherwise(batchResponder(created));
    const results = await storeFor().putMany([{ resource: observation('a') }, { resource: observation('b') }]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(server.requestsTo('POST /')).toHaveLength(2);
  });

  test('a batch that times out is resent as a whole', async () => {
    server.reply('POST /', { hang: true });
    server.otherwise(batchResponder(created));
    const store = storeFor({ batchTimeoutMs: 50 });
    const results = await store.putMany([{ resource: observation('a') }, { resource: observation('b') }]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(events.filter((e) => e.interaction === 'batch').map((e) => e.status)).toEqual([0, 200]);
  });

  test('entries without a returned resource are built from the entry response', async () => {
    server.otherwise(
      batchResponder(() => ({
        response: { status: '201 Created', location: 'Observation/x/_history/9', lastModified: '2024-03-10T14:00:00Z' },
      })),
    );
    const [first] = await storeFor().putMany([{ resource: observation('x') }, { resource: observation('y') }]);
    expect(first).toEqual({
      ok: true,
      value: {
        resource: { ...observation('x'), meta: { versionId: '9', lastUpdated: '2024-03-10T14:00:00.000Z' } },
        created: true,
      },
    });
  });

  test('a server without batch support: falls back to single requests and remembers it', async () => {
    server.otherwise((request) => {
      if (request.method === 'POST') {
        return { status: 405, body: outcome('not-supported') };
      }
      return { status: 201, body: { ...(request.body as Resource), meta: { versionId: '1' } } };
    });
    const store = storeFor();
    const first = await store.putMany([{ resource: observation('a'), ifMatch: '1' }, { resource: observation('b') }]);
    expect(first.map((r) => r.ok)).toEqual([true, true]);
    expect(store.batchSupported).toBe(false);
    expect(server.requestsTo('PUT /Observation/a')[0]?.headers['if-match']).toBe('W/"1"');
    await store.putMany([{ resource: observation('c') }, { resource: observation('d') }]);
    expect(server.requestsTo('POST /')).toHaveLength(1);
    expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(4);
  });

  test('fallback requests respect the concurrency limit', async () => {
    server.otherwise((request) =>
      request.method === 'POST'
        ? { status: 501 }
        : { status: 201, delayMs: 5, body: { ...(request.body as Resource), meta: { versionId: '1' } } },
    );
    const results = await storeFor({ maxConcurrency: 4 }).putMany(
      Array.from({ length: 40 }, (_, i) => ({ resource: observation(`o${i}`) })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(40);
    expect(server.maxInFlight).toBeLessThanOrEqual(4);
    expect(server.maxInFlight).toBeGreaterThan(1);
  });

  test('a failed batch fails its entries, not the call', async () => {
    server.otherwise(() => ({ status: 403, body: outcome('forbidden') }));
    const results = await storeFor().putMany([{ resource: observation('a') }, { resource: observation('b') }]);
    expect(results).toEqual([
      { ok: false, error: expect.objectContaining({ code: ErrorCode.FhirForbidden }) },
      { ok: false, error: expect.objectContaining({ code: ErrorCode.FhirForbidden }) },
    ]);
  });

  test('a batch-response with the wrong number of entries is an error for every entry', async () => {
    server.otherwise(() => ({ body: { resourceType: 'Bundle', type: 'batch-response', entry: [] } }));
    const results = await storeFor().putMany([{ resource: observation('a') }, { resource: observation('b') }]);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      ErrorCode.FhirRequestFailed,
      ErrorCode.FhirRequestFailed,
    ]);
  });

  test('one request goes out as a plain PUT', async () => {
    server.otherwise(() => ({ status: 201, body: observation('a', '1') }));
    await storeFor().putMany([{ resource: observation('a') }]);
    expect(server.requests.map((r) => `${r.method} ${r.pathname}`)).toEqual(['PUT /Observation/a']);
  });
});

describe('searchManyByIdentifier', () => {
  test('runs the searches in one batch and maps bundles back per query', async () => {
    server.otherwise(
      batchResponder((entry) => {
        const url = entry.request?.url ?? '';
        if (url.startsWith('Device')) {
          return { response: { status: '500 Internal Server Error' } };
        }
        const value = decodeURIComponent(url.split('identifier=')[1] ?? '').split('|')[1] ?? '';
        return { resource: searchset([observation(`id-${value}`, '1', value)]), response: { status: '200 OK' } };
      }),
    );
    const results = await storeFor({ retry: { maxAttempts: 2 } }).searchManyByIdentifier([
      { resourceType: 'Observation', identifier: { system: SYSTEM, value: 'v1' } },
      { resourceType: 'Device', identifier: { value: 'd1' } },
      { resourceType: 'Observation', identifier: { system: SYSTEM, value: 'v2' } },
    ]);
    const [post] = server.requestsTo('POST /');
    expect((post?.body as Bundle).entry?.map((e) => e.request)).toEqual([
      { method: 'GET', url: `Observation?identifier=${encodeURIComponent(`${SYSTEM}|v1`)}` },
      { method: 'GET', url: 'Device?identifier=d1' },
      { method: 'GET', url: `Observation?identifier=${encodeURIComponent(`${SYSTEM}|v2`)}` },
    ]);
    expect(results[0]).toEqual({ ok: true, value: [observation('id-v1', '1', 'v1')] });
    expect(results[1]).toMatchObject({ ok: false, error: { code: ErrorCode.FhirUnavailable, retryable: true } });
    expect(results[2]).toEqual({ ok: true, value: [observation('id-v2', '1', 'v2')] });
    // The failing entry was resent once (maxAttempts 2), alone.
    expect(server.requestsTo('POST /').map((p) => (p.body as Bundle).entry?.length)).toEqual([3, 1]);
  });

  test('follows next links of a batched search with single requests', async () => {
    server.reply('POST /', {
      body: {
        resourceType: 'Bundle',
        type: 'batch-response',
        entry: [
          { resource: searchset([observation('a', '1', 'v')], 'Observation?page=2'), response: { status: '200' } },
          { resource: searchset([]), response: { status: '200' } },
        ],
      },
    });
    server.reply('GET /Observation', { body: searchset([observation('b', '1', 'v')]) });
    const results = await storeFor().searchManyByIdentifier([
      { resourceType: 'Observation', identifier: { value: 'v' } },
      { resourceType: 'Observation', identifier: { value: 'w' } },
    ]);
    expect(results).toEqual([
      { ok: true, value: [observation('a', '1', 'v'), observation('b', '1', 'v')] },
      { ok: true, value: [] },
    ]);
  });

  test('falls back to single searches when batches are refused', async () => {
    server.otherwise((request) =>
      request.method === 'POST' ? { status: 404 } : { body: searchset([observation('a', '1', 'v')]) },
    );
    const results = await storeFor().searchManyByIdentifier([
      { resourceType: 'Observation', identifier: { value: 'v' } },
      { resourceType: 'Observation', identifier: { value: 'x' } },
    ]);
    expect(results).toEqual([
      { ok: true, value: [observation('a', '1', 'v')] },
      { ok: true, value: [] },
    ]);
  });
});
