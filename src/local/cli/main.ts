import { commands } from './commands';
import type { CliIo } from './io';
import { processIo, UsageError } from './io';

function help(io: CliIo): void {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  io.out('usage: iomt <command> [options]\n\ncommands:\n');
  for (const [name, command] of Object.entries(commands)) {
    io.out(`  ${name.padEnd(width)}  ${command.summary}\n`);
  }
  io.out('\nRun `iomt <command> --help` for the options of one command.\n');
}

/**
 * Runs the `iomt` CLI.
 * @param argv - the arguments after `iomt`
 * @param io - output streams (the process's by default)
 * @returns the exit code
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    help(io);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command === undefined) {
    io.err(`iomt: unknown command '${name}'\n`);
    help(io);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.out(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`iomt ${name}: ${error.message}\n\n${command.usage}\n`);
      return 2;
    }
    throw error;
  }
}
