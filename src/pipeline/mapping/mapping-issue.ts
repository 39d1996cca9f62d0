import type { ErrorCode } from '../errors';
import { describeErrorCode } from '../errors';

/** How serious a mapping issue is: errors make the mapping unusable, warnings do not. */
export type MappingIssueSeverity = 'error' | 'warning';

/** One problem found while loading a mapping, located in the source text. Never contains message data. */
export interface MappingIssue {
  readonly severity: MappingIssueSeverity;
  readonly code: ErrorCode;
  /** MedTech's exception name for the problem (InvalidTemplateException, TemplateExpressionException…). */
  readonly medtechErrorType: string;
  readonly message: string;
  /** JSON Pointer (RFC 6901) of the offending member in the document as written (original member spelling). */
  readonly jsonPointer: string;
  /** 1-based line, 1-based column of that member in the source text. */
  readonly line: number;
  readonly column: number;
  /** The template's `typeName`, when the issue lies inside a template that has one. */
  readonly template?: string;
}

/**
 * Builds an issue.
 * @param code - the error code (its catalogue entry gives the MedTech type)
 * @param message - what is wrong, naming members and expressions, not data
 * @param where - pointer and position
 * @param extra - severity (default error), template name
 */
export function createMappingIssue(
  code: ErrorCode,
  message: string,
  where: { jsonPointer: string; line: number; column: number },
  extra: { severity?: MappingIssueSeverity; template?: string } = {},
): MappingIssue {
  return {
    severity: extra.severity ?? 'error',
    code,
    medtechErrorType: describeErrorCode(code).medtechErrorType,
    message,
    jsonPointer: where.jsonPointer,
    line: where.line,
    column: where.column,
    ...(extra.template === undefined ? {} : { template: extra.template }),
  };
}

/** True when any issue is an error. */
export function hasErrors(issues: readonly MappingIssue[]): boolean {
  return issues.some((issue) => issue.severity === 'error');
}

/**
 * One line per issue: `line:col  MedTechErrorType  message (at pointer)`.
 * @param issues - the issues, already in document order
 * @param fileName - prefixed as `file:line:col` when given
 */
export function formatIssues(issues: readonly MappingIssue[], fileName?: string): string {
  return issues
    .map((issue) => {
      const where = `${fileName === undefined ? '' : `${fileName}:`}${issue.line}:${issue.column}`;
      const level = issue.severity === 'warning' ? 'warning ' : '';
      return `${where}  ${level}${issue.medtechErrorType}  ${issue.message} (at ${issue.jsonPointer || '/'})`;
    })
    .join('\n');
}
