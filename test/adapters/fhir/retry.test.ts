import { ErrorCode, PipelineError } from '../../../src/pipeline/errors';
import type { AttemptResult, RetryEnvironment, RetryPolicy } from '../../../src/adapters/fhir/retry';
import {
  backoffDelay,
  defaultRetryPolicy,
  isRetryableStatus,
  isTransientError,
  retryAfterMs,
  runWithRetry,
  transportError,
} from '../../../src/adapters/fhir/retry';

const policy: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  maxRetryAfterMs: 5000,
  totalBudgetMs: 60_000,
};

/** A clock that only moves when the code sleeps. */
function fakeEnvironment(random = 0.5): RetryEnvironment & { sleeps: number[] } {
  let now = 1_700_000_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
    random: () => random,
    now: () => now,
  };
}

const again = <T>(value: T, retryAfter?: number): AttemptResult<T> =>
  retryAfter === undefined ? { retry: true, value } : { retry: true, value, retryAfterMs: retryAfter };
const done = <T>(value: T): AttemptResult<T> => ({ retry: false, value });
const reset = (): PipelineError => transportError(Object.assign(new Error('read'), { code: 'ECONNRESET' }), 'GET');

describe('backoffDelay: full jitter under an exponential ceiling', () => {
  test.each([
    [1, 0.999, 99],
    [2, 0.999, 199],
    [3, 0.5, 200],
    [4, 0.999, 799],
    [5, 0.999, 999],
    [10, 0.999, 999],
    [3, 0, 0],
  ])('attempt %i with random %d waits %i ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, policy, () => random)).toBe(expected);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  test.each<[Record<string, string>, number | undefined]>([
    [{ 'retry-after': '2' }, 2000],
    [{ 'retry-after': ' 0 ' }, 0],
    [{ 'retry-after': 'Wed, 21 Oct 2015 07:28:03 GMT' }, 3000],
    [{ 'retry-after': 'Wed, 21 Oct 2015 07:27:00 GMT' }, 0],
    [{ 'retry-after': 'soon' }, undefined],
    [{ 'x-ms-retry-after-ms': '750', 'retry-after': '1' }, 750],
    [{}, undefined],
  ])('%j → %s', (headers, expected) => {
    expect(retryAfterMs(new Headers(headers), now)).toBe(expected);
  });
});

test('retryable statuses are 408, 429, 500, 502, 503 and 504 only', () => {
  const statuses = [200, 400, 401, 403, 404, 408, 409, 412, 422, 429, 500, 501, 502, 503, 504, 505];
  expect(statuses.filter(isRetryableStatus)).toEqual([408, 429, 500, 502, 503, 504]);
});

describe('runWithRetry', () => {
  test('returns the first final result without waiting', async () => {
    const env = fakeEnvironment();
    await expect(runWithRetry(() => Promise.resolve(done('ok')), policy, env)).resolves.toBe('ok');
    expect(env.sleeps).toEqual([]);
  });

  test('retries a retryable result with jittered exponential backoff', async () => {
    const env = fakeEnvironment(0.5);
    const seen: number[] = [];
    const value = await runWithRetry(
      (n) => {
        seen.push(n);
        return Promise.resolve(n < 4 ? again('503') : done('200'));
      },
      policy,
      env,
    );
    expect(value).toBe('200');
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(env.sleeps).toEqual([50, 100, 200]);
  });

  test('obeys the server-given wait, capped', async () => {
    const env = fakeEnvironment();
    let n = 0;
    await runWithRetry(
      () => Promise.resolve(++n === 1 ? again('429', 2000) : n === 2 ? again('429', 90_000) : done('ok')),
      policy,
      env,
    );
    expect(env.sleeps).toEqual([2000, 5000]);
  });

  test('gives up after maxAttempts and returns the last retryable result', async () => {
    const env = fakeEnvironment();
    let calls = 0;
    const value = await runWithRetry(() => Promise.resolve(again(`503#${++calls}`)), policy, env);
    expect(value).toBe('503#6');
    expect(env.sleeps).toHaveLength(5);
  });

  test('gives up when the next wait would overrun the time budget', async () => {
    const env = fakeEnvironment();
    let calls = 0;
    const value = await runWithRetry(
      () => Promise.resolve(again(`429#${++calls}`, 4000)),
      { ...policy, totalBudgetMs: 10_000 },
      env,
    );
    expect(value).toBe('429#3');
    expect(env.sleeps).toEqual([4000, 4000]);
  });

  test('retries transient errors and rethrows the last one when attempts run out', async () => {
    const env = fakeEnvironment();
    let calls = 0;
    const attempt = (): Promise<AttemptResult<string>> => {
      calls++;
      return Promise.reject(reset());
    };
    await expect(runWithRetry(attempt, { ...policy, maxAttempts: 3 }, env)).rejects.toMatchObject({
      code: ErrorCode.FhirUnavailable,
      retryable: true,
    });
    expect(calls).toBe(3);
  });

  test('does not retry other errors', async () => {
    const env = fakeEnvironment();
    let calls = 0;
    const attempt = (): Promise<AttemptResult<string>> => {
      calls++;
      return Promise.reject(new PipelineError(ErrorCode.FhirConflict, 'conflict', { details: { status: 412 } }));
    };
    await expect(runWithRetry(attempt, policy, env)).rejects.toMatchObject({ code: ErrorCode.FhirConflict });
    expect(calls).toBe(1);
  });

  test('default policy: 6 attempts within a minute', () => {
    expect(defaultRetryPolicy).toMatchObject({ maxAttempts: 6, totalBudgetMs: 60_000 });
  });
});

describe('transportError classifies what fetch throws', () => {
  const fetchFailed = (code: string): Error =>
    new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
  const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');

  test.each<[string, unknown, string, boolean]>([
    ['the client timeout', timeout, ErrorCode.FhirTimeout, true],
    ['a reset connection', fetchFailed('ECONNRESET'), ErrorCode.FhirUnavailable, true],
    ['a refused connection', fetchFailed('ECONNREFUSED'), ErrorCode.FhirUnavailable, true],
    ['an undici socket error', fetchFailed('UND_ERR_SOCKET'), ErrorCode.FhirUnavailable, true],
    ['an unknown host', fetchFailed('ENOTFOUND'), ErrorCode.FhirRequestFailed, false],
    ['a TLS failure', fetchFailed('CERT_HAS_EXPIRED'), ErrorCode.FhirRequestFailed, false],
    ['anything else', new Error('boom'), ErrorCode.FhirRequestFailed, false],
  ])('%s', (_name, error, code, transient) => {
    const translated = transportError(error, 'PUT', 'Observation');
    expect(translated.code).toBe(code);
    expect(isTransientError(translated)).toBe(transient);
    expect(translated.cause).toBe(error);
    expect(translated.details).toMatchObject({ method: 'PUT', resourceType: 'Observation' });
  });

  test('an HTTP-status error is never transient here, even when retryable for the caller', () => {
    const error = new PipelineError(ErrorCode.FhirUnavailable, 'HTTP 503', { details: { status: 503 } });
    expect(isTransientError(error)).toBe(false);
  });
});
