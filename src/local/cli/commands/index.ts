import type { Command } from '../io';
import { debugCommand } from './debug';
import { fhirServerCommand } from './fhir-server';
import { normalizeCommand } from './normalize';
import { validateCommand } from './validate';

/** Every `iomt` command, by name. One line per command; the command lives in its own file. */
export const commands: Readonly<Record<string, Command>> = {
  debug: debugCommand,
  'fhir-server': fhirServerCommand,
  normalize: normalizeCommand,
  validate: validateCommand,
};
