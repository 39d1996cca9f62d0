import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { startFhirServer } from '../../../src/local/fhir-server';
import { etagOf, fhir, OBS_SYSTEM, observation } from './fhir-http';

const SNAPSHOT = 'fhir-snapshot.json';

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-snapshot-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function readSnapshotBundle(): Promise<Bundle> {
  return JSON.parse(await readFile(path.join(dataDir, SNAPSHOT), 'utf8')) as Bundle;
}

/** Polls until `check` passes or the deadline expires (then rethrows its last failure). */
async function eventually(check: () => Promise<void>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('snapshot persistence', () => {
  test('a restarted server has the same resources, versions and identifier index', async () => {
    const first = await startFhirServer({ port: 0, dataDir });
    const id = 'c'.repeat(64);
    await fhir(first, 'PUT', `Observation/${id}`, { ...observation('persisted'), id });
    const v2 = (await fhir<Observation>(first, 'PUT', `Observation/${id}`, { ...observation('persisted'), id })).body;
    const patient = (await fhir<Patient>(first, 'POST', 'Patient', { resourceType: 'Patient', active: true })).body;
    await fhir(first, 'DELETE', `Patient/${patient.id}`);
    await first.close();

    const second = await startFhirServer({ port: 0, dataDir });
    try {
      const read = await fhir<Observation>(second, 'GET', `Observation/${id}`);
      expect(read.body).toEqual(v2);
      expect(read.headers.get('etag')).toBe(etagOf(v2));
      expect((await fhir(second, 'GET', `Patient/${patient.id}`)).status).toBe(404);
      const found = await fhir<Bundle>(second, 'GET', `Observation?identifier=${OBS_SYSTEM}|persisted`);
      expect(found.body.total).toBe(1);
      // ETags survive, so the pipeline's If-Match keeps working across the restart.
      const updated = await fhir(second, 'PUT', `Observation/${id}`, v2, { 'if-match': etagOf(v2) });
      expect(updated.status).toBe(200);
    } finally {
      await second.close();
    }
  });

  test('is written atomically: one Bundle with one line per resource, no temporary file left', async () => {
    const server = await startFhirServer({ port: 0, dataDir });
    for (let i = 0; i < 3; i++) {
      await fhir(server, 'POST', 'Observation', observation(`atomic-${i}`));
    }
    await server.snapshot();
    expect(await readdir(dataDir)).toEqual([SNAPSHOT]);
    const text = await readFile(path.join(dataDir, SNAPSHOT), 'utf8');
    expect(text.trim().split('\n')).toHaveLength(5);
    const bundle = JSON.parse(text) as Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    expect(bundle.entry).toHaveLength(3);
    await server.close();
  });

  test('is written shortly after writes, without being asked', async () => {
    const server = await startFhirServer({ port: 0, dataDir, snapshotDelayMs: 50 });
    try {
      await fhir(server, 'POST', 'Observation', observation('debounced'));
      await eventually(async () => {
        expect((await readSnapshotBundle()).entry).toHaveLength(1);
      });
    } finally {
      await server.close();
    }
  });

  test('seeds only an empty store: a snapshot wins over the seed', async () => {
    const seed: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', id: 'seeded', active: true } }],
    };
    const first = await startFhirServer({ port: 0, dataDir, seed });
    expect(first.repository.read('Patient', 'seeded')?.active).toBe(true);
    await fhir(first, 'PUT', 'Patient/seeded', { resourceType: 'Patient', id: 'seeded', active: false });
    await first.close();

    const second = await startFhirServer({ port: 0, dataDir, seed });
    expect(second.repository.all('Patient').map((p) => [p.id, p.active])).toEqual([['seeded', false]]);
    await second.close();
  });

  test('an invalid seed stops the start with a message naming the entry', async () => {
    await expect(
      startFhirServer({ port: 0, seed: [{ resourceType: 'Patient', colour: 'red' } as never] }),
    ).rejects.toThrow(/seed resource 0 \(Patient\) is invalid/);
  });

  test.each([
    ['not JSON', '{"resourceType":'],
    ['not a Bundle', '{"resourceType":"Patient"}'],
    [
      'an entry without id',
      '{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}}]}',
    ],
  ])('a snapshot that is %s stops the start instead of being overwritten', async (_, text) => {
    await writeFile(path.join(dataDir, SNAPSHOT), text);
    await expect(startFhirServer({ port: 0, dataDir })).rejects.toThrow(/FHIR snapshot/);
    expect(await readFile(path.join(dataDir, SNAPSHOT), 'utf8')).toBe(text);
  });

  test('close is idempotent and snapshot() without a data directory does nothing', async () => {
    const server = await startFhirServer({ port: 0 });
    await server.snapshot();
    await Promise.all([server.close(), server.close()]);
    await expect(fetch(`${server.url}/metadata`)).rejects.toThrow();
  });
});
