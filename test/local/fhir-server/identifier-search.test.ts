import type { Bundle, Device, DocumentReference, Observation } from '@medplum/fhirtypes';
import type { EmbeddedFhirServer } from '../../../src/local/fhir-server';
import { startFhirServer } from '../../../src/local/fhir-server';
import { fhir, observation, resourcesOf } from './fhir-http';

let server: EmbeddedFhirServer;

async function search(query: string, type = 'Device'): Promise<string[]> {
  const { status, body } = await fhir<Bundle>(server, 'GET', `${type}?${query}`);
  expect(status).toBe(200);
  expect(body.total).toBe(body.entry?.length ?? 0);
  return resourcesOf(body)
    .map((r) => r.id ?? '')
    .sort();
}

async function put<T extends Device | Observation | DocumentReference>(resource: T & { id: string }): Promise<T> {
  const { status, body } = await fhir<T>(server, 'PUT', `${resource.resourceType}/${resource.id}`, resource);
  expect(status).toBeLessThan(300);
  return body;
}

beforeAll(async () => {
  server = await startFhirServer({ port: 0 });
  await put<Device>({ resourceType: 'Device', id: 'with-system', identifier: [{ system: 'urn:dev', value: 'D-1' }] });
  await put<Device>({
    resourceType: 'Device',
    id: 'other-system',
    identifier: [{ system: 'urn:other', value: 'D-1' }],
  });
  await put<Device>({ resourceType: 'Device', id: 'no-system', identifier: [{ value: 'D-1' }] });
  await put<Device>({ resourceType: 'Device', id: 'longer-value', identifier: [{ system: 'urn:dev', value: 'D-10' }] });
  await put<Device>({ resourceType: 'Device', id: 'other-case', identifier: [{ system: 'urn:dev', value: 'd-1' }] });
  await put<Device>({ resourceType: 'Device', id: 'pipe', identifier: [{ system: 'urn:dev', value: 'a|b' }] });
});

afterAll(async () => {
  await server.close();
});

describe('GET [type]?identifier=', () => {
  test.each([
    ['system|value matches that system only', 'identifier=urn:dev|D-1', ['with-system']],
    ['|value matches identifiers without a system', 'identifier=|D-1', ['no-system']],
    ['a bare value matches any system', 'identifier=D-1', ['no-system', 'other-system', 'with-system']],
    ['values match exactly: no prefix, no case folding', 'identifier=urn:dev|D-', []],
    ['case matters', 'identifier=urn:dev|d-1', ['other-case']],
    ['commas OR their tokens', 'identifier=urn:dev|D-10,urn:other|D-1', ['longer-value', 'other-system']],
    ['an escaped | is part of the value', `identifier=${encodeURIComponent('urn:dev|a\\|b')}`, ['pipe']],
    ['percent-encoded system and value', `identifier=${encodeURIComponent('urn:dev|D-1')}`, ['with-system']],
    ['other filters still apply (medplum)', 'identifier=D-1&_id=no-system', ['no-system']],
    ['system| alone falls back to medplum', 'identifier=urn:other|', ['other-system']],
  ])('%s', async (_, query, expected) => {
    expect(await search(query)).toEqual(expected);
  });

  test('finds an Observation by the identifier the pipeline gives it', async () => {
    const value = 'p1.d1.HeartRate.2024-01-01T00:00:00.0000000Z';
    const id = 'f'.repeat(64);
    await put({ ...observation(value), id });
    const encoded = encodeURIComponent(`https://azure.microsoft.com/en-us/services/iomt-fhir-connector/|${value}`);
    expect(await search(`identifier=${encoded}`, 'Observation')).toEqual([id]);
  });

  test('stays right after updates and deletes', async () => {
    await put<Device>({ resourceType: 'Device', id: 'moving', identifier: [{ system: 'urn:m', value: 'before' }] });
    expect(await search('identifier=urn:m|before')).toEqual(['moving']);

    await put<Device>({ resourceType: 'Device', id: 'moving', identifier: [{ system: 'urn:m', value: 'after' }] });
    expect(await search('identifier=urn:m|before')).toEqual([]);
    expect(await search('identifier=urn:m|after')).toEqual(['moving']);
    expect(server.repository.search('Device', 'identifier=after').map((d) => d.id)).toEqual(['moving']);

    expect((await fhir(server, 'DELETE', 'Device/moving')).status).toBe(200);
    expect(await search('identifier=urn:m|after')).toEqual([]);
    expect(await search('identifier=after')).toEqual([]);
  });

  test('follows conditional updates and patches', async () => {
    const created = await fhir<Device>(server, 'PUT', 'Device?identifier=urn:c|first', {
      resourceType: 'Device',
      identifier: [{ system: 'urn:c', value: 'first' }],
    });
    expect(created.status).toBe(201);
    const id = created.body.id ?? '';
    const patched = await fhir(
      server,
      'PATCH',
      `Device/${id}`,
      [{ op: 'replace', path: '/identifier/0/value', value: 'second' }],
      { 'content-type': 'application/json-patch+json' },
    );
    expect(patched.status).toBe(200);
    expect(await search('identifier=urn:c|first')).toEqual([]);
    expect(await search('identifier=urn:c|second')).toEqual([id]);
  });

  test('leaves types whose identifier parameter reads more than .identifier to medplum', async () => {
    await put<DocumentReference>({
      resourceType: 'DocumentReference',
      id: 'doc',
      status: 'current',
      masterIdentifier: { system: 'urn:doc', value: 'M-1' },
      content: [{ attachment: { url: 'http://example.org/doc' } }],
    });
    expect(await search('identifier=urn:doc|M-1', 'DocumentReference')).toEqual(['doc']);
  });
});
