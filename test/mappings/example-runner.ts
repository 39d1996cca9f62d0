/**
 * Runs a documented example (a scenario folder of mappings/examples, or an example block of mappings/README.md)
 * through the real pipeline — `runDebugSession` over the in-memory FHIR store — and returns what a reader of the
 * example is shown: measurements, Observations without their volatile members, and errors.
 */
import type { Observation, Resource } from '@medplum/fhirtypes';

import type { DebugError, DebugEvent, IdentityMode, Measurement, MappingIssue } from '../../src/pipeline';
import { runDebugSession } from '../../src/pipeline';
import { MemoryFhirStore } from '../helpers/memory-fhir-store';

/** What an example runs. */
export interface ExampleInput {
  readonly deviceMapping: string;
  readonly fhirMapping?: string;
  readonly events: readonly DebugEvent[];
  /** Identity resolution; the examples use Create unless they say otherwise. */
  readonly resolution?: IdentityMode;
  /** Resources stored before the events run (e.g. the Device and Patient that Lookup needs). */
  readonly seed?: readonly Resource[];
}

/** What an example produced. */
export interface ExampleOutput {
  readonly mappingsValid: boolean;
  readonly measurements: Measurement[];
  /** The stored Observations without `meta` and `issued`, sorted by identifier. */
  readonly observations: Observation[];
  /** The stored Patients, Devices and Encounters without `meta`, by type, then id. */
  readonly resources: Resource[];
  readonly errors: DebugError[];
  readonly issues: readonly MappingIssue[];
}

/** The examples' "now": only `issued` and the identity cache see it, and `issued` is never compared. */
export const EXAMPLE_CLOCK = (): number => Date.UTC(2024, 2, 12, 0, 0, 0);

/**
 * Runs an example in a fresh in-memory FHIR store.
 * @param input - mappings, events, resolution mode and seed resources
 */
export async function runExample(input: ExampleInput): Promise<ExampleOutput> {
  const store = new MemoryFhirStore();
  for (const resource of input.seed ?? []) {
    store.seed(resource);
  }
  const result = await runDebugSession(
    {
      deviceMapping: input.deviceMapping,
      ...(input.fhirMapping === undefined ? {} : { fhirMapping: input.fhirMapping }),
      events: input.events,
      resolution: input.resolution ?? 'Create',
    },
    { store, clock: EXAMPLE_CLOCK },
  );
  return {
    mappingsValid: result.mappingsValid,
    // A JSON round trip, so that the comparison sees exactly what the JSON files hold.
    measurements: JSON.parse(JSON.stringify(result.measurements)) as Measurement[],
    observations: sortObservations(store.all('Observation').map(withoutVolatile)),
    resources: (['Patient', 'Device', 'Encounter'] as const).flatMap((type) =>
      store
        .all(type)
        .map((r): Resource => withoutMeta(r))
        .sort((a, b) => ((a.id ?? '') < (b.id ?? '') ? -1 : 1)),
    ),
    errors: result.errors,
    issues: [...result.issues.deviceMapping, ...result.issues.fhirMapping],
  };
}

/**
 * An Observation without the members that change from run to run: `meta` (version, last update) and `issued`.
 * @param observation - a stored Observation
 */
export function withoutVolatile(observation: Observation): Observation {
  const copy: Observation = { ...observation };
  delete copy.meta;
  delete copy.issued;
  return copy;
}

function withoutMeta<T extends Resource>(resource: T): T {
  const copy: T = { ...resource };
  delete copy.meta;
  return copy;
}

/**
 * Observations in a stable order (by identifier value, which is unique per Observation), so that files may list
 * them in whatever order reads best.
 * @param observations - Observations with identifiers
 */
export function sortObservations(observations: readonly Observation[]): Observation[] {
  const key = (o: Observation): string => o.identifier?.[0]?.value ?? o.id ?? '';
  return [...observations].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
