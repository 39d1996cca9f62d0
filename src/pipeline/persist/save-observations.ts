/**
 * Saving a chunk of measurement groups as Observations (medtech-reference §9.3, §9.7; house-style convention 11):
 * idempotent, with a bounded number of round trips per chunk whatever its size.
 *
 * 1. Identities of all groups are resolved (concurrently; the resolver de-duplicates and caches per device).
 * 2. Each group gets its template and Observation identifier; groups that land in the same Observation (two Single
 *    readings in one second, or Hourly groups that differ only by encounter or correlation id) are applied to it in
 *    order.
 * 3. Stored Observations come from the cache, else from ONE `searchManyByIdentifier` for all misses (exact
 *    identifier matches only; more than one → `MultipleObservationFoundException`).
 * 4. Windows are built or merged in memory, each on its own: a failing window fails only its group. Unchanged
 *    Observations are not written.
 * 5. All changes go out in ONE `putMany` (`If-Match` on updates). Conflicts are read again (one search) and
 *    re-merged. A create that found the Observation already there (another worker created it after our search) folds
 *    back every earlier version (`readVersion` of n − 1 … 1), since our PUT replaced them; a create that failed with
 *    a retryable error may still have been applied, so the Observation is read again and, if it exists, repaired the
 *    same way. At most `maxAttempts` writes per Observation, and {@link REPAIR_ATTEMPTS} more while such a repair is
 *    pending: the readings it folds back exist nowhere else but in the history.
 *
 * Running the same groups twice leaves the same state; the second run writes nothing.
 */
import type { Observation, Resource } from '@medplum/fhirtypes';
import type { Clock } from '../clock';
import { ErrorCode, PipelineError, toPipelineError, type PipelineErrorJson } from '../errors';
import type { IdentityResolver, ResolvedIdentity } from '../identity/resolve-identity';
import type { CodeValueFhirTemplate, FhirMapping } from '../mapping/fhir-template';
import { noopMetrics, type MetricsSink } from '../metrics';
import { Metric } from '../metrics';
import type { MeasurementGroup } from '../model/measurement-group';
import { buildObservation } from '../transform/build-observation';
import { foldObservation } from '../transform/fold-observation';
import { jsonEqual } from '../transform/json-equal';
import { mergeObservation } from '../transform/merge-observation';
import { observationIdentity, type ObservationIdentity } from '../transform/observation-identity';
import type { FhirResult, FhirStore, PutResult } from './fhir-store';
import type { ObservationCache } from './observation-cache';

/** What saving did to a group's Observation (MedTech `ObservationCreated|Updated|NoOperation`). */
export type SaveOutcome = 'Created' | 'Updated' | 'NoOperation';

/** A group whose window is in the FHIR service. */
export interface SavedGroup {
  readonly group: MeasurementGroup;
  readonly outcome: SaveOutcome;
  /** The Observation's logical id. */
  readonly observationId: string;
  /** When the write (or the decision not to write) completed, ISO-8601: the end point of latency metrics. */
  readonly savedAt: string;
}

/** A group that could not be saved. */
export interface FailedGroup {
  readonly group: MeasurementGroup;
  readonly error: PipelineErrorJson;
}

/** The result of {@link saveObservationGroups}; `saved` and `failures` follow the input order. */
export interface SaveReport {
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly failed: number;
  readonly saved: readonly SavedGroup[];
  readonly failures: readonly FailedGroup[];
}

/** What {@link saveObservationGroups} works with. */
export interface SaveDependencies {
  readonly store: FhirStore;
  readonly mapping: FhirMapping;
  readonly identity: IdentityResolver;
  readonly clock: Clock;
  readonly metrics?: MetricsSink;
  /** Stored Observations by identifier value, shared across chunks of one worker. */
  readonly cache?: ObservationCache;
  /** Writes per Observation at most (first write plus conflict and race retries). Default 3. */
  readonly maxAttempts?: number;
}

interface Member {
  readonly index: number;
  readonly group: MeasurementGroup;
}

/** One Observation of the chunk and the groups that land in it. */
interface Target {
  readonly identity: ObservationIdentity;
  readonly template: CodeValueFhirTemplate;
  readonly subject: ResolvedIdentity;
  readonly members: Member[];
  /** The version in the store a write replaces (its versionId goes into If-Match); `undefined`: none. */
  stored: Observation | undefined;
  /** The content the windows are merged into; `undefined`: build from the first window. */
  base: Observation | undefined;
  /** Versions replaced by our own blind creates, to fold back in. */
  readonly recovered: Observation[];
  writes: number;
}

/** The in-memory result of applying a target's windows. */
interface Plan {
  readonly resource: Observation | undefined;
  readonly outcomes: ReadonlyMap<Member, SaveOutcome>;
  readonly errors: ReadonlyMap<Member, PipelineError>;
  /** True when the resource differs from the stored version. */
  readonly write: boolean;
}

const STAGE = 'FHIRConversion';

/**
 * Saves a chunk of measurement groups (windows) as Observations.
 * @param groups - the windows to save, e.g. one chunk of an orchestration's fan-out
 * @param deps - FHIR store, mapping, identity resolver, clock and optional metrics, cache and attempt limit
 * @returns counts, the saved groups with outcome and time, and the failed groups with their error
 */
export async function saveObservationGroups(
  groups: readonly MeasurementGroup[],
  deps: SaveDependencies,
): Promise<SaveReport> {
  const metrics = deps.metrics ?? noopMetrics;
  const maxAttempts = Math.max(1, deps.maxAttempts ?? 3);
  const saved: (SavedGroup | undefined)[] = [];
  const failed: (FailedGroup | undefined)[] = [];

  const fail = (member: Member, error: unknown): void => {
    const e = toPipelineError(error);
    failed[member.index] = { group: member.group, error: e.toJSON() };
    metrics.count(Metric.TotalErrors, 1, {
      stage: STAGE,
      errorType: e.medtechErrorType,
      errorCategory: e.category,
      severity: e.severity,
    });
  };
  const failAll = (target: Target, error: unknown): void => {
    for (const m of target.members) {
      fail(m, error);
    }
  };
  const finish = (target: Target, plan: Plan, resource: Observation | undefined): void => {
    const savedAt = new Date(deps.clock()).toISOString();
    if (resource !== undefined) {
      deps.cache?.set(target.identity.value, resource);
    }
    for (const m of target.members) {
      const error = plan.errors.get(m);
      const outcome = plan.outcomes.get(m);
      if (error !== undefined || outcome === undefined) {
        fail(m, error ?? new PipelineError(ErrorCode.Internal, 'A window was neither saved nor failed.'));
        continue;
      }
      saved[m.index] = { group: m.group, outcome, observationId: target.identity.id, savedAt };
      metrics.count(Metric.FhirResourcesSaved, 1, { stage: STAGE, outcome, resourceType: 'Observation' });
    }
  };

  // 1–2. Identities, templates and identifiers.
  const members = groups.map((group, index): Member => ({ index, group }));
  const identities = await Promise.all(
    members.map((m) =>
      deps.identity.resolve(m.group).then(
        (ids): { ok: true; ids: ResolvedIdentity } => ({ ok: true, ids }),
        (error: unknown): { ok: false; error: unknown } => ({ ok: false, error }),
      ),
    ),
  );
  const targets = new Map<string, Target>();
  for (const m of members) {
    const resolved = identities[m.index];
    if (resolved === undefined || !resolved.ok) {
      fail(m, resolved?.error);
      continue;
    }
    try {
      const target = targetOf(m.group, resolved.ids, deps.mapping, targets);
      target.members.push(m);
    } catch (error) {
      fail(m, error);
    }
  }

  // 3. Stored Observations: cache, then one search for the misses.
  const misses: Target[] = [];
  for (const target of targets.values()) {
    const cached = deps.cache?.get(target.identity.value);
    if (cached === undefined) {
      misses.push(target);
    } else {
      target.stored = cached;
      target.base = cached;
    }
  }
  const missed = new Set(misses);
  let pending = [...(await readStored(misses, deps, failAll)), ...[...targets.values()].filter((t) => !missed.has(t))];

  // 4–5. Plan, write, and resolve conflicts and create races.
  while (pending.length > 0) {
    const issued = new Date(deps.clock()).toISOString();
    const writes: { target: Target; plan: Plan; blind: boolean }[] = [];
    for (const target of pending) {
      const plan = planTarget(target, issued);
      if (plan instanceof PipelineError) {
        failAll(target, plan);
      } else if (plan.write && plan.resource !== undefined) {
        writes.push({ target, plan, blind: target.stored === undefined });
      } else {
        finish(target, plan, target.stored);
      }
    }
    if (writes.length === 0) {
      break;
    }

    let results: FhirResult<PutResult<Resource>>[];
    try {
      results = await deps.store.putMany(
        writes.map(({ target, plan }) => {
          target.writes++;
          const ifMatch = target.stored?.meta?.versionId;
          return ifMatch === undefined
            ? { resource: plan.resource as Observation }
            : { resource: plan.resource as Observation, ifMatch };
        }),
      );
    } catch (error) {
      results = writes.map(() => ({ ok: false, error: toPipelineError(error) }));
    }

    const conflicts: Target[] = [];
    const races: { target: Target; plan: Plan; written: Observation }[] = [];
    const uncertain: { target: Target; error: PipelineError; blind: boolean }[] = [];
    writes.forEach(({ target, plan, blind }, i) => {
      const result = results[i];
      // A pending repair holds readings that exist nowhere else but in the history: it gets more attempts.
      const budget = target.recovered.length > 0 || blind ? maxAttempts + REPAIR_ATTEMPTS : maxAttempts;
      if (result === undefined) {
        failAll(target, new PipelineError(ErrorCode.Internal, 'The FHIR store returned fewer results than writes.'));
      } else if (result.ok) {
        const written = result.value.resource as Observation;
        if (blind && !result.value.created) {
          // Our create found the Observation already there: our PUT replaced whatever was written since our search.
          metrics.count(Metric.FhirContention, 1, { stage: STAGE, resourceType: 'Observation' });
          if (target.writes < budget && isSequentialVersion(written.meta?.versionId)) {
            races.push({ target, plan, written });
            return;
          }
        }
        finish(target, plan, written);
      } else {
        deps.cache?.delete(target.identity.value);
        const repairing = target.recovered.length > 0;
        if (result.error.code === ErrorCode.FhirConflict) {
          metrics.count(Metric.FhirContention, 1, { stage: STAGE, resourceType: 'Observation' });
          if (!repairing && target.writes < maxAttempts) {
            conflicts.push(target);
            return;
          }
        }
        if ((blind || repairing) && result.error.retryable && target.writes < budget) {
          // A create whose outcome is unknown (an attempt may have been applied, replacing someone's version, before
          // the client lost the answer), or a repair that did not get through (conflict included): read what is
          // there now, by id and with more patience than a plain conflict gets.
          uncertain.push({ target, error: result.error, blind });
          return;
        }
        failAll(target, result.error);
      }
    });

    const repaired = await Promise.all([
      ...races.map(async ({ target, plan, written }) => {
        try {
          const replaced = await retried(() =>
            readEarlierVersions(deps.store, target.identity.id, written.meta?.versionId),
          );
          if (replaced.length === 0) {
            // The replaced versions are gone (deleted): nothing to fold back in.
            finish(target, plan, written);
            return undefined;
          }
          addRecovered(target, replaced);
          target.stored = written;
          target.base = undefined;
          return target;
        } catch (error) {
          failAll(target, error);
          return undefined;
        }
      }),
      ...uncertain.map(async ({ target, error, blind }) => {
        try {
          const [current, earlier] = await retried(async () => {
            const found = await deps.store.read('Observation', target.identity.id);
            const versions =
              found === undefined || !blind
                ? []
                : await readEarlierVersions(deps.store, target.identity.id, found.meta?.versionId);
            return [found, versions] as const;
          });
          addRecovered(target, earlier);
          target.stored = current;
          target.base = current;
          return target;
        } catch {
          // Still unreachable: the group fails with the write's error and is retried as a whole.
          failAll(target, error);
          return undefined;
        }
      }),
    ]);
    pending = [...(await readStored(conflicts, deps, failAll)), ...repaired.filter((t) => t !== undefined)];
  }

  const savedList = saved.filter((s): s is SavedGroup => s !== undefined);
  return {
    created: savedList.filter((s) => s.outcome === 'Created').length,
    updated: savedList.filter((s) => s.outcome === 'Updated').length,
    unchanged: savedList.filter((s) => s.outcome === 'NoOperation').length,
    failed: failed.filter((f) => f !== undefined).length,
    saved: savedList,
    failures: failed.filter((f): f is FailedGroup => f !== undefined),
  };
}

/** The target of a group, created on first use; throws for groups that cannot become an Observation. */
function targetOf(
  group: MeasurementGroup,
  subject: ResolvedIdentity,
  mapping: FhirMapping,
  targets: Map<string, Target>,
): Target {
  if (group.error !== undefined) {
    throw new PipelineError(group.error.code, group.error.message, {
      details: group.error.details,
      medtechErrorType: group.error.medtechErrorType,
    });
  }
  const template = mapping.templateFor(group.type);
  if (template === undefined) {
    throw new PipelineError(ErrorCode.TemplateNotFound, `No FHIR template matches measurement type '${group.type}'.`, {
      details: { template: group.type },
    });
  }
  const identity = observationIdentity(group, subject.patientId, subject.deviceId);
  let target = targets.get(identity.value);
  if (target === undefined) {
    target = { identity, template, subject, members: [], stored: undefined, base: undefined, recovered: [], writes: 0 };
    targets.set(identity.value, target);
  }
  return target;
}

/**
 * Reads the current versions of targets with ONE search; fails the targets whose search failed or is ambiguous.
 * @returns the targets that can be planned
 */
async function readStored(
  targets: readonly Target[],
  deps: SaveDependencies,
  failAll: (target: Target, error: unknown) => void,
): Promise<Target[]> {
  if (targets.length === 0) {
    return [];
  }
  let results: FhirResult<Resource[]>[];
  try {
    results = await deps.store.searchManyByIdentifier(
      targets.map((t) => ({
        resourceType: 'Observation',
        identifier: { system: t.identity.system, value: t.identity.value },
      })),
    );
  } catch (error) {
    for (const t of targets) {
      failAll(t, error);
    }
    return [];
  }
  const ready: Target[] = [];
  targets.forEach((target, i) => {
    const result = results[i];
    if (result === undefined || !result.ok) {
      failAll(
        target,
        result?.error ?? new PipelineError(ErrorCode.Internal, 'The FHIR store returned fewer results than searches.'),
      );
      return;
    }
    // The FHIR service may match identifiers on a prefix: keep exact matches only.
    const matches = result.value.filter(
      (r): r is Observation =>
        r.resourceType === 'Observation' &&
        (r.identifier ?? []).some((id) => id.system === target.identity.system && id.value === target.identity.value),
    );
    if (matches.length > 1) {
      failAll(
        target,
        new PipelineError(
          ErrorCode.MultipleResourcesFound,
          'More than one Observation carries the identifier of the window.',
          {
            medtechErrorType: 'MultipleObservationFoundException',
            details: { resourceType: 'Observation', count: matches.length },
          },
        ),
      );
      return;
    }
    target.stored = matches[0];
    target.base = matches[0];
    ready.push(target);
  });
  return ready;
}

/**
 * Applies a target's windows in memory: folds recovered versions into the base, then builds or merges each window
 * on its own. Returns a PipelineError when recovered versions cannot be combined.
 */
function planTarget(target: Target, issued: string): Plan | PipelineError {
  let current = target.base;
  try {
    for (const replaced of target.recovered) {
      current =
        current === undefined
          ? structuredClone(replaced)
          : foldObservation(target.template, current, replaced).observation;
    }
  } catch (error) {
    return toPipelineError(error);
  }
  const outcomes = new Map<Member, SaveOutcome>();
  const errors = new Map<Member, PipelineError>();
  for (const m of target.members) {
    try {
      if (current === undefined) {
        current = buildObservation(target.template, m.group, target.identity, target.subject, issued);
        outcomes.set(m, 'Created');
      } else {
        const merged = mergeObservation(target.template, m.group, current);
        current = merged.observation;
        outcomes.set(m, merged.changed ? 'Updated' : 'NoOperation');
      }
    } catch (error) {
      errors.set(m, toPipelineError(error));
    }
  }
  const write = current !== undefined && (target.stored === undefined || !sameContent(target.stored, current));
  return { resource: current, outcomes, errors, write };
}

/** Equal apart from `meta`, which the server manages (a folded older version carries another versionId). */
function sameContent(a: Observation, b: Observation): boolean {
  return jsonEqual({ ...a, meta: undefined }, { ...b, meta: undefined });
}

/** Writes a target with a pending create-race repair may take beyond `maxAttempts`. */
const REPAIR_ATTEMPTS = 5;

/** Reads made at most (each with the store's own retries) to learn what a failed create or repair left behind. */
const REPAIR_READS = 3;

/** Runs a read up to {@link REPAIR_READS} times: what it learns exists nowhere else. */
async function retried<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= REPAIR_READS) {
        throw error;
      }
    }
  }
}

/** Adds versions to fold back in, once each. */
function addRecovered(target: Target, versions: readonly Observation[]): void {
  const known = new Set(target.recovered.map((v) => v.meta?.versionId));
  for (const version of versions) {
    if (!known.has(version.meta?.versionId)) {
      target.recovered.push(version);
      known.add(version.meta?.versionId);
    }
  }
}

/** Versions read back at most when repairing a create (a bound on a history that only contention makes long). */
const MAX_REPAIRED_VERSIONS = 100;

/** True for versionIds counted 1, 2, 3… (Azure Health Data Services, HAPI, the embedded server). */
function isSequentialVersion(versionId: string | undefined): versionId is string {
  return versionId !== undefined && /^[1-9][0-9]{0,14}$/.test(versionId);
}

/**
 * Every version before `versionId`, newest first, down to version 1 or the first one that cannot be read (a deleted
 * version, 410): ALL of them, not just `versionId − 1`. A create's PUT may have been applied more than once (the
 * client retried after losing the answer) and others may have merged into the version it replaced, so the version
 * right before ours can be our own; only the whole history since the Observation appeared is sure to hold every
 * reading. Folding an older version is harmless: the newer content wins, older readings fill gaps. Empty when the
 * versions are not counted 1, 2, 3…
 */
async function readEarlierVersions(
  store: FhirStore,
  id: string,
  versionId: string | undefined,
): Promise<Observation[]> {
  if (!isSequentialVersion(versionId)) {
    return [];
  }
  const newest = Number(versionId) - 1;
  const count = Math.max(0, Math.min(newest, MAX_REPAIRED_VERSIONS));
  const versions = await Promise.all(
    Array.from({ length: count }, (_, i) => store.readVersion('Observation', id, String(newest - i))),
  );
  const gone = versions.indexOf(undefined);
  return (gone < 0 ? versions : versions.slice(0, gone)) as Observation[];
}
