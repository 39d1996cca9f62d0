import type { Bundle, BundleEntry, Observation } from '@medplum/fhirtypes';
import type { EmbeddedFhirServer } from '../../../src/local/fhir-server';
import { MAX_BUNDLE_ENTRIES, startFhirServer } from '../../../src/local/fhir-server';
import { etagOf, fhir, OBS_SYSTEM, observation } from './fhir-http';

let server: EmbeddedFhirServer;

beforeAll(async () => {
  server = await startFhirServer({ port: 0 });
});

afterAll(async () => {
  await server.close();
});

function bundleOf(type: 'batch' | 'transaction', entry: BundleEntry[]): Bundle {
  return { resourceType: 'Bundle', type, entry };
}

const conditionalCreate = (value: string): BundleEntry => ({
  resource: observation(value),
  request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=${OBS_SYSTEM}|${value}` },
});

describe('batch Bundles', () => {
  test(`of ${MAX_BUNDLE_ENTRIES} mixed entries: every entry answered in order, through the same rules`, async () => {
    // Existing resources for the searches, the good If-Match updates and the stale ones.
    const existing: Observation[] = [];
    for (let i = 0; i < 100; i++) {
      existing.push((await fhir<Observation>(server, 'POST', 'Observation', observation(`existing-${i}`))).body);
    }
    const entries: BundleEntry[] = [];
    const expected: string[] = [];
    for (let i = 0; i < MAX_BUNDLE_ENTRIES; i++) {
      const target = existing[i % 100] as Observation;
      switch (i % 5) {
        case 0: // conditional create of a new identifier → 201
          entries.push(conditionalCreate(`new-${i}`));
          expected.push('201');
          break;
        case 1: // conditional create of an existing identifier → 200
          entries.push(conditionalCreate(`existing-${i % 100}`));
          expected.push('200');
          break;
        case 2: // search by identifier → 200
          entries.push({
            request: {
              method: 'GET',
              url: `Observation?identifier=${encodeURIComponent(`${OBS_SYSTEM}|existing-${i % 100}`)}`,
            },
          });
          expected.push('200');
          break;
        case 3: // PUT-create with a client id → 201
          entries.push({
            resource: { ...observation(`put-${i}`), id: `put-${i}` },
            request: { method: 'PUT', url: `Observation/put-${i}` },
          });
          expected.push('201');
          break;
        default: // PUT with If-Match: current for the first use of a target, stale afterwards → 200 then 412
          entries.push({
            resource: { ...target, status: 'amended' },
            request: { method: 'PUT', url: `Observation/${target.id}`, ifMatch: etagOf(target) },
          });
          expected.push(i < 100 ? '200' : '412');
      }
    }

    const { status, body } = await fhir<Bundle>(server, 'POST', '', bundleOf('batch', entries));
    expect(status).toBe(200);
    expect(body.type).toBe('batch-response');
    expect(body.entry?.map((e) => e.response?.status)).toEqual(expected);

    const search = body.entry?.[2]?.resource as Bundle;
    expect(search.total).toBe(1);
    const update = body.entry?.[4];
    expect(update?.response?.etag).toBe(etagOf(update?.resource as Observation));
    expect(server.repository.search('Observation', 'identifier=new-0')).toHaveLength(1);
    expect(server.repository.read('Observation', 'put-3')?.id).toBe('put-3');
  });

  test('reports an invalid resource in its own entry (400) and writes the others', async () => {
    const { body } = await fhir<Bundle>(
      server,
      'POST',
      '',
      bundleOf('batch', [
        conditionalCreate('batch-valid'),
        {
          resource: { resourceType: 'Observation', colour: 'red' } as never,
          request: { method: 'POST', url: 'Observation' },
        },
      ]),
    );
    expect(body.entry?.map((e) => e.response?.status)).toEqual(['201', '400']);
    expect(server.repository.search('Observation', 'identifier=batch-valid')).toHaveLength(1);
  });

  test('answers an entry of an unknown resource type with 400', async () => {
    const { body } = await fhir<Bundle>(
      server,
      'POST',
      '',
      bundleOf('batch', [
        { resource: { resourceType: 'Unicorn' } as never, request: { method: 'POST', url: 'Unicorn' } },
      ]),
    );
    expect(body.entry?.[0]?.response?.status).toBe('400');
  });

  test('with Prefer: return=minimal answers statuses and etags without resources', async () => {
    const { body } = await fhir<Bundle>(server, 'POST', '', bundleOf('batch', [conditionalCreate('batch-minimal')]), {
      prefer: 'return=minimal',
    });
    expect(body.entry?.[0]?.resource).toBeUndefined();
    expect(body.entry?.[0]?.response).toMatchObject({ status: '201', etag: expect.stringMatching(/^W\/".+"$/) });
  });

  test(`of more than ${MAX_BUNDLE_ENTRIES} entries is refused (400), like Azure Health Data Services`, async () => {
    const entries = Array.from({ length: MAX_BUNDLE_ENTRIES + 1 }, (_, i) => conditionalCreate(`too-many-${i}`));
    const { status } = await fhir(server, 'POST', '', bundleOf('batch', entries));
    expect(status).toBe(400);
    expect(server.repository.search('Observation', 'identifier=too-many-0')).toHaveLength(0);
  });

  test.each([
    ['a collection Bundle', { resourceType: 'Bundle', type: 'collection', entry: [] }],
    ['a resource that is not a Bundle', observation('not-a-bundle')],
  ])('POST of %s to the base is refused (400)', async (_, body) => {
    expect((await fhir(server, 'POST', '', body)).status).toBe(400);
  });
});

describe('transaction Bundles', () => {
  test('succeed entry by entry when every entry succeeds', async () => {
    const { status, body } = await fhir<Bundle>(
      server,
      'POST',
      '',
      bundleOf('transaction', [conditionalCreate('tx-ok')]),
    );
    expect(status).toBe(200);
    expect(body.type).toBe('transaction-response');
    expect(body.entry?.[0]?.response?.status).toBe('201');
  });

  test('are NOT atomic: a failing entry fails the request, but entries written before it stay', async () => {
    const stale = (await fhir<Observation>(server, 'POST', 'Observation', observation('tx-stale'))).body;
    await fhir(server, 'PUT', `Observation/${stale.id}`, stale);
    const { status } = await fhir(
      server,
      'POST',
      '',
      bundleOf('transaction', [
        {
          resource: { ...observation('tx-kept'), id: 'tx-kept' },
          request: { method: 'PUT', url: 'Observation/tx-kept' },
        },
        { resource: stale, request: { method: 'PUT', url: `Observation/${stale.id}`, ifMatch: etagOf(stale) } },
      ]),
    );
    expect(status).toBe(412);
    // MemoryRepository cannot roll back (platform-notes §7): the first entry was written.
    expect(server.repository.read('Observation', 'tx-kept')).toBeDefined();
  });
});
