import type { CliIo } from '../../../src/local/cli/io';

/** A CliIo that keeps what a command prints, to read back. */
export interface CapturedIo extends CliIo {
  /** Everything written to standard output so far. */
  output(): string;
  /** Everything written to standard error so far. */
  errors(): string;
}

/**
 * A CliIo that captures standard output and standard error.
 * @param stopSignal - resolves when the command should stop (as on Ctrl+C); none: it is never asked to stop
 */
export function captureIo(stopSignal?: Promise<void>): CapturedIo {
  let out = '';
  let err = '';
  return {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    ...(stopSignal === undefined ? {} : { stopSignal }),
    output: () => out,
    errors: () => err,
  };
}
