import type { OperationOutcome } from '@medplum/fhirtypes';
import { ErrorCode } from '../../src/pipeline/errors';
import {
  createIssue,
  createOutcome,
  createStructureIssue,
  errorCodeForStatus,
  errorFromFhirResponse,
  outcomeFromResponse,
  sanitizeOutcome,
} from '../../src/pipeline/outcome';

/** A server outcome whose free text echoes resource content, as real servers do. */
const chattyOutcome: OperationOutcome = {
  resourceType: 'OperationOutcome',
  text: { status: 'generated', div: '<div>Patient Jane Doe, MRN 12345</div>' },
  issue: [
    {
      severity: 'error',
      code: 'invalid',
      details: { coding: [{ system: 'urn:srv', code: 'MSG_PARAM_INVALID', display: 'Jane Doe' }], text: 'MRN 12345' },
      diagnostics: "Identifier value 'MRN 12345' of Patient Jane Doe is invalid",
      expression: ['Observation.identifier[0].value'],
      location: ['Observation.identifier[0].value'],
    },
  ],
};

describe('errorCodeForStatus maps each FHIR status to one error code', () => {
  test.each([
    [401, ErrorCode.FhirUnauthorized],
    [403, ErrorCode.FhirForbidden],
    [404, ErrorCode.FhirNotFound],
    [409, ErrorCode.FhirConflict],
    [412, ErrorCode.FhirConflict],
    [429, ErrorCode.FhirThrottled],
    [408, ErrorCode.FhirUnavailable],
    [500, ErrorCode.FhirUnavailable],
    [502, ErrorCode.FhirUnavailable],
    [503, ErrorCode.FhirUnavailable],
    [504, ErrorCode.FhirUnavailable],
    [400, ErrorCode.FhirResourceInvalid],
    [422, ErrorCode.FhirResourceInvalid],
    [405, ErrorCode.FhirRequestFailed],
    [410, ErrorCode.FhirRequestFailed],
    [302, ErrorCode.FhirRequestFailed],
  ])('HTTP %i → %s', (status, code) => {
    expect(errorCodeForStatus(status)).toBe(code);
    expect(errorFromFhirResponse(status, outcomeFromResponse(status, undefined), { method: 'GET' }).code).toBe(code);
  });
});

describe('errorFromFhirResponse', () => {
  test('retryability follows the catalogue: conflicts, throttling and unavailability are retryable', () => {
    const retryable = (status: number): boolean =>
      errorFromFhirResponse(status, outcomeFromResponse(status, undefined), { method: 'PUT' }).retryable;
    expect([409, 412, 429, 408, 503].map(retryable)).toEqual([true, true, true, true, true]);
    expect([400, 401, 403, 404, 422].map(retryable)).toEqual([false, false, false, false, false]);
  });

  test('the message names method, resource type, status and issue types only', () => {
    const error = errorFromFhirResponse(400, chattyOutcome, { method: 'PUT', resourceType: 'Observation' });
    expect(error.message).toBe('FHIR PUT Observation failed with HTTP 400 (invalid)');
    expect(error.source).toBe('fhir');
    expect(error.medtechErrorType).toBe('FhirResourceValidationException');
  });

  test('details keep status, method, type and the outcome without free text', () => {
    const error = errorFromFhirResponse(400, chattyOutcome, { method: 'PUT', resourceType: 'Observation' });
    expect(error.details).toEqual({
      status: 400,
      method: 'PUT',
      resourceType: 'Observation',
      outcome: {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'error',
            code: 'invalid',
            details: { coding: [{ system: 'urn:srv', code: 'MSG_PARAM_INVALID' }] },
            expression: ['Observation.identifier[0].value'],
            location: ['Observation.identifier[0].value'],
          },
        ],
      },
    });
    const serialized = JSON.stringify(error.toJSON());
    expect(serialized).not.toContain('Jane');
    expect(serialized).not.toContain('12345');
  });

  test('diagnostics are kept only when asked for (debug logging against test data)', () => {
    const error = errorFromFhirResponse(400, chattyOutcome, { method: 'PUT', includeDiagnostics: true });
    const outcome = error.details.outcome as OperationOutcome;
    expect(outcome.issue[0]?.diagnostics).toBe(chattyOutcome.issue[0]?.diagnostics);
    expect(error.message).not.toContain('Jane');
  });
});

describe('outcomeFromResponse', () => {
  test('keeps the issues of an OperationOutcome body', () => {
    const body = {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'conflict', diagnostics: 'version mismatch' }],
    };
    expect(outcomeFromResponse(412, body)).toEqual(body);
  });

  test.each([
    ['no body', undefined],
    ['an HTML page', '<html>Bad gateway</html>'],
    ['another resource', { resourceType: 'Bundle', type: 'searchset' }],
    ['an OperationOutcome without issues', { resourceType: 'OperationOutcome', issue: [] }],
  ])('synthesizes an outcome from the status when the body is %s', (_name, body) => {
    expect(outcomeFromResponse(503, body)).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'transient', diagnostics: 'HTTP 503' }],
    });
  });

  test.each([
    [400, 'invalid'],
    [401, 'login'],
    [403, 'forbidden'],
    [404, 'not-found'],
    [408, 'timeout'],
    [409, 'conflict'],
    [410, 'deleted'],
    [412, 'conflict'],
    [422, 'processing'],
    [429, 'throttled'],
    [500, 'exception'],
    [504, 'transient'],
  ])('a synthesized outcome for HTTP %i has issue type %s', (status, code) => {
    expect(outcomeFromResponse(status, undefined).issue[0]?.code).toBe(code);
  });

  test('repairs issues with unknown severity or type and drops non-string paths', () => {
    const body = {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'catastrophic', code: 'oops', expression: ['Observation.status', 7], location: 'x' }, 'junk'],
    };
    expect(outcomeFromResponse(500, body).issue).toEqual([
      { severity: 'error', code: 'exception', expression: ['Observation.status'] },
    ]);
  });
});

describe('issue builders', () => {
  test('createIssue defaults to severity error and takes one or several FHIRPath expressions', () => {
    expect(createIssue({ code: 'required', expression: 'Observation.code' })).toEqual({
      severity: 'error',
      code: 'required',
      expression: ['Observation.code'],
    });
    expect(
      createIssue({ severity: 'warning', code: 'value', expression: ['A.b', 'A.c'], diagnostics: 'field x of t' }),
    ).toEqual({ severity: 'warning', code: 'value', expression: ['A.b', 'A.c'], diagnostics: 'field x of t' });
  });

  test('createStructureIssue and createOutcome', () => {
    const issue = createStructureIssue('Observation.valueSampledData', 'dimensions > 1 is not supported');
    expect(createOutcome([issue])).toEqual({
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'structure',
          expression: ['Observation.valueSampledData'],
          diagnostics: 'dimensions > 1 is not supported',
        },
      ],
    });
  });

  test('sanitizeOutcome drops narrative, details text, displays and diagnostics', () => {
    expect(JSON.stringify(sanitizeOutcome(chattyOutcome))).not.toMatch(/Jane|12345/);
  });
});
