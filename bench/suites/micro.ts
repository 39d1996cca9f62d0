/**
 * The micro-benchmarks of single components (`test/perf/*.bench.ts`, each exporting `run()`): expression engines,
 * JSONPath against jsonpath-rfc9535 and hand-written code, value conversions, the FHIR stage's pure core and the
 * embedded FHIR server. Each file keeps its own method (best of a few rounds); the numbers are absolute, so they
 * are for comparing components with each other and over time, not for the targets.
 */
import { run as convert } from '../../test/perf/convert.bench';
import { run as expressions } from '../../test/perf/expressions.bench';
import { run as fhirServer } from '../../test/perf/fhir-server.bench';
import { run as fhirStage } from '../../test/perf/fhir-stage.bench';
import { run as jsonpath } from '../../test/perf/jsonpath.bench';
import type { SuiteOptions } from '../lib/suite';

/** Results by micro-benchmark file, then case. */
export type MicroResult = Record<string, Record<string, number>>;

const ALL: Readonly<Record<string, () => Promise<Record<string, number>>>> = {
  expressions,
  jsonpath,
  convert,
  fhirStage,
  fhirServer,
};

/** The cheap ones, for a quick run. */
const QUICK = ['expressions', 'convert'];

/**
 * Runs the micro-benchmarks.
 * @param options - `quick` runs only the cheap ones
 */
export async function runMicro(options: SuiteOptions): Promise<MicroResult> {
  const results: MicroResult = {};
  for (const [name, run] of Object.entries(ALL)) {
    if (!options.quick || QUICK.includes(name)) {
      results[name] = await run();
    }
  }
  return results;
}
