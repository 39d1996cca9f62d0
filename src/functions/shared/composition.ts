/**
 * The Functions app's composition root: settings, mapping caches and adapters, built once per worker on first use
 * (house-style conventions 1 and 12). This is the only module of the app that reads `process.env`; a bad or missing
 * setting stops start-up with one error that lists every problem.
 *
 * Tests build their own composition with {@link createComposition} (ports replaced through overrides) and install
 * it with {@link setComposition}.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { createTokenProvider, type FhirAuth, type TokenProvider } from '../../adapters/fhir/auth';
import { FhirHttpStore } from '../../adapters/fhir/fhir-http-store';
import { openTableDeadLetterStore } from '../../adapters/dead-letter/table-dead-letter-store';
import {
  createMappingCache,
  type MappingCache,
  type MappingCacheOptions,
  type MappingSource,
  type MappingValidation,
  openMappingSource,
} from '../../adapters/mappings/mapping-source';
import { createAppInsightsMetrics } from '../../adapters/telemetry/app-insights-metrics';
import { createConsoleLogger } from '../../adapters/telemetry/console-logger';
import {
  type Clock,
  createIdentityResolver,
  createNormalizer,
  createObservationCache,
  type DeadLetterStore,
  type DeviceMapping,
  ErrorCode,
  type FhirMapping,
  type FhirStore,
  formatSettingIssues,
  type IdentityResolver,
  loadDeviceMapping,
  loadFhirMapping,
  type Logger,
  type LoadResult,
  type MappingIssue,
  type MetricsSink,
  noopMetrics,
  type Normalizer,
  type ObservationCache,
  parseSettings,
  PipelineError,
  type Settings,
  type SettingsEnv,
} from '../../pipeline';

/** A loaded device mapping and the normalizer compiled from it (built once per mapping version). */
export interface DeviceMappingRuntime {
  readonly mapping: DeviceMapping;
  readonly normalizer: Normalizer;
}

/** Everything the functions work with. One per worker. */
export interface Composition {
  readonly settings: Settings;
  readonly clock: Clock;
  readonly metrics: MetricsSink;
  readonly logger: Logger;
  readonly fhirStore: FhirStore;
  /** The FHIR service's tokens (shared with {@link fhirStore}; the health check uses them too). */
  readonly fhirTokens: TokenProvider;
  readonly identity: IdentityResolver;
  readonly observationCache: ObservationCache;
  readonly deadLetters: DeadLetterStore;
  /** The device mapping, re-read when its source changes; an invalid version never replaces a valid one. */
  readonly deviceMappings: MappingCache<DeviceMappingRuntime, MappingIssue>;
  /** The FHIR destination mapping, likewise. */
  readonly fhirMappings: MappingCache<FhirMapping, MappingIssue>;
  /** Flushes telemetry (called when the worker stops). */
  shutdown(): Promise<void>;
}

/** Ports and sources a test (or another host) supplies instead of the ones the settings name. */
export interface CompositionOverrides {
  readonly clock?: Clock;
  readonly metrics?: MetricsSink;
  readonly logger?: Logger;
  readonly fhirStore?: FhirStore;
  readonly fhirTokens?: TokenProvider;
  readonly deadLetters?: DeadLetterStore;
  readonly deviceMappingSource?: MappingSource;
  readonly fhirMappingSource?: MappingSource;
  /** The folder `package:` mapping paths are relative to. Default: the folder holding host.json. */
  readonly packageRoot?: string;
}

/**
 * Parses the app settings, or throws one `CONFIGURATION_INVALID` error listing every problem (names and reasons,
 * never a secret's value).
 * @param env - the raw settings
 */
export function loadSettings(env: SettingsEnv): Settings {
  const parsed = parseSettings(env);
  if (!parsed.ok) {
    throw new PipelineError(ErrorCode.ConfigurationInvalid, formatSettingIssues(parsed.issues), {
      details: { settings: parsed.issues.map((i) => i.setting) },
    });
  }
  return parsed.settings;
}

/**
 * Builds a composition from settings. Nothing here does I/O: clients connect on first use.
 * @param env - the raw settings (`process.env` in the app)
 * @param overrides - ports and sources to use instead of the configured ones
 */
export function createComposition(env: SettingsEnv, overrides: CompositionOverrides = {}): Composition {
  const settings = loadSettings(env);
  const clock = overrides.clock ?? Date.now;
  const telemetry =
    overrides.metrics === undefined
      ? createAppInsightsMetrics({
          ...(settings.applicationInsightsConnectionString === undefined
            ? {}
            : { connectionString: settings.applicationInsightsConnectionString.reveal() }),
          ...(env.WEBSITE_SITE_NAME === undefined ? {} : { roleName: env.WEBSITE_SITE_NAME }),
        })
      : undefined;
  const metrics: MetricsSink = overrides.metrics ?? telemetry ?? noopMetrics;
  const logger = overrides.logger ?? telemetry?.logger ?? createConsoleLogger();

  const fhirTokens = overrides.fhirTokens ?? createTokenProvider(fhirAuthOf(settings), settings.fhirServerUrl);
  const fhirStore =
    overrides.fhirStore ?? new FhirHttpStore({ baseUrl: settings.fhirServerUrl, tokenProvider: fhirTokens });

  const packageRoot = overrides.packageRoot ?? findAppRoot(__dirname);
  const sourceOptions = { packageRoot, storage: settings.mappingStorage };
  const deviceSource = overrides.deviceMappingSource ?? openMappingSource(settings.deviceMappingSource, sourceOptions);
  const fhirSource = overrides.fhirMappingSource ?? openMappingSource(settings.fhirMappingSource, sourceOptions);

  const cacheOptions = (
    kind: string,
    source: MappingSource,
    invalidCode: ErrorCode,
  ): MappingCacheOptions<MappingIssue> => ({
    description: `${kind} mapping ${source.description}`,
    invalidCode,
    onRejected: (rejection) => {
      logger.error(`${kind} mapping version rejected; the last valid version stays in use`, {
        mappingVersion: rejection.version,
        count: rejection.issues.length,
        code: invalidCode,
      });
    },
    onStale: (error, keptVersion) => {
      logger.warn(`${kind} mapping could not be read; the last valid version stays in use`, {
        code: error.code,
        mappingVersion: keptVersion,
      });
    },
  });

  return {
    settings,
    clock,
    metrics,
    logger,
    fhirStore,
    fhirTokens,
    identity: createIdentityResolver({
      store: fhirStore,
      mode: settings.resourceIdentityServiceType,
      clock,
      ...(settings.defaultDeviceIdentifierSystem === undefined
        ? {}
        : { defaultDeviceIdentifierSystem: settings.defaultDeviceIdentifierSystem }),
    }),
    observationCache: createObservationCache({ clock }),
    deadLetters:
      overrides.deadLetters ?? openTableDeadLetterStore(settings.deadLetterStorage, settings.deadLetterTableName),
    deviceMappings: createMappingCache(
      (known) => deviceSource.read(known),
      (text) =>
        toValidation(loadDeviceMapping(text), (mapping) => ({ mapping, normalizer: createNormalizer(mapping, clock) })),
      cacheOptions('device', deviceSource, ErrorCode.TemplateInvalid),
    ),
    fhirMappings: createMappingCache(
      (known) => fhirSource.read(known),
      (text) => toValidation(loadFhirMapping(text), (mapping) => mapping),
      cacheOptions('FHIR', fhirSource, ErrorCode.FhirTemplateInvalid),
    ),
    shutdown: () => telemetry?.shutdown() ?? Promise.resolve(),
  };
}

let current: Composition | undefined;

/** The worker's composition, built from `process.env` on first use. Throws when a setting is invalid. */
export function getComposition(): Composition {
  current ??= createComposition(process.env);
  return current;
}

/**
 * Installs a composition (tests), or with `undefined` drops it so the next {@link getComposition} builds anew.
 * @param composition - the composition to use
 */
export function setComposition(composition: Composition | undefined): void {
  current = composition;
}

function toValidation<T, R>(result: LoadResult<T>, build: (mapping: T) => R): MappingValidation<R, MappingIssue> {
  return result.mapping === undefined
    ? { ok: false, issues: result.issues.filter((i) => i.severity === 'error') }
    : { ok: true, value: build(result.mapping) };
}

function fhirAuthOf(settings: Settings): FhirAuth {
  const clientId =
    settings.fhirManagedIdentityClientId === undefined ? {} : { clientId: settings.fhirManagedIdentityClientId };
  switch (settings.fhirAuthMode) {
    case 'ManagedIdentity':
      return { mode: 'managedIdentity', ...clientId };
    case 'Default':
      return { mode: 'default', ...clientId };
    case 'Bearer':
      return { mode: 'bearer', token: settings.fhirBearerToken?.reveal() ?? '' };
    case 'None':
      return { mode: 'none' };
  }
}

/**
 * The app root: the nearest folder above `start` that holds host.json (`dist/src/functions/shared` when deployed,
 * `src/functions/shared` under ts-jest), else the working directory.
 * @param start - where to start looking
 */
export function findAppRoot(start: string): string {
  let dir = start;
  for (let depth = 0; depth < 8; depth++) {
    if (existsSync(join(dir, 'host.json'))) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      break;
    }
    dir = parent;
  }
  return process.cwd();
}
