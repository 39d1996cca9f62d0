import { isStorageNotFound, toStorageError } from '../../../src/adapters/storage/storage-errors';
import { ErrorCode, PipelineError } from '../../../src/pipeline/errors';

describe('toStorageError', () => {
  it.each<[string, unknown, string, boolean]>([
    [
      'connection refused',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      'STORAGE_UNAVAILABLE',
      true,
    ],
    ['an abort (deadline)', Object.assign(new Error('aborted'), { name: 'AbortError' }), 'STORAGE_UNAVAILABLE', true],
    ['HTTP 408', { statusCode: 408 }, 'STORAGE_UNAVAILABLE', true],
    ['HTTP 429', { statusCode: 429 }, 'STORAGE_UNAVAILABLE', true],
    ['HTTP 503', { statusCode: 503, code: 'ServerBusy' }, 'STORAGE_UNAVAILABLE', true],
    ['HTTP 403', { statusCode: 403, code: 'AuthorizationPermissionMismatch' }, 'CONFIGURATION_INVALID', false],
    ['HTTP 400', { statusCode: 400, code: 'EntityTooLarge' }, 'INTERNAL', false],
  ])('%s', (_name, error, code, retryable) => {
    const translated = toStorageError(error, 'dead-letter put');
    expect(translated).toBeInstanceOf(PipelineError);
    expect(translated).toMatchObject({ code, retryable, cause: error });
    expect(translated.message).toMatch(/^Storage dead-letter put failed/);
  });

  it('names status and service code but never the SDK message (which may quote a SAS URL)', () => {
    const error = Object.assign(new Error('GET https://a.blob.core.windows.net/c?sig=SECRET failed'), {
      statusCode: 500,
      code: 'InternalError',
    });
    const translated = toStorageError(error, 'mapping read');
    expect(translated.message).toBe('Storage mapping read failed with HTTP 500 (InternalError)');
    expect(translated.details).toEqual({ operation: 'mapping read', status: 500, storageCode: 'InternalError' });
  });

  it('passes a PipelineError through', () => {
    const error = new PipelineError(ErrorCode.Internal, 'bug');
    expect(toStorageError(error, 'x')).toBe(error);
  });
});

describe('isStorageNotFound', () => {
  it.each([
    [{ statusCode: 404 }, true],
    [{ statusCode: 409 }, false],
    [new Error('x'), false],
    [undefined, false],
  ])('%j → %s', (error, expected) => {
    expect(isStorageNotFound(error)).toBe(expected);
  });
});
