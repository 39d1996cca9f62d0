import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DataDirLockedError, lockDataDir } from '../../../src/local/stack/data-dir-lock';

let dir: string;

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'iomt-lock-')), 'data');
});

afterEach(() => {
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

describe('lockDataDir', () => {
  it('creates the folder and a lock file naming this process, removed on release', async () => {
    const lock = await lockDataDir(dir, 'start');
    expect(JSON.parse(readFileSync(join(dir, 'iomt.lock'), 'utf8'))).toMatchObject({
      pid: process.pid,
      command: 'start',
    });
    await lock.release();
    await lock.release();
    expect(existsSync(join(dir, 'iomt.lock'))).toBe(false);
  });

  it('refuses a folder locked by this process', async () => {
    const lock = await lockDataDir(dir, 'start');
    await expect(lockDataDir(dir, 'replay')).rejects.toBeInstanceOf(DataDirLockedError);
    await lock.release();
    await (await lockDataDir(dir, 'replay')).release();
  });

  it('refuses a folder locked by another live process', async () => {
    await lockDataDir(dir, 'start').then((l) => l.release());
    writeFileSync(join(dir, 'iomt.lock'), JSON.stringify({ pid: process.ppid, command: 'start' }));
    await expect(lockDataDir(dir, 'replay')).rejects.toMatchObject({ pid: process.ppid });
  });

  it('takes over a lock left by a process that is gone, or a lock file it cannot read', async () => {
    await lockDataDir(dir, 'start').then((l) => l.release());
    for (const content of [JSON.stringify({ pid: 2 ** 22 + 12345 }), 'garbage']) {
      writeFileSync(join(dir, 'iomt.lock'), content);
      const lock = await lockDataDir(dir, 'replay');
      expect(JSON.parse(readFileSync(join(dir, 'iomt.lock'), 'utf8')).pid).toBe(process.pid);
      await lock.release();
    }
  });
});
