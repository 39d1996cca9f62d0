/**
 * The FHIR boundary speaks OperationOutcome (house-style 7). A non-2xx reply of the FHIR service is read into an
 * {@link OperationOutcome} (or one is made up from the status when the body is not one) and turned into a
 * {@link PipelineError} by ONE status → code mapping, {@link errorFromFhirResponse}. Problems the pipeline finds in
 * resources it builds are issues with a FHIRPath `expression` ({@link createIssue}).
 *
 * Privacy decision: `diagnostics`, `details.text` and the narrative of a server's OperationOutcome are free text in
 * which servers echo resource content (identifier values, patient references, quoted element values). Errors end up
 * in logs, metrics dimensions and the dead-letter store, so by default an error keeps only each issue's `severity`,
 * `code`, `details.coding` (system and code) and its `expression`/`location` paths. Diagnostics are kept only when
 * the caller opts in with `includeDiagnostics` — meant for debug logging in local development against test data,
 * never for production telemetry. See: https://hl7.org/fhir/R4/operationoutcome.html
 */
import type { CodeableConcept, Coding, OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { ErrorCode, PipelineError } from './errors';

/** An issue severity. */
export type IssueSeverity = OperationOutcomeIssue['severity'];

/** An issue type (the `code` of an issue, http://hl7.org/fhir/R4/valueset-issue-type.html). */
export type IssueType = OperationOutcomeIssue['code'];

const SEVERITIES: ReadonlySet<string> = new Set<IssueSeverity>(['fatal', 'error', 'warning', 'information']);

const ISSUE_TYPES: ReadonlySet<string> = new Set<IssueType>([
  'invalid',
  'structure',
  'required',
  'value',
  'invariant',
  'security',
  'login',
  'unknown',
  'expired',
  'forbidden',
  'suppressed',
  'processing',
  'not-supported',
  'duplicate',
  'multiple-matches',
  'not-found',
  'deleted',
  'too-long',
  'code-invalid',
  'extension',
  'too-costly',
  'business-rule',
  'conflict',
  'transient',
  'lock-error',
  'no-store',
  'exception',
  'timeout',
  'incomplete',
  'throttled',
  'informational',
]);

/** What {@link createIssue} takes. */
export interface IssueInput {
  /** Default `error`. */
  readonly severity?: IssueSeverity;
  readonly code: IssueType;
  /** FHIRPath expression(s) of the element at fault, e.g. `Observation.valueQuantity.value`. */
  readonly expression?: string | readonly string[];
  /** Human-readable explanation. Name the element and template, never a data value. */
  readonly diagnostics?: string;
}

/**
 * Builds one issue.
 * @param input - severity, type, FHIRPath expression(s) and diagnostics
 */
export function createIssue(input: IssueInput): OperationOutcomeIssue {
  const issue: OperationOutcomeIssue = { severity: input.severity ?? 'error', code: input.code };
  if (input.diagnostics !== undefined) {
    issue.diagnostics = input.diagnostics;
  }
  if (input.expression !== undefined) {
    issue.expression = typeof input.expression === 'string' ? [input.expression] : [...input.expression];
  }
  return issue;
}

/**
 * An issue about the structure of a resource the pipeline built (medplum's `createStructureIssue`).
 * @param expression - FHIRPath of the element at fault
 * @param diagnostics - what is wrong, without data values
 */
export function createStructureIssue(expression: string, diagnostics: string): OperationOutcomeIssue {
  return createIssue({ code: 'structure', expression, diagnostics });
}

/**
 * Wraps issues into an OperationOutcome.
 * @param issues - at least one issue
 */
export function createOutcome(issues: readonly OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [...issues] };
}

/**
 * The issue type a status stands for when the server sent no OperationOutcome.
 * @param status - the HTTP status
 */
export function issueTypeForStatus(status: number): IssueType {
  switch (status) {
    case 400:
      return 'invalid';
    case 401:
      return 'login';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 410:
      return 'deleted';
    case 408:
      return 'timeout';
    case 409:
    case 412:
      return 'conflict';
    case 422:
      return 'processing';
    case 429:
      return 'throttled';
    case 502:
    case 503:
    case 504:
      return 'transient';
    default:
      return status >= 200 && status < 300 ? 'informational' : 'exception';
  }
}

/**
 * The OperationOutcome of a FHIR reply: the body when it is one (issues normalised so that every issue has a valid
 * severity and code), otherwise one synthesized from the status — servers and proxies answer errors with HTML, empty
 * bodies or other resources.
 * @param status - the HTTP status
 * @param body - the parsed JSON body, or `undefined` when there was none or it was not JSON
 */
export function outcomeFromResponse(status: number, body: unknown): OperationOutcome {
  if (isRecord(body) && body.resourceType === 'OperationOutcome' && Array.isArray(body.issue)) {
    const issues = body.issue.filter(isRecord).map(normalizeIssue);
    if (issues.length > 0) {
      return createOutcome(issues);
    }
  }
  return createOutcome([
    createIssue({
      severity: status >= 200 && status < 300 ? 'information' : 'error',
      code: issueTypeForStatus(status),
      diagnostics: `HTTP ${status}`,
    }),
  ]);
}

/** Where the failing request came from; names only, never data. */
export interface FhirRequestContext {
  /** The HTTP method (or the interaction, e.g. `PUT`, `GET`, `POST batch`). */
  readonly method: string;
  /** The resource type the request was about. */
  readonly resourceType?: string;
  /**
   * Keep the issues' `diagnostics` in `details.outcome`. Off by default: diagnostics can echo resource content. Turn
   * on only for debug logging against test data.
   */
  readonly includeDiagnostics?: boolean;
}

/**
 * The error code of a FHIR status. One place decides it (house-style 7).
 * @param status - an HTTP status that is not 2xx
 */
export function errorCodeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return ErrorCode.FhirUnauthorized;
    case 403:
      return ErrorCode.FhirForbidden;
    // For a read the adapter returns `undefined` instead; anywhere else a 404 means the base URL or type is wrong.
    case 404:
      return ErrorCode.FhirNotFound;
    case 409:
    case 412:
      return ErrorCode.FhirConflict;
    case 429:
      return ErrorCode.FhirThrottled;
    case 408:
      return ErrorCode.FhirUnavailable;
    case 400:
    case 422:
      return ErrorCode.FhirResourceInvalid;
    default:
      return status >= 500 && status < 600 ? ErrorCode.FhirUnavailable : ErrorCode.FhirRequestFailed;
  }
}

/**
 * Turns a failed FHIR reply into a {@link PipelineError}. The message names the method, resource type, status and
 * issue types; `details` holds `status`, `method`, `resourceType` and the sanitized `outcome` (see the module's
 * privacy decision). Retryability follows the catalogue: 409/412, 429, 408 and 5xx are retryable.
 * @param status - the HTTP status
 * @param outcome - the reply's OperationOutcome ({@link outcomeFromResponse})
 * @param context - the method and resource type of the request
 */
export function errorFromFhirResponse(
  status: number,
  outcome: OperationOutcome,
  context: FhirRequestContext,
): PipelineError {
  const sanitized = sanitizeOutcome(outcome, context.includeDiagnostics === true);
  const issueTypes = [...new Set(sanitized.issue.map((i) => i.code))].join(', ');
  const target = context.resourceType === undefined ? '' : ` ${context.resourceType}`;
  const message = `FHIR ${context.method}${target} failed with HTTP ${status}${issueTypes ? ` (${issueTypes})` : ''}`;
  const details: Record<string, unknown> = { status, method: context.method, outcome: sanitized };
  if (context.resourceType !== undefined) {
    details.resourceType = context.resourceType;
  }
  return new PipelineError(errorCodeForStatus(status), message, { details });
}

/**
 * A copy of an OperationOutcome without free text: issues keep severity, code, coded details, expression and
 * location; diagnostics only when asked for. Narrative, extensions and `details.text` are dropped.
 * @param outcome - the outcome to clean
 * @param includeDiagnostics - keep each issue's diagnostics
 */
export function sanitizeOutcome(outcome: OperationOutcome, includeDiagnostics = false): OperationOutcome {
  return createOutcome(
    outcome.issue.map((source) => {
      const issue: OperationOutcomeIssue = { severity: source.severity, code: source.code };
      const coding = source.details?.coding
        ?.map((c): Coding => pick(c))
        .filter((c) => c.code !== undefined || c.system !== undefined);
      if (coding !== undefined && coding.length > 0) {
        issue.details = { coding };
      }
      if (includeDiagnostics && source.diagnostics !== undefined) {
        issue.diagnostics = source.diagnostics;
      }
      if (source.expression !== undefined && source.expression.length > 0) {
        issue.expression = [...source.expression];
      }
      if (source.location !== undefined && source.location.length > 0) {
        issue.location = [...source.location];
      }
      return issue;
    }),
  );
}

function pick(coding: Coding): Coding {
  const out: Coding = {};
  if (typeof coding.system === 'string') {
    out.system = coding.system;
  }
  if (typeof coding.code === 'string') {
    out.code = coding.code;
  }
  return out;
}

function normalizeIssue(raw: Record<string, unknown>): OperationOutcomeIssue {
  const severity = typeof raw.severity === 'string' && SEVERITIES.has(raw.severity) ? raw.severity : 'error';
  const code = typeof raw.code === 'string' && ISSUE_TYPES.has(raw.code) ? raw.code : 'exception';
  const issue: OperationOutcomeIssue = { severity: severity as IssueSeverity, code: code as IssueType };
  if (typeof raw.diagnostics === 'string') {
    issue.diagnostics = raw.diagnostics;
  }
  if (isRecord(raw.details)) {
    const details = raw.details as CodeableConcept;
    const coding = Array.isArray(details.coding) ? details.coding.filter(isRecord).map(pick) : [];
    const concept: CodeableConcept = {};
    if (coding.length > 0) {
      concept.coding = coding;
    }
    if (typeof details.text === 'string') {
      concept.text = details.text;
    }
    if (concept.coding !== undefined || concept.text !== undefined) {
      issue.details = concept;
    }
  }
  const expression = strings(raw.expression);
  if (expression.length > 0) {
    issue.expression = expression;
  }
  const location = strings(raw.location);
  if (location.length > 0) {
    issue.location = location;
  }
  return issue;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
