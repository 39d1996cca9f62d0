import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Bundle, Observation } from '@medplum/fhirtypes';
import { startFhirServer, type EmbeddedFhirServer } from '../../../src/local/fhir-server';
import { etagOf, fhir, observation, resourcesOf } from './fhir-http';

/**
 * Version ids count 1, 2, 3… per resource, as Azure Health Data Services and HAPI number them. The pipeline's
 * create-race repair depends on it: it reads the version its blind create replaced as `versionId − 1`.
 */
describe('sequential version ids', () => {
  let server: EmbeddedFhirServer;
  afterEach(async () => {
    await server.close();
  });

  it('PUT creates version 1, each update adds one; ETag, Location and vread of version n − 1 agree', async () => {
    server = await startFhirServer({ port: 0 });
    const id = 'a'.repeat(64);
    const created = await fhir<Observation>(server, 'PUT', `Observation/${id}`, { ...observation('v'), id });
    expect(created.status).toBe(201);
    expect(created.body.meta?.versionId).toBe('1');
    expect(created.headers.get('etag')).toBe('W/"1"');
    expect(created.headers.get('location')).toBe(`${server.url}/Observation/${id}/_history/1`);

    let current = created.body;
    for (const expected of ['2', '3', '4']) {
      const updated = await fhir<Observation>(
        server,
        'PUT',
        `Observation/${id}`,
        { ...current, status: 'amended' },
        {
          'if-match': etagOf(current),
        },
      );
      expect(updated.status).toBe(200);
      expect(updated.body.meta?.versionId).toBe(expected);
      current = updated.body;
    }
    const previous = await fhir<Observation>(server, 'GET', `Observation/${id}/_history/3`);
    expect(previous.status).toBe(200);
    expect(previous.body.meta?.versionId).toBe('3');
    const history = await fhir<Bundle>(server, 'GET', `Observation/${id}/_history`);
    expect(resourcesOf(history.body).map((r) => r.meta?.versionId)).toEqual(['4', '3', '2', '1']);
  });

  it('numbers each resource on its own; POST create and batch entries start at 1; a client versionId is ignored', async () => {
    server = await startFhirServer({ port: 0 });
    const posted = await fhir<Observation>(server, 'POST', 'Observation', {
      ...observation('posted'),
      meta: { versionId: '99' },
    });
    expect(posted.body.meta?.versionId).toBe('1');
    const batch = await fhir<Bundle>(server, 'POST', '', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: { ...observation('b1'), id: 'b1' }, request: { method: 'PUT', url: 'Observation/b1' } },
        { resource: { ...observation('b2'), id: 'b2' }, request: { method: 'PUT', url: 'Observation/b2' } },
        { resource: observation('b3'), request: { method: 'POST', url: 'Observation' } },
      ],
    });
    expect(batch.body.entry?.map((e) => e.response?.etag)).toEqual(['W/"1"', 'W/"1"', 'W/"1"']);
    const again = await fhir<Observation>(server, 'PUT', 'Observation/b1', { ...observation('b1'), id: 'b1' });
    expect(again.body.meta?.versionId).toBe('2');
    expect(server.repository.read('Observation', 'b2')?.meta?.versionId).toBe('1');
  });

  it('concurrent blind PUTs of one id get distinct consecutive versions', async () => {
    server = await startFhirServer({ port: 0 });
    const id = 'c'.repeat(64);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        fhir<Observation>(server, 'PUT', `Observation/${id}`, { ...observation(`w${i}`), id }),
      ),
    );
    expect(results.map((r) => Number(r.body.meta?.versionId)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
  });

  it('a re-created resource continues its count after a delete', async () => {
    server = await startFhirServer({ port: 0 });
    await fhir(server, 'PUT', 'Observation/d1', { ...observation('d1'), id: 'd1' });
    expect((await fhir(server, 'DELETE', 'Observation/d1')).status).toBe(200);
    const recreated = await fhir<Observation>(server, 'PUT', 'Observation/d1', { ...observation('d1'), id: 'd1' });
    expect(recreated.status).toBe(201);
    expect(recreated.body.meta?.versionId).toBe('2');
  });

  it('counts on from a restored snapshot version', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-versions-'));
    try {
      server = await startFhirServer({ port: 0, dataDir });
      await fhir(server, 'PUT', 'Observation/s1', { ...observation('s1'), id: 's1' });
      const v2 = await fhir<Observation>(server, 'PUT', 'Observation/s1', { ...observation('s1'), id: 's1' });
      expect(v2.body.meta?.versionId).toBe('2');
      await server.close();
      server = await startFhirServer({ port: 0, dataDir });
      expect(server.repository.read('Observation', 's1')?.meta?.versionId).toBe('2');
      const v3 = await fhir<Observation>(
        server,
        'PUT',
        'Observation/s1',
        { ...observation('s1'), id: 's1' },
        {
          'if-match': 'W/"2"',
        },
      );
      expect(v3.status).toBe(200);
      expect(v3.body.meta?.versionId).toBe('3');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
