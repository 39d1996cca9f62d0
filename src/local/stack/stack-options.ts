/**
 * Options of `iomt start` and `iomt replay`: command-line flags first, then environment variables, then defaults.
 * Interfaces to bind (`--host`, `--fhir-host`) come from flags only, so an inherited environment can never expose
 * the unauthenticated servers beyond loopback.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import type { FhirAuth } from '../../adapters/fhir/auth';
import type { IdentityMode } from '../../pipeline';
import { UsageError } from '../cli/io';
import { DEFAULT_MAPPING_FILES, type MappingFiles } from './mapping-files';
import type { SimulatorOptions } from './local-stack';
import type { BatchingOptions, FhirTarget } from './runtime';

/** The environment variables, by option. */
export const ENV = {
  port: 'IOMT_PORT',
  fhirPort: 'IOMT_FHIR_PORT',
  fhirUrl: 'IOMT_FHIR_URL',
  fhirAuth: 'IOMT_FHIR_AUTH',
  fhirToken: 'IOMT_FHIR_TOKEN',
  dataDir: 'IOMT_DATA_DIR',
  deviceMapping: 'IOMT_DEVICE_MAPPING',
  fhirMapping: 'IOMT_FHIR_MAPPING',
  resolution: 'IOMT_RESOLUTION',
  maxEvents: 'IOMT_MAX_EVENTS',
  maxWaitMs: 'IOMT_MAX_WAIT_MS',
  partitions: 'IOMT_PARTITIONS',
  simulator: 'IOMT_SIMULATOR',
  devices: 'IOMT_DEVICES',
  rate: 'IOMT_RATE',
  seed: 'IOMT_SEED',
  journal: 'IOMT_JOURNAL',
} as const;

/** Defaults (the documented ones: other tools rely on 7071 and 8080). */
export const DEFAULTS = {
  host: '127.0.0.1',
  port: 7071,
  fhirPort: 8080,
  dataDir: '.iomt-data',
  resolution: 'Create',
  maxEvents: 300,
  maxWaitMs: 1000,
  partitions: 4,
  devices: 10,
  rate: 5,
} as const;

/** What both commands share. */
export interface CommonOptions {
  readonly dataDir: string;
  readonly mappings: MappingFiles;
  readonly fhir: FhirTarget;
  readonly resolution: IdentityMode;
  readonly batching: BatchingOptions;
}

/** `iomt start`'s options. */
export interface StartOptions extends CommonOptions {
  readonly host: string;
  readonly port: number;
  /** Undefined with `--no-simulator`. */
  readonly simulator?: SimulatorOptions;
  /** True when the seed was chosen at random (it is printed so the run can be repeated). */
  readonly randomSeed: boolean;
  /** Accepted events are journaled in `<dataDir>/intake/` (false with `--no-journal`). */
  readonly journal: boolean;
}

/** `iomt replay`'s options. */
export interface ReplayOptions extends CommonOptions {
  readonly file: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const COMMON_FLAGS = {
  'device-mapping': { type: 'string' },
  'fhir-mapping': { type: 'string' },
  'data-dir': { type: 'string' },
  'fhir-url': { type: 'string' },
  'fhir-auth': { type: 'string' },
  'fhir-token': { type: 'string' },
  resolution: { type: 'string' },
  'max-events': { type: 'string' },
  'max-wait-ms': { type: 'string' },
  partitions: { type: 'string' },
} as const;

const RESOLUTIONS: Readonly<Record<string, IdentityMode>> = {
  create: 'Create',
  lookup: 'Lookup',
  lookupwithencounter: 'LookupWithEncounter',
};

const AUTH_MODES: Readonly<Record<string, FhirAuth['mode']>> = {
  none: 'none',
  bearer: 'bearer',
  'managed-identity': 'managedIdentity',
  'azure-cli': 'azureCli',
  default: 'default',
};

/**
 * Parses `iomt start`'s arguments.
 * @param args - the arguments after `start`
 * @param env - the environment (`process.env`)
 * @param random - the source of a seed when none is given
 */
export function parseStartOptions(args: string[], env: Env, random: () => number = Math.random): StartOptions {
  const { values } = parse(args, {
    ...COMMON_FLAGS,
    host: { type: 'string' },
    port: { type: 'string' },
    'fhir-host': { type: 'string' },
    'fhir-port': { type: 'string' },
    'no-simulator': { type: 'boolean' },
    'no-journal': { type: 'boolean' },
    devices: { type: 'string' },
    rate: { type: 'string' },
    seed: { type: 'string' },
  });
  const read = reader(values, env);
  const simulatorOff = values['no-simulator'] === true || isOff(env[ENV.simulator], ENV.simulator);
  const seedText = read('seed', ENV.seed);
  const seed =
    seedText === undefined ? Math.floor(random() * 2 ** 31) : integer(seedText, `--seed (${ENV.seed})`, 0, 2 ** 32 - 1);
  return {
    ...common(values, env, {
      kind: 'embedded',
      host: host(values['fhir-host']),
      port: port(read('fhir-port', ENV.fhirPort), DEFAULTS.fhirPort, `--fhir-port (${ENV.fhirPort})`),
    }),
    host: host(values.host),
    port: port(read('port', ENV.port), DEFAULTS.port, `--port (${ENV.port})`),
    ...(simulatorOff
      ? {}
      : {
          simulator: {
            devices: integer(
              read('devices', ENV.devices) ?? String(DEFAULTS.devices),
              `--devices (${ENV.devices})`,
              1,
              10_000,
            ),
            rate: decimal(read('rate', ENV.rate) ?? String(DEFAULTS.rate), `--rate (${ENV.rate})`, 0.01, 10_000),
            seed,
          },
        }),
    randomSeed: seedText === undefined,
    journal: values['no-journal'] !== true && !isOff(env[ENV.journal], ENV.journal),
  };
}

/**
 * Parses `iomt replay`'s arguments.
 * @param args - the arguments after `replay`
 * @param env - the environment (`process.env`)
 */
export function parseReplayOptions(args: string[], env: Env): ReplayOptions {
  const { values, positionals } = parse(args, COMMON_FLAGS, true);
  if (positionals.length !== 1) {
    throw new UsageError('name one events file (.json or .jsonl)');
  }
  // The embedded server lives only for the replay: a free port, so a running `iomt start` is no obstacle to it.
  return { ...common(values, env, { kind: 'embedded', host: DEFAULTS.host, port: 0 }), file: positionals[0] as string };
}

type Values = Record<string, string | boolean | undefined>;

function parse(
  args: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  allowPositionals = false,
): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals });
    return { values: values as Values, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function reader(values: Values, env: Env): (flag: string, variable: string) => string | undefined {
  return (flag, variable) => {
    const value = values[flag];
    if (typeof value === 'string') {
      return value;
    }
    const fromEnv = env[variable];
    return fromEnv === undefined || fromEnv.trim() === '' ? undefined : fromEnv.trim();
  };
}

function common(values: Values, env: Env, embedded: FhirTarget): CommonOptions {
  const read = reader(values, env);
  const fhirUrl = read('fhir-url', ENV.fhirUrl);
  const authName = (read('fhir-auth', ENV.fhirAuth) ?? 'none').toLowerCase();
  const mode = AUTH_MODES[authName];
  if (mode === undefined) {
    throw new UsageError(`--fhir-auth (${ENV.fhirAuth}) must be one of ${Object.keys(AUTH_MODES).join(', ')}`);
  }
  const token = read('fhir-token', ENV.fhirToken);
  if ((mode === 'bearer') !== (token !== undefined)) {
    throw new UsageError(
      mode === 'bearer'
        ? `--fhir-auth bearer needs a token: --fhir-token or ${ENV.fhirToken}`
        : '--fhir-token is only used with --fhir-auth bearer',
    );
  }
  if (fhirUrl === undefined && mode !== 'none') {
    throw new UsageError('--fhir-auth applies to a FHIR server named with --fhir-url; the embedded one has none');
  }
  const auth: FhirAuth = mode === 'bearer' ? { mode, token: token as string } : { mode };
  const resolution = RESOLUTIONS[(read('resolution', ENV.resolution) ?? DEFAULTS.resolution).toLowerCase()];
  if (resolution === undefined) {
    throw new UsageError(`--resolution (${ENV.resolution}) must be Create, Lookup or LookupWithEncounter`);
  }
  return {
    dataDir: read('data-dir', ENV.dataDir) ?? DEFAULTS.dataDir,
    mappings: {
      device: read('device-mapping', ENV.deviceMapping) ?? DEFAULT_MAPPING_FILES.device,
      fhir: read('fhir-mapping', ENV.fhirMapping) ?? DEFAULT_MAPPING_FILES.fhir,
    },
    fhir: fhirUrl === undefined ? embedded : { kind: 'remote', url: baseUrl(fhirUrl), auth },
    resolution,
    batching: {
      maxEvents: integer(
        read('max-events', ENV.maxEvents) ?? String(DEFAULTS.maxEvents),
        `--max-events (${ENV.maxEvents})`,
        1,
        100_000,
      ),
      maxWaitMs: integer(
        read('max-wait-ms', ENV.maxWaitMs) ?? String(DEFAULTS.maxWaitMs),
        '--max-wait-ms',
        0,
        3_600_000,
      ),
      partitions: integer(
        read('partitions', ENV.partitions) ?? String(DEFAULTS.partitions),
        `--partitions (${ENV.partitions})`,
        1,
        32,
      ),
    },
  };
}

function baseUrl(text: string): string {
  const name = `--fhir-url (${ENV.fhirUrl})`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${name} must be an absolute http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${name} must be an absolute http(s) URL`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new UsageError(`${name} must not contain credentials; use --fhir-auth`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UsageError(`${name} must be a base URL without a query or fragment`);
  }
  return url.href.replace(/\/+$/, '');
}

function host(value: string | boolean | undefined): string {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : DEFAULTS.host;
}

function port(text: string | undefined, fallback: number, name: string): number {
  return text === undefined ? fallback : integer(text, name, 0, 65_535);
}

function integer(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

function decimal(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || n < min || n > max) {
    throw new UsageError(`${name} must be a number from ${min} to ${max}`);
  }
  return n;
}

function isOff(value: string | undefined, name: string): boolean {
  if (value === undefined || value.trim() === '') {
    return false;
  }
  const v = value.trim().toLowerCase();
  if (['0', 'false', 'off', 'no'].includes(v)) {
    return true;
  }
  if (['1', 'true', 'on', 'yes'].includes(v)) {
    return false;
  }
  throw new UsageError(`${name} must be on or off`);
}

/**
 * Usage rows aligned in three columns: flag, environment variable, meaning. Continuation rows have empty flag and
 * variable cells.
 * @param rows - `[flag, variable, text]`
 */
export function formatOptionRows(rows: readonly (readonly [flag: string, variable: string, text: string])[]): string {
  const flagWidth = Math.max(...rows.map(([flag]) => flag.length));
  const variableWidth = Math.max(...rows.map(([, variable]) => variable.length));
  return rows
    .map(([flag, variable, text]) =>
      `  ${flag.padEnd(flagWidth)}  ${variable.padEnd(variableWidth)}  ${text}`.trimEnd(),
    )
    .join('\n');
}
