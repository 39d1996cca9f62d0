import type { Command } from '../io';
import { debugCommand } from './debug';
import { debuggerCommand } from './debugger';
import { fhirServerCommand } from './fhir-server';
import { normalizeCommand } from './normalize';
import { validateCommand } from './validate';

/** Every `iomt` command, by name. One line per command; the command lives in its own file. */
export const commands: Readonly<Record<string, Command>> = {
  debug: debugCommand,
  debugger: debuggerCommand,
  'fhir-server': fhirServerCommand,
  normalize: normalizeCommand,
  validate: validateCommand,
};
