/**
 * Dead-letter replay, shared by the `replay` HTTP function and `iomt deadletter replay`: re-runs dead-lettered items
 * through the CURRENT mappings and removes an entry only once its data is saved.
 *
 * - An event entry is normalized, grouped and saved again (the whole pipeline, {@link processBatch}).
 * - A group entry is grouped again from its measurements with the current FHIR mapping (a group that failed because
 *   no template matched its type has no window until the mapping is fixed) and saved.
 *
 * Idempotent: saving writes nothing that is already there, so replaying an entry twice, or replaying a group that
 * was partly saved before it failed, leaves the same Observations. An entry that fails again stays, with the new
 * error, the current mapping version and one more attempt. Entries are replayed one at a time, in the order the
 * store lists them (newest first), so two entries of one device never race for the same Observation.
 */
import {
  type Clock,
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterStore,
  deserializeDeadLetterEvent,
  ErrorCode,
  type FhirMapping,
  type FhirStore,
  groupMeasurements,
  type IdentityResolver,
  type Measurement,
  type MeasurementGroup,
  type MetricsSink,
  type Normalizer,
  type ObservationCache,
  PipelineError,
  type PipelineErrorJson,
  processBatch,
  saveObservationGroups,
  type SaveReport,
  toPipelineError,
} from '../../pipeline';

/** What replay works with: the dead-letter store, the current mappings and the FHIR ports. */
export interface ReplayDependencies {
  readonly deadLetters: DeadLetterStore;
  readonly normalizer: Normalizer;
  readonly deviceMappingVersion: string;
  readonly fhirMapping: FhirMapping;
  readonly fhirMappingVersion: string;
  readonly store: FhirStore;
  readonly identity: IdentityResolver;
  readonly clock: Clock;
  readonly metrics?: MetricsSink;
  readonly cache?: ObservationCache;
}

/** Which entries to replay, and whether to only check them. */
export interface ReplayRequest extends DeadLetterFilter {
  /** Normalize and group with the current mappings, but save nothing and change no entry. */
  readonly dryRun?: boolean;
}

/**
 * What happened to an entry: `Replayed` (saved and removed), `Failed` (kept, with the new error), `Ready` (dry run:
 * would be saved), `Gone` (removed by someone else meanwhile).
 */
export type ReplayOutcome = 'Replayed' | 'Failed' | 'Ready' | 'Gone';

/** The outcome of one entry. */
export interface ReplayEntryResult {
  readonly id: string;
  readonly stage: DeadLetterEntry['stage'];
  readonly payloadKind: DeadLetterEntry['payload']['kind'];
  readonly outcome: ReplayOutcome;
  /** Measurements the current mappings produce from the entry. */
  readonly measurements: number;
  /** Observations created, updated or found unchanged. */
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  /** Why the entry still fails. */
  readonly error?: PipelineErrorJson;
  /** True when the entry was deleted from the store. */
  readonly removed: boolean;
}

/** The outcome of a replay. */
export interface ReplayReport {
  readonly dryRun: boolean;
  readonly replayed: number;
  readonly failed: number;
  readonly ready: number;
  readonly entries: readonly ReplayEntryResult[];
}

/**
 * Replays the entries a filter selects (newest first, at most `limit`).
 * @param request - filter, limit and dry run
 * @param deps - store, mappings and FHIR ports
 */
export async function replayDeadLetters(request: ReplayRequest, deps: ReplayDependencies): Promise<ReplayReport> {
  const dryRun = request.dryRun === true;
  const summaries = await deps.deadLetters.list(request);
  const entries: ReplayEntryResult[] = [];
  for (const summary of summaries) {
    const entry = await deps.deadLetters.get(summary.id);
    entries.push(
      entry === undefined
        ? { ...empty(summary.id, summary.stage, summary.payloadKind), outcome: 'Gone' }
        : await replayDeadLetterEntry(entry, deps, dryRun),
    );
  }
  const count = (outcome: ReplayOutcome): number => entries.filter((e) => e.outcome === outcome).length;
  return { dryRun, replayed: count('Replayed'), failed: count('Failed'), ready: count('Ready'), entries };
}

/**
 * Replays one entry.
 * @param entry - the entry, with its payload
 * @param deps - store, mappings and FHIR ports
 * @param dryRun - only check it
 */
export async function replayDeadLetterEntry(
  entry: DeadLetterEntry,
  deps: ReplayDependencies,
  dryRun = false,
): Promise<ReplayEntryResult> {
  const base = empty(entry.id, entry.stage, entry.payload.kind);
  let run: { measurements: number; save?: SaveReport; error?: PipelineErrorJson };
  try {
    run = dryRun ? await check(entry, deps) : await save(entry, deps);
  } catch (error) {
    // A payload this version cannot read (or a bug): report it, keep the entry.
    run = { measurements: 0, error: toPipelineError(error).toJSON() };
  }
  const counts = {
    measurements: run.measurements,
    created: run.save?.created ?? 0,
    updated: run.save?.updated ?? 0,
    unchanged: run.save?.unchanged ?? 0,
  };
  if (run.error !== undefined) {
    if (!dryRun) {
      // Same id and stage (the Table store keys rows by both), so this replaces the entry in place.
      await deps.deadLetters.put([
        {
          ...entry,
          error: run.error,
          attempts: entry.attempts + 1,
          mappingVersion: entry.stage === 'Normalization' ? deps.deviceMappingVersion : deps.fhirMappingVersion,
        },
      ]);
    }
    return { ...base, ...counts, outcome: 'Failed', error: run.error };
  }
  if (dryRun) {
    return { ...base, ...counts, outcome: 'Ready' };
  }
  const removed = (await deps.deadLetters.remove([entry.id])) > 0;
  return { ...base, ...counts, outcome: 'Replayed', removed };
}

async function save(
  entry: DeadLetterEntry,
  deps: ReplayDependencies,
): Promise<{ measurements: number; save: SaveReport; error?: PipelineErrorJson }> {
  if (entry.payload.kind === 'event') {
    const report = await processBatch([deserializeDeadLetterEvent(entry)], {
      normalizer: deps.normalizer,
      fhirMapping: deps.fhirMapping,
      store: deps.store,
      identity: deps.identity,
      clock: deps.clock,
      ...optional(deps),
      ...(entry.partitionId === undefined ? {} : { partition: entry.partitionId }),
    });
    const error = report.failures[0]?.error.toJSON() ?? report.save.failures[0]?.error;
    return { measurements: report.measurements.length, save: report.save, ...(error === undefined ? {} : { error }) };
  }
  const measurements = storedMeasurements(entry);
  const report = await saveObservationGroups(regroup(measurements, deps.fhirMapping), {
    store: deps.store,
    mapping: deps.fhirMapping,
    identity: deps.identity,
    clock: deps.clock,
    ...optional(deps),
  });
  const error = report.failures[0]?.error;
  return { measurements: measurements.length, save: report, ...(error === undefined ? {} : { error }) };
}

/** Dry run: what the current mappings make of the entry, without saving. */
async function check(
  entry: DeadLetterEntry,
  deps: ReplayDependencies,
): Promise<{ measurements: number; error?: PipelineErrorJson }> {
  let measurements: readonly Measurement[];
  if (entry.payload.kind === 'event') {
    const result = await deps.normalizer.normalize(deserializeDeadLetterEvent(entry));
    if (result.error !== undefined) {
      return { measurements: result.measurements.length, error: result.error.toJSON() };
    }
    measurements = result.measurements;
  } else {
    measurements = storedMeasurements(entry);
  }
  const unsaveable = regroup(measurements, deps.fhirMapping).find((g) => g.error !== undefined || g.window === null);
  if (unsaveable === undefined) {
    return { measurements: measurements.length };
  }
  const error =
    unsaveable.error ??
    new PipelineError(ErrorCode.TemplateNotFound, `No FHIR template matches measurement type '${unsaveable.type}'.`, {
      details: { template: unsaveable.type },
    }).toJSON();
  return { measurements: measurements.length, error };
}

function regroup(measurements: readonly Measurement[], mapping: FhirMapping): MeasurementGroup[] {
  return groupMeasurements(measurements, (type) => mapping.templateFor(type)?.periodInterval);
}

/** The measurements of a group entry, checked enough for grouping (which sets apart unreadable times itself). */
function storedMeasurements(entry: DeadLetterEntry): Measurement[] {
  const group = entry.payload.kind === 'group' ? entry.payload.group : undefined;
  const list = (group as { measurements?: unknown } | undefined)?.measurements;
  const valid =
    Array.isArray(list) &&
    list.every((m: unknown) => {
      const r = m as Record<string, unknown> | null;
      return (
        typeof r === 'object' &&
        r !== null &&
        ['type', 'occurrenceTimeUtc', 'ingestionTimeUtc', 'deviceId'].every((k) => typeof r[k] === 'string') &&
        ['patientId', 'encounterId', 'correlationId'].every((k) => r[k] === null || typeof r[k] === 'string') &&
        Array.isArray(r.properties) &&
        (r.properties as unknown[]).every(
          (p) =>
            typeof p === 'object' &&
            p !== null &&
            typeof (p as Record<string, unknown>).name === 'string' &&
            typeof (p as Record<string, unknown>).value === 'string',
        )
      );
    });
  if (!valid) {
    throw new PipelineError(ErrorCode.Internal, `dead-letter entry ${entry.id} holds no readable measurement group`);
  }
  return list as Measurement[];
}

function optional(deps: ReplayDependencies): { metrics?: MetricsSink; cache?: ObservationCache } {
  return {
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
    ...(deps.cache === undefined ? {} : { cache: deps.cache }),
  };
}

function empty(
  id: string,
  stage: DeadLetterEntry['stage'],
  payloadKind: DeadLetterEntry['payload']['kind'],
): Omit<ReplayEntryResult, 'outcome'> {
  return { id, stage, payloadKind, measurements: 0, created: 0, updated: 0, unchanged: 0, removed: false };
}
