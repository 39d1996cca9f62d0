import { parseArgs } from 'node:util';

import { DEFAULT_DEBUGGER_PORT, startDebuggerServer } from '../../web';
import type { Command } from '../io';
import { UsageError } from '../io';
import { serveUntilStopped } from '../serve-until-stopped';

const USAGE = `usage: iomt debugger [--port ${DEFAULT_DEBUGGER_PORT}] [--host 127.0.0.1]

Serves the web mapping debugger alone, until Ctrl+C: edit a device mapping and a FHIR destination mapping with
live validation (every issue at its line and column), run test events through the real pipeline into a fresh
in-memory FHIR store, and see the normalized measurements and the resulting Observations. (\`npm start\` serves
the same page on the local stack, http://127.0.0.1:7071/.)

  --port <n>          TCP port (default ${DEFAULT_DEBUGGER_PORT}; 0 picks a free one)
  --host <address>    interface to bind (default 127.0.0.1; the debugger has no authentication)`;

function parseDebuggerArgs(args: string[]): { port: number; host: string } {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string', default: String(DEFAULT_DEBUGGER_PORT) },
        host: { type: 'string', default: '127.0.0.1' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) {
    throw new UsageError('--port must be a number from 0 to 65535');
  }
  return { port, host: values.host };
}

/** `iomt debugger`: the web mapping debugger on its own port. */
export const debuggerCommand: Command = {
  summary: 'serve the web mapping debugger alone (live validation, runs events through the real pipeline)',
  usage: USAGE,
  async run(args, io) {
    const options = parseDebuggerArgs(args);
    return serveUntilStopped(io, {
      command: 'debugger',
      host: options.host,
      port: options.port,
      start: () => startDebuggerServer(options),
      started: (server) => `Mapping debugger listening on ${server.url}\nPress Ctrl+C to stop.\n`,
      stopped: 'Mapping debugger stopped.\n',
    });
  },
};
