import { createServer } from 'node:net';

import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';

import {
  createTableDeadLetterStore,
  deadLetterContainerName,
  MAX_INLINE_PAYLOAD_BYTES,
  openTableDeadLetterStore,
} from '../../../src/adapters/dead-letter/table-dead-letter-store';
import { secret, type StorageConnection } from '../../../src/pipeline/config/settings';
import {
  type DeadLetterEntry,
  type DeadLetterStore,
  deserializeDeadLetterEvent,
  eventDeadLetterEntry,
  groupDeadLetterEntry,
} from '../../../src/pipeline/dead-letter';
import { ErrorCode, PipelineError, type ErrorCode as Code } from '../../../src/pipeline/errors';
import type { DeviceEvent } from '../../../src/pipeline/model/device-event';
import { type Azurite, startAzurite } from '../../helpers/azurite';
import { MemoryDeadLetterStore } from '../../helpers/memory-dead-letter-store';

const T0 = Date.parse('2026-11-28T10:00:00.000Z');
const FAST_RETRY = { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 };

let azurite: Azurite;
let tableCounter = 0;

beforeAll(async () => {
  azurite = await startAzurite();
}, 60_000);

afterAll(async () => {
  await azurite.stop();
});

function connection(): StorageConnection {
  return { kind: 'connectionString', setting: 'DeadLetterStorage', connectionString: secret(azurite.connectionString) };
}

/** A store on a fresh table, so tests do not see each other's entries. */
function freshTableStore(): { store: DeadLetterStore; tableName: string } {
  const tableName = `deadletters${++tableCounter}${Date.now() % 100_000}`;
  return {
    store: openTableDeadLetterStore(connection(), tableName, { retry: FAST_RETRY, timeoutMs: 5000 }),
    tableName,
  };
}

function eventEntry(
  sequenceNumber: number,
  options: { body?: DeviceEvent['body']; code?: Code; minutes?: number; partitionId?: string } = {},
): DeadLetterEntry {
  const event: DeviceEvent = {
    body: options.body ?? new TextEncoder().encode(`{"heartRate":${sequenceNumber}}`),
    partitionId: options.partitionId ?? '0',
    sequenceNumber,
    enqueuedTimeUtc: '2026-11-28T09:00:00.000Z',
    properties: { source: 'test' },
    systemProperties: { 'iothub-connection-device-id': 'device-1' },
  };
  const error = new PipelineError(
    options.code ?? ErrorCode.RequiredValueMissing,
    'DeviceIdExpression matched nothing',
    {
      details: { template: 'HeartRate', field: 'DeviceIdExpression' },
    },
  );
  return eventDeadLetterEntry(event, error, { mappingVersion: '"0x8DC"', now: T0 + (options.minutes ?? 0) * 60_000 });
}

const groupEntry = (minutes: number): DeadLetterEntry =>
  groupDeadLetterEntry(
    {
      key: 'device-1-HeartRate-patient-1--',
      window: { start: '2026-11-28T08:00:00.0000000Z', end: '2026-11-28T08:59:59.9999999Z' },
    },
    new PipelineError(ErrorCode.FhirResourceInvalid, 'Observation rejected', { details: { status: 422 } }),
    { mappingVersion: 'sha256:abc', now: T0 + minutes * 60_000, attempts: 5 },
  );

/** The contract every DeadLetterStore honours; the in-memory helper is held to the same one. */
describe.each<[string, () => DeadLetterStore]>([
  ['TableDeadLetterStore (Azurite)', () => freshTableStore().store],
  ['MemoryDeadLetterStore', () => new MemoryDeadLetterStore()],
])('%s', (_name, makeStore) => {
  let store: DeadLetterStore;
  beforeEach(() => {
    store = makeStore();
  });

  it('answers ping and lists nothing before the first write', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
    await expect(store.list()).resolves.toEqual([]);
    await expect(store.get('evt-20261128-0-1')).resolves.toBeUndefined();
  });

  it('gets back exactly what was put', async () => {
    const entry = eventEntry(1);
    const group = groupEntry(1);
    await store.put([entry, group]);
    await expect(store.get(entry.id)).resolves.toEqual(entry);
    await expect(store.get(group.id)).resolves.toEqual(group);
  });

  it('overwrites an entry with the same id instead of duplicating it', async () => {
    await store.put([eventEntry(7)]);
    const again = eventEntry(7, { minutes: 30, code: ErrorCode.ValueConversionFailed });
    await store.put([again]);
    const listed = await store.list();
    expect(listed.map((s) => s.id)).toEqual([again.id]);
    expect(listed[0]?.error.code).toBe('VALUE_CONVERSION_FAILED');
    await expect(store.get(again.id)).resolves.toEqual(again);
  });

  it('lists summaries newest first, filtered by stage, error type and time, up to a limit', async () => {
    await store.put([
      eventEntry(1, { minutes: 1 }),
      eventEntry(2, { minutes: 2, code: ErrorCode.ValueConversionFailed }),
      eventEntry(3, { minutes: 3 }),
      groupEntry(4),
    ]);
    const ids = async (filter: Parameters<DeadLetterStore['list']>[0]): Promise<string[]> =>
      (await store.list(filter)).map((s) => s.id);
    const [e1, e2, e3] = [eventEntry(1).id, eventEntry(2).id, eventEntry(3).id];
    const g = groupEntry(4).id;
    expect(await ids({})).toEqual([g, e3, e2, e1]);
    expect(await ids({ limit: 2 })).toEqual([g, e3]);
    expect(await ids({ stage: 'Normalization' })).toEqual([e3, e2, e1]);
    expect(await ids({ stage: 'FHIRConversion' })).toEqual([g]);
    expect(await ids({ errorType: 'VALUE_CONVERSION_FAILED' })).toEqual([e2]);
    expect(await ids({ errorType: 'IncompatibleDataException' })).toEqual([e3, e2, e1]);
    expect(await ids({ since: new Date(T0 + 2 * 60_000).toISOString() })).toEqual([g, e3, e2]);
    const [summary] = await store.list({ stage: 'FHIRConversion' });
    expect(summary).toEqual({ ...withoutPayload(groupEntry(4)), payloadKind: 'group' });
  });

  it('refuses a since that is not a date-time', async () => {
    await store.put([eventEntry(1)]);
    await expect(store.list({ since: 'yesterday' })).rejects.toThrow(RangeError);
  });

  it('removes entries and reports how many existed', async () => {
    await store.put([eventEntry(1), eventEntry(2)]);
    await expect(store.remove([eventEntry(1).id, eventEntry(1).id, 'evt-20261128-0-999', 'not-an-id'])).resolves.toBe(
      1,
    );
    expect((await store.list()).map((s) => s.id)).toEqual([eventEntry(2).id]);
    await expect(store.get(eventEntry(1).id)).resolves.toBeUndefined();
  });

  it('keeps a non-JSON body as base64 and replays its bytes', async () => {
    const body = new TextEncoder().encode('hr=78;spo2=97');
    const entry = eventEntry(5, { body });
    await store.put([entry]);
    const read = await store.get(entry.id);
    expect(read?.payload).toMatchObject({ kind: 'event', event: { bodyBase64: Buffer.from(body).toString('base64') } });
    expect(deserializeDeadLetterEvent(read!).body).toEqual(body);
  });
});

describe('TableDeadLetterStore storage layout', () => {
  it('round-trips a 1 MB binary body byte-exact through the overflow container, and deletes it on remove', async () => {
    const { store, tableName } = freshTableStore();
    const body = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7919 + 13) % 256);
    const entry = eventEntry(11, { body });
    await store.put([entry]);

    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      deadLetterContainerName(tableName),
    );
    const blobs: string[] = [];
    for await (const blob of container.listBlobsFlat()) {
      blobs.push(blob.name);
    }
    expect(blobs).toEqual([`Normalization-20261128/${entry.id}.json`]);

    const read = await store.get(entry.id);
    const replayed = deserializeDeadLetterEvent(read!).body as Uint8Array;
    expect(replayed.length).toBe(body.length);
    expect(Buffer.compare(Buffer.from(replayed), Buffer.from(body))).toBe(0);
    expect(read).toEqual(entry);

    await expect(store.remove([entry.id])).resolves.toBe(1);
    const after: string[] = [];
    for await (const blob of container.listBlobsFlat()) {
      after.push(blob.name);
    }
    expect(after).toEqual([]);
  });

  it('keeps a payload just under the inline limit in the entity, in 64 KiB chunks', async () => {
    const { store, tableName } = freshTableStore();
    const group = groupEntry(1);
    // Pad the group so its JSON is a few bytes under the limit.
    const padded: DeadLetterEntry = { ...group, payload: { kind: 'group', group: { pad: '' } } };
    const overhead = Buffer.byteLength(JSON.stringify(padded.payload));
    const entry: DeadLetterEntry = {
      ...group,
      payload: { kind: 'group', group: { pad: 'x'.repeat(MAX_INLINE_PAYLOAD_BYTES - overhead - 3) } },
    };
    await store.put([entry]);
    await expect(store.get(entry.id)).resolves.toEqual(entry);

    const table = TableClient.fromConnectionString(azurite.connectionString, tableName, {
      allowInsecureConnection: true,
    });
    const row = await table.getEntity('FHIRConversion-20261128', entry.id);
    expect(row).toMatchObject({ v: 1, stage: 'FHIRConversion', errorCode: 'FHIR_RESOURCE_INVALID', payloadChunks: 10 });
    expect(row.payloadBlob).toBeUndefined();
  });

  it('replaces a large entry by a small one without leaving its old chunks behind', async () => {
    const { store, tableName } = freshTableStore();
    const big = eventEntry(12, { body: new Uint8Array(300_000) });
    const small = eventEntry(12);
    await store.put([big]);
    await store.put([small]);
    await expect(store.get(small.id)).resolves.toEqual(small);
    const table = TableClient.fromConnectionString(azurite.connectionString, tableName, {
      allowInsecureConnection: true,
    });
    const row = await table.getEntity('Normalization-20261128', small.id);
    expect(Object.keys(row).filter((k) => /^p\d+$/.test(k))).toEqual(['p0']);
  });

  it('writes many entries concurrently', async () => {
    const { store } = freshTableStore();
    const entries = Array.from({ length: 60 }, (_, i) => eventEntry(100 + i, { minutes: i }));
    await store.put(entries);
    expect(await store.list({ limit: 1000 })).toHaveLength(60);
  });
});

describe('TableDeadLetterStore when storage is unreachable', () => {
  it('fails every operation quickly with a retryable STORAGE_UNAVAILABLE error', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}/devstoreaccount1`;
    const unreachable = azurite.connectionString
      .replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${endpoint}`)
      .replace(/TableEndpoint=[^;]+/, `TableEndpoint=${endpoint}`);
    const store = openTableDeadLetterStore(
      { kind: 'connectionString', setting: 'DeadLetterStorage', connectionString: secret(unreachable) },
      'deadletters',
      { retry: FAST_RETRY },
    );
    for (const operation of [
      () => store.ping(),
      () => store.put([eventEntry(1)]),
      () => store.list(),
      () => store.get(eventEntry(1).id),
      () => store.remove([eventEntry(1).id]),
    ]) {
      const error = await operation().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PipelineError);
      expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true });
      expect((error as Error).message).not.toContain('AccountKey');
    }
  });

  it('reports a request the service rejects as non-retryable', async () => {
    const table = TableClient.fromConnectionString(azurite.connectionString, 'rejected1', {
      allowInsecureConnection: true,
    });
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('rejected1');
    const store = createTableDeadLetterStore({ table, overflow: container });
    const entry = eventEntry(1);
    // Row keys are limited to 1 KiB: the service answers 400, which no retry can fix.
    const bad: DeadLetterEntry = { ...entry, id: `evt-20261128-0-${'x'.repeat(2000)}` };
    await expect(store.put([bad])).rejects.toMatchObject({ code: 'INTERNAL', retryable: false });
  });
});

function withoutPayload(entry: DeadLetterEntry): Omit<DeadLetterEntry, 'payload'> {
  return Object.fromEntries(Object.entries(entry).filter(([key]) => key !== 'payload')) as Omit<
    DeadLetterEntry,
    'payload'
  >;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => {
    server.close(() => {
      done();
    });
  });
  return port;
}
