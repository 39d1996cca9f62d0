import type { Command } from '../io';
import { debugCommand } from './debug';
import { debuggerCommand } from './debugger';
import { fhirServerCommand } from './fhir-server';
import { normalizeCommand } from './normalize';
import { sendCommand } from './send';
import { validateCommand } from './validate';
import { verifyCommand } from './verify';

/** Every `iomt` command, by name. One line per command; the command lives in its own file. */
export const commands: Readonly<Record<string, Command>> = {
  debug: debugCommand,
  debugger: debuggerCommand,
  'fhir-server': fhirServerCommand,
  normalize: normalizeCommand,
  send: sendCommand,
  validate: validateCommand,
  verify: verifyCommand,
};
