/**
 * Failures of JSONPath handling before they are turned into {@link PipelineError}s by `compileJsonPath`: syntax
 * errors (found when the mapping loads) and evaluation faults (where Newtonsoft would throw while selecting).
 */

/** A syntax error, with the 0-based position in the expression where it was detected. */
export class JsonPathSyntaxError extends Error {
  override readonly name = 'JsonPathSyntaxError';
  readonly position: number;
  /**
   * @param message - what is wrong (may quote the expression, never data)
   * @param position - 0-based character position
   */
  constructor(message: string, position: number) {
    super(message);
    this.position = position;
  }
}

/**
 * A failure while selecting, where Newtonsoft throws (a filter comparing values it cannot convert, a negative array
 * index, …). The message describes the situation without quoting any data value.
 */
export class JsonPathFault extends Error {
  override readonly name = 'JsonPathFault';
  /** The .NET exception MedTech would report, e.g. `FormatException`. */
  readonly dotnetException: string;
  /**
   * @param dotnetException - the .NET exception type Newtonsoft would throw
   * @param message - what went wrong, without data values
   */
  constructor(dotnetException: string, message: string) {
    super(message);
    this.dotnetException = dotnetException;
  }
}

/**
 * An evaluation stopped by a guardrail: too many tokens visited by scans (`..`) or too many selected. A JSONPath of
 * chained scans (`$..*..*..*..*`) over a deep body visits a number of tokens exponential in the number of scans.
 */
export class JsonPathLimitExceeded extends Error {
  override readonly name = 'JsonPathLimitExceeded';
}
