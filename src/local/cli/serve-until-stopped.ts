import type { CliIo } from './io';
import { listenErrorCode } from './listen-error';
import { untilStopped } from './until-stopped';

/** What {@link serveUntilStopped} runs and prints. */
export interface ServeOptions<S> {
  /** The command's name, for the error line: `iomt <command>: cannot listen on host:port (EADDRINUSE)`. */
  readonly command: string;
  /** The interface the server is asked to bind, for the error line. */
  readonly host: string;
  /** The port the server is asked to bind, for the error line. */
  readonly port: number;
  /** Starts the server. */
  readonly start: () => Promise<S>;
  /** What to print once it listens (whole lines). */
  readonly started: (server: S) => string;
  /** What to print once it is closed (whole lines). */
  readonly stopped: string;
}

/**
 * Runs a command that only serves: starts the server (a listen error becomes one error line and exit code 1),
 * serves until Ctrl+C or `io.stopSignal`, then closes it.
 *
 * @param io - the command's io
 * @param options - the server and the messages
 * @returns the exit code
 */
export async function serveUntilStopped<S extends { close(): Promise<void> }>(
  io: CliIo,
  options: ServeOptions<S>,
): Promise<number> {
  let server: S;
  try {
    server = await options.start();
  } catch (error) {
    const code = listenErrorCode(error);
    const reason =
      code === undefined ? (error as Error).message : `cannot listen on ${options.host}:${options.port} (${code})`;
    io.err(`iomt ${options.command}: ${reason}\n`);
    return 1;
  }
  io.out(options.started(server));
  await untilStopped(io);
  await server.close();
  io.out(options.stopped);
  return 0;
}
