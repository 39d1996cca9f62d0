import type { IncomingMessage } from 'node:http';
import { request } from 'node:http';
import { validateResource } from '@medplum/core';
import type { Bundle, CapabilityStatement, Observation, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { EmbeddedFhirServer } from '../../../src/local/fhir-server';
import { startFhirServer } from '../../../src/local/fhir-server';
import { etagOf, fhir, observation, resourcesOf } from './fhir-http';

/** A 64-character id, like the SHA-256 hex ids the pipeline gives Observations. */
const SHA_ID = 'a3f1'.repeat(16);

let server: EmbeddedFhirServer;

beforeAll(async () => {
  server = await startFhirServer({ port: 0, maxBodyBytes: 64 * 1024 });
});

afterAll(async () => {
  await server.close();
});

describe('the server', () => {
  test('listens on loopback under /fhir', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir$/);
  });

  test('GET metadata returns a valid CapabilityStatement that lists conditional writes', async () => {
    const { status, headers, body } = await fhir<CapabilityStatement>(server, 'GET', 'metadata');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
    expect(body.fhirVersion).toBe('4.0.1');
    expect(body.implementation?.url).toBe(server.url);
    const observationCaps = body.rest?.[0]?.resource?.find((r) => r.type === 'Observation');
    expect(observationCaps).toMatchObject({ conditionalCreate: true, updateCreate: true });
    expect(observationCaps?.searchParam?.map((p) => p.name)).toEqual(
      expect.arrayContaining(['identifier', 'subject', 'device', 'code']),
    );
    expect(() => validateResource(body)).not.toThrow();
  });
});

describe('CRUD', () => {
  test('POST creates (201, Location, ETag, Last-Modified); GET reads it back', async () => {
    const created = await fhir<Observation>(server, 'POST', 'Observation', observation('crud-1'));
    expect(created.status).toBe(201);
    const { id, meta } = created.body;
    expect(created.headers.get('location')).toBe(`${server.url}/Observation/${id}/_history/${meta?.versionId}`);
    expect(created.headers.get('etag')).toBe(etagOf(created.body));
    expect(created.headers.get('last-modified')).toBe(new Date(meta?.lastUpdated ?? '').toUTCString());

    const read = await fhir<Observation>(server, 'GET', `Observation/${id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    expect(read.headers.get('etag')).toBe(etagOf(created.body));
  });

  test('POST ignores a client id (FHIR: the server SHALL ignore it) and never overwrites', async () => {
    const first = await fhir<Observation>(server, 'PUT', 'Observation/client-id-1', {
      ...observation('crud-2'),
      id: 'client-id-1',
    });
    const posted = await fhir<Observation>(server, 'POST', 'Observation', {
      ...observation('crud-3'),
      id: 'client-id-1',
    });
    expect(posted.status).toBe(201);
    expect(posted.body.id).not.toBe('client-id-1');
    expect(server.repository.read('Observation', 'client-id-1')).toEqual(first.body);
  });

  test('PUT updates with a new version; DELETE removes; reads then give 404', async () => {
    const created = await fhir<Observation>(server, 'POST', 'Observation', observation('crud-4'));
    const id = created.body.id ?? '';
    const updated = await fhir<Observation>(server, 'PUT', `Observation/${id}`, {
      ...created.body,
      status: 'amended',
    });
    expect(updated.status).toBe(200);
    expect(updated.body.status).toBe('amended');
    expect(updated.body.meta?.versionId).not.toBe(created.body.meta?.versionId);
    expect(updated.headers.get('etag')).toBe(etagOf(updated.body));

    expect((await fhir(server, 'DELETE', `Observation/${id}`)).status).toBe(200);
    const gone = await fhir<OperationOutcome>(server, 'GET', `Observation/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.resourceType).toBe('OperationOutcome');
  });
});

describe('PUT as create with a client-chosen id', () => {
  test('accepts a 64-character id: 201 the first time, 200 afterwards, each with a versionId', async () => {
    const first = await fhir<Observation>(server, 'PUT', `Observation/${SHA_ID}`, {
      ...observation('sha'),
      id: SHA_ID,
    });
    expect(first.status).toBe(201);
    expect(first.body.id).toBe(SHA_ID);
    expect(first.body.meta?.versionId).toEqual(expect.any(String));
    expect(first.headers.get('location')).toBe(
      `${server.url}/Observation/${SHA_ID}/_history/${first.body.meta?.versionId}`,
    );

    const second = await fhir<Observation>(server, 'PUT', `Observation/${SHA_ID}`, {
      ...observation('sha'),
      id: SHA_ID,
    });
    expect(second.status).toBe(200);
    expect(second.headers.get('location')).toBeNull();
    expect(second.body.meta?.versionId).not.toBe(first.body.meta?.versionId);
  });

  test.each([
    ['65 characters', 'b'.repeat(65)],
    ['an underscore', 'bad_id'],
  ])('rejects an id with %s (400)', async (_, id) => {
    const { status, body } = await fhir<OperationOutcome>(server, 'PUT', `Observation/${id}`, {
      ...observation('bad-id'),
      id,
    });
    expect(status).toBe(400);
    expect(body.resourceType).toBe('OperationOutcome');
  });

  test('rejects a body whose id or type differs from the URL (400)', async () => {
    const otherId = await fhir(server, 'PUT', 'Observation/x1', { ...observation('x1'), id: 'x2' });
    const otherType = await fhir(server, 'PUT', 'Patient/x1', { ...observation('x1'), id: 'x1' });
    expect([otherId.status, otherType.status]).toEqual([400, 400]);
  });
});

describe('If-Match', () => {
  async function createOne(value: string): Promise<Observation> {
    return (await fhir<Observation>(server, 'POST', 'Observation', observation(value))).body;
  }

  test.each([
    ['a weak ETag', (o: Observation) => etagOf(o)],
    ['a strong ETag', (o: Observation) => `"${o.meta?.versionId}"`],
    ['a bare version id', (o: Observation) => o.meta?.versionId ?? ''],
    ['*', () => '*'],
  ])('with %s of the current version: 200', async (_, ifMatch) => {
    const current = await createOne('if-match-ok');
    const { status } = await fhir(server, 'PUT', `Observation/${current.id}`, current, {
      'if-match': ifMatch(current),
    });
    expect(status).toBe(200);
  });

  test('with a stale version: 412, and the resource is unchanged', async () => {
    const v1 = await createOne('if-match-stale');
    const v2 = (await fhir<Observation>(server, 'PUT', `Observation/${v1.id}`, { ...v1, status: 'amended' })).body;
    const stale = await fhir<OperationOutcome>(
      server,
      'PUT',
      `Observation/${v1.id}`,
      { ...v1, status: 'cancelled' },
      {
        'if-match': etagOf(v1),
      },
    );
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');
    expect(server.repository.read('Observation', v1.id ?? '')).toEqual(v2);
  });

  test('on a resource that does not exist: 412 (no current representation), nothing created', async () => {
    const { status } = await fhir(
      server,
      'PUT',
      'Observation/never-created',
      { ...observation('n'), id: 'never-created' },
      {
        'if-match': 'W/"1"',
      },
    );
    expect(status).toBe(412);
    expect(server.repository.read('Observation', 'never-created')).toBeUndefined();
  });

  test('that is not an ETag: 400 rather than a silent overwrite', async () => {
    const current = await createOne('if-match-bad');
    const { status } = await fhir(server, 'PUT', `Observation/${current.id}`, current, {
      'if-match': 'W/"unterminated',
    });
    expect(status).toBe(400);
  });
});

describe('Prefer', () => {
  test.each([
    ['return=minimal', undefined],
    ['return=representation', 'Observation'],
    ['return=OperationOutcome', 'OperationOutcome'],
  ])('%s: a create answers with %s as body; status and headers stay', async (prefer, bodyType) => {
    const { status, headers, body } = await fhir<Resource | undefined>(
      server,
      'POST',
      'Observation',
      observation('prefer'),
      {
        prefer,
      },
    );
    expect([status, body?.resourceType]).toEqual([201, bodyType]);
    expect(headers.get('etag')).toMatch(/^W\/".+"$/);
    expect(headers.get('location')).toContain('/Observation/');
  });
});

describe('validation', () => {
  test('rejects an Observation without status and code, with an unknown property (400, one issue each)', async () => {
    const { status, body } = await fhir<OperationOutcome>(server, 'POST', 'Observation', {
      resourceType: 'Observation',
      valueBoolean: 'yes',
      colour: 'red',
    });
    expect(status).toBe(400);
    expect(body.issue.flatMap((issue) => issue.expression)).toEqual(
      expect.arrayContaining(['Observation.status', 'Observation.code', 'Observation.colour']),
    );
  });

  test('applies to updates too', async () => {
    const { status } = await fhir(server, 'PUT', 'Observation/invalid-update', {
      resourceType: 'Observation',
      id: 'invalid-update',
      status: 'final',
    });
    expect(status).toBe(400);
    expect(server.repository.read('Observation', 'invalid-update')).toBeUndefined();
  });

  test('can be turned off', async () => {
    const lax = await startFhirServer({ port: 0, validate: false });
    try {
      const { status } = await fhir(lax, 'POST', 'Observation', { resourceType: 'Observation', colour: 'red' });
      expect(status).toBe(201);
    } finally {
      await lax.close();
    }
  });
});

describe('history', () => {
  test('vread returns each version; _history lists them newest first, every time', async () => {
    const v1 = (await fhir<Observation>(server, 'POST', 'Observation', observation('history'))).body;
    const v2 = (await fhir<Observation>(server, 'PUT', `Observation/${v1.id}`, { ...v1, status: 'amended' })).body;

    const read1 = await fhir<Observation>(server, 'GET', `Observation/${v1.id}/_history/${v1.meta?.versionId}`);
    expect(read1.status).toBe(200);
    expect(read1.body).toEqual(v1);
    expect(read1.headers.get('etag')).toBe(etagOf(v1));
    expect((await fhir(server, 'GET', `Observation/${v1.id}/_history/no-such-version`)).status).toBe(404);

    for (let i = 0; i < 2; i++) {
      const history = await fhir<Bundle>(server, 'GET', `Observation/${v1.id}/_history`);
      expect(history.body.type).toBe('history');
      expect(resourcesOf(history.body).map((r) => r.meta?.versionId)).toEqual([v2.meta?.versionId, v1.meta?.versionId]);
    }
  });
});

describe('search', () => {
  const subject = { reference: 'Patient/search-p' };

  beforeAll(async () => {
    for (let i = 0; i < 7; i++) {
      const start = `2024-02-0${i + 1}T00:00:00.000Z`;
      await fhir(server, 'POST', 'Observation', {
        ...observation(`search-${i}`),
        subject,
        device: { reference: i % 2 === 0 ? 'Device/even' : 'Device/odd' },
        effectivePeriod: { start, end: start },
      });
    }
  });

  test('pages with _count and next links until every match was seen once', async () => {
    const seen: string[] = [];
    let url: string | undefined = `Observation?subject=Patient/search-p&_count=3`;
    let pages = 0;
    while (url !== undefined && pages < 10) {
      const page: Bundle = (await fhir<Bundle>(server, 'GET', url)).body;
      expect(page.total).toBe(7);
      seen.push(...resourcesOf(page).map((r) => r.id ?? ''));
      const next = page.link?.find((link) => link.relation === 'next')?.url;
      url = next?.slice(server.url.length + 1);
      pages++;
    }
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(7);
  });

  test('returns 20 per page by default, with a total and a next link', async () => {
    for (let i = 0; i < 21; i++) {
      await fhir(server, 'POST', 'Observation', {
        ...observation(`many-${i}`),
        subject: { reference: 'Patient/many' },
      });
    }
    const { body } = await fhir<Bundle>(server, 'GET', 'Observation?subject=Patient/many');
    expect([body.total, body.entry?.length]).toEqual([21, 20]);
    expect(body.link?.map((link) => link.relation)).toContain('next');
    expect(body.entry?.[0]?.fullUrl).toBe(`${server.url}/Observation/${body.entry?.[0]?.resource?.id}`);
  });

  test('sorts with _sort (descending with -)', async () => {
    const { body } = await fhir<Bundle>(server, 'GET', 'Observation?subject=Patient/search-p&_sort=-date&_count=100');
    const starts = resourcesOf<Observation>(body).map((o) => o.effectivePeriod?.start ?? '');
    expect(starts).toEqual([...starts].sort().reverse());
    expect(starts).toHaveLength(7);
  });

  test.each([
    ['device=Device/even', 4],
    ['device=Device/odd', 3],
    [`code=${encodeURIComponent('https://azure.microsoft.com/en-us/services/iomt-fhir-connector/|HeartRate')}`, 7],
    ['date=ge2024-02-05', 3],
  ])('subject=… plus %s finds %i', async (query, count) => {
    const { status, body } = await fhir<Bundle>(server, 'GET', `Observation?subject=Patient/search-p&${query}`);
    expect(status).toBe(200);
    expect(body.total).toBe(count);
  });

  test('rejects a _count that is not a number (400)', async () => {
    expect((await fhir(server, 'GET', 'Observation?_count=many')).status).toBe(400);
  });
});

describe('protocol errors', () => {
  test.each([
    ['a path outside the FHIR base', 'GET', '/other'],
    ['an unknown resource type', 'GET', '/fhir/Unicorn'],
    ['an unknown route', 'GET', '/fhir/Observation/x/y/z'],
    ['a missing resource', 'GET', '/fhir/Observation/does-not-exist'],
  ])('%s: 404 OperationOutcome', async (_, method, path) => {
    const response = await fetch(`${server.url.replace(/\/fhir$/, '')}${path}`, { method });
    expect(response.status).toBe(404);
    expect(((await response.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  test('malformed JSON: 400 OperationOutcome that does not echo the body', async () => {
    const { status, body } = await fhir<OperationOutcome>(server, 'POST', 'Observation', '{"resourceType": "Obs');
    expect(status).toBe(400);
    expect(body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(body)).not.toContain('Obs"');
  });

  test.each([
    ['an array', '[]'],
    ['nothing', ''],
  ])('a POST body that is %s: 400', async (_, text) => {
    expect((await fhir(server, 'POST', 'Observation', text)).status).toBe(400);
  });

  test('a body over the limit: 413 OperationOutcome', async () => {
    const big = { ...observation('big'), note: [{ text: 'x'.repeat(70 * 1024) }] };
    const { status, body } = await fhir<OperationOutcome>(server, 'POST', 'Observation', big);
    expect(status).toBe(413);
    expect(body.issue[0]?.code).toBe('too-long');
  });

  test('a streamed (chunked) body over the limit: 413 as soon as the limit is passed', async () => {
    const url = new URL(`${server.url}/Observation`);
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'transfer-encoding': 'chunked' },
        },
        resolve,
      );
      req.on('error', reject);
      let sent = 0;
      const write = (): void => {
        while (sent < 200) {
          sent++;
          if (!req.write('x'.repeat(16 * 1024))) {
            req.once('drain', write);
            return;
          }
        }
        req.end();
      };
      write();
    });
    let text = '';
    for await (const chunk of response) {
      text += String(chunk);
    }
    expect(response.statusCode).toBe(413);
    expect((JSON.parse(text) as OperationOutcome).issue[0]?.code).toBe('too-long');
  });

  test('an unsupported method: 405', async () => {
    expect((await fetch(`${server.url}/Observation`, { method: 'OPTIONS' })).status).toBe(405);
  });
});
