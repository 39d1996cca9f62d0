import { ErrorCode, PipelineError } from '../../pipeline';

/**
 * Translates an Azure Storage SDK failure into a {@link PipelineError}. Network failures, timeouts, throttling and
 * 5xx become retryable `STORAGE_UNAVAILABLE`; 401/403 are configuration problems (`CONFIGURATION_INVALID`); other
 * 4xx mean the request itself was wrong (`INTERNAL`). The message names the operation, the HTTP status and the
 * service's error code — never the SDK's message, which can quote URLs carrying SAS tokens.
 * @param error - what the SDK threw
 * @param operation - what was attempted, e.g. `dead-letter put`
 */
export function toStorageError(error: unknown, operation: string): PipelineError {
  if (error instanceof PipelineError) {
    return error;
  }
  const record = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : {};
  const status = typeof record.statusCode === 'number' ? record.statusCode : undefined;
  const code = typeof record.code === 'string' ? record.code : undefined;
  const what = `Storage ${operation} failed${status === undefined ? '' : ` with HTTP ${status}`}${code === undefined ? '' : ` (${code})`}`;
  const details = {
    operation,
    ...(status === undefined ? {} : { status }),
    ...(code === undefined ? {} : { storageCode: code }),
  };
  if (status === undefined || status === 408 || status === 429 || status >= 500) {
    return new PipelineError(ErrorCode.StorageUnavailable, what, { cause: error, details });
  }
  if (status === 401 || status === 403) {
    return new PipelineError(ErrorCode.ConfigurationInvalid, `${what}: check the connection's credentials and roles`, {
      cause: error,
      details,
    });
  }
  return new PipelineError(ErrorCode.Internal, what, { cause: error, details });
}

/**
 * True when a Storage SDK error is an HTTP 404 (entity, blob, table or container not found).
 * @param error - what the SDK threw
 */
export function isStorageNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { statusCode?: unknown }).statusCode === 404;
}
