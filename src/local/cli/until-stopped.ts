import type { CliIo } from './io';

/**
 * Resolves on `io.stopSignal` or the first SIGINT/SIGTERM, whichever comes first; then stops listening for signals,
 * so a second Ctrl+C ends the process (Node's default).
 *
 * @param io - the command's io (tests stop the command through its `stopSignal`)
 */
export function untilStopped(io: CliIo): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    io.stopSignal?.then(stop, stop);
  });
}
