import type { Command } from '../io';
import { debugCommand } from './debug';
import { deadletterCommand } from './deadletter';
import { debuggerCommand } from './debugger';
import { fhirServerCommand } from './fhir-server';
import { normalizeCommand } from './normalize';
import { replayCommand } from './replay';
import { sendCommand } from './send';
import { startCommand } from './start';
import { validateCommand } from './validate';
import { verifyCommand } from './verify';

/** Every `iomt` command, by name. One line per command; the command lives in its own file. */
export const commands: Readonly<Record<string, Command>> = {
  deadletter: deadletterCommand,
  debug: debugCommand,
  debugger: debuggerCommand,
  'fhir-server': fhirServerCommand,
  normalize: normalizeCommand,
  replay: replayCommand,
  send: sendCommand,
  start: startCommand,
  validate: validateCommand,
  verify: verifyCommand,
};
