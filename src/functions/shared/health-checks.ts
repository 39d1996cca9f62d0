/**
 * The app's health checks, like MedTech's: can it work right now? Each check runs with its own deadline and they
 * run concurrently.
 *
 * - `deviceMapping`, `fhirMapping`: a valid version is loaded (Degraded when the newest version was rejected and an
 *   older valid one is still in use).
 * - `fhirService`: reachable (`GET [base]/metadata` answers with a CapabilityStatement) and authorized (a token is
 *   issued and a search with it is accepted; 401/403 name the likely cause).
 * - `deadLetterStore`: the table answers.
 *
 * Reports hold statuses, codes, mapping versions and HTTP statuses — never a secret, a token or device data.
 */
import { ErrorCode, type MappingIssue, PipelineError, toPipelineError } from '../../pipeline';
import type { MappingCache } from '../../adapters/mappings/mapping-source';
import type { Composition } from './composition';

/** The status of a check or of the whole app. */
export type HealthStatus = 'Healthy' | 'Degraded' | 'Unhealthy';

/** The outcome of one check. */
export interface HealthCheckResult {
  readonly status: HealthStatus;
  readonly description: string;
  readonly durationMs: number;
  /** An error code when the check failed. */
  readonly code?: string;
  /** Non-sensitive facts: versions, HTTP statuses, counts. */
  readonly data?: Readonly<Record<string, string | number | boolean>>;
}

/** The outcome of all checks. */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly checks: Readonly<Record<string, HealthCheckResult>>;
}

/** Options of {@link runHealthChecks}. */
export interface HealthCheckOptions {
  /** Deadline of each check. Default 10 s. */
  readonly timeoutMs?: number;
}

type CheckOutcome = Omit<HealthCheckResult, 'durationMs'>;

/**
 * Runs every check.
 * @param c - the composition
 * @param options - per-check deadline
 */
export async function runHealthChecks(c: Composition, options: HealthCheckOptions = {}): Promise<HealthReport> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const checks: Record<string, (signal: AbortSignal) => Promise<CheckOutcome>> = {
    deviceMapping: () => checkMapping(c.deviceMappings),
    fhirMapping: () => checkMapping(c.fhirMappings),
    fhirService: (signal) => checkFhirService(c, signal),
    deadLetterStore: async () => {
      await c.deadLetters.ping();
      return { status: 'Healthy', description: 'The dead-letter store is reachable.' };
    },
  };
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => [name, await timed(check, timeoutMs)] as const),
  );
  const results = Object.fromEntries(entries);
  const statuses = entries.map(([, r]) => r.status);
  const status: HealthStatus = statuses.includes('Unhealthy')
    ? 'Unhealthy'
    : statuses.includes('Degraded')
      ? 'Degraded'
      : 'Healthy';
  return { status, checks: results };
}

async function timed(
  check: (signal: AbortSignal) => Promise<CheckOutcome>,
  timeoutMs: number,
): Promise<HealthCheckResult> {
  const started = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  let outcome: CheckOutcome;
  try {
    outcome = await Promise.race([
      check(signal),
      new Promise<never>((_, reject) => {
        signal.addEventListener('abort', () => {
          reject(new Error(`no answer within ${timeoutMs} ms`));
        });
      }),
    ]);
  } catch (error) {
    const e = toPipelineError(error);
    outcome = { status: 'Unhealthy', description: e.message, code: e.code };
  }
  return { ...outcome, durationMs: Math.round(performance.now() - started) };
}

async function checkMapping<T>(cache: MappingCache<T, MappingIssue>): Promise<CheckOutcome> {
  const current = await cache.get();
  const rejected = cache.rejected;
  if (rejected !== undefined) {
    return {
      status: 'Degraded',
      description: `The newest version is invalid (${rejected.issues.length} issue(s)); the last valid version is in use.`,
      code: rejected.issues[0]?.code ?? ErrorCode.TemplateInvalid,
      data: { version: current.version, rejectedVersion: rejected.version, issues: rejected.issues.length },
    };
  }
  return { status: 'Healthy', description: 'A valid version is loaded.', data: { version: current.version } };
}

async function checkFhirService(c: Composition, signal: AbortSignal): Promise<CheckOutcome> {
  let token: string | undefined;
  try {
    token = await c.fhirTokens.getToken();
  } catch (error) {
    return {
      status: 'Unhealthy',
      description: 'No access token for the FHIR service could be obtained; check FhirAuthMode and the identity.',
      code: ErrorCode.FhirUnauthorized,
      data: { reason: toPipelineError(error).code },
    };
  }
  const headers: Record<string, string> = { accept: 'application/fhir+json' };
  if (token !== undefined) {
    headers.authorization = `Bearer ${token}`;
  }
  const base = c.settings.fhirServerUrl;
  const metadata = await probe(`${base}/metadata`, headers, signal);
  const capability = (await metadata.json().catch(() => undefined)) as { resourceType?: unknown } | undefined;
  if (!metadata.ok || capability?.resourceType !== 'CapabilityStatement') {
    return {
      status: 'Unhealthy',
      description: 'The FHIR service did not return its CapabilityStatement; check FhirServerUrl.',
      code: ErrorCode.FhirRequestFailed,
      data: { metadataStatus: metadata.status },
    };
  }
  // metadata is often anonymous: a search proves the token is accepted and the identity may read data.
  const search = await probe(`${base}/Device?_count=1&_elements=id`, headers, signal);
  await search.body?.cancel();
  if (search.status === 401 || search.status === 403) {
    return {
      status: 'Unhealthy',
      description:
        search.status === 401
          ? 'The FHIR service rejected the access token; check FhirAuthMode and the token audience.'
          : 'The identity may not read from the FHIR service; grant it the FHIR Data Writer role.',
      code: search.status === 401 ? ErrorCode.FhirUnauthorized : ErrorCode.FhirForbidden,
      data: { metadataStatus: metadata.status, searchStatus: search.status },
    };
  }
  if (!search.ok) {
    return {
      status: 'Unhealthy',
      description: 'The FHIR service failed a search.',
      code: ErrorCode.FhirRequestFailed,
      data: { metadataStatus: metadata.status, searchStatus: search.status },
    };
  }
  return {
    status: 'Healthy',
    description: 'The FHIR service is reachable and accepts the credentials.',
    data: { metadataStatus: metadata.status, searchStatus: search.status, authenticated: token !== undefined },
  };
}

/** A GET whose transport failure (refused, reset, DNS) reads as the service being unavailable. */
async function probe(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { headers, signal });
  } catch (error) {
    throw new PipelineError(ErrorCode.FhirUnavailable, 'The FHIR service could not be reached; check FhirServerUrl.', {
      cause: error,
    });
  }
}
