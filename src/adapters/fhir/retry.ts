/**
 * Retrying FHIR requests: exponential backoff with full jitter, `Retry-After` honoured, a bounded number of attempts
 * and a total time budget.
 *
 * Retried: 408, 429, 500, 502, 503, 504, the client's own per-request timeout and connection failures (reset, refused,
 * socket closed). Everything else — including 409/412, which the caller resolves by re-reading and merging — fails at
 * once.
 *
 * Idempotency: the adapter only sends GET and PUT, and a batch Bundle holds only GET and PUT entries, so resending a
 * request — or a whole batch whose response never arrived — cannot duplicate data. Two visible effects remain when
 * the lost attempt had in fact been applied: a repeated create answers 200 instead of 201, and a repeated `If-Match`
 * PUT answers 412, which the caller resolves by re-reading (the merge then finds nothing to change).
 *
 * See: https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/ (full jitter) and
 * https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
 */
import { ErrorCode, PipelineError } from '../../pipeline';

/** How hard to try. */
export interface RetryPolicy {
  /** Attempts in total, the first included. */
  readonly maxAttempts: number;
  /** The backoff ceiling of the first retry; doubled per attempt. */
  readonly baseDelayMs: number;
  /** The largest backoff ceiling. */
  readonly maxDelayMs: number;
  /** The longest `Retry-After` obeyed; longer values are capped. */
  readonly maxRetryAfterMs: number;
  /** Time from the first attempt after which no retry starts (waits included). */
  readonly totalBudgetMs: number;
}

/** The default: 6 attempts within 60 s, backoff ceilings 0.25 s, 0.5 s, 1 s, 2 s, 4 s. */
export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  maxAttempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 30_000,
  totalBudgetMs: 60_000,
});

/** Time and randomness, injected so tests run without waiting. */
export interface RetryEnvironment {
  /** Waits `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
  /** A number in [0, 1). */
  random(): number;
  /** Epoch milliseconds (also used to read HTTP-date `Retry-After` values). */
  now(): number;
}

/** Real timers, `Math.random` and `Date.now`. */
export const systemRetryEnvironment: RetryEnvironment = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
  now: Date.now,
};

/** What one attempt produced: a final value, or a value worth retrying (kept if the budget runs out). */
export type AttemptResult<T> =
  | { readonly retry: false; readonly value: T }
  | { readonly retry: true; readonly value: T; readonly retryAfterMs?: number };

/**
 * Runs `attempt` until it gives a final result, throws an error that is not transient, or the attempts or time budget
 * run out. When they run out the last retryable value is returned (the caller turns a 503 into a retryable
 * `FHIR_UNAVAILABLE`), or the last transient error is rethrown.
 * @param attempt - one try; receives the 1-based attempt number
 * @param policy - limits
 * @param env - sleep, random and clock
 */
export async function runWithRetry<T>(
  attempt: (attemptNumber: number) => Promise<AttemptResult<T>>,
  policy: RetryPolicy,
  env: RetryEnvironment,
): Promise<T> {
  const started = env.now();
  for (let n = 1; ; n++) {
    let retryAfterMs: number | undefined;
    let giveUp: () => T;
    try {
      const result = await attempt(n);
      if (!result.retry) {
        return result.value;
      }
      retryAfterMs = result.retryAfterMs;
      giveUp = () => result.value;
    } catch (error) {
      if (!isTransientError(error)) {
        throw error;
      }
      giveUp = () => {
        throw error;
      };
    }
    if (n >= policy.maxAttempts) {
      return giveUp();
    }
    const delay =
      retryAfterMs === undefined
        ? backoffDelay(n, policy, () => env.random())
        : Math.min(retryAfterMs, policy.maxRetryAfterMs);
    // A wait that ends past the budget cannot lead to a useful attempt: fail now, while the caller can still act.
    if (env.now() - started + delay > policy.totalBudgetMs) {
      return giveUp();
    }
    await env.sleep(delay);
  }
}

/**
 * The full-jitter backoff before retry number `attempt`: uniform in [0, min(maxDelay, base × 2^(attempt−1))).
 * @param attempt - the attempt that just failed, 1-based
 * @param policy - base and cap
 * @param random - a number source in [0, 1)
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/**
 * True for the statuses worth another try.
 * @param status - an HTTP status
 */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/**
 * How long the server asks us to wait, in ms: `x-ms-retry-after-ms` (Azure Health Data Services' precise hint), then
 * `Retry-After` in delta-seconds or as an HTTP-date. `undefined` when absent or unreadable.
 * @param headers - the response headers
 * @param nowMs - the current time, epoch ms, for HTTP-date values
 */
export function retryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const precise = headers.get('x-ms-retry-after-ms');
  if (precise !== null && /^\s*\d+\s*$/.test(precise)) {
    return Number(precise);
  }
  const value = headers.get('retry-after');
  if (value === null) {
    return undefined;
  }
  if (/^\s*\d+\s*$/.test(value)) {
    return Number(value) * 1000;
  }
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Error codes of connection-level failures that a new connection may not meet (Node and undici names). */
const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Translates what `fetch` (or reading its body) threw into a {@link PipelineError}: the client's timeout →
 * `FHIR_TIMEOUT`, a transient connection failure → `FHIR_UNAVAILABLE` (both retryable), anything else →
 * `FHIR_REQUEST_FAILED` (not retryable). The message names the method, type and failure kind only.
 * @param error - what was thrown
 * @param method - the HTTP method or interaction
 * @param resourceType - the resource type, if any
 */
export function transportError(error: unknown, method: string, resourceType?: string): PipelineError {
  const target = resourceType === undefined ? '' : ` ${resourceType}`;
  const details: Record<string, unknown> = { method };
  if (resourceType !== undefined) {
    details.resourceType = resourceType;
  }
  if (isTimeout(error)) {
    return new PipelineError(ErrorCode.FhirTimeout, `FHIR ${method}${target} timed out`, {
      cause: error,
      details: { ...details, reason: 'timeout' },
    });
  }
  const code = networkErrorCode(error);
  if (code !== undefined && TRANSIENT_NETWORK_CODES.has(code)) {
    return new PipelineError(ErrorCode.FhirUnavailable, `FHIR ${method}${target} failed: connection error ${code}`, {
      cause: error,
      details: { ...details, reason: code },
    });
  }
  return new PipelineError(ErrorCode.FhirRequestFailed, `FHIR ${method}${target} failed before a response`, {
    cause: error,
    details: { ...details, reason: code ?? 'unknown' },
  });
}

/**
 * True for errors worth another attempt: transport errors from {@link transportError} that are timeouts or connection
 * failures. HTTP statuses are judged separately ({@link isRetryableStatus}); a 412 surfaced as `FHIR_CONFLICT` is
 * retryable for the caller but never retried here.
 * @param error - what an attempt threw
 */
export function isTransientError(error: unknown): boolean {
  return (
    error instanceof PipelineError &&
    (error.code === ErrorCode.FhirTimeout || error.code === ErrorCode.FhirUnavailable) &&
    error.details.status === undefined
  );
}

function isTimeout(error: unknown): boolean {
  return networkErrorCode(error) === 'ETIMEDOUT';
}

/**
 * The `code` of the error or of the first cause that has one (undici wraps socket errors in `TypeError.cause`);
 * `ETIMEDOUT` for the client's own timeout.
 */
function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { code, name, cause } = current as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof code === 'string') {
      return code;
    }
    // AbortSignal.timeout() aborts with a DOMException named TimeoutError (numeric legacy `code`). Checked by name:
    // DOMException may come from another realm (e.g. under jest), where `instanceof Error` is false.
    if (name === 'TimeoutError') {
      return 'ETIMEDOUT';
    }
    current = cause;
  }
  return undefined;
}
