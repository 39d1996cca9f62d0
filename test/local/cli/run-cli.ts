import { main } from '../../../src/local/cli/main';

/** What one in-process run of the `iomt` CLI printed and returned. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/**
 * Runs `iomt <args>` in-process, capturing its output.
 * @param args - the arguments after `iomt`
 */
export async function runCli(args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await main(args, {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
  });
  return { code, out, err };
}
