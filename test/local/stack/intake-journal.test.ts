import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type IntakeJournal, openIntakeJournal } from '../../../src/local/stack/intake-journal';
import type { DeviceEvent } from '../../../src/pipeline';

let dir: string;
/** Every journal a test opened: tests that stand for a crash leave theirs open, so they are closed here. */
let opened: IntakeJournal[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'intake-journal-'));
  opened = [];
});

afterEach(async () => {
  await Promise.all(opened.map((j) => j.close().catch(() => undefined)));
  await rm(dir, { recursive: true, force: true });
});

/** Opens the journal in `dir` (checkpoints on demand unless told otherwise). */
async function open(options: { autoCheckpoint?: boolean; maxSegmentBytes?: number } = {}) {
  const recovery = await openIntakeJournal({
    directory: dir,
    autoCheckpoint: options.autoCheckpoint ?? false,
    ...(options.maxSegmentBytes === undefined ? {} : { maxSegmentBytes: options.maxSegmentBytes }),
  });
  opened.push(recovery.journal);
  return recovery;
}

/** An event of partition `p`, numbered by the journal as the pipeline does. */
function event(journal: IntakeJournal, p: string, body: DeviceEvent['body'], extra: Partial<DeviceEvent> = {}) {
  return {
    body,
    enqueuedTimeUtc: '2026-03-01T10:00:00.000Z',
    ...extra,
    partitionId: p,
    sequenceNumber: journal.nextSequenceNumber(p),
  } satisfies DeviceEvent;
}

async function segmentFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
}

describe('intake journal', () => {
  it('gives back, after a restart, every appended event not checkpointed: body bytes, properties, partition, sequence', async () => {
    const { journal } = await open();
    const binary = new Uint8Array([0xff, 0x00, 0x7b]);
    const events = [
      event(journal, '0', '{"heartRate":72}'),
      event(journal, '1', binary, {
        properties: { k: 'v' },
        systemProperties: { 'iothub-connection-device-id': 'd1' },
      }),
      event(journal, '0', '{ "pretty": 1 }'),
    ];
    const { first, durable } = journal.append(events);
    await durable;
    expect(first).toBe(0);
    // No close: as after a kill.
    const { recovered, journal: again } = await open();
    expect(recovered.map((r) => r.sequence)).toEqual([0, 1, 2]);
    expect(recovered.map((r) => r.event)).toEqual([
      {
        body: '{"heartRate":72}',
        properties: {},
        systemProperties: {},
        enqueuedTimeUtc: '2026-03-01T10:00:00.000Z',
        partitionId: '0',
        sequenceNumber: 0,
      },
      {
        body: binary,
        properties: { k: 'v' },
        systemProperties: { 'iothub-connection-device-id': 'd1' },
        enqueuedTimeUtc: '2026-03-01T10:00:00.000Z',
        partitionId: '1',
        sequenceNumber: 0,
      },
      expect.objectContaining({ body: new Uint8Array(Buffer.from('{ "pretty": 1 }')), sequenceNumber: 1 }),
    ]);
    // Numbering carries on: neither journal nor partition sequences are reused.
    expect(again.append([event(again, '0', '{}')]).first).toBe(3);
    expect(again.nextSequenceNumber('0')).toBe(3);
    await again.close();
  });

  it('writes concurrent appends in order, one line per event, numbered consecutively', async () => {
    const { journal } = await open();
    const appends = Array.from({ length: 50 }, (_, i) => journal.append([event(journal, '0', `{"n":${i}}`)]));
    await Promise.all(appends.map((a) => a.durable));
    expect(appends.map((a) => a.first)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const lines = (await readFile(join(dir, (await segmentFiles())[0] as string), 'utf8')).split('\n');
    expect(lines).toHaveLength(51);
    expect(lines.map((l) => (l === '' ? undefined : (JSON.parse(l) as { j: number }).j))).toEqual([
      ...Array.from({ length: 50 }, (_, i) => i),
      undefined,
    ]);
    await journal.close();
  });

  it('ignores a torn last line (a crash in the middle of a write) and appends after a restart to a new segment', async () => {
    const { journal } = await open();
    await journal.append([event(journal, '0', '{"a":1}'), event(journal, '0', '{"a":2}')]).durable;
    const [segment] = await segmentFiles();
    await appendFile(join(dir, segment as string), '{"j":2,"p":"0","s":2,"e":{"bodyJs');
    const reopened = await open();
    expect(reopened.recovered.map((r) => r.sequence)).toEqual([0, 1]);
    expect(reopened.unreadableLines).toBe(0);
    await reopened.journal.append([event(reopened.journal, '0', '{"a":3}')]).durable;
    expect(await segmentFiles()).toHaveLength(2);
    const third = await open();
    expect(third.recovered.map((r) => [r.sequence, r.event.sequenceNumber])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    expect(third.unreadableLines).toBe(0);
  });

  it('skips and counts an unreadable line that is not the last one', async () => {
    await writeFile(
      join(dir, `${'0'.padStart(20, '0')}.jsonl`),
      'garbage\n{"j":1,"p":"0","s":0,"e":{"properties":{},"systemProperties":{}}}\n',
    );
    const { recovered, unreadableLines } = await open();
    expect(unreadableLines).toBe(1);
    expect(recovered.map((r) => r.sequence)).toEqual([1]);
  });

  it('checkpoints the lowest incomplete sequence when events complete out of order', async () => {
    const { journal } = await open();
    const e = (p: string) => event(journal, p, '{}');
    await journal.append([e('0'), e('1'), e('0'), e('1'), e('2')]).durable;
    journal.complete([1, 3]); // partition 1's batch first
    expect(journal.watermark).toBe(0);
    journal.complete([0]);
    expect(journal.watermark).toBe(2);
    await journal.checkpoint();
    expect(journal.checkpointed).toBe(2);
    const { recovered } = await open();
    expect(recovered.map((r) => r.sequence)).toEqual([2, 3, 4]);
  });

  it('with autoCheckpoint, writes the checkpoint as completions move it; without, only when asked and only as far as asked', async () => {
    const auto = await open({ autoCheckpoint: true });
    await auto.journal.append([event(auto.journal, '0', '{}'), event(auto.journal, '0', '{}')]).durable;
    auto.journal.complete([0, 1]);
    await auto.journal.close();
    expect((await open()).recovered).toEqual([]);

    const manual = await open();
    await manual.journal.append([event(manual.journal, '0', '{}'), event(manual.journal, '0', '{}')]).durable;
    manual.journal.complete([2, 3]);
    expect(manual.journal.watermark).toBe(4);
    expect((await open()).recovered.map((r) => r.sequence)).toEqual([2, 3]);
    // A watermark captured before a FHIR snapshot bounds the checkpoint.
    await manual.journal.checkpoint(3);
    expect((await open()).recovered.map((r) => r.sequence)).toEqual([3]);
    const checkpoint = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as unknown;
    expect(checkpoint).toEqual({ version: 1, next: 3, sequenceNumbers: { '0': 4 } });
  });

  it('rotates segments at the size limit and deletes those wholly below the checkpoint', async () => {
    const { journal } = await open({ maxSegmentBytes: 300 });
    for (let i = 0; i < 6; i++) {
      await journal.append([event(journal, '0', `{"reading":${i}}`)]).durable; // ~130 bytes a line: 2 per segment
    }
    expect(await segmentFiles()).toEqual([
      '00000000000000000000.jsonl',
      '00000000000000000002.jsonl',
      '00000000000000000004.jsonl',
    ]);
    journal.complete([0, 1, 2]);
    await journal.checkpoint();
    // Segment 0 (events 0, 1) is wholly below 3; segment 2 still holds event 3.
    expect(await segmentFiles()).toEqual(['00000000000000000002.jsonl', '00000000000000000004.jsonl']);
    journal.complete([3, 4, 5]);
    await journal.checkpoint();
    // The segment being written stays.
    expect(await segmentFiles()).toEqual(['00000000000000000004.jsonl']);
    await journal.close();
    // After a restart nothing is pending: the old segment goes, and partition numbering survives its deletion.
    const reopened = await open();
    expect(reopened.recovered).toEqual([]);
    expect(await segmentFiles()).toEqual([]);
    expect(reopened.journal.nextSequenceNumber('0')).toBe(6);
    expect(reopened.journal.append([]).first).toBe(6);
  });

  it('keeps recovered events pending until they complete again', async () => {
    const first = await open();
    await first.journal.append([event(first.journal, '0', '{}'), event(first.journal, '1', '{}')]).durable;
    const second = await open({ autoCheckpoint: true });
    expect(second.journal.watermark).toBe(0);
    second.journal.complete([1]);
    expect(second.journal.watermark).toBe(0);
    second.journal.complete([0]);
    await second.journal.close();
    expect((await open()).recovered).toEqual([]);
  });
});
