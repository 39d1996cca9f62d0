/** What a command may touch of its process, so tests can run commands in-process and read their output. */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Resolves once the command should stop (Ctrl+C for long-running commands). */
  readonly stopSignal?: Promise<void>;
}

/** A command of the `iomt` CLI. */
export interface Command {
  /** One line for `iomt help`. */
  readonly summary: string;
  /** Usage text shown with `--help` and on argument errors. */
  readonly usage: string;
  /**
   * Runs the command.
   * @param args - the arguments after the command name
   * @param io - output streams
   * @returns the process exit code
   */
  run(args: string[], io: CliIo): Promise<number>;
}

/** An argument error: the CLI prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The process's own streams. */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};
