/**
 * The pipeline's one error type. Every failure the core reports carries a stable {@link ErrorCode}, the name
 * MedTech gives the same failure (so users' runbooks and alerts carry over, see medtech-reference §8, §11, §12),
 * where it came from and whether retrying can help.
 *
 * Messages name the template, field and expression at fault — never a value from a device message or a FHIR
 * resource (no patient data in errors, logs or metrics).
 */

/** Where a failure originates. `device`: the message; `template`: a mapping; `fhir`: the FHIR service. */
export type ErrorSource = 'device' | 'template' | 'fhir' | 'system';

/** MedTech's error categories (the `ErrorType` metric dimension). */
export type MedTechErrorCategory =
  | 'DeviceTemplateError'
  | 'DeviceMessageError'
  | 'FHIRTemplateError'
  | 'FHIRConversionError'
  | 'FHIRResourceError'
  | 'FHIRServiceError'
  | 'AuthenticationError'
  | 'GeneralError';

/** MedTech's error severities. */
export type ErrorSeverity = 'Critical' | 'Warning' | 'Informational';

interface CodeInfo {
  readonly medtechErrorType: string;
  readonly category: MedTechErrorCategory;
  readonly severity: ErrorSeverity;
  readonly source: ErrorSource;
  readonly retryable: boolean;
}

const info = (
  medtechErrorType: string,
  category: MedTechErrorCategory,
  severity: ErrorSeverity,
  source: ErrorSource,
  retryable = false,
): CodeInfo => ({ medtechErrorType, category, severity, source, retryable });

/**
 * The catalogue of error codes. Keys are the TypeScript names, values the stable codes written to logs,
 * the dead-letter store and the debugger's JSON.
 */
export const ErrorCode = {
  // Mapping load (§3).
  TemplateJsonInvalid: 'TEMPLATE_JSON_INVALID',
  TemplateInvalid: 'TEMPLATE_INVALID',
  TemplateTypeUnknown: 'TEMPLATE_TYPE_UNKNOWN',
  TemplateExpressionInvalid: 'TEMPLATE_EXPRESSION_INVALID',
  FhirTemplateInvalid: 'FHIR_TEMPLATE_INVALID',
  // Normalization (§2, §6, §8).
  BodyInvalidJson: 'BODY_INVALID_JSON',
  BodyTooLarge: 'BODY_TOO_LARGE',
  RequiredValueMissing: 'REQUIRED_VALUE_MISSING',
  ValueConversionFailed: 'VALUE_CONVERSION_FAILED',
  ExpressionMultipleTokens: 'EXPRESSION_MULTIPLE_TOKENS',
  ExpressionFailed: 'EXPRESSION_FAILED',
  ExpressionLimitExceeded: 'EXPRESSION_LIMIT_EXCEEDED',
  FunctionInvalidArgument: 'FUNCTION_INVALID_ARGUMENT',
  FunctionDivideByZero: 'FUNCTION_DIVIDE_BY_ZERO',
  FunctionOverflow: 'FUNCTION_OVERFLOW',
  FunctionArgumentOutOfRange: 'FUNCTION_ARGUMENT_OUT_OF_RANGE',
  // FHIR conversion (§9, §10, §11).
  TemplateNotFound: 'TEMPLATE_NOT_FOUND',
  CorrelationIdNotDefined: 'CORRELATION_ID_NOT_DEFINED',
  InvalidQuantityValue: 'INVALID_QUANTITY_VALUE',
  InvalidStringValue: 'INVALID_STRING_VALUE',
  NotSupported: 'NOT_SUPPORTED',
  DeviceNotFound: 'DEVICE_NOT_FOUND',
  PatientNotFound: 'PATIENT_NOT_FOUND',
  EncounterNotFound: 'ENCOUNTER_NOT_FOUND',
  PatientIdentityNotDefined: 'PATIENT_IDENTITY_NOT_DEFINED',
  EncounterIdentityNotDefined: 'ENCOUNTER_IDENTITY_NOT_DEFINED',
  PatientDeviceMismatch: 'PATIENT_DEVICE_MISMATCH',
  MultipleResourcesFound: 'MULTIPLE_RESOURCES_FOUND',
  MeasurementInvalid: 'MEASUREMENT_INVALID',
  // FHIR service (adapter boundary).
  FhirRequestFailed: 'FHIR_REQUEST_FAILED',
  FhirUnauthorized: 'FHIR_UNAUTHORIZED',
  FhirForbidden: 'FHIR_FORBIDDEN',
  FhirNotFound: 'FHIR_NOT_FOUND',
  FhirConflict: 'FHIR_CONFLICT',
  FhirThrottled: 'FHIR_THROTTLED',
  FhirUnavailable: 'FHIR_UNAVAILABLE',
  FhirTimeout: 'FHIR_TIMEOUT',
  FhirResourceInvalid: 'FHIR_RESOURCE_INVALID',
  // Infrastructure and configuration.
  ConfigurationInvalid: 'CONFIGURATION_INVALID',
  StorageUnavailable: 'STORAGE_UNAVAILABLE',
  Internal: 'INTERNAL',
} as const;

/** A stable error code. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CATALOGUE: Readonly<Record<ErrorCode, CodeInfo>> = {
  TEMPLATE_JSON_INVALID: info('InvalidTemplateException', 'DeviceTemplateError', 'Critical', 'template'),
  TEMPLATE_INVALID: info('InvalidTemplateException', 'DeviceTemplateError', 'Critical', 'template'),
  TEMPLATE_TYPE_UNKNOWN: info('InvalidTemplateException', 'DeviceTemplateError', 'Critical', 'template'),
  TEMPLATE_EXPRESSION_INVALID: info('TemplateExpressionException', 'DeviceTemplateError', 'Critical', 'template'),
  FHIR_TEMPLATE_INVALID: info('InvalidTemplateException', 'FHIRTemplateError', 'Critical', 'template'),
  BODY_INVALID_JSON: info('InvalidDataFormatException', 'DeviceMessageError', 'Warning', 'device'),
  BODY_TOO_LARGE: info('InvalidDataFormatException', 'DeviceMessageError', 'Warning', 'device'),
  REQUIRED_VALUE_MISSING: info('IncompatibleDataException', 'DeviceMessageError', 'Warning', 'device'),
  VALUE_CONVERSION_FAILED: info('IncompatibleDataException', 'DeviceMessageError', 'Warning', 'device'),
  EXPRESSION_MULTIPLE_TOKENS: info('TemplateExpressionException', 'DeviceTemplateError', 'Critical', 'template'),
  EXPRESSION_FAILED: info('TemplateExpressionException', 'DeviceTemplateError', 'Critical', 'template'),
  EXPRESSION_LIMIT_EXCEEDED: info('TemplateExpressionException', 'DeviceTemplateError', 'Critical', 'template'),
  FUNCTION_INVALID_ARGUMENT: info('InvalidTypeException', 'DeviceMessageError', 'Warning', 'device'),
  FUNCTION_DIVIDE_BY_ZERO: info('DivideByZeroException', 'DeviceMessageError', 'Warning', 'device'),
  FUNCTION_OVERFLOW: info('OverflowException', 'DeviceMessageError', 'Warning', 'device'),
  FUNCTION_ARGUMENT_OUT_OF_RANGE: info('ArgumentOutOfRangeException', 'DeviceMessageError', 'Warning', 'device'),
  TEMPLATE_NOT_FOUND: info('TemplateNotFoundException', 'GeneralError', 'Critical', 'template'),
  CORRELATION_ID_NOT_DEFINED: info('CorrelationIdNotDefinedException', 'DeviceMessageError', 'Critical', 'device'),
  INVALID_QUANTITY_VALUE: info('InvalidQuantityFhirValueException', 'FHIRConversionError', 'Warning', 'device'),
  INVALID_STRING_VALUE: info('InvalidOperationException', 'FHIRConversionError', 'Warning', 'device'),
  NOT_SUPPORTED: info('NotSupportedException', 'FHIRResourceError', 'Warning', 'fhir'),
  DEVICE_NOT_FOUND: info('DeviceNotFoundException', 'FHIRResourceError', 'Warning', 'fhir'),
  PATIENT_NOT_FOUND: info('PatientNotFoundException', 'FHIRResourceError', 'Warning', 'fhir'),
  ENCOUNTER_NOT_FOUND: info('EncounterNotFoundException', 'FHIRResourceError', 'Warning', 'fhir'),
  PATIENT_IDENTITY_NOT_DEFINED: info('PatientIdentityNotDefinedException', 'FHIRResourceError', 'Warning', 'device'),
  ENCOUNTER_IDENTITY_NOT_DEFINED: info(
    'EncounterIdentityNotDefinedException',
    'FHIRResourceError',
    'Warning',
    'device',
  ),
  PATIENT_DEVICE_MISMATCH: info('PatientDeviceMismatchException', 'FHIRResourceError', 'Warning', 'fhir'),
  MULTIPLE_RESOURCES_FOUND: info('MultipleResourceFoundException', 'FHIRResourceError', 'Warning', 'fhir'),
  MEASUREMENT_INVALID: info('MeasurementProcessingException', 'FHIRConversionError', 'Warning', 'device'),
  FHIR_REQUEST_FAILED: info('FhirServiceException', 'FHIRServiceError', 'Critical', 'fhir'),
  FHIR_UNAUTHORIZED: info('UnauthorizedAccessFhirServiceException', 'AuthenticationError', 'Critical', 'fhir'),
  FHIR_FORBIDDEN: info('UnauthorizedAccessFhirServiceException', 'AuthenticationError', 'Critical', 'fhir'),
  FHIR_NOT_FOUND: info('InvalidFhirServiceException', 'FHIRServiceError', 'Critical', 'fhir'),
  FHIR_CONFLICT: info('FhirResourceConflictException', 'FHIRServiceError', 'Warning', 'fhir', true),
  FHIR_THROTTLED: info('FhirServiceThrottledException', 'FHIRServiceError', 'Warning', 'fhir', true),
  FHIR_UNAVAILABLE: info('FhirServiceUnavailableException', 'FHIRServiceError', 'Warning', 'fhir', true),
  FHIR_TIMEOUT: info('FhirServiceTimeoutException', 'FHIRServiceError', 'Warning', 'fhir', true),
  FHIR_RESOURCE_INVALID: info('FhirResourceValidationException', 'FHIRResourceError', 'Critical', 'fhir'),
  CONFIGURATION_INVALID: info('InvalidConfigurationException', 'GeneralError', 'Critical', 'system'),
  STORAGE_UNAVAILABLE: info('StorageUnavailableException', 'GeneralError', 'Critical', 'system', true),
  INTERNAL: info('UnhandledException', 'GeneralError', 'Critical', 'system'),
};

/** Where in a mapping document a problem lies. */
export interface SourceLocation {
  /** JSON Pointer (RFC 6901) into the mapping document, e.g. `/template/0/template/typeName`. */
  readonly jsonPointer: string;
  /** 1-based line in the source text, when the text is known. */
  readonly line?: number;
  /** 1-based column in the source text, when the text is known. */
  readonly column?: number;
}

/** Context that helps locate a failure without revealing data. All fields are optional. */
export interface ErrorDetails {
  /** The template's `typeName` (or its index when it has none). */
  readonly template?: string;
  /** The field at fault: `DeviceIdExpression`, `TimestampExpression`, a `valueName`, `periodInterval`… */
  readonly field?: string;
  /** The expression text (mapping content, not patient data). */
  readonly expression?: string;
  /** Location in a mapping document. */
  readonly location?: SourceLocation;
  /** Anything else safe to log, e.g. an HTTP status or an engine's error code. */
  readonly [key: string]: unknown;
}

/** Options of {@link PipelineError}. */
export interface PipelineErrorOptions {
  readonly details?: ErrorDetails;
  readonly cause?: unknown;
  /** Overrides the catalogue's MedTech error type (e.g. `MultipleDeviceFoundException`). */
  readonly medtechErrorType?: string;
  /** Overrides the catalogue's retryability (e.g. a 500 that the FHIR client already retried). */
  readonly retryable?: boolean;
}

/** The pipeline's error: a code, MedTech's name for it, its source and whether retrying can help. */
export class PipelineError extends Error {
  override readonly name = 'PipelineError';
  readonly code: ErrorCode;
  readonly medtechErrorType: string;
  readonly category: MedTechErrorCategory;
  readonly severity: ErrorSeverity;
  readonly source: ErrorSource;
  readonly retryable: boolean;
  readonly details: ErrorDetails;

  /**
   * @param code - the stable error code
   * @param message - a message that names template, field and expression but never a data value
   * @param options - details, cause and overrides
   */
  constructor(code: ErrorCode, message: string, options: PipelineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry = CATALOGUE[code];
    this.code = code;
    this.medtechErrorType = options.medtechErrorType ?? entry.medtechErrorType;
    this.category = entry.category;
    this.severity = entry.severity;
    this.source = entry.source;
    this.retryable = options.retryable ?? entry.retryable;
    this.details = options.details ?? {};
  }

  /** A JSON-safe summary (no stack, no cause chain) for dead-letter entries and API responses. */
  toJSON(): PipelineErrorJson {
    return {
      code: this.code,
      medtechErrorType: this.medtechErrorType,
      category: this.category,
      severity: this.severity,
      source: this.source,
      retryable: this.retryable,
      message: this.message,
      details: this.details,
    };
  }
}

/** The serialized form of a {@link PipelineError}. */
export interface PipelineErrorJson {
  readonly code: ErrorCode;
  readonly medtechErrorType: string;
  readonly category: MedTechErrorCategory;
  readonly severity: ErrorSeverity;
  readonly source: ErrorSource;
  readonly retryable: boolean;
  readonly message: string;
  readonly details: ErrorDetails;
}

/** Returns the catalogue entry of a code. */
export function describeErrorCode(code: ErrorCode): CodeInfo {
  return CATALOGUE[code];
}

/** True when `value` is a {@link PipelineError}. */
export function isPipelineError(value: unknown): value is PipelineError {
  return value instanceof PipelineError;
}

/**
 * Translates anything thrown into a {@link PipelineError}. `TypeError` and `RangeError` are bugs (or hostile
 * input hitting engine limits) and are never retryable. Non-`Error` throwables (jsonata throws object literals)
 * keep their `code`/`position` as details.
 *
 * @param error - whatever was caught
 * @param fallback - the code to use when `error` is not already a PipelineError
 */
export function toPipelineError(error: unknown, fallback: ErrorCode = ErrorCode.Internal): PipelineError {
  if (error instanceof PipelineError) {
    return error;
  }
  if (error instanceof Error) {
    const retryable = error instanceof TypeError || error instanceof RangeError ? false : undefined;
    return new PipelineError(
      fallback,
      error.message,
      retryable === undefined ? { cause: error } : { cause: error, retryable },
    );
  }
  if (typeof error === 'object' && error !== null) {
    const record = error as Record<string, unknown>;
    const message = typeof record.message === 'string' ? record.message : 'non-Error value thrown';
    const details: Record<string, unknown> = {};
    for (const key of ['code', 'position', 'token']) {
      const v = record[key];
      if (typeof v === 'string' || typeof v === 'number') {
        details[key === 'code' ? 'engineCode' : key] = v;
      }
    }
    return new PipelineError(fallback, message, { details });
  }
  return new PipelineError(fallback, `non-Error value thrown: ${typeof error}`);
}
