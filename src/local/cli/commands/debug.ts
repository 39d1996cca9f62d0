import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import type { Bundle, Observation, Resource, ResourceType } from '@medplum/fhirtypes';

import { FhirHttpStore } from '../../../adapters/fhir/fhir-http-store';
import type { DebugResult, IdentityMode } from '../../../pipeline';
import { runDebugSession } from '../../../pipeline';
import { startFhirServer } from '../../fhir-server';
import { readEventsFile } from '../events-file';
import type { CliIo, Command } from '../io';
import { UsageError } from '../io';

const usage = `usage: iomt debug --device-mapping <file> [--fhir-mapping <file>]
                  [--resolution Create|Lookup|LookupWithEncounter] [--fhir-seed <file>] --events <file> [--json]

The mapping debugger: runs events through the real pipeline into a fresh embedded FHIR server and shows the
normalized measurements, the resulting Observations and every error (MedTech portal's "View normalized message /
View FHIR observation").

  --fhir-seed   a JSON array of resources, or a Bundle, loaded first (e.g. the Devices and Patients that Lookup
                resolution needs)
  --resolution  identity resolution, default Lookup (MedTech's default)
  --events      a JSON array (or JSON lines) of {body, bodyText?, properties?, systemProperties?, enqueuedTimeUtc?,
                batch?}; events with the same batch number (default 0) form one batch, run in ascending order
  --json        print {"measurements", "observations", "resources", "errors"}

Exit code 0 when the mappings load (even if events fail), 2 when a mapping is invalid.`;

const RESOLUTIONS: Readonly<Record<string, IdentityMode>> = {
  create: 'Create',
  lookup: 'Lookup',
  lookupwithencounter: 'LookupWithEncounter',
};

/** `iomt debug`: the mapping debugger over a fresh embedded FHIR server. */
export const debugCommand: Command = {
  summary: 'run events through device and FHIR mappings into a fresh embedded FHIR server',
  usage,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        'device-mapping': { type: 'string' },
        'fhir-mapping': { type: 'string' },
        resolution: { type: 'string' },
        'fhir-seed': { type: 'string' },
        events: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
    const deviceFile = values['device-mapping'];
    const eventsFile = values.events;
    if (deviceFile === undefined || eventsFile === undefined) {
      throw new UsageError('--device-mapping and --events are required');
    }
    const resolution = RESOLUTIONS[(values.resolution ?? 'Lookup').toLowerCase()];
    if (resolution === undefined) {
      throw new UsageError(`--resolution must be Create, Lookup or LookupWithEncounter`);
    }
    const seed = values['fhir-seed'] === undefined ? [] : readSeed(values['fhir-seed']);
    const events = readEventsFile(eventsFile).map(({ batch, event }) => ({ batch, event }));
    const server = await startFhirServer({ port: 0, seed, validate: true });
    try {
      const store = new FhirHttpStore({ baseUrl: server.url });
      const result = await runDebugSession(
        {
          deviceMapping: readFileSync(deviceFile, 'utf8'),
          ...(values['fhir-mapping'] === undefined
            ? {}
            : { fhirMapping: readFileSync(values['fhir-mapping'], 'utf8') }),
          events,
          resolution,
        },
        { store, clock: Date.now },
      );
      const types = new Set<ResourceType>(['Patient', 'Device', 'Encounter', ...seed.map((r) => r.resourceType)]);
      types.delete('Observation');
      const observations = server.repository.all('Observation');
      const resources = [...types].flatMap((type) => server.repository.all(type) as Resource[]);
      if (values.json === true) {
        io.out(
          `${JSON.stringify({ measurements: result.measurements, observations, resources, errors: result.errors }, null, 2)}\n`,
        );
      } else {
        printReport(io, result, observations, resources);
      }
      return result.mappingsValid ? 0 : 2;
    } finally {
      await server.close();
    }
  },
};

function readSeed(file: string): Resource[] {
  const parsed = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as unknown;
  if (Array.isArray(parsed)) {
    return parsed as Resource[];
  }
  if (typeof parsed === 'object' && parsed !== null && (parsed as Resource).resourceType === 'Bundle') {
    return ((parsed as Bundle).entry ?? []).flatMap((e) => (e.resource === undefined ? [] : [e.resource]));
  }
  throw new UsageError(`--fhir-seed must hold a JSON array of resources or a Bundle`);
}

function printReport(
  io: CliIo,
  result: DebugResult,
  observations: readonly Observation[],
  resources: readonly Resource[],
): void {
  io.out(`Measurements (${result.measurements.length})\n`);
  for (const m of result.measurements) {
    const values = m.properties.map((p) => `${p.name}=${p.value}`).join(' ');
    io.out(`  ${m.type}  ${m.occurrenceTimeUtc}  device=${m.deviceId} patient=${m.patientId ?? '-'}  ${values}\n`);
  }
  io.out(`\nObservations (${observations.length})\n`);
  for (const o of observations) {
    const period = `${o.effectivePeriod?.start ?? '?'} .. ${o.effectivePeriod?.end ?? '?'}`;
    io.out(`  ${o.code.text ?? '?'}  ${o.status}  ${period}  ${describeValue(o)}\n`);
  }
  const counts = new Map<string, number>();
  for (const r of resources) {
    counts.set(r.resourceType, (counts.get(r.resourceType) ?? 0) + 1);
  }
  io.out(`\nOther resources: ${[...counts].map(([t, n]) => `${n} ${t}`).join(', ') || 'none'}\n`);
  io.out(`\nErrors (${result.errors.length})\n`);
  for (const e of result.errors) {
    const where =
      e.line === undefined
        ? e.messageIndex === undefined
          ? ''
          : ` message ${e.messageIndex}`
        : ` ${e.line}:${e.column}`;
    io.out(`  ${e.stage}${where}  ${e.medtechErrorType}  ${e.message}\n`);
  }
}

function describeValue(o: Observation): string {
  if (o.valueQuantity !== undefined) {
    return `${o.valueQuantity.value ?? ''} ${o.valueQuantity.unit ?? ''}`.trim();
  }
  if (o.valueSampledData !== undefined) {
    return `SampledData[${o.valueSampledData.data ?? ''}]`;
  }
  if (o.valueString !== undefined) {
    return `"${o.valueString}"`;
  }
  if (o.valueCodeableConcept !== undefined) {
    return o.valueCodeableConcept.text ?? 'CodeableConcept';
  }
  return (o.component ?? []).map((c) => `${c.code.text ?? '?'}=${c.valueQuantity?.value ?? '?'}`).join(' ');
}
