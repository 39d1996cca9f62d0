/**
 * `iomt verify`: lists the newest Observation per device and measurement type in a FHIR service — step 6 of the MedTech
 * quickstart (verify) from a terminal. It searches `Observation?_sort=-_lastUpdated` (optionally for the Devices with
 * one identifier), follows `next` links up to a limit, and keeps the first (newest) Observation of each device and type.
 *
 * It is a user tool over the user's own data: unlike logs and metrics, its output shows device identifiers and values.
 */
import { parseArgs } from 'node:util';
import type { Bundle, Device, ExtractResource, Observation, ResourceType } from '@medplum/fhirtypes';

import { SERVICE_SYSTEM } from '../../../pipeline';
import type { FhirAuth } from '../../../adapters/fhir/auth';
import { createTokenProvider, type TokenProvider } from '../../../adapters/fhir/auth';
import type { CliIo, Command } from '../io';
import { UsageError } from '../io';

/** One row: the newest Observation of a device and type. */
export interface VerifyRow {
  /** `Device/<id>`, or `(none)` when the Observation has no device. */
  readonly device: string;
  /** The Device's first identifier value, when the Device could be read. */
  readonly deviceIdentifier?: string;
  /** The measurement type: the code under the service system (MedTech's `typeName`), else the code text. */
  readonly type: string;
  readonly observationId: string;
  readonly lastUpdated?: string;
  readonly effectiveStart?: string;
  readonly effectiveEnd?: string;
  readonly status: string;
  /** The value, readable: `72 count/min`, `SampledData: 12 values (3 empty)`, `systolic=120 mmHg, …`. */
  readonly value: string;
  /** Observations of this device and type among those scanned. */
  readonly observations: number;
}

/** The result of one verification. */
export interface VerifyResult {
  readonly fhirUrl: string;
  /** Observations read. */
  readonly scanned: number;
  /** True when the scan stopped at `--max` before the last page. */
  readonly truncated: boolean;
  readonly rows: readonly VerifyRow[];
}

/** What `iomt verify` needs from the outside world (tests inject a clock and sleep). */
export interface VerifyDependencies {
  /** HTTP. Default: global `fetch`. */
  readonly fetch: typeof fetch;
  /** Epoch ms. */
  readonly now: () => number;
  /**
   * Waits between polls of `--wait`.
   * @param ms - milliseconds
   */
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * The token provider for an authentication mode (tests may inject credentials).
   * @param auth - the mode
   * @param fhirUrl - the FHIR base URL
   */
  readonly tokenProvider: (auth: FhirAuth, fhirUrl: string) => TokenProvider;
}

const AUTH_MODES = ['default', 'managed-identity', 'bearer', 'none'] as const;
type AuthOption = (typeof AUTH_MODES)[number];

const USAGE = `usage: iomt verify --fhir-url <url> [--device <identifier>] [--auth default|managed-identity|bearer|none]
                   [--token <token>] [--max <n>] [--wait <seconds>] [--json]

Lists the newest Observation per device and measurement type, newest first.

  --fhir-url <url>      FHIR base URL, e.g. https://<workspace>-<fhir>.fhir.azurehealthcareapis.com
  --device <id>         only the Devices with this identifier ([system|]value)
  --auth <mode>         default: DefaultAzureCredential (az login, environment, managed identity); managed-identity;
                        bearer (--token or IOMT_FHIR_TOKEN); none. Default: none for http://localhost and
                        127.0.0.1, default otherwise. Azure needs the FHIR Data Reader role (or Writer/Contributor).
  --max <n>             Observations to scan at most, newest first (default 1000)
  --wait <seconds>      poll every 5 s until Observations appear or the time is up (default 0: look once)
  --json                print the rows as JSON

Exit code 0 when Observations were found, 1 when none were.`;

const DEFAULT_MAX = 1000;
const PAGE_SIZE = 200;
const POLL_INTERVAL_MS = 5000;
const REQUEST_TIMEOUT_MS = 30_000;
const DEVICE_READ_CONCURRENCY = 8;
/** Devices read for display at most; others show only their reference. */
const MAX_DEVICE_READS = 200;

interface VerifyArgs {
  readonly fhirUrl: string;
  readonly device?: string;
  readonly auth: FhirAuth;
  readonly max: number;
  readonly waitMs: number;
  readonly json: boolean;
}

function parseVerifyArgs(args: string[], env: NodeJS.ProcessEnv): VerifyArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'fhir-url': { type: 'string' },
        device: { type: 'string' },
        auth: { type: 'string' },
        token: { type: 'string' },
        max: { type: 'string' },
        wait: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const raw = values['fhir-url'];
  if (raw === undefined) {
    throw new UsageError('--fhir-url is required');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError('--fhir-url must be an absolute http(s) URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '') {
    throw new UsageError('--fhir-url must be an http(s) base URL without a query');
  }
  const fhirUrl = url.href.replace(/\/+$/, '');
  const authOption = values.auth ?? (isLoopback(url) ? 'none' : 'default');
  if (!(AUTH_MODES as readonly string[]).includes(authOption)) {
    throw new UsageError(`--auth must be one of ${AUTH_MODES.join(', ')}`);
  }
  const token = values.token ?? env.IOMT_FHIR_TOKEN;
  const auth = toFhirAuth(authOption as AuthOption, token);
  if (values.token !== undefined && authOption !== 'bearer') {
    throw new UsageError('--token is only used with --auth bearer');
  }
  const device = values.device?.trim();
  if (device === '') {
    throw new UsageError('--device needs an identifier');
  }
  return {
    fhirUrl,
    ...(device === undefined ? {} : { device }),
    auth,
    max: wholeNumber(values.max, '--max', 1, 100_000, DEFAULT_MAX),
    waitMs: wholeNumber(values.wait, '--wait', 0, 3600, 0) * 1000,
    json: values.json,
  };
}

function toFhirAuth(option: AuthOption, token: string | undefined): FhirAuth {
  switch (option) {
    case 'none':
      return { mode: 'none' };
    case 'default':
      return { mode: 'default' };
    case 'managed-identity':
      return { mode: 'managedIdentity' };
    case 'bearer':
      if (token === undefined || token.trim() === '') {
        throw new UsageError('--auth bearer needs --token <token> (or IOMT_FHIR_TOKEN)');
      }
      return { mode: 'bearer', token: token.trim() };
  }
}

function wholeNumber(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  const n = /^\d{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

function isLoopback(url: URL): boolean {
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/** A failed FHIR request: the status and the OperationOutcome's first issue code, never resource content. */
class FhirRequestError extends Error {
  override readonly name = 'FhirRequestError';
}

/** GETs FHIR JSON with the token; follows nothing; one timeout per request. */
class FhirReader {
  readonly #base: URL;
  readonly #tokens: TokenProvider;
  readonly #fetch: typeof fetch;

  constructor(fhirUrl: string, tokens: TokenProvider, fetchImpl: typeof fetch) {
    this.#base = new URL(`${fhirUrl}/`);
    this.#tokens = tokens;
    this.#fetch = fetchImpl;
  }

  /** The absolute URL of a relative FHIR path (`Observation?…`). */
  resolve(path: string): URL {
    return new URL(path, this.#base);
  }

  /** True when a server-provided link stays on the FHIR service, so the token is never sent elsewhere. */
  isOwn(url: URL): boolean {
    return url.origin === this.#base.origin && url.pathname.startsWith(this.#base.pathname.replace(/\/$/, ''));
  }

  async get<T extends Bundle | Device>(url: URL): Promise<T> {
    const token = await this.#tokens.getToken();
    let response: Response;
    try {
      response = await this.#fetch(url, {
        headers: {
          accept: 'application/fhir+json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new FhirRequestError(`GET ${url.pathname} failed: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      throw new FhirRequestError(
        `GET ${url.pathname} returned ${response.status}${outcomeCode(text)}${hint(response)}`,
      );
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new FhirRequestError(`GET ${url.pathname} returned a body that is not JSON`);
    }
  }
}

function outcomeCode(text: string): string {
  try {
    const body = JSON.parse(text) as { resourceType?: string; issue?: { code?: string }[] };
    const code = body.resourceType === 'OperationOutcome' ? body.issue?.[0]?.code : undefined;
    return code === undefined ? '' : ` (${code})`;
  } catch {
    return '';
  }
}

function hint(response: Response): string {
  if (response.status === 401) {
    return ': not authenticated — check --auth (az login for default)';
  }
  if (response.status === 403) {
    return ': not authorized — assign FHIR Data Reader on the FHIR service to this identity';
  }
  return '';
}

/**
 * Reads the newest Observations and keeps the newest per device and type.
 * @param reader - the FHIR reader
 * @param options - device filter and scan limit
 */
async function collect(
  reader: FhirReader,
  options: Pick<VerifyArgs, 'device' | 'max' | 'fhirUrl'>,
): Promise<VerifyResult> {
  const known = new Map<string, string>();
  let deviceFilter = '';
  if (options.device !== undefined) {
    const devices = await readAll(reader, 'Device', `identifier=${encodeURIComponent(options.device)}`, 1000);
    if (devices.resources.length === 0) {
      return { fhirUrl: options.fhirUrl, scanned: 0, truncated: false, rows: [] };
    }
    for (const device of devices.resources) {
      known.set(`Device/${device.id ?? ''}`, firstIdentifier(device) ?? options.device);
    }
    deviceFilter = `&device=${[...known.keys()].map(encodeURIComponent).join(',')}`;
  }
  const query = `_sort=-_lastUpdated&_count=${Math.min(PAGE_SIZE, options.max)}${deviceFilter}`;
  const { resources, truncated } = await readAll(reader, 'Observation', query, options.max);
  const rows = new Map<string, { row: Omit<VerifyRow, 'observations' | 'deviceIdentifier'>; count: number }>();
  for (const observation of resources) {
    const device = observation.device?.reference ?? '(none)';
    const type = measurementType(observation);
    const key = `${device}\u0000${type}`;
    const existing = rows.get(key);
    if (existing !== undefined) {
      existing.count++;
      continue;
    }
    rows.set(key, { row: toRow(observation, device, type), count: 1 });
  }
  await readDeviceIdentifiers(
    reader,
    [...new Set([...rows.values()].map((r) => r.row.device))].filter((d) => d.startsWith('Device/') && !known.has(d)),
    known,
  );
  return {
    fhirUrl: options.fhirUrl,
    scanned: resources.length,
    truncated,
    rows: [...rows.values()].map(({ row, count }) => {
      const deviceIdentifier = known.get(row.device);
      return { ...row, ...(deviceIdentifier === undefined ? {} : { deviceIdentifier }), observations: count };
    }),
  };
}

/** Pages through a search, up to `max` resources of the searched type (included resources are skipped). */
async function readAll<K extends ResourceType>(
  reader: FhirReader,
  resourceType: K,
  query: string,
  max: number,
): Promise<{ resources: ExtractResource<K>[]; truncated: boolean }> {
  const resources: ExtractResource<K>[] = [];
  let url: URL | undefined = reader.resolve(`${resourceType}?${query}`);
  while (url !== undefined) {
    const bundle: Bundle = await reader.get<Bundle>(url);
    for (const entry of bundle.entry ?? []) {
      if (entry.resource?.resourceType === resourceType && entry.search?.mode !== 'include') {
        if (resources.length === max) {
          return { resources, truncated: true };
        }
        resources.push(entry.resource as ExtractResource<K>);
      }
    }
    const next = bundle.link?.find((l) => l.relation === 'next')?.url;
    url = next === undefined ? undefined : new URL(next, url);
    if (url !== undefined && !reader.isOwn(url)) {
      throw new FhirRequestError('the server returned a next link outside the FHIR service; stopping');
    }
    if (url !== undefined && resources.length === max) {
      return { resources, truncated: true };
    }
  }
  return { resources, truncated: false };
}

async function readDeviceIdentifiers(
  reader: FhirReader,
  references: readonly string[],
  into: Map<string, string>,
): Promise<void> {
  const queue = references.slice(0, MAX_DEVICE_READS);
  const worker = async (): Promise<void> => {
    for (let ref = queue.shift(); ref !== undefined; ref = queue.shift()) {
      try {
        const identifier = firstIdentifier(await reader.get<Device>(reader.resolve(ref)));
        if (identifier !== undefined) {
          into.set(ref, identifier);
        }
      } catch {
        // A Device that cannot be read (deleted, no rights) is shown by reference only.
      }
    }
  };
  await Promise.all(Array.from({ length: DEVICE_READ_CONCURRENCY }, worker));
}

function firstIdentifier(device: Device): string | undefined {
  return device.identifier?.find((i) => i.value !== undefined)?.value;
}

/** MedTech codes every Observation with `{system: SERVICE_SYSTEM, code: typeName}` (§9.6). */
function measurementType(observation: Observation): string {
  return (
    observation.code.coding?.find((c) => c.system === SERVICE_SYSTEM)?.code ??
    observation.code.text ??
    observation.code.coding?.[0]?.code ??
    '(no code)'
  );
}

function toRow(
  observation: Observation,
  device: string,
  type: string,
): Omit<VerifyRow, 'observations' | 'deviceIdentifier'> {
  const start = observation.effectivePeriod?.start ?? observation.effectiveDateTime;
  const end = observation.effectivePeriod?.end;
  return {
    device,
    type,
    observationId: observation.id ?? '',
    ...(observation.meta?.lastUpdated === undefined ? {} : { lastUpdated: observation.meta.lastUpdated }),
    ...(start === undefined ? {} : { effectiveStart: start }),
    ...(end === undefined ? {} : { effectiveEnd: end }),
    status: observation.status,
    value: describeValue(observation),
  };
}

type ValueHolder = Pick<
  Observation,
  'valueQuantity' | 'valueSampledData' | 'valueString' | 'valueCodeableConcept' | 'valueBoolean' | 'valueInteger'
>;

function describeValue(observation: Observation): string {
  const main = describeValueX(observation);
  const components = (observation.component ?? [])
    .map((c) => `${c.code.text ?? c.code.coding?.[0]?.code ?? '?'}=${describeValueX(c) ?? '-'}`)
    .join(', ');
  return [main, components].filter((s) => s !== undefined && s !== '').join('; ') || '-';
}

function describeValueX(holder: ValueHolder): string | undefined {
  if (holder.valueQuantity !== undefined) {
    const { value, unit, code } = holder.valueQuantity;
    return [value, unit ?? code].filter((s) => s !== undefined).join(' ');
  }
  if (holder.valueSampledData !== undefined) {
    const tokens = (holder.valueSampledData.data ?? '').split(' ').filter((t) => t !== '');
    const empty = tokens.filter((t) => t === 'E').length;
    return `SampledData: ${tokens.length} values (${empty} empty), period ${holder.valueSampledData.period} ms`;
  }
  if (holder.valueString !== undefined) {
    return JSON.stringify(holder.valueString);
  }
  if (holder.valueCodeableConcept !== undefined) {
    return holder.valueCodeableConcept.text ?? holder.valueCodeableConcept.coding?.[0]?.code ?? '(concept)';
  }
  if (holder.valueBoolean !== undefined || holder.valueInteger !== undefined) {
    return String(holder.valueBoolean ?? holder.valueInteger);
  }
  return undefined;
}

const COLUMNS: readonly { readonly title: string; readonly cell: (r: VerifyRow) => string; readonly max: number }[] = [
  { title: 'DEVICE', cell: (r) => r.deviceIdentifier ?? r.device, max: 40 },
  { title: 'TYPE', cell: (r) => r.type, max: 30 },
  { title: 'LAST UPDATED', cell: (r) => r.lastUpdated ?? '-', max: 30 },
  { title: 'EFFECTIVE', cell: (r) => effective(r), max: 60 },
  { title: 'STATUS', cell: (r) => r.status, max: 12 },
  { title: 'OBS', cell: (r) => String(r.observations), max: 6 },
  { title: 'VALUE', cell: (r) => r.value, max: 80 },
];

function effective(row: VerifyRow): string {
  if (row.effectiveStart === undefined) {
    return '-';
  }
  return row.effectiveEnd === undefined || row.effectiveEnd === row.effectiveStart
    ? row.effectiveStart
    : `${row.effectiveStart} .. ${row.effectiveEnd}`;
}

/**
 * Renders rows as an aligned text table.
 * @param rows - the rows
 */
export function formatVerifyTable(rows: readonly VerifyRow[]): string {
  const cells = rows.map((r) => COLUMNS.map((c) => clip(c.cell(r), c.max)));
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (values: readonly string[]): string =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS.map((c) => c.title)), ...cells.map(line)].join('\n');
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Builds `iomt verify` over the given dependencies.
 * @param deps - HTTP, clock, sleep and token providers
 * @param env - the environment (for `IOMT_FHIR_TOKEN`)
 */
export function createVerifyCommand(deps: VerifyDependencies, env: NodeJS.ProcessEnv = process.env): Command {
  return {
    summary: 'list the newest Observation per device and type in a FHIR service',
    usage: USAGE,
    async run(args: string[], io: CliIo): Promise<number> {
      const options = parseVerifyArgs(args, env);
      const reader = new FhirReader(options.fhirUrl, deps.tokenProvider(options.auth, options.fhirUrl), deps.fetch);
      const deadline = deps.now() + options.waitMs;
      let result: VerifyResult;
      try {
        for (;;) {
          result = await collect(reader, options);
          if (result.rows.length > 0 || deps.now() >= deadline) {
            break;
          }
          await deps.sleep(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - deps.now())));
        }
      } catch (error) {
        io.err(`iomt verify: ${(error as Error).message}\n`);
        return 1;
      }
      if (options.json) {
        io.out(`${JSON.stringify(result, null, 2)}\n`);
      } else if (result.rows.length === 0) {
        const scope = options.device === undefined ? '' : ` for devices with identifier ${options.device}`;
        io.out(`No Observations found${scope} at ${options.fhirUrl}.\n`);
      } else {
        io.out(`${formatVerifyTable(result.rows)}\n\n`);
        io.out(
          `${result.rows.length} device/type ${result.rows.length === 1 ? 'pair' : 'pairs'} from ` +
            `${result.scanned} Observations${result.truncated ? ` (the newest ${result.scanned}; raise --max for more)` : ''}.\n`,
        );
      }
      return result.rows.length > 0 ? 0 : 1;
    },
  };
}

/** The real dependencies: global fetch, the system clock, `@azure/identity` credentials. */
export const defaultVerifyDependencies: VerifyDependencies = {
  fetch: (input, init) => fetch(input, init),
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  tokenProvider: (auth, fhirUrl) => createTokenProvider(auth, fhirUrl),
};

/** `iomt verify` with real HTTP and credentials. */
export const verifyCommand: Command = createVerifyCommand(defaultVerifyDependencies);
