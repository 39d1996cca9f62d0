import { join } from 'node:path';

import { systemTimers } from '../../stack/batcher';
import { DataDirLockedError, displayPath } from '../../stack/data-dir-lock';
import { type LocalStack, startLocalStack } from '../../stack/local-stack';
import { InvalidMappingsError } from '../../stack/mapping-files';
import { formatProgressLine, formatSummary } from '../../stack/progress-format';
import { createProgressDisplay } from '../../stack/progress-display';
import { SNAPSHOT_CHECKPOINT_MS } from '../../stack/runtime';
import { DEFAULTS, ENV, formatOptionRows, parseStartOptions, type StartOptions } from '../../stack/stack-options';
import { createDebuggerHandler } from '../../web';
import type { CliIo, Command } from '../io';
import { processIo } from '../io';
import { listenErrorCode } from '../listen-error';
import { untilStopped } from '../until-stopped';

const usage = `usage: iomt start [options]

The whole pipeline on your machine (what \`npm start\` runs): an embedded FHIR R4 server, an ingestion endpoint, a
device simulator, live progress, /metrics and the web mapping debugger. Device events are normalized, grouped and
saved as FHIR Observations by the same code as the Azure Functions app, in batches per partition.

HTTP server (http://127.0.0.1:7071 by default; loopback only unless --host says otherwise):
  POST /ingest      device events: Content-Type application/json (one event, or a JSON array of events) or
                    application/x-ndjson (JSON lines). An event is the raw device body; with ?envelope=true it is
                    {"body" | "bodyText", "properties"?, "systemProperties"?, "partitionKey"?}. ?partitionKey=<key>
                    keeps a device's events in order (as with Event Hubs). 202 {"accepted": n}; 4xx names the
                    event at fault; accepted events that later fail go to the dead-letter store.
  GET  /metrics     the progress counters as JSON (Prometheus text with Accept: text/plain)
  GET  /health      status, FHIR target, dead-letter store, queue
  GET  /            the web mapping debugger

Options (flag, environment variable, meaning and default):
${formatOptionRows([
  ['--port <n>', ENV.port, `HTTP port, default ${DEFAULTS.port}`],
  ['--host <address>', '(flag only)', `interface to bind, default ${DEFAULTS.host}`],
  ['--fhir-port <n>', ENV.fhirPort, `port of the embedded FHIR server (base /fhir), default ${DEFAULTS.fhirPort}`],
  ['--fhir-host <address>', '(flag only)', `its interface, default ${DEFAULTS.host}`],
  [
    '--data-dir <dir>',
    ENV.dataDir,
    `FHIR snapshot (kept across restarts), dead letters and the intake journal, default ${DEFAULTS.dataDir}`,
  ],
  ['--device-mapping <file>', ENV.deviceMapping, 'default mappings/devicecontent.json'],
  ['--fhir-mapping <file>', ENV.fhirMapping, 'default mappings/fhirmapping.json (both re-read when they change)'],
  ['--fhir-url <url>', ENV.fhirUrl, 'write to this FHIR server instead; the embedded one is not started'],
  ['--fhir-auth <mode>', ENV.fhirAuth, 'for --fhir-url: none (default), bearer, managed-identity, azure-cli, default'],
  ['--fhir-token <token>', ENV.fhirToken, 'the bearer token (prefer the variable: flags show in process lists)'],
  [
    '--resolution <mode>',
    ENV.resolution,
    `${DEFAULTS.resolution} (default), Lookup or LookupWithEncounter. Create, because the`,
  ],
  ['', '', "simulator's devices and patients do not exist yet; MedTech's default is Lookup"],
  [
    '--max-events <n>',
    ENV.maxEvents,
    `a partition's batch closes at this many events (default ${DEFAULTS.maxEvents})...`,
  ],
  [
    '--max-wait-ms <n>',
    ENV.maxWaitMs,
    `...or this long after its oldest event arrived (default ${DEFAULTS.maxWaitMs})`,
  ],
  [
    '--partitions <n>',
    ENV.partitions,
    `processed concurrently, one batch at a time each (default ${DEFAULTS.partitions})`,
  ],
  ['--no-journal', `${ENV.journal}=off`, 'keep accepted events in memory only (a hard kill loses queued ones)'],
  ['--no-simulator', `${ENV.simulator}=off`, 'no simulated devices'],
  ['--devices <n>', ENV.devices, `simulated devices, one patient each (default ${DEFAULTS.devices})`],
  ['--rate <n>', ENV.rate, `simulated events per second (default ${DEFAULTS.rate})`],
  ['--seed <n>', ENV.seed, 'the same seed gives the same readings (default random, printed)'],
])}

Accepted events are written to an intake journal (<data-dir>/intake/) before the 202 answer, and processed again
at the next start if the stack was killed before it finished them (a power loss, kill -9, a second Ctrl+C);
re-processing an event that was already saved adds nothing. With the embedded FHIR server, its store is saved
every ${SNAPSHOT_CHECKPOINT_MS / 1000} s while events arrive, and events since the last save are processed again after a crash.

Ctrl+C stops cleanly: intake stops, queued events are processed, the FHIR store is saved, a summary is printed.
Press Ctrl+C twice to quit at once.`;

/** `iomt start`: the local stack. */
export const startCommand: Command = {
  summary: 'run the whole pipeline locally: embedded FHIR server, ingest endpoint, simulator, live progress',
  usage,
  async run(args, io) {
    const options = parseStartOptions(args, process.env);
    const tty = io === processIo && process.stdout.isTTY;
    const display = createProgressDisplay(io, {
      tty,
      columns: () => process.stdout.columns,
      clock: Date.now,
    });
    let stack: LocalStack;
    try {
      stack = await startLocalStack({
        ...options,
        clock: Date.now,
        timers: systemTimers,
        debuggerHandler: createDebuggerHandler(),
        onNotice: (message) => {
          display.print(message, 'err');
        },
      });
    } catch (error) {
      return reportStartFailure(io, options, error);
    }
    printBanner(io, options, stack);
    const stopRequested = untilStopped(io);
    const ticker = setInterval(
      () => {
        const width = tty ? (process.stdout.columns || 120) - 1 : undefined;
        display.update(formatProgressLine(stack.runtime.metrics.snapshot(), width));
      },
      tty ? 1000 : 500,
    );
    await stopRequested;
    clearInterval(ticker);
    display.done();
    const queued = stack.runtime.pipeline.queued;
    io.out(`Stopping: ${queued === 0 ? 'no events queued' : `processing ${queued} queued events`}…\n`);
    const summary = await stack.stop();
    io.out(`${formatSummary(summary)}\n`);
    if (stack.runtime.fhirServer !== undefined) {
      io.out(`FHIR data saved in ${options.dataDir}; \`npm start\` picks it up again.\n`);
    }
    return 0;
  },
};

function printBanner(io: CliIo, options: StartOptions, stack: LocalStack): void {
  const { urls, runtime } = stack;
  const rows: [string, string][] = [
    ['Ingest', `POST ${urls.ingest}`],
    ['Metrics', urls.metrics],
    ['Health', urls.health],
    ...(urls.debugger === undefined ? [] : [['Debugger', urls.debugger] as [string, string]]),
    ['FHIR', `${urls.fhir}${runtime.fhirServer === undefined ? '' : ` (embedded, saved in ${options.dataDir}/)`}`],
    ['Observations', urls.observations],
    [
      'Mappings',
      `${options.mappings.device} (${runtime.mappingSummary.deviceTemplates} templates), ${options.mappings.fhir} (${runtime.mappingSummary.fhirTemplates} templates)`,
    ],
    [
      'Pipeline',
      `batches of ${options.batching.maxEvents} events or ${options.batching.maxWaitMs} ms, ${options.batching.partitions} partitions, resolution ${options.resolution}`,
    ],
    ['Dead letters', `${displayPath(runtime.deadLetterDir)}/`],
    [
      'Journal',
      options.journal
        ? `${displayPath(join(options.dataDir, 'intake'))}/, ${runtime.recoveredEvents} events recovered at start`
        : 'off: a hard kill loses queued events',
    ],
    [
      'Simulator',
      options.simulator === undefined
        ? 'off'
        : `${options.simulator.devices} devices, ${options.simulator.rate} events/s, seed ${options.simulator.seed} (--no-simulator to turn off)`,
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  io.out(`IoMT FHIR local stack\n${rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n')}\n`);
  for (const warning of runtime.mappingWarnings) {
    io.err(`${warning}\n`);
  }
  io.out('Press Ctrl+C to stop.\n');
}

function reportStartFailure(io: CliIo, options: StartOptions, error: unknown): number {
  if (error instanceof InvalidMappingsError) {
    io.err(`${error.report}\niomt start: the mappings are invalid; nothing was started.\n`);
    return 2;
  }
  if (error instanceof DataDirLockedError) {
    io.err(
      `iomt start: ${error.message}. Stop it first, or use another data folder (--data-dir, ${ENV.dataDir}) and other ports.\n`,
    );
    return 1;
  }
  const code = listenErrorCode(error);
  if (code !== undefined) {
    const { address, port } = error as { address?: string; port?: number };
    io.err(
      `iomt start: cannot listen on ${address ?? options.host}:${port ?? '?'} (${code}). Is another \`iomt start\` running? Choose other ports with --port (${ENV.port}) and --fhir-port (${ENV.fhirPort}).\n`,
    );
    return 1;
  }
  throw error;
}
