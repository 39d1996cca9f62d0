import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createFileDeadLetterStore } from '../../../src/adapters/dead-letter/file-dead-letter-store';
import {
  type DeadLetterEntry,
  type DeadLetterStore,
  deserializeDeadLetterEvent,
  eventDeadLetterEntry,
  groupDeadLetterEntry,
} from '../../../src/pipeline/dead-letter';
import { ErrorCode, PipelineError, type ErrorCode as Code } from '../../../src/pipeline/errors';

const T0 = Date.parse('2026-11-28T10:00:00.000Z');

let directory: string;
let store: DeadLetterStore;

beforeEach(() => {
  directory = join(mkdtempSync(join(tmpdir(), 'iomt-dlq-')), 'dead-letters');
  store = createFileDeadLetterStore({ directory });
});

afterEach(() => {
  rmSync(join(directory, '..'), { recursive: true, force: true });
});

function eventEntry(
  n: number,
  options: { code?: Code; minutes?: number; day?: string; attempts?: number } = {},
): DeadLetterEntry {
  const error = new PipelineError(
    options.code ?? ErrorCode.RequiredValueMissing,
    'DeviceIdExpression matched nothing',
    {
      details: { template: 'heartrate', field: 'DeviceIdExpression' },
    },
  );
  return eventDeadLetterEntry(
    {
      body: `{"heartRate":${n}}`,
      enqueuedTimeUtc: `${options.day ?? '2026-11-28'}T09:00:00.000Z`,
      properties: { source: 'test' },
    },
    error,
    { mappingVersion: 'sha256:abc', now: T0 + (options.minutes ?? 0) * 60_000, attempts: options.attempts ?? 1 },
  );
}

const groupEntry = (minutes: number): DeadLetterEntry =>
  groupDeadLetterEntry(
    {
      key: 'device-1-heartrate-patient-1--',
      window: { start: '2026-11-28T08:00:00.0000000Z', end: '2026-11-28T08:59:59.9999999Z' },
    },
    new PipelineError(ErrorCode.DeviceNotFound, 'No Device carries the identifier'),
    { mappingVersion: 'sha256:abc', now: T0 + minutes * 60_000 },
  );

const logs = (): string[] => readdirSync(directory).sort();

describe('file dead-letter store', () => {
  it('reads back what it wrote, payload included, and replays the event byte-exact', async () => {
    const entry = eventEntry(1);
    await store.put([entry]);
    expect(await store.get(entry.id)).toEqual(entry);
    expect(deserializeDeadLetterEvent((await store.get(entry.id))!).body).toBe('{"heartRate":1}');
  });

  it('answers undefined for an unknown id, and lists nothing before the first write', async () => {
    expect(await store.get('evt-20261128-hdeadbeef')).toBeUndefined();
    expect(await store.list()).toEqual([]);
  });

  it('keeps one log per day of the entry id', async () => {
    await store.put([eventEntry(1, { day: '2026-11-27' }), eventEntry(2), groupEntry(0)]);
    expect(logs()).toEqual(['20261127.jsonl', '20261128.jsonl']);
  });

  it('overwrites by id: the last write wins', async () => {
    const first = eventEntry(1, { attempts: 1 });
    const again = eventEntry(1, { attempts: 2, minutes: 5 });
    expect(again.id).toBe(first.id);
    await store.put([first]);
    await store.put([again]);
    expect((await store.get(first.id))?.attempts).toBe(2);
    expect(await store.list()).toHaveLength(1);
  });

  it('lists newest first, without payloads, filtered by stage, error type and time, limited', async () => {
    const entries = [eventEntry(1, { minutes: 1 }), eventEntry(2, { minutes: 3 }), groupEntry(2)];
    await store.put(entries);
    const all = await store.list();
    expect(all.map((s) => s.id)).toEqual([entries[1]!.id, entries[2]!.id, entries[0]!.id]);
    expect(all.every((s) => !('payload' in s))).toBe(true);
    expect(all.map((s) => s.payloadKind)).toEqual(['event', 'group', 'event']);
    expect((await store.list({ stage: 'FHIRConversion' })).map((s) => s.id)).toEqual([entries[2]!.id]);
    expect(await store.list({ errorType: 'DeviceNotFoundException' })).toHaveLength(1);
    expect(await store.list({ errorType: ErrorCode.RequiredValueMissing })).toHaveLength(2);
    expect(await store.list({ since: new Date(T0 + 2 * 60_000).toISOString() })).toHaveLength(2);
    expect(await store.list({ limit: 1 })).toHaveLength(1);
  });

  it('removes by id and says how many existed', async () => {
    const [a, b] = [eventEntry(1), eventEntry(2)];
    await store.put([a, b]);
    expect(await store.remove([a.id, a.id, 'evt-20261128-hnothere'])).toBe(1);
    expect(await store.get(a.id)).toBeUndefined();
    expect((await store.list()).map((s) => s.id)).toEqual([b.id]);
    expect(await store.remove([a.id])).toBe(0);
  });

  it('an entry put again after its removal is back', async () => {
    const entry = eventEntry(1);
    await store.put([entry]);
    await store.remove([entry.id]);
    await store.put([entry]);
    expect(await store.get(entry.id)).toEqual(entry);
  });

  it('keeps its state across instances (the logs are the state)', async () => {
    const entry = eventEntry(7);
    await store.put([entry, eventEntry(8)]);
    await store.remove([entry.id]);
    const reopened = createFileDeadLetterStore({ directory });
    expect((await reopened.list()).map((s) => s.id)).toEqual([eventEntry(8).id]);
  });

  it('skips a line torn by a crash without losing the records around it', async () => {
    const [a, b] = [eventEntry(1), eventEntry(2)];
    await store.put([a]);
    const file = join(directory, '20261128.jsonl');
    appendFileSync(file, '{"op":"put","entry":{"id":"evt-2026'); // a crash mid-write
    await store.put([b]);
    expect((await store.list()).map((s) => s.id).sort()).toEqual([a.id, b.id].sort());
  });

  it('ignores lines that are not its records', async () => {
    const entry = eventEntry(1);
    await store.put([entry]);
    appendFileSync(join(directory, '20261128.jsonl'), '\n[1,2]\n{"op":"put","entry":{"id":3}}\nnull\n');
    expect((await store.list()).map((s) => s.id)).toEqual([entry.id]);
  });

  it('compacts a log whose dead lines outnumber its live entries, keeping the live ones', async () => {
    const compacting = createFileDeadLetterStore({ directory, compactAfterDeadLines: 4 });
    const entries = Array.from({ length: 6 }, (_, i) => eventEntry(i));
    await compacting.put(entries);
    const file = join(directory, '20261128.jsonl');
    const before = statSync(file).size;
    await compacting.remove(entries.slice(0, 4).map((e) => e.id));
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(statSync(file).size).toBeLessThan(before);
    expect((await compacting.list()).map((s) => s.id).sort()).toEqual([entries[4]!.id, entries[5]!.id].sort());
    expect(logs()).toEqual(['20261128.jsonl']); // no temporary file left behind
  });

  it('does not compact below the threshold', async () => {
    const entries = Array.from({ length: 3 }, (_, i) => eventEntry(i));
    await store.put(entries);
    await store.remove([entries[0]!.id]);
    expect(readFileSync(join(directory, '20261128.jsonl'), 'utf8').trim().split('\n').filter(Boolean)).toHaveLength(4);
  });

  it('serializes concurrent writes: every entry of every call is kept', async () => {
    const entries = Array.from({ length: 40 }, (_, i) => eventEntry(i));
    await Promise.all(entries.map((e) => store.put([e])));
    expect(await store.list({ limit: 1000 })).toHaveLength(40);
  });

  it('creates its folder and files readable by the owner only', async () => {
    await store.put([eventEntry(1)]);
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    expect(statSync(join(directory, '20261128.jsonl')).mode & 0o777).toBe(0o600);
  });

  it('ping creates the folder; storage failures are retryable STORAGE_UNAVAILABLE errors', async () => {
    await store.ping();
    expect(statSync(directory).isDirectory()).toBe(true);
    const blocked = join(directory, '..', 'a-file');
    writeFileSync(blocked, 'not a folder');
    const broken = createFileDeadLetterStore({ directory: join(blocked, 'dead-letters') });
    for (const attempt of [() => broken.ping(), () => broken.put([eventEntry(1)])]) {
      await expect(attempt()).rejects.toMatchObject({ code: ErrorCode.StorageUnavailable, retryable: true });
    }
  });
});
