import type { Bundle, Observation } from '@medplum/fhirtypes';
import type { EmbeddedFhirServer } from '../../../src/local/fhir-server';
import { startFhirServer } from '../../../src/local/fhir-server';
import { etagOf, fhir, OBS_SYSTEM, observation } from './fhir-http';

/*
 * End to end over HTTP. Requests interleave less here than in-process (each starts from its own I/O callback);
 * fhir-router.test.ts holds the locks to account where they interleave at every await.
 */
const CONCURRENCY = 16;

let server: EmbeddedFhirServer;

beforeAll(async () => {
  server = await startFhirServer({ port: 0 });
});

afterAll(async () => {
  await server.close();
});

function count<T>(values: readonly T[], value: T): number {
  return values.filter((v) => v === value).length;
}

function times<T>(n: number, make: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => make(i)));
}

describe(`${CONCURRENCY} concurrent writes of one identity`, () => {
  test('conditional creates (If-None-Exist) make one resource: one 201, the others 200 with it', async () => {
    const value = 'race-conditional-create';
    const responses = await times(CONCURRENCY, () =>
      fhir<Observation>(server, 'POST', 'Observation', observation(value), {
        'if-none-exist': `identifier=${OBS_SYSTEM}|${value}`,
      }),
    );
    const statuses = responses.map((r) => r.status);
    expect([count(statuses, 201), count(statuses, 200)]).toEqual([1, CONCURRENCY - 1]);
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(server.repository.search('Observation', `identifier=${value}`)).toHaveLength(1);
  });

  test('conditional creates with a bare-value criterion serialize with system|value ones', async () => {
    const value = 'race-mixed-forms';
    const responses = await times(CONCURRENCY, (i) =>
      fhir(server, 'POST', 'Observation', observation(value), {
        'if-none-exist': i % 2 === 0 ? `identifier=${value}` : `identifier=${OBS_SYSTEM}|${value}`,
      }),
    );
    expect(
      count(
        responses.map((r) => r.status),
        201,
      ),
    ).toBe(1);
    expect(server.repository.search('Observation', `identifier=${value}`)).toHaveLength(1);
  });

  test('conditional updates (PUT [type]?identifier=) make one resource and a version per write', async () => {
    const value = 'race-conditional-update';
    const responses = await times(CONCURRENCY, () =>
      fhir<Observation>(server, 'PUT', `Observation?identifier=${OBS_SYSTEM}|${value}`, observation(value)),
    );
    const statuses = responses.map((r) => r.status);
    expect([count(statuses, 201), count(statuses, 200)]).toEqual([1, CONCURRENCY - 1]);
    const [stored] = server.repository.search('Observation', `identifier=${value}`);
    expect(server.repository.search('Observation', `identifier=${value}`)).toHaveLength(1);
    const history = await fhir<Bundle>(server, 'GET', `Observation/${stored?.id}/_history`);
    expect(history.body.total).toBe(CONCURRENCY);
  });

  test('PUTs with the same If-Match: exactly one succeeds, the others get 412', async () => {
    const created = await fhir<Observation>(server, 'POST', 'Observation', observation('race-if-match'));
    const base = created.body;
    const responses = await times(CONCURRENCY, (i) =>
      fhir<Observation>(
        server,
        'PUT',
        `Observation/${base.id}`,
        { ...base, note: [{ text: `writer ${i}` }] },
        { 'if-match': etagOf(base) },
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect([count(statuses, 200), count(statuses, 412)]).toEqual([1, CONCURRENCY - 1]);
    const winner = responses.find((r) => r.status === 200)?.body;
    expect(server.repository.read('Observation', base.id ?? '')).toEqual(winner);
  });

  test('PUT-creates of one client id: one 201, the others 200 (update-as-create happens once)', async () => {
    const id = 'e'.repeat(64);
    const responses = await times(CONCURRENCY, () =>
      fhir(server, 'PUT', `Observation/${id}`, { ...observation('race-put-create'), id }),
    );
    const statuses = responses.map((r) => r.status);
    expect([count(statuses, 201), count(statuses, 200)]).toEqual([1, CONCURRENCY - 1]);
  });

  test('the same conditional creates inside concurrent batch Bundles make one resource', async () => {
    const value = 'race-batch';
    const bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        {
          resource: observation(value),
          request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=${OBS_SYSTEM}|${value}` },
        },
      ],
    };
    const responses = await times(CONCURRENCY, () => fhir<Bundle>(server, 'POST', '', bundle));
    const statuses = responses.map((r) => r.body.entry?.[0]?.response?.status);
    expect([count(statuses, '201'), count(statuses, '200')]).toEqual([1, CONCURRENCY - 1]);
    expect(server.repository.search('Observation', `identifier=${value}`)).toHaveLength(1);
  });
});
