import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { createFileDeadLetterStore } from '../../../adapters/dead-letter/file-dead-letter-store';
import { replayDeadLetters, type ReplayReport } from '../../../adapters/dead-letter/replay';
import { openTableDeadLetterStore } from '../../../adapters/dead-letter/table-dead-letter-store';
import type { FhirAuth } from '../../../adapters/fhir/auth';
import { FhirHttpStore } from '../../../adapters/fhir/fhir-http-store';
import { createPackageMappingSource } from '../../../adapters/mappings/mapping-source';
import {
  createIdentityResolver,
  createNormalizer,
  DEFAULT_DEAD_LETTER_TABLE_NAME,
  type DeadLetterFilter,
  type DeadLetterStore,
  type DeadLetterSummary,
  formatIssues,
  type IdentityMode,
  loadDeviceMapping,
  loadFhirMapping,
  type LoadResult,
  MAX_DEAD_LETTER_LIMIT,
  secret,
  type SettingsEnv,
  toPipelineError,
} from '../../../pipeline';
import { displayPath } from '../../stack/data-dir-lock';
import { DEFAULTS, ENV } from '../../stack/stack-options';
import type { CliIo, Command } from '../io';
import { UsageError } from '../io';

/** The embedded FHIR server's default base (`iomt fhir-server`, `iomt start`). */
const DEFAULT_FHIR_URL = `http://${DEFAULTS.host}:${DEFAULTS.fhirPort}/fhir`;

const usage = `usage: iomt deadletter list   [filters] [--json] [store]
       iomt deadletter replay [filters] [--dry-run] [--json] [store] [mappings and FHIR service]

Lists or replays the items the pipeline dead-lettered: events that failed normalization and measurement groups that
failed FHIR conversion. Replay runs each entry through the CURRENT mappings into the FHIR service and removes it
once its data is saved; an entry that fails again stays, with the new error. Replaying twice is harmless.

filters:
  --since <ISO time>       only entries dead-lettered at or after this time
  --error-type <type>      an error code (REQUIRED_VALUE_MISSING) or MedTech error type (IncompatibleDataException)
  --stage <stage>          Normalization or FHIRConversion
  --limit <n>              newest n entries, 1..${MAX_DEAD_LETTER_LIMIT} (default 100)

store (default: the Table store of the DeadLetterStorage or AzureWebJobsStorage connection string, else the local
stack's file store in $${ENV.dataDir}/dead-letters, default ${DEFAULTS.dataDir}/dead-letters):
  --connection <string>    a Storage connection string
  --account <name>         a Storage account, signed in with DefaultAzureCredential (az login)
  --table <name>           the table (default: DeadLetterTableName, else ${DEFAULT_DEAD_LETTER_TABLE_NAME})
  --dir <folder>           a file store folder

replay only:
  --dry-run                normalize and group with the current mappings, save nothing, change no entry
  --device-mapping <file>  default $${ENV.deviceMapping}, else mappings/devicecontent.json
  --fhir-mapping <file>    default $${ENV.fhirMapping}, else mappings/fhirmapping.json
  --fhir-url <url>         default FhirServerUrl, else $${ENV.fhirUrl}, else the embedded server ${DEFAULT_FHIR_URL}
  --fhir-auth <mode>       none (default), bearer (token from FhirBearerToken or $${ENV.fhirToken}), azure-cli,
                           default, managed-identity
  --resolution <mode>      Lookup, Create or LookupWithEncounter (default ResourceIdentityServiceType, else
                           $${ENV.resolution}, else Lookup for Table storage and ${DEFAULTS.resolution} for the local stack)

Exit code 0 on success, 1 when an entry still fails or the store is unreachable, 2 on bad arguments or mappings.`;

const OPTIONS = {
  since: { type: 'string' },
  'error-type': { type: 'string' },
  stage: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  connection: { type: 'string' },
  account: { type: 'string' },
  table: { type: 'string' },
  dir: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'device-mapping': { type: 'string' },
  'fhir-mapping': { type: 'string' },
  'fhir-url': { type: 'string' },
  'fhir-auth': { type: 'string' },
  resolution: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const REPLAY_ONLY = ['dry-run', 'device-mapping', 'fhir-mapping', 'fhir-url', 'fhir-auth', 'resolution'] as const;

const RESOLUTIONS: Readonly<Record<string, IdentityMode>> = {
  lookup: 'Lookup',
  create: 'Create',
  lookupwithencounter: 'LookupWithEncounter',
};

/**
 * Builds `iomt deadletter` reading its defaults from `env`.
 * @param env - the environment (`process.env`): the Functions app's settings (DeadLetterStorage, AzureWebJobsStorage,
 *   DeadLetterTableName, FhirServerUrl, FhirBearerToken, ResourceIdentityServiceType, DefaultDeviceIdentifierSystem)
 *   and the local stack's (IOMT_DATA_DIR, IOMT_FHIR_URL, IOMT_FHIR_TOKEN, IOMT_RESOLUTION, IOMT_*_MAPPING)
 */
export function createDeadletterCommand(env: SettingsEnv): Command {
  return {
    summary: 'list or replay dead-lettered events and measurement groups',
    usage,
    async run(args: string[], io: CliIo): Promise<number> {
      const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true });
      const [action, ...extra] = positionals;
      if ((action !== 'list' && action !== 'replay') || extra.length > 0) {
        throw new UsageError('name one action: list or replay');
      }
      if (action === 'list') {
        const misplaced = REPLAY_ONLY.find((name) => values[name] !== undefined);
        if (misplaced !== undefined) {
          throw new UsageError(`--${misplaced} only applies to replay`);
        }
      }
      const filter = readFilter(values);
      const { store, local } = openStore(values, env);
      try {
        return action === 'list'
          ? await list(store, filter, values.json === true, io)
          : await replay(store, local, filter, values, env, io);
      } catch (error) {
        if (error instanceof UsageError) {
          throw error;
        }
        const e = toPipelineError(error);
        io.err(`iomt deadletter: ${e.code}: ${e.message}\n`);
        return 1;
      }
    },
  };
}

/** `iomt deadletter`, with defaults from the process environment. */
export const deadletterCommand: Command = createDeadletterCommand(process.env);

function readFilter(values: Values): DeadLetterFilter {
  const { since, stage, limit } = values;
  const errorType = values['error-type'];
  if (since !== undefined && Number.isNaN(Date.parse(since))) {
    throw new UsageError('--since must be an ISO-8601 date-time, e.g. 2024-03-10T00:00:00Z');
  }
  if (stage !== undefined && stage !== 'Normalization' && stage !== 'FHIRConversion') {
    throw new UsageError('--stage must be Normalization or FHIRConversion');
  }
  const n = limit === undefined ? undefined : /^\d{1,5}$/.test(limit) ? Number(limit) : Number.NaN;
  if (n !== undefined && !(n >= 1 && n <= MAX_DEAD_LETTER_LIMIT)) {
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_DEAD_LETTER_LIMIT}`);
  }
  return {
    ...(since === undefined ? {} : { since }),
    ...(errorType === undefined ? {} : { errorType }),
    ...(stage === undefined ? {} : { stage }),
    ...(n === undefined ? {} : { limit: n }),
  };
}

/** The store the options or settings name; `local` when it is the local stack's (its defaults then apply). */
function openStore(values: Values, env: SettingsEnv): { store: DeadLetterStore; local: boolean } {
  const chosen = [values.dir, values.connection, values.account].filter((v) => v !== undefined);
  if (chosen.length > 1) {
    throw new UsageError('choose one store: --connection, --account or --dir');
  }
  if (values.dir !== undefined) {
    return { store: createFileDeadLetterStore({ directory: resolve(values.dir) }), local: true };
  }
  const table = values.table ?? blankToUndefined(env.DeadLetterTableName) ?? DEFAULT_DEAD_LETTER_TABLE_NAME;
  if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(table)) {
    throw new UsageError('--table must be 3-63 letters and digits, starting with a letter');
  }
  if (values.account !== undefined) {
    if (!/^[a-z0-9]{3,24}$/.test(values.account)) {
      throw new UsageError('--account must be a Storage account name (3-24 lowercase letters and digits)');
    }
    const store = openTableDeadLetterStore(
      {
        kind: 'identity',
        setting: '--account',
        tableServiceUri: `https://${values.account}.table.core.windows.net`,
        blobServiceUri: `https://${values.account}.blob.core.windows.net`,
      },
      table,
    );
    return { store, local: false };
  }
  const connectionString =
    values.connection ?? blankToUndefined(env.DeadLetterStorage) ?? blankToUndefined(env.AzureWebJobsStorage);
  if (connectionString !== undefined) {
    const store = openTableDeadLetterStore(
      { kind: 'connectionString', setting: '--connection', connectionString: secret(connectionString) },
      table,
    );
    return { store, local: false };
  }
  const localDir = resolve(blankToUndefined(env[ENV.dataDir]) ?? DEFAULTS.dataDir, 'dead-letters');
  if (!existsSync(localDir)) {
    throw new UsageError(
      'no dead-letter store: pass --connection or --account (or set DeadLetterStorage or AzureWebJobsStorage), ' +
        `or --dir; the local stack's ${displayPath(localDir)} does not exist`,
    );
  }
  return { store: createFileDeadLetterStore({ directory: localDir }), local: true };
}

async function list(store: DeadLetterStore, filter: DeadLetterFilter, json: boolean, io: CliIo): Promise<number> {
  const entries = await store.list(filter);
  if (json) {
    io.out(`${JSON.stringify(entries, null, 2)}\n`);
    return 0;
  }
  io.out(`${entries.length} dead-lettered ${entries.length === 1 ? 'entry' : 'entries'}\n`);
  for (const e of entries) {
    io.out(`  ${e.createdAt}  ${e.stage.padEnd(14)}  ${e.error.code} (${e.error.medtechErrorType})  ${where(e)}\n`);
    io.out(`      ${e.id}  attempts=${e.attempts}  mapping=${e.mappingVersion}\n      ${e.error.message}\n`);
  }
  return 0;
}

async function replay(
  store: DeadLetterStore,
  local: boolean,
  filter: DeadLetterFilter,
  values: Values,
  env: SettingsEnv,
  io: CliIo,
): Promise<number> {
  const device = await readMapping(
    values['device-mapping'] ?? blankToUndefined(env[ENV.deviceMapping]) ?? 'mappings/devicecontent.json',
    'device',
    (text) => loadDeviceMapping(text),
    io,
  );
  const fhir = await readMapping(
    values['fhir-mapping'] ?? blankToUndefined(env[ENV.fhirMapping]) ?? 'mappings/fhirmapping.json',
    'FHIR',
    loadFhirMapping,
    io,
  );
  if (device === undefined || fhir === undefined) {
    return 2;
  }
  const resolution =
    RESOLUTIONS[
      (
        values.resolution ??
        blankToUndefined(env.ResourceIdentityServiceType) ??
        blankToUndefined(env[ENV.resolution]) ??
        (local ? DEFAULTS.resolution : 'Lookup')
      ).toLowerCase()
    ];

  if (resolution === undefined) {
    throw new UsageError('--resolution must be Lookup, Create or LookupWithEncounter');
  }
  const fhirStore = new FhirHttpStore({
    baseUrl:
      values['fhir-url'] ??
      blankToUndefined(env.FhirServerUrl) ??
      blankToUndefined(env[ENV.fhirUrl]) ??
      DEFAULT_FHIR_URL,
    auth: fhirAuth(values['fhir-auth'] ?? 'none', env),
  });
  const system = blankToUndefined(env.DefaultDeviceIdentifierSystem);
  const report = await replayDeadLetters(
    { ...filter, dryRun: values['dry-run'] === true },
    {
      deadLetters: store,
      normalizer: createNormalizer(device.mapping, Date.now),
      deviceMappingVersion: device.version,
      fhirMapping: fhir.mapping,
      fhirMappingVersion: fhir.version,
      store: fhirStore,
      identity: createIdentityResolver({
        store: fhirStore,
        mode: resolution,
        clock: Date.now,
        ...(system === undefined ? {} : { defaultDeviceIdentifierSystem: system }),
      }),
      clock: Date.now,
    },
  );
  if (values.json === true) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    printReplay(report, io);
  }
  return report.failed > 0 ? 1 : 0;
}

async function readMapping<T>(
  file: string,
  kind: string,
  load: (text: string) => LoadResult<T>,
  io: CliIo,
): Promise<{ mapping: T; version: string } | undefined> {
  let read;
  try {
    const path = resolve(file);
    // The same version string the Functions app reports for a package mapping with this content.
    read = await createPackageMappingSource(dirname(path), basename(path)).read();
  } catch (error) {
    throw new UsageError(`cannot read the ${kind} mapping ${file}: ${toPipelineError(error).message}`);
  }
  if (read === undefined) {
    throw new UsageError(`cannot read the ${kind} mapping ${file}`);
  }
  const loaded = load(read.text);
  if (loaded.mapping === undefined) {
    io.err(
      `${formatIssues(
        loaded.issues.filter((i) => i.severity === 'error'),
        file,
      )}\n`,
    );
    return undefined;
  }
  return { mapping: loaded.mapping, version: read.version };
}

function fhirAuth(mode: string, env: SettingsEnv): FhirAuth {
  switch (mode.toLowerCase()) {
    case 'none':
      return { mode: 'none' };
    case 'bearer': {
      const token = blankToUndefined(env.FhirBearerToken) ?? blankToUndefined(env[ENV.fhirToken]);
      if (token === undefined) {
        // Taken from the environment only, so it never lands in shell history or process listings.
        throw new UsageError(
          `--fhir-auth bearer reads the token from FhirBearerToken or ${ENV.fhirToken}; neither is set`,
        );
      }
      return { mode: 'bearer', token };
    }
    case 'azure-cli':
      return { mode: 'azureCli' };
    case 'default':
      return { mode: 'default' };
    case 'managed-identity':
      return { mode: 'managedIdentity' };
    default:
      throw new UsageError('--fhir-auth must be none, bearer, azure-cli, default or managed-identity');
  }
}

function printReplay(report: ReplayReport, io: CliIo): void {
  const verb = report.dryRun ? 'Checked' : 'Replayed';
  io.out(
    `${verb} ${report.entries.length} ${report.entries.length === 1 ? 'entry' : 'entries'}: ` +
      (report.dryRun ? `${report.ready} ready, ` : `${report.replayed} saved and removed, `) +
      `${report.failed} still failing\n`,
  );
  for (const e of report.entries) {
    const saved = report.dryRun ? '' : `  created=${e.created} updated=${e.updated} unchanged=${e.unchanged}`;
    io.out(`  ${e.outcome.padEnd(8)}  ${e.id}  measurements=${e.measurements}${saved}\n`);
    if (e.error !== undefined) {
      io.out(`            ${e.error.code} (${e.error.medtechErrorType})  ${e.error.message}\n`);
    }
  }
}

function where(e: DeadLetterSummary): string {
  if (e.partitionId === undefined && e.sequenceNumber === undefined) {
    return e.payloadKind;
  }
  return `${e.payloadKind} partition=${e.partitionId ?? '-'} seq=${e.sequenceNumber ?? '-'}`;
}

function blankToUndefined(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}
