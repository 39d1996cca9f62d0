/**
 * Security: everything the local stack serves (ingest endpoint, /metrics, web debugger, embedded FHIR server) listens
 * on the loopback interface unless a flag says otherwise, so `npm start` on a laptop exposes no patient data to the
 * network. Each server is started with its defaults (only the port is free) and must answer on 127.0.0.1 and refuse
 * connections on every other interface address of this machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';

import { startFhirServer } from '../../src/local/fhir-server';
import { systemTimers } from '../../src/local/stack/batcher';
import { startLocalStack } from '../../src/local/stack/local-stack';
import { parseStartOptions } from '../../src/local/stack/stack-options';
import { startDebuggerServer } from '../../src/local/web/debugger-server';

const ROOT = join(__dirname, '../..');

/** Addresses of this machine's non-loopback interfaces (IPv4 and global IPv6). */
const externalAddresses: string[] = Object.values(networkInterfaces())
  .flatMap((list) => list ?? [])
  .filter((i) => !i.internal && !(i.family === 'IPv6' && i.address.startsWith('fe80:')))
  .map((i) => i.address);

/** Resolves to 'open' when a TCP connection to address:port succeeds, else to the error code. */
function probe(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('open');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('ETIMEDOUT');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? 'error');
    });
  });
}

/** Asserts the URL is on 127.0.0.1 and that its port is reachable there and nowhere else. */
async function expectLoopbackOnly(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  expect(hostname).toBe('127.0.0.1');
  expect(await probe('127.0.0.1', Number(port))).toBe('open');
  for (const address of externalAddresses) {
    expect({ address, result: await probe(address, Number(port)) }).toEqual({ address, result: 'ECONNREFUSED' });
  }
}

describe('local servers bind the loopback interface by default', () => {
  it('the embedded FHIR server', async () => {
    const server = await startFhirServer({ port: 0 });
    try {
      await expectLoopbackOnly(server.url);
    } finally {
      await server.close();
    }
  });

  it('the web mapping debugger', async () => {
    const server = await startDebuggerServer({ port: 0 });
    try {
      await expectLoopbackOnly(server.url);
    } finally {
      await server.close();
    }
  });

  it('npm start: the ingest endpoint, /metrics and the embedded FHIR server, from the default options', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'iomt-bind-'));
    const options = parseStartOptions(
      [
        '--port=0',
        '--fhir-port=0',
        '--no-simulator',
        `--data-dir=${dataDir}`,
        `--device-mapping=${join(ROOT, 'mappings/devicecontent.json')}`,
        `--fhir-mapping=${join(ROOT, 'mappings/fhirmapping.json')}`,
      ],
      {},
    );
    const stack = await startLocalStack({ ...options, clock: Date.now, timers: systemTimers });
    try {
      await expectLoopbackOnly(stack.urls.ingest);
      await expectLoopbackOnly(stack.urls.metrics);
      await expectLoopbackOnly(stack.urls.fhir);
    } finally {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
