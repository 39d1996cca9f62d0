import type { DeviceEvent } from '../../../pipeline';
import { systemTimers } from '../../stack/batcher';
import { DataDirLockedError, displayPath } from '../../stack/data-dir-lock';
import type { IngestEvent } from '../../stack/ingest-request';
import { InvalidMappingsError } from '../../stack/mapping-files';
import { IOT_HUB_DEVICE_ID } from '../../stack/partitioning';
import { formatBar, formatCount, formatDuration, formatSummary } from '../../stack/progress-format';
import { createProgressDisplay } from '../../stack/progress-display';
import { openRuntime, type Runtime } from '../../stack/runtime';
import { DEFAULTS, ENV, formatOptionRows, parseReplayOptions, type ReplayOptions } from '../../stack/stack-options';
import { readEventsFile } from '../events-file';
import type { CliIo, Command } from '../io';
import { processIo } from '../io';

const usage = `usage: iomt replay <events.json | events.jsonl> [options]

Pushes recorded device events through the pipeline in batches (a backfill), into the embedded FHIR server (its data
saved in the data folder, where \`iomt start\` finds it) or into the FHIR server named by --fhir-url. Events that fail
go to the dead-letter store. The file is a JSON array, or JSON lines, of
  {"body": <parsed body> | "bodyText": "<raw body>", "properties"?: {...}, "systemProperties"?: {...},
   "enqueuedTimeUtc"?: "<ISO time>"}
Each event keeps its recorded enqueued time (the time of the replay when it has none). Events with an IoT Hub device
id system property stay in order per device; the others are spread over the partitions a batch at a time
(\`batch\` numbers, which \`iomt debug\` uses, do not matter here).

Options (flag, environment variable, meaning and default):
${formatOptionRows([
  ['--data-dir <dir>', ENV.dataDir, `FHIR snapshot and dead letters, default ${DEFAULTS.dataDir}`],
  ['--device-mapping <file>', ENV.deviceMapping, 'default mappings/devicecontent.json'],
  ['--fhir-mapping <file>', ENV.fhirMapping, 'default mappings/fhirmapping.json'],
  ['--fhir-url <url>', ENV.fhirUrl, 'write to this FHIR server instead of the embedded one'],
  ['--fhir-auth <mode>', ENV.fhirAuth, 'for --fhir-url: none (default), bearer, managed-identity, azure-cli, default'],
  ['--fhir-token <token>', ENV.fhirToken, 'the bearer token'],
  ['--resolution <mode>', ENV.resolution, `${DEFAULTS.resolution} (default), Lookup or LookupWithEncounter`],
  ['--max-events <n>', ENV.maxEvents, `events per batch (default ${DEFAULTS.maxEvents})`],
  [
    '--max-wait-ms <n>',
    ENV.maxWaitMs,
    `how long a partial batch waits for more events (default ${DEFAULTS.maxWaitMs})`,
  ],
  ['--partitions <n>', ENV.partitions, `processed concurrently (default ${DEFAULTS.partitions})`],
])}

Exit code 0 when every event was processed (even if some failed and were dead-lettered), 1 when the FHIR server or
the dead-letter store failed (those events are dead-lettered where possible; replay them later with
\`iomt deadletter replay\`), 2 on bad arguments, an unreadable events file or invalid mappings.`;

/** `iomt replay`: a backfill of recorded events through the local pipeline. */
export const replayCommand: Command = {
  summary: 'push recorded events (JSON or JSON lines) through the pipeline into the FHIR server, in batches',
  usage,
  async run(args, io) {
    const options = parseReplayOptions(args, process.env);
    let events: DeviceEvent[];
    try {
      events = readEventsFile(options.file).map(({ event }) => recorded(event));
    } catch (error) {
      io.err(`iomt replay: ${(error as Error).message}\n`);
      return 2;
    }
    const tty = io === processIo && process.stdout.isTTY;
    const display = createProgressDisplay(io, { tty, columns: () => process.stdout.columns, clock: Date.now });
    let runtime: Runtime;
    try {
      runtime = await openRuntime({
        ...options,
        command: 'replay',
        clock: Date.now,
        timers: systemTimers,
        onNotice: (message) => {
          display.print(message, 'err');
        },
      });
    } catch (error) {
      return reportOpenFailure(io, options, error);
    }
    for (const warning of runtime.mappingWarnings) {
      io.err(`${warning}\n`);
    }
    io.out(`Replaying ${formatCount(events.length)} events from ${options.file} into ${runtime.fhirUrl}\n`);
    const started = Date.now();
    const progress = (): string => {
      const s = runtime.metrics.snapshot();
      return `${formatBar(s.events.processed, events.length)} ${formatCount(s.events.processed)}/${formatCount(events.length)} events  ${formatCount(s.observations.created)} created  ${formatCount(s.observations.updated)} updated  ${formatCount(s.errors.total)} errors`;
    };
    const ticker = setInterval(() => {
      display.update(progress());
    }, 250);
    try {
      await push(runtime, events, options.batching.maxEvents);
      await runtime.pipeline.flush();
    } finally {
      clearInterval(ticker);
    }
    display.update(progress());
    display.done();
    const failures = runtime.pipeline.infrastructureFailures;
    await runtime.close();
    const summary = runtime.metrics.snapshot();
    const seconds = (Date.now() - started) / 1000;
    io.out(
      `${formatSummary(summary)
        .split('\n')
        .filter((line) => !line.includes('device-to-FHIR'))
        .join('\n')}\n` +
        `  ${formatCount(events.length)} events in ${formatDuration(seconds * 1000)} (${formatCount(events.length / Math.max(seconds, 0.001))} events/s)\n`,
    );
    if (summary.deadLettered.total > 0) {
      io.out(`Dead letters: ${displayPath(runtime.deadLetterDir)}/\n`);
    }
    if (failures > 0) {
      io.err(`iomt replay: ${failures} failures of the FHIR server or the dead-letter store (see above).\n`);
      return 1;
    }
    return 0;
  },
};

/** A recorded event as the pipeline takes it: no sequence number (local dead-letter ids then hash the content). */
function recorded(event: DeviceEvent): DeviceEvent {
  return {
    body: event.body,
    ...(event.properties === undefined ? {} : { properties: event.properties }),
    ...(event.systemProperties === undefined ? {} : { systemProperties: event.systemProperties }),
    ...(event.enqueuedTimeUtc === undefined ? {} : { enqueuedTimeUtc: event.enqueuedTimeUtc }),
  };
}

/** Ingests the events a batch at a time, waiting while the queue is full. */
async function push(runtime: Runtime, events: readonly DeviceEvent[], chunk: number): Promise<void> {
  for (let i = 0; i < events.length; i += chunk) {
    const slice = events.slice(i, i + chunk).map((event): IngestEvent => {
      const device = event.systemProperties?.[IOT_HUB_DEVICE_ID];
      return typeof device === 'string' && device !== '' ? { event, partitionKey: device } : { event };
    });
    await runtime.pipeline.waitForRoom(slice.length);
    const outcome = runtime.pipeline.ingest(slice);
    if ('refused' in outcome) {
      throw new Error(`replay refused: ${outcome.message}`);
    }
  }
}

function reportOpenFailure(io: CliIo, options: ReplayOptions, error: unknown): number {
  if (error instanceof InvalidMappingsError) {
    io.err(`${error.report}\niomt replay: the mappings are invalid; nothing was replayed.\n`);
    return 2;
  }
  if (error instanceof DataDirLockedError) {
    io.err(
      `iomt replay: ${error.message}. If that is \`iomt start\`, replay into its FHIR server with a data folder of your own: ` +
        `iomt replay ${options.file} --fhir-url http://127.0.0.1:${DEFAULTS.fhirPort}/fhir --data-dir .iomt-replay\n`,
    );
    return 1;
  }
  throw error;
}
