/**
 * One process at a time per data folder. `iomt start` and `iomt replay` both write the FHIR snapshot and the
 * dead-letter logs of `.iomt-data/`; two of them at once would overwrite each other's snapshot. The lock is a file
 * `iomt.lock` holding the owner's pid, created exclusively; a lock whose process is gone is taken over.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';

/** The data folder is in use by another live process (or by this one). */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  /** The owner's process id. */
  readonly pid: number;

  /**
   * @param dataDir - the folder
   * @param pid - its owner
   */
  constructor(dataDir: string, pid: number) {
    super(`${dataDir} is in use by another iomt process (pid ${pid})`);
    this.pid = pid;
  }
}

/** A held lock. */
export interface DataDirLock {
  /** Gives the folder up. Idempotent. */
  release(): Promise<void>;
}

const LOCK_FILE = 'iomt.lock';
/** Folders locked by this process (a second lock from the same process is refused too). */
const held = new Set<string>();

/**
 * Locks a data folder, creating it (owner-only) when missing.
 * @param dataDir - the folder
 * @param command - who holds it, recorded in the lock file
 * @throws DataDirLockedError when another live process holds it
 */
export async function lockDataDir(dataDir: string, command: string): Promise<DataDirLock> {
  const folder = resolve(dataDir);
  if (held.has(folder)) {
    throw new DataDirLockedError(dataDir, process.pid);
  }
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const file = join(folder, LOCK_FILE);
  const content = JSON.stringify({ pid: process.pid, command, startedAt: new Date().toISOString() });
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.writeFile(content, 'utf8');
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST' || attempt > 0) {
        throw error;
      }
      const owner = await ownerOf(file);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
        throw new DataDirLockedError(dataDir, owner);
      }
      await rm(file, { force: true }); // left behind by a process that is gone
    }
  }
  held.add(folder);
  let released = false;
  return {
    async release() {
      if (released) {
        return;
      }
      released = true;
      held.delete(folder);
      if ((await ownerOf(file)) === process.pid) {
        await rm(file, { force: true });
      }
    },
  };
}

async function ownerOf(file: string): Promise<number | undefined> {
  try {
    const pid = (JSON.parse(await readFile(file, 'utf8')) as { pid?: unknown }).pid;
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

/**
 * A folder as the user would type it: relative to the working folder when inside it, absolute otherwise.
 * @param folder - the folder
 */
export function displayPath(folder: string): string {
  const path = relative(process.cwd(), resolve(folder));
  return path === '' ? '.' : path.startsWith('..') || isAbsolute(path) ? resolve(folder) : path;
}
