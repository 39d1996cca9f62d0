import type { Device, Patient } from '@medplum/fhirtypes';
import { MemoryFhirStore } from '../../../src/adapters/fhir/memory-fhir-store';
import { PipelineError } from '../../../src/pipeline';

const clock = (): number => Date.UTC(2024, 2, 10, 15);
const device = (id: string, value: string, system?: string): Device => ({
  resourceType: 'Device',
  id,
  identifier: [{ ...(system === undefined ? {} : { system }), value }],
});

describe('MemoryFhirStore (production in-memory FHIR store)', () => {
  test('PUT creates (version 1), then updates (version 2); every version stays readable', async () => {
    const store = new MemoryFhirStore({ clock });

    const created = await store.put<Patient>({ resourceType: 'Patient', id: 'p1', active: true });
    const updated = await store.put<Patient>({ resourceType: 'Patient', id: 'p1', active: false });

    expect(created).toEqual({
      created: true,
      resource: expect.objectContaining({ meta: { versionId: '1', lastUpdated: '2024-03-10T15:00:00.000Z' } }),
    });
    expect(updated.created).toBe(false);
    expect(updated.resource.meta?.versionId).toBe('2');
    expect((await store.read('Patient', 'p1'))?.active).toBe(false);
    expect((await store.readVersion('Patient', 'p1', '1'))?.active).toBe(true);
    expect(await store.readVersion('Patient', 'p1', '3')).toBeUndefined();
    expect(await store.readVersion('Patient', 'p1', 'x')).toBeUndefined();
  });

  test.each([
    ['a stale version', '1'],
    ['a version of a resource that does not exist', '1'],
  ])('If-Match with %s is 412 (FHIR_CONFLICT)', async (name, ifMatch) => {
    const store = new MemoryFhirStore({ clock });
    if (name === 'a stale version') {
      store.seed<Patient>({ resourceType: 'Patient', id: 'p1' });
      store.seed<Patient>({ resourceType: 'Patient', id: 'p1' });
    }

    const error = await store.put<Patient>({ resourceType: 'Patient', id: 'p1' }, { ifMatch }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PipelineError);
    expect(error).toMatchObject({ code: 'FHIR_CONFLICT', details: { status: 412 } });
  });

  test('a PUT without an id is rejected', async () => {
    const store = new MemoryFhirStore();

    await expect(store.put({ resourceType: 'Patient' })).rejects.toMatchObject({ code: 'FHIR_RESOURCE_INVALID' });
  });

  test('identifier search: exact value; system omitted matches any, empty matches none, else exact', async () => {
    const store = new MemoryFhirStore();
    store.seed(device('a', 'd1', 'urn:sys'));
    store.seed(device('b', 'd1'));
    store.seed(device('c', 'd10', 'urn:sys'));
    const ids = async (system: string | undefined): Promise<(string | undefined)[]> =>
      (await store.searchByIdentifier('Device', { ...(system === undefined ? {} : { system }), value: 'd1' })).map(
        (d) => d.id,
      );

    expect(await ids(undefined)).toEqual(['a', 'b']);
    expect(await ids('')).toEqual(['b']);
    expect(await ids('urn:sys')).toEqual(['a']);
    expect(await ids('urn:other')).toEqual([]);
    expect(await store.searchByIdentifier('Patient', { value: 'd1' })).toEqual([]);
  });

  test('the identifier index follows updates and deletes', async () => {
    const store = new MemoryFhirStore();
    store.seed(device('a', 'old'));
    await store.put(device('a', 'new'));

    expect(await store.searchByIdentifier('Device', { value: 'old' })).toEqual([]);
    expect((await store.searchByIdentifier('Device', { value: 'new' })).map((d) => d.id)).toEqual(['a']);

    store.delete('Device', 'a');
    expect(await store.searchByIdentifier('Device', { value: 'new' })).toEqual([]);
    expect(await store.read('Device', 'a')).toBeUndefined();
    expect((await store.readVersion('Device', 'a', '2'))?.identifier?.[0]?.value).toBe('new');
    expect(store.all('Device')).toEqual([]);
    expect(store.types()).toEqual([]);

    // Re-creating after a delete is a create, and the version numbers go on.
    const again = await store.put(device('a', 'new'));
    expect(again.created).toBe(true);
    expect(again.resource.meta?.versionId).toBe('4');
  });

  test('many-operations answer per item: one failing PUT does not fail the others', async () => {
    const store = new MemoryFhirStore();
    store.seed(device('a', 'd1'));

    const results = await store.putMany([
      { resource: device('a', 'd1'), ifMatch: '9' },
      { resource: device('b', 'd2') },
    ]);
    const searches = await store.searchManyByIdentifier([
      { resourceType: 'Device', identifier: { value: 'd2' } },
      { resourceType: 'Device', identifier: { value: 'none' } },
    ]);

    expect(results.map((r) => r.ok)).toEqual([false, true]);
    expect(searches).toEqual([
      { ok: true, value: [expect.objectContaining({ id: 'b' })] },
      { ok: true, value: [] },
    ]);
  });

  test('callers get copies: changing a returned resource does not change the store', async () => {
    const store = new MemoryFhirStore();
    const input = device('a', 'd1');
    const stored = store.seed(input);
    input.identifier = [];
    stored.identifier = [];
    (await store.read('Device', 'a'))!.identifier = [];

    expect(store.all('Device')[0]?.identifier).toEqual([{ value: 'd1' }]);
    expect(store.types()).toEqual(['Device']);
  });
});
