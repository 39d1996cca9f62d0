import type { Command } from '../io';

/** Every `iomt` command, by name. One line per command; the command lives in its own file. */
export const commands: Readonly<Record<string, Command>> = {};
