/** What every benchmark suite gets from the runner. */
export interface SuiteOptions {
  /** A smoke run: small sizes, few rounds. */
  readonly quick: boolean;
  /** Where to write CPU profiles of the hot paths, if wanted (`--profile`). */
  readonly profileDir?: string;
}
