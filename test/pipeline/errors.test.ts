import { ErrorCode, PipelineError, describeErrorCode, toPipelineError } from '../../src/pipeline/errors';

describe('PipelineError', () => {
  it('takes MedTech name, category, source and retryability from the catalogue', () => {
    const e = new PipelineError(
      ErrorCode.RequiredValueMissing,
      'Unable to extract required value for [DeviceIdExpression]',
    );
    expect(e).toBeInstanceOf(Error);
    expect(e.medtechErrorType).toBe('IncompatibleDataException');
    expect(e.category).toBe('DeviceMessageError');
    expect(e.source).toBe('device');
    expect(e.retryable).toBe(false);
  });

  it('marks throttling and unavailability of the FHIR service as retryable', () => {
    expect(describeErrorCode(ErrorCode.FhirThrottled).retryable).toBe(true);
    expect(describeErrorCode(ErrorCode.FhirUnavailable).retryable).toBe(true);
    expect(describeErrorCode(ErrorCode.DeviceNotFound).retryable).toBe(false);
  });

  it('lets a specific MedTech name override the catalogue', () => {
    const e = new PipelineError(ErrorCode.MultipleResourcesFound, 'more than one Device', {
      medtechErrorType: 'MultipleDeviceFoundException',
    });
    expect(e.toJSON()).toMatchObject({
      code: 'MULTIPLE_RESOURCES_FOUND',
      medtechErrorType: 'MultipleDeviceFoundException',
    });
  });
});

describe('toPipelineError', () => {
  it('returns a PipelineError unchanged', () => {
    const e = new PipelineError(ErrorCode.Internal, 'x');
    expect(toPipelineError(e)).toBe(e);
  });

  it('treats TypeError and RangeError as bugs that are never retried', () => {
    const e = toPipelineError(new RangeError('Maximum call stack size exceeded'), ErrorCode.FhirUnavailable);
    expect(e.code).toBe('FHIR_UNAVAILABLE');
    expect(e.retryable).toBe(false);
    expect(e.cause).toBeInstanceOf(RangeError);
  });

  it('keeps the engine code and position of thrown object literals (jsonata) but not their values', () => {
    const e = toPipelineError(
      { code: 'T2002', position: 7, token: '+', value: 'patient-secret' },
      ErrorCode.ExpressionFailed,
    );
    expect(e.details).toEqual({ engineCode: 'T2002', position: 7, token: '+' });
    expect(JSON.stringify(e.toJSON())).not.toContain('patient-secret');
  });
});
