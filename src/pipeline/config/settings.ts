/**
 * App settings, parsed once into a typed, frozen object. `parseSettings` reports every missing or invalid
 * setting in one go (name and reason, never the value of a secret), so a misconfigured deployment fails at start
 * with a complete list instead of one error per restart.
 *
 * Setting names follow the Functions conventions: a connection is either a connection string under its own name
 * or identity-based settings under `<name>__…` (https://learn.microsoft.com/azure/azure-functions/functions-reference#connections).
 * Only `functions/shared/composition.ts` (and the local stack) read `process.env` and hand it to this parser.
 */

/** The settings as raw text: `process.env` or a `local.settings.json` `Values` object. */
export type SettingsEnv = Readonly<Record<string, string | undefined>>;

/** One problem with one setting. The reason never contains a secret's value. */
export interface SettingIssue {
  /** The app setting name, e.g. `FhirServerUrl` or `DeadLetterStorage__tableServiceUri`. */
  readonly setting: string;
  /** What is wrong and how to fix it. */
  readonly reason: string;
}

/**
 * A secret value. It prints as `[redacted]` in logs, template strings and `JSON.stringify`, so logging the
 * settings object cannot leak it; code that needs the value calls `reveal()`.
 */
export interface Secret {
  /** The secret's value. */
  reveal(): string;
  /** Always `[redacted]`. */
  toString(): string;
  /** Always `[redacted]`. */
  toJSON(): string;
}

/** How the FHIR service is authenticated. */
export const FhirAuthMode = {
  /** A managed identity (system-assigned, or user-assigned via `FhirManagedIdentityClientId`). */
  ManagedIdentity: 'ManagedIdentity',
  /** `DefaultAzureCredential`: environment, workload identity, managed identity, Azure CLI… (local development). */
  Default: 'Default',
  /** A static bearer token from `FhirBearerToken` (test servers). */
  Bearer: 'Bearer',
  /** No authentication (the embedded local FHIR server). */
  None: 'None',
} as const;

/** A FHIR authentication mode. */
export type FhirAuthMode = (typeof FhirAuthMode)[keyof typeof FhirAuthMode];

/** How devices, patients and encounters are resolved (MedTech's `ResourceIdentityServiceType`, §10). */
export const ResourceIdentityServiceType = {
  Lookup: 'Lookup',
  Create: 'Create',
  LookupWithEncounter: 'LookupWithEncounter',
} as const;

/** A resource identity mode. */
export type ResourceIdentityServiceType =
  (typeof ResourceIdentityServiceType)[keyof typeof ResourceIdentityServiceType];

/** What happens to a message or group that fails with a non-retryable error. */
export const ErrorPolicy = {
  /** Record it in the dead-letter store, count it, and carry on with the rest of the batch. */
  DeadLetter: 'DeadLetter',
  /** Fail the invocation so the platform retries the batch (MedTech's behaviour for unhandled errors). */
  Retry: 'Retry',
} as const;

/** An error policy. */
export type ErrorPolicy = (typeof ErrorPolicy)[keyof typeof ErrorPolicy];

/** Where a mapping document is read from. */
export type MappingSourceSpec =
  /** A file deployed with the app; `path` is relative to the package root and stays inside it. */
  | { readonly kind: 'package'; readonly path: string }
  /** A blob, re-read when its ETag changes. */
  | { readonly kind: 'blob'; readonly container: string; readonly blobName: string };

/** A Storage account connection (Functions naming: a connection string, or identity-based `__` settings). */
export type StorageConnection =
  | {
      readonly kind: 'connectionString';
      /** The setting the connection came from (e.g. `AzureWebJobsStorage` when defaulted). */
      readonly setting: string;
      readonly connectionString: Secret;
    }
  | {
      readonly kind: 'identity';
      readonly setting: string;
      readonly blobServiceUri?: string;
      readonly queueServiceUri?: string;
      readonly tableServiceUri?: string;
      /** A user-assigned managed identity's client id (`<setting>__clientId`). */
      readonly clientId?: string;
    };

/** The Event Hubs connection the trigger uses. */
export type EventHubConnection =
  | {
      readonly kind: 'connectionString';
      readonly connectionString: Secret;
      /** `EntityPath` from the connection string, when present. */
      readonly entityPath?: string;
    }
  | {
      readonly kind: 'identity';
      /** `EventHubConnection__fullyQualifiedNamespace`, e.g. `myns.servicebus.windows.net`. */
      readonly fullyQualifiedNamespace: string;
      readonly clientId?: string;
    };

/** The parsed settings. Property names are the setting names in camelCase. Frozen. */
export interface Settings {
  /** `EventHubConnection` or `EventHubConnection__fullyQualifiedNamespace`. */
  readonly eventHubConnection: EventHubConnection;
  /** `EventHubName`. */
  readonly eventHubName: string;
  /** `EventHubConsumerGroup`, default `$Default`. */
  readonly eventHubConsumerGroup: string;
  /** `FhirServerUrl`: the FHIR base URL without a trailing slash. */
  readonly fhirServerUrl: string;
  /** `FhirAuthMode`, default `ManagedIdentity`. */
  readonly fhirAuthMode: FhirAuthMode;
  /** `FhirBearerToken`: present exactly when `fhirAuthMode` is `Bearer`. */
  readonly fhirBearerToken?: Secret;
  /** `FhirManagedIdentityClientId`: a user-assigned identity for `ManagedIdentity`/`Default`. */
  readonly fhirManagedIdentityClientId?: string;
  /** `ResourceIdentityServiceType`, default `Lookup`. */
  readonly resourceIdentityServiceType: ResourceIdentityServiceType;
  /** `DefaultDeviceIdentifierSystem`: the identifier system used to look up and create devices. */
  readonly defaultDeviceIdentifierSystem?: string;
  /** `DeviceMappingSource`, default `package:mappings/devicecontent.json`. */
  readonly deviceMappingSource: MappingSourceSpec;
  /** `FhirMappingSource`, default `package:mappings/fhirmapping.json`. */
  readonly fhirMappingSource: MappingSourceSpec;
  /** `MappingStorage` (or `MappingStorage__blobServiceUri`), default `AzureWebJobsStorage`. */
  readonly mappingStorage: StorageConnection;
  /** `DeadLetterTableName`, default `iomtdeadletters`. Also the name (lower-cased) of the overflow container. */
  readonly deadLetterTableName: string;
  /** `DeadLetterStorage` (or `DeadLetterStorage__tableServiceUri`), default `AzureWebJobsStorage`. */
  readonly deadLetterStorage: StorageConnection;
  /** `ErrorPolicy`, default `DeadLetter`. */
  readonly errorPolicy: ErrorPolicy;
  /** `PersistChunkSize`: measurement groups per save activity, 1..500, default 50. */
  readonly persistChunkSize: number;
  /** `PersistMaxAttempts`: attempts per save activity for retryable errors, 1..10, default 5. */
  readonly persistMaxAttempts: number;
  /** `APPLICATIONINSIGHTS_CONNECTION_STRING`: metrics and logs go to Application Insights when set. */
  readonly applicationInsightsConnectionString?: Secret;
  /** `AzureWebJobsStorage`: the Functions host's storage (Durable task hub, Event Hubs checkpoints). */
  readonly azureWebJobsStorage: StorageConnection;
}

/** The result of {@link parseSettings}. */
export type ParseSettingsResult =
  { readonly ok: true; readonly settings: Settings } | { readonly ok: false; readonly issues: readonly SettingIssue[] };

/** Default `DeviceMappingSource`. */
export const DEFAULT_DEVICE_MAPPING_SOURCE = 'package:mappings/devicecontent.json';
/** Default `FhirMappingSource`. */
export const DEFAULT_FHIR_MAPPING_SOURCE = 'package:mappings/fhirmapping.json';
/** Default `DeadLetterTableName`. */
export const DEFAULT_DEAD_LETTER_TABLE_NAME = 'iomtdeadletters';

const REDACTED = '[redacted]';

/**
 * Wraps a secret so it cannot be printed by accident.
 * @param value - the secret's value
 */
export function secret(value: string): Secret {
  return Object.freeze({ reveal: () => value, toString: () => REDACTED, toJSON: () => REDACTED });
}

/**
 * Parses app settings. Blank values count as unset (the portal keeps empty settings); values are trimmed.
 * @param env - the raw settings, usually `process.env`
 * @returns the frozen settings, or every issue found
 */
export function parseSettings(env: SettingsEnv): ParseSettingsResult {
  const r = new Reader(env);
  const eventHub = readEventHubSettings(r);
  const fhir = readFhirSettings(r);
  const mappings = readMappingSettings(r);
  const storage = readStorageSettings(
    r,
    mappings?.deviceMappingSource.kind === 'blob' || mappings?.fhirMappingSource.kind === 'blob',
  );
  const processing = readProcessingSettings(r);
  if (r.issues.length > 0 || !eventHub || !fhir || !mappings || !storage || !processing) {
    return { ok: false, issues: Object.freeze(r.issues) };
  }
  const settings: Settings = { ...eventHub, ...fhir, ...mappings, ...storage, ...processing };
  return { ok: true, settings: deepFreeze(settings) };
}

type EventHubSettings = Pick<Settings, 'eventHubConnection' | 'eventHubName' | 'eventHubConsumerGroup'>;

function readEventHubSettings(r: Reader): EventHubSettings | undefined {
  const eventHubConnection = readEventHubConnection(r);
  const eventHubConsumerGroup = r.optional('EventHubConsumerGroup') ?? '$Default';
  const eventHubName = r.optional('EventHubName');
  if (eventHubName === undefined) {
    if (!r.has('EventHubName')) {
      r.issue('EventHubName', 'is required: the name of the event hub the devices send to');
    }
    return undefined;
  }
  if (!EVENT_HUB_NAME.test(eventHubName)) {
    r.issue(
      'EventHubName',
      'must be 1-256 letters, digits, periods, hyphens or underscores, starting and ending with a letter or digit',
    );
    return undefined;
  }
  const entityPath = eventHubConnection?.kind === 'connectionString' ? eventHubConnection.entityPath : undefined;
  if (entityPath !== undefined && entityPath !== eventHubName) {
    r.issue('EventHubName', 'differs from the EntityPath in EventHubConnection; they must name the same event hub');
    return undefined;
  }
  return eventHubConnection && { eventHubConnection, eventHubName, eventHubConsumerGroup };
}

type FhirSettings = Pick<
  Settings,
  | 'fhirServerUrl'
  | 'fhirAuthMode'
  | 'fhirBearerToken'
  | 'fhirManagedIdentityClientId'
  | 'resourceIdentityServiceType'
  | 'defaultDeviceIdentifierSystem'
>;

function readFhirSettings(r: Reader): FhirSettings | undefined {
  const fhirServerUrl = readFhirServerUrl(r);
  const fhirAuthMode = r.choice('FhirAuthMode', FhirAuthMode, FhirAuthMode.ManagedIdentity);
  const token = r.optional('FhirBearerToken');
  if (fhirAuthMode === FhirAuthMode.Bearer && token === undefined && !r.has('FhirBearerToken')) {
    r.issue('FhirBearerToken', 'is required when FhirAuthMode is Bearer');
  } else if (fhirAuthMode !== undefined && fhirAuthMode !== FhirAuthMode.Bearer && token !== undefined) {
    r.issue('FhirBearerToken', `is only used when FhirAuthMode is Bearer (it is ${fhirAuthMode}); remove it`);
  }
  const clientId = r.optional('FhirManagedIdentityClientId');
  if (clientId !== undefined && !GUID.test(clientId)) {
    r.issue('FhirManagedIdentityClientId', 'must be a client id (a GUID)');
  } else if (clientId !== undefined && (fhirAuthMode === FhirAuthMode.Bearer || fhirAuthMode === FhirAuthMode.None)) {
    r.issue('FhirManagedIdentityClientId', 'is only used when FhirAuthMode is ManagedIdentity or Default; remove it');
  }
  const resourceIdentityServiceType = r.choice(
    'ResourceIdentityServiceType',
    ResourceIdentityServiceType,
    ResourceIdentityServiceType.Lookup,
  );
  const system = r.optional('DefaultDeviceIdentifierSystem');
  if (system !== undefined && /[\s|]/.test(system)) {
    // The system is sent as `identifier=system|value` in searches, so `|` and spaces would corrupt the query.
    r.issue('DefaultDeviceIdentifierSystem', 'must be a URI without spaces or "|"');
  }
  if (fhirServerUrl === undefined || fhirAuthMode === undefined || resourceIdentityServiceType === undefined) {
    return undefined;
  }
  return {
    fhirServerUrl,
    fhirAuthMode,
    ...(token === undefined ? {} : { fhirBearerToken: secret(token) }),
    ...(clientId === undefined ? {} : { fhirManagedIdentityClientId: clientId }),
    resourceIdentityServiceType,
    ...(system === undefined ? {} : { defaultDeviceIdentifierSystem: system }),
  };
}

type MappingSettings = Pick<Settings, 'deviceMappingSource' | 'fhirMappingSource'>;

function readMappingSettings(r: Reader): MappingSettings | undefined {
  const deviceMappingSource = readMappingSource(r, 'DeviceMappingSource', DEFAULT_DEVICE_MAPPING_SOURCE);
  const fhirMappingSource = readMappingSource(r, 'FhirMappingSource', DEFAULT_FHIR_MAPPING_SOURCE);
  return deviceMappingSource && fhirMappingSource && { deviceMappingSource, fhirMappingSource };
}

type StorageSettings = Pick<
  Settings,
  'azureWebJobsStorage' | 'mappingStorage' | 'deadLetterTableName' | 'deadLetterStorage'
>;

function readStorageSettings(r: Reader, usesBlobMappings: boolean): StorageSettings | undefined {
  const azureWebJobsStorage = readStorage(r, 'AzureWebJobsStorage', []);
  if (azureWebJobsStorage === null) {
    r.issue(
      'AzureWebJobsStorage',
      'is required: a Storage connection string (UseDevelopmentStorage=true for Azurite) or identity-based ' +
        'AzureWebJobsStorage__accountName',
    );
  }
  // `null` means "not set": fall back to AzureWebJobsStorage, which must then serve what the fallback needs.
  let mappingStorage = readStorage(r, 'MappingStorage', usesBlobMappings ? ['blob'] : []);
  if (mappingStorage === null) {
    mappingStorage = azureWebJobsStorage;
    if (usesBlobMappings && azureWebJobsStorage) {
      requireServices(r, azureWebJobsStorage, ['blob'], 'MappingStorage is not set, so blob mappings');
    }
  }
  const deadLetterTableName = r.optional('DeadLetterTableName') ?? DEFAULT_DEAD_LETTER_TABLE_NAME;
  if (!TABLE_NAME.test(deadLetterTableName) || deadLetterTableName.toLowerCase() === 'tables') {
    r.issue(
      'DeadLetterTableName',
      'must be 3-63 letters or digits starting with a letter (Azure Table naming rules), and not "tables"',
    );
  }
  let deadLetterStorage = readStorage(r, 'DeadLetterStorage', ['table', 'blob']);
  if (deadLetterStorage === null) {
    deadLetterStorage = azureWebJobsStorage;
    if (azureWebJobsStorage) {
      requireServices(r, azureWebJobsStorage, ['table', 'blob'], 'DeadLetterStorage is not set, so dead letters');
    }
  }
  if (!azureWebJobsStorage || !mappingStorage || !deadLetterStorage) {
    return undefined;
  }
  return { azureWebJobsStorage, mappingStorage, deadLetterTableName, deadLetterStorage };
}

type ProcessingSettings = Pick<
  Settings,
  'errorPolicy' | 'persistChunkSize' | 'persistMaxAttempts' | 'applicationInsightsConnectionString'
>;

function readProcessingSettings(r: Reader): ProcessingSettings | undefined {
  const errorPolicy = r.choice('ErrorPolicy', ErrorPolicy, ErrorPolicy.DeadLetter);
  const persistChunkSize = r.integer('PersistChunkSize', 1, 500, 50);
  const persistMaxAttempts = r.integer('PersistMaxAttempts', 1, 10, 5);
  const insights = r.optional('APPLICATIONINSIGHTS_CONNECTION_STRING');
  if (insights !== undefined && parseConnectionString(insights).get('instrumentationkey') === undefined) {
    r.issue('APPLICATIONINSIGHTS_CONNECTION_STRING', 'must be a connection string with an InstrumentationKey');
  }
  if (errorPolicy === undefined || persistChunkSize === undefined || persistMaxAttempts === undefined) {
    return undefined;
  }
  return {
    errorPolicy,
    persistChunkSize,
    persistMaxAttempts,
    ...(insights === undefined ? {} : { applicationInsightsConnectionString: secret(insights) }),
  };
}

/**
 * Formats issues for a startup error or the CLI: one line per issue.
 * @param issues - the issues from {@link parseSettings}
 */
export function formatSettingIssues(issues: readonly SettingIssue[]): string {
  const head = `Invalid app settings (${issues.length} ${issues.length === 1 ? 'problem' : 'problems'}):`;
  return [head, ...issues.map((i) => `  - ${i.setting}: ${i.reason}`)].join('\n');
}

/**
 * Splits a `Key=Value;Key=Value` connection string. Keys are lower-cased; values keep any `=` (base64 padding).
 * @param value - the connection string
 */
export function parseConnectionString(value: string): ReadonlyMap<string, string> {
  const map = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) {
      map.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
    }
  }
  return map;
}

const EVENT_HUB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,254}[A-Za-z0-9])?$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
// https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;
const HOST_NAME = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d{1,5})?$/;
const PLACEHOLDER = /^<<[\s\S]*>>$/;

type StorageService = 'blob' | 'queue' | 'table';

/** Reads raw values and collects issues. */
class Reader {
  readonly issues: SettingIssue[] = [];
  private readonly env: SettingsEnv;

  constructor(env: SettingsEnv) {
    this.env = env;
  }

  issue(setting: string, reason: string): void {
    this.issues.push(Object.freeze({ setting, reason }));
  }

  /** The trimmed value, or undefined when unset, blank or still the example file's placeholder (an issue). */
  optional(setting: string): string | undefined {
    const value = this.env[setting]?.trim();
    if (value === undefined || value === '') {
      return undefined;
    }
    if (PLACEHOLDER.test(value)) {
      this.issue(setting, 'still holds the <<placeholder>> from local.settings.json.example; set it or remove it');
      return undefined;
    }
    return value;
  }

  /** True when the raw setting holds anything (used to tell "unset" from "invalid"). */
  has(setting: string): boolean {
    return (this.env[setting]?.trim() ?? '') !== '';
  }

  choice<T extends Record<string, string>>(setting: string, options: T, fallback: T[keyof T]): T[keyof T] | undefined {
    const value = this.optional(setting);
    if (value === undefined) {
      return this.has(setting) ? undefined : fallback;
    }
    const match = Object.values(options).find((o) => o.toLowerCase() === value.toLowerCase());
    if (match === undefined) {
      this.issue(setting, `must be one of ${Object.values(options).join(', ')} (got "${quote(value)}")`);
      return undefined;
    }
    return match as T[keyof T];
  }

  integer(setting: string, min: number, max: number, fallback: number): number | undefined {
    const value = this.optional(setting);
    if (value === undefined) {
      return this.has(setting) ? undefined : fallback;
    }
    const n = /^\d{1,6}$/.test(value) ? Number(value) : NaN;
    if (!(n >= min && n <= max)) {
      this.issue(setting, `must be a whole number from ${min} to ${max} (got "${quote(value)}")`);
      return undefined;
    }
    return n;
  }
}

/** Quotes a non-secret value in a reason, shortened so a pasted document cannot flood the log. */
function quote(value: string): string {
  return value.length > 60 ? `${value.slice(0, 57)}...` : value;
}

function readEventHubConnection(r: Reader): EventHubConnection | undefined {
  const connectionString = r.optional('EventHubConnection');
  const namespace = r.optional('EventHubConnection__fullyQualifiedNamespace');
  const clientId = r.optional('EventHubConnection__clientId');
  if (clientId !== undefined && !GUID.test(clientId)) {
    r.issue('EventHubConnection__clientId', 'must be a client id (a GUID)');
  }
  if (connectionString !== undefined && namespace !== undefined) {
    r.issue(
      'EventHubConnection',
      'and EventHubConnection__fullyQualifiedNamespace are both set; keep one (connection string or identity)',
    );
    return undefined;
  }
  if (connectionString !== undefined) {
    const parts = parseConnectionString(connectionString);
    const endpoint = parts.get('endpoint');
    const emulator = parts.get('usedevelopmentemulator')?.toLowerCase() === 'true';
    const hasKey = parts.has('sharedaccesskey') || parts.has('sharedaccesssignature');
    if (endpoint === undefined || !/^sb:\/\/[^/\s]+/i.test(endpoint) || !(hasKey || emulator)) {
      r.issue(
        'EventHubConnection',
        'must be an Event Hubs connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…)',
      );
      return undefined;
    }
    const entityPath = parts.get('entitypath');
    return {
      kind: 'connectionString',
      connectionString: secret(connectionString),
      ...(entityPath ? { entityPath } : {}),
    };
  }
  if (namespace !== undefined) {
    if (!HOST_NAME.test(namespace)) {
      r.issue(
        'EventHubConnection__fullyQualifiedNamespace',
        'must be a host name such as <namespace>.servicebus.windows.net (no scheme, no path)',
      );
      return undefined;
    }
    return { kind: 'identity', fullyQualifiedNamespace: namespace, ...(clientId ? { clientId } : {}) };
  }
  if (!r.has('EventHubConnection') && !r.has('EventHubConnection__fullyQualifiedNamespace')) {
    r.issue(
      'EventHubConnection',
      'is required: an Event Hubs connection string, or EventHubConnection__fullyQualifiedNamespace for a ' +
        'managed identity',
    );
  }
  return undefined;
}

function readFhirServerUrl(r: Reader): string | undefined {
  const value = r.optional('FhirServerUrl');
  if (value === undefined) {
    if (!r.has('FhirServerUrl')) {
      r.issue(
        'FhirServerUrl',
        'is required: the FHIR service base URL, e.g. https://<workspace>-<fhir>.fhir.azurehealthcareapis.com',
      );
    }
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    r.issue('FhirServerUrl', 'must be an absolute http(s) URL');
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    r.issue('FhirServerUrl', 'must be an absolute http(s) URL');
  } else if (url.username !== '' || url.password !== '') {
    // Never quote this value: it holds credentials.
    r.issue('FhirServerUrl', 'must not contain credentials; use FhirAuthMode instead');
  } else if (url.search !== '' || url.hash !== '') {
    r.issue('FhirServerUrl', 'must be a base URL without a query or fragment');
  } else {
    return url.href.replace(/\/+$/, '');
  }
  return undefined;
}

function readMappingSource(r: Reader, setting: string, fallback: string): MappingSourceSpec | undefined {
  const value = r.optional(setting) ?? (r.has(setting) ? undefined : fallback);
  if (value === undefined) {
    return undefined;
  }
  const colon = value.indexOf(':');
  const scheme = colon > 0 ? value.slice(0, colon).toLowerCase() : '';
  const rest = value.slice(colon + 1);
  if (scheme === 'package') {
    const segments = rest.split('/');
    if (rest === '' || rest.startsWith('/') || rest.includes('\\') || segments.some((s) => s === '..' || s === '')) {
      r.issue(setting, 'package: paths are relative to the app root, use "/" and must not contain ".." or "//"');
      return undefined;
    }
    return { kind: 'package', path: segments.filter((s) => s !== '.').join('/') };
  }
  if (scheme === 'blob') {
    const slash = rest.indexOf('/');
    const container = slash > 0 ? rest.slice(0, slash) : '';
    const blobName = slash > 0 ? rest.slice(slash + 1) : '';
    if (!CONTAINER_NAME.test(container)) {
      r.issue(
        setting,
        'blob: needs <container>/<blob name> with a valid container name (3-63 lowercase letters, digits, hyphens)',
      );
      return undefined;
    }
    if (blobName === '' || blobName.length > 1024 || blobName.endsWith('/') || blobName.endsWith('.')) {
      r.issue(setting, 'blob: needs a blob name after the container (1-1024 characters, not ending in "/" or ".")');
      return undefined;
    }
    return { kind: 'blob', container, blobName };
  }
  r.issue(setting, `must be package:<relative path> or blob:<container>/<blob name> (got "${quote(value)}")`);
  return undefined;
}

/**
 * Reads a storage connection named `setting`: a connection string, or identity-based `setting__…` values.
 * @returns the connection, `null` when nothing is set, or undefined when something is set but invalid
 */
function readStorage(
  r: Reader,
  setting: string,
  needs: readonly StorageService[],
): StorageConnection | null | undefined {
  const connectionString = r.optional(setting);
  const identity = readStorageIdentity(r, setting, needs);
  if (connectionString !== undefined && identity !== null) {
    r.issue(setting, `and identity-based ${setting}__… settings are both set; keep one`);
    return undefined;
  }
  if (connectionString !== undefined) {
    const parts = parseConnectionString(connectionString);
    const devStorage = parts.get('usedevelopmentstorage')?.toLowerCase() === 'true';
    const sharedKey = parts.has('accountname') && parts.has('accountkey');
    const sas = parts.has('sharedaccesssignature') && [...parts.keys()].some((k) => k.endsWith('endpoint'));
    if (!devStorage && !sharedKey && !sas) {
      r.issue(
        setting,
        'must be a Storage connection string (AccountName=…;AccountKey=…, a SAS with endpoints, or ' +
          'UseDevelopmentStorage=true)',
      );
      return undefined;
    }
    return { kind: 'connectionString', setting, connectionString: secret(connectionString) };
  }
  if (identity === null) {
    return r.has(setting) ? undefined : null;
  }
  return identity && requireServices(r, identity, needs, `${setting} is identity-based, so`) ? identity : undefined;
}

/**
 * Reads `setting__accountName`, `setting__{blob,queue,table}ServiceUri` (and the legacy `setting__serviceUri` for
 * blob) and `setting__clientId`.
 * @returns the identity-based connection, `null` when none of these is set, undefined when one is invalid
 */
function readStorageIdentity(
  r: Reader,
  setting: string,
  needs: readonly StorageService[],
): Extract<StorageConnection, { kind: 'identity' }> | null | undefined {
  let valid = true;
  let present = false;
  const uris: Partial<Record<StorageService, string>> = {};
  for (const service of ['blob', 'queue', 'table'] as const) {
    const name = `${setting}__${service}ServiceUri`;
    const uri = r.optional(name) ?? (service === 'blob' ? r.optional(`${setting}__serviceUri`) : undefined);
    present ||= uri !== undefined;
    if (uri !== undefined && !isHttpUrl(uri)) {
      r.issue(name, `must be an absolute https URL, e.g. https://<account>.${service}.core.windows.net`);
      valid = false;
    } else if (uri !== undefined) {
      uris[service] = uri.replace(/\/+$/, '');
    }
  }
  const accountName = r.optional(`${setting}__accountName`);
  if (accountName !== undefined) {
    present = true;
    if (!/^[a-z0-9]{3,24}$/.test(accountName)) {
      r.issue(`${setting}__accountName`, 'must be a Storage account name (3-24 lowercase letters and digits)');
      valid = false;
    }
    for (const service of ['blob', 'queue', 'table'] as const) {
      uris[service] ??= `https://${accountName}.${service}.core.windows.net`;
    }
  }
  // Dead letters need Table and Blob; derive the blob endpoint of the same account when only the table one is given.
  if (uris.table !== undefined && uris.blob === undefined && needs.includes('blob')) {
    const derived = uris.table.replace(/^(https?:\/\/[^./]+)\.table\./i, '$1.blob.');
    uris.blob = derived === uris.table ? undefined : derived;
  }
  const clientId = r.optional(`${setting}__clientId`);
  if (clientId !== undefined && !GUID.test(clientId)) {
    r.issue(`${setting}__clientId`, 'must be a client id (a GUID)');
    valid = false;
  }
  if (!present) {
    return valid ? null : undefined;
  }
  if (!valid) {
    return undefined;
  }
  return {
    kind: 'identity',
    setting,
    ...(uris.blob === undefined ? {} : { blobServiceUri: uris.blob }),
    ...(uris.queue === undefined ? {} : { queueServiceUri: uris.queue }),
    ...(uris.table === undefined ? {} : { tableServiceUri: uris.table }),
    ...(clientId === undefined ? {} : { clientId }),
  };
}

/** Checks an identity-based connection has an endpoint for each needed service; reports the missing ones. */
function requireServices(
  r: Reader,
  connection: StorageConnection,
  needs: readonly StorageService[],
  context: string,
): boolean {
  if (connection.kind === 'connectionString') {
    return true;
  }
  let ok = true;
  for (const service of needs) {
    if (connection[`${service}ServiceUri`] === undefined) {
      r.issue(
        `${connection.setting}__${service}ServiceUri`,
        `is required: ${context} it needs the ${service} endpoint (or set ${connection.setting}__accountName)`,
      );
      ok = false;
    }
  }
  return ok;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) {
      deepFreeze(v);
    }
    Object.freeze(value);
  }
  return value;
}
