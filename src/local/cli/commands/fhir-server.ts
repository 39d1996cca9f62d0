import path from 'node:path';
import { parseArgs } from 'node:util';
import { startFhirServer } from '../../fhir-server';
import type { Command } from '../io';
import { UsageError } from '../io';
import { serveUntilStopped } from '../serve-until-stopped';

const USAGE = `usage: iomt fhir-server [--port 8080] [--host 127.0.0.1] [--data-dir <dir>] [--no-validate]

Runs the embedded FHIR R4 server (in memory) until Ctrl+C.

  --port <n>          TCP port (default 8080; 0 picks a free one)
  --host <address>    interface to bind (default 127.0.0.1; the server has no authentication)
  --data-dir <dir>    keep a snapshot in <dir>/fhir-snapshot.json: loaded at start, saved after writes and on exit
  --no-validate       accept resources that fail FHIR validation`;

interface FhirServerArgs {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string | undefined;
  readonly validate: boolean;
}

function parseFhirServerArgs(args: string[]): FhirServerArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        'data-dir': { type: 'string' },
        'no-validate': { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) {
    throw new UsageError(`--port must be a number from 0 to 65535`);
  }
  return { port, host: values.host, dataDir: values['data-dir'], validate: !values['no-validate'] };
}

/** `iomt fhir-server`: the embedded FHIR server, for the local stack and for pointing other tools at. */
export const fhirServerCommand: Command = {
  summary: 'Run the embedded FHIR R4 server (in memory, optional snapshot)',
  usage: USAGE,
  async run(args, io) {
    const options = parseFhirServerArgs(args);
    return serveUntilStopped(io, {
      command: 'fhir-server',
      host: options.host,
      port: options.port,
      start: () => startFhirServer(options),
      started: (server) =>
        `FHIR R4 server listening on ${server.url}\n` +
        (options.dataDir === undefined ? '' : `Snapshot: ${path.join(options.dataDir, 'fhir-snapshot.json')}\n`) +
        (options.validate ? '' : 'Validation is off: invalid resources are accepted.\n') +
        'Press Ctrl+C to stop.\n',
      stopped: 'FHIR server stopped.\n',
    });
  },
};
