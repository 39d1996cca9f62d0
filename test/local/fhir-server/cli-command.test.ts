import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Bundle, CapabilityStatement } from '@medplum/fhirtypes';
import { fhirServerCommand } from '../../../src/local/cli/commands/fhir-server';
import type { CliIo } from '../../../src/local/cli/io';
import { UsageError } from '../../../src/local/cli/io';

/** An in-memory CliIo whose stop signal the test fires. */
function testIo(): CliIo & { output: () => string; errors: () => string; stop: () => void } {
  let out = '';
  let err = '';
  let stop!: () => void;
  const stopSignal = new Promise<void>((resolve) => {
    stop = resolve;
  });
  return {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    stopSignal,
    output: () => out,
    errors: () => err,
    stop,
  };
}

/** Waits until the command printed its URL (the deadline keeps a broken start from hanging the test). */
async function urlPrinted(io: { output: () => string }, deadlineMs = 20_000): Promise<string> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const match = /listening on (\S+)/.exec(io.output());
    if (match?.[1] !== undefined) {
      return match[1];
    }
    if (Date.now() > deadline) {
      throw new Error(`no URL printed; output so far: ${io.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('iomt fhir-server', () => {
  test('serves until the stop signal, then closes and saves its snapshot', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-cli-'));
    try {
      const io = testIo();
      const exit = fhirServerCommand.run(['--port', '0', '--data-dir', dataDir, '--no-validate'], io);
      const url = await urlPrinted(io);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir$/);
      expect(io.output()).toContain('Validation is off');

      const metadata = (await (await fetch(`${url}/metadata`)).json()) as CapabilityStatement;
      expect(metadata.resourceType).toBe('CapabilityStatement');
      const created = await fetch(`${url}/Observation`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'Observation', colour: 'accepted without validation' }),
      });
      expect(created.status).toBe(201);

      io.stop();
      await expect(exit).resolves.toBe(0);
      expect(io.output()).toContain('FHIR server stopped.');
      await expect(fetch(`${url}/metadata`)).rejects.toThrow();
      const snapshot = JSON.parse(await readFile(path.join(dataDir, 'fhir-snapshot.json'), 'utf8')) as Bundle;
      expect(snapshot.entry).toHaveLength(1);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('reports a port in use and exits 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as AddressInfo;
      const io = testIo();
      await expect(fhirServerCommand.run(['--port', String(port)], io)).resolves.toBe(1);
      expect(io.errors()).toContain('EADDRINUSE');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test.each([[['--port', 'eighty']], [['--port', '70000']], [['--port', '-1']], [['--verbose']], [['extra']]])(
    '%j is a usage error',
    async (args) => {
      await expect(fhirServerCommand.run(args, testIo())).rejects.toThrow(UsageError);
    },
  );
});
