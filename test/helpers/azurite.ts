/**
 * Starts Azurite (the Azure Storage emulator) from node_modules for a test suite: in memory, on loopback, on
 * ephemeral ports, so suites can run in parallel on a clean CI machine with nothing installed globally.
 *
 * ```ts
 * let azurite: Azurite;
 * beforeAll(async () => { azurite = await startAzurite(); });
 * afterAll(() => azurite.stop());
 * ```
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A running Azurite. */
export interface Azurite {
  /** A connection string for all three services (account `devstoreaccount1`). */
  readonly connectionString: string;
  readonly blobEndpoint: string;
  readonly queueEndpoint: string;
  readonly tableEndpoint: string;
  /** Stops the emulator (all data is lost) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Options of {@link startAzurite}. */
export interface StartAzuriteOptions {
  /** How long to wait for all services to listen. Default 20 s. */
  readonly timeoutMs?: number;
}

/** Azurite's well-known development account. */
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const LISTENING = /Azurite (Blob|Queue|Table) service is successfully listening at (http:\/\/127\.0\.0\.1:\d+)/g;

/**
 * Starts Azurite and resolves once blob, queue and table all listen.
 * @param options - start-up deadline
 */
export async function startAzurite(options: StartAzuriteOptions = {}): Promise<Azurite> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const bin = join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'azurite.js');
  // Azurite may write debug or extent files to its working directory; keep them out of the repository.
  const cwd = mkdtempSync(join(tmpdir(), 'azurite-'));
  const child = spawn(
    process.execPath,
    [
      bin,
      '--inMemoryPersistence',
      // Tests store little; cap each instance instead of Azurite's default of half the machine's memory.
      '--extentMemoryLimit',
      '256',
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--queueHost',
      '127.0.0.1',
      '--queuePort',
      '0',
      '--tableHost',
      '127.0.0.1',
      '--tablePort',
      '0',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--silent',
    ],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // If the test process exits without calling stop(), do not leave an orphan behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const cleanUp = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    await terminate(child);
    rmSync(cwd, { recursive: true, force: true });
  };

  try {
    const endpoints = await waitForEndpoints(child, timeoutMs);
    const blobEndpoint = `${endpoints.Blob}/${ACCOUNT}`;
    const queueEndpoint = `${endpoints.Queue}/${ACCOUNT}`;
    const tableEndpoint = `${endpoints.Table}/${ACCOUNT}`;
    return {
      connectionString:
        `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};` +
        `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
      blobEndpoint,
      queueEndpoint,
      tableEndpoint,
      stop: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

function waitForEndpoints(child: ChildProcess, timeoutMs: number): Promise<Record<'Blob' | 'Queue' | 'Table', string>> {
  return new Promise((resolve, reject) => {
    const found: Partial<Record<'Blob' | 'Queue' | 'Table', string>> = {};
    let output = '';
    const finish = (error?: Error): void => {
      clearTimeout(deadline);
      child.stdout?.removeListener('data', onData);
      child.stderr?.removeListener('data', onData);
      child.removeListener('exit', onExit);
      // Keep draining output so a chatty emulator never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
      if (error) {
        reject(error);
      } else {
        resolve(found as Record<'Blob' | 'Queue' | 'Table', string>);
      }
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const match of output.matchAll(LISTENING)) {
        found[match[1] as 'Blob' | 'Queue' | 'Table'] = match[2]!;
      }
      if (found.Blob && found.Queue && found.Table) {
        finish();
      }
    };
    const onExit = (code: number | null): void => {
      finish(new Error(`Azurite exited with code ${code} before listening:\n${output}`));
    };
    const deadline = setTimeout(() => {
      finish(new Error(`Azurite did not listen within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if it has not exited within 5 s. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
