import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import type { Measurement, PipelineError } from '../../../pipeline';
import { createNormalizer, formatIssues, loadDeviceMapping } from '../../../pipeline';
import { readEventsFile } from '../events-file';
import type { CliIo, Command } from '../io';
import { UsageError } from '../io';

const usage = `usage: iomt normalize --device-mapping <file> --events <file> [--json]

Runs device events through a device mapping, exactly as MedTech's normalization stage would, and prints the
measurements and every event's error. The events file is a JSON array (or JSON lines) of
  {"body": <parsed body>, "bodyText"?: "<raw body>", "properties"?: {...}, "systemProperties"?: {...},
   "enqueuedTimeUtc"?: "<ISO time>"}
Exit code 0 when the mapping loads (even if events fail), 2 when it is invalid.`;

/** `iomt normalize`: the mapping debugger's "View normalized message". */
export const normalizeCommand: Command = {
  summary: 'run events through a device mapping and print the measurements',
  usage,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: { 'device-mapping': { type: 'string' }, events: { type: 'string' }, json: { type: 'boolean' } },
    });
    const mappingFile = values['device-mapping'];
    const eventsFile = values.events;
    if (mappingFile === undefined || eventsFile === undefined) {
      throw new UsageError('--device-mapping and --events are required');
    }
    const { mapping, issues } = loadDeviceMapping(readFileSync(mappingFile, 'utf8'));
    if (mapping === undefined) {
      io.err(`${formatIssues(issues, mappingFile)}\n`);
      return 2;
    }
    const normalizer = createNormalizer(mapping, Date.now);
    const measurements: Measurement[] = [];
    const errors: { messageIndex: number; error: PipelineError }[] = [];
    for (const { index, event } of readEventsFile(eventsFile)) {
      const result = await normalizer.normalize(event);
      measurements.push(...result.measurements);
      if (result.error !== undefined) {
        errors.push({ messageIndex: index, error: result.error });
      }
    }
    if (values.json === true) {
      const json = errors.map(({ messageIndex, error }) => ({ messageIndex, ...error.toJSON() }));
      io.out(`${JSON.stringify({ measurements, errors: json }, null, 2)}\n`);
    } else {
      printTable(io, measurements, errors);
    }
    return 0;
  },
};

function printTable(
  io: CliIo,
  measurements: readonly Measurement[],
  errors: readonly { messageIndex: number; error: PipelineError }[],
): void {
  const rows = measurements.map((m) => [
    m.type,
    m.occurrenceTimeUtc,
    m.deviceId,
    m.patientId ?? '',
    m.properties.map((p) => `${p.name}=${p.value}`).join(' '),
  ]);
  const header = ['type', 'occurrenceTimeUtc', 'deviceId', 'patientId', 'values'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  io.out(`${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const row of rows) {
    io.out(`${line(row)}\n`);
  }
  io.out(`\n${measurements.length} measurement(s)\n`);
  for (const { messageIndex, error } of errors) {
    io.out(`event ${messageIndex}: ${error.medtechErrorType}: ${error.message}\n`);
  }
}
