import { getStatus } from '@medplum/core';
import type { FhirRequest, FhirRouter } from '@medplum/fhir-router';
import type { Observation } from '@medplum/fhirtypes';
import { ensureFhirDefinitions } from '../../../src/local/fhir-server/fhir-definitions';
import { createFhirRouter } from '../../../src/local/fhir-server/fhir-router';
import { IndexedMemoryRepository } from '../../../src/local/fhir-server/indexed-memory-repository';
import { OBS_SYSTEM, observation } from './fhir-http';

/*
 * Over HTTP each request starts from its own I/O callback, so requests rarely interleave inside the router. Called
 * in-process all at once they do interleave at every `await` — the situation in which platform-notes §7 measured 16
 * duplicates from 16 conditional creates. These tests hold the router to one resource per identity even then.
 */

const CONCURRENCY = 16;

let repository: IndexedMemoryRepository;
let router: FhirRouter;

beforeAll(() => {
  ensureFhirDefinitions();
});

beforeEach(() => {
  repository = new IndexedMemoryRepository({ validate: true });
  router = createFhirRouter(repository);
});

async function send(method: FhirRequest['method'], url: string, body: unknown, headers = {}): Promise<number> {
  const request: FhirRequest = { method, url, pathname: '', params: {}, query: {}, body, headers };
  const [outcome] = await router.handleRequest(request, repository);
  return getStatus(outcome);
}

function all(make: () => Promise<number>): Promise<number[]> {
  return Promise.all(Array.from({ length: CONCURRENCY }, make));
}

function stored(value: string): Observation[] {
  return repository
    .matchAll({ resourceType: 'Observation', filters: [] })
    .filter((r) => (r as Observation).identifier?.some((i) => i.value === value)) as Observation[];
}

test('conditional creates issued at once make one resource', async () => {
  const statuses = await all(() =>
    send('POST', 'Observation', observation('at-once'), { 'if-none-exist': `identifier=${OBS_SYSTEM}|at-once` }),
  );
  expect(statuses.sort()).toEqual([...Array<number>(CONCURRENCY - 1).fill(200), 201]);
  expect(stored('at-once')).toHaveLength(1);
});

test('conditional updates issued at once make one resource', async () => {
  const statuses = await all(() =>
    send('PUT', `Observation?identifier=${encodeURIComponent(`${OBS_SYSTEM}|upsert`)}`, observation('upsert')),
  );
  expect(statuses.sort()).toEqual([...Array<number>(CONCURRENCY - 1).fill(200), 201]);
  expect(stored('upsert')).toHaveLength(1);
});

test('a conditional create and conditional updates of one identifier, at once, make one resource', async () => {
  await Promise.all([
    all(() => send('POST', 'Observation', observation('mixed'), { 'if-none-exist': 'identifier=mixed' })),
    all(() => send('PUT', 'Observation?identifier=mixed', observation('mixed'))),
  ]);
  expect(stored('mixed')).toHaveLength(1);
});
