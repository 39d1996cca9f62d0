/**
 * Merging a window into a stored Observation (medtech-reference §9.7, `CodeValueFhirTemplateProcessor.
 * MergeObservationImpl` and `ObservationExtensions.AmendIfChanged`). The merge works on a copy; the caller writes
 * only when the copy differs from the stored resource.
 */
import type { Observation, ObservationComponent } from '@medplum/fhirtypes';
import { compareInstants, formatRoundTrip, type Instant } from '../convert/instant';
import { ErrorCode, PipelineError } from '../errors';
import { parseWindow, type WindowBounds } from '../group/window';
import type { CodeValueFhirTemplate } from '../mapping/fhir-template';
import type { MeasurementGroup } from '../model/measurement-group';
import { resolveCategory, resolveCode } from './build-observation';
import { parseFhirDateTime } from './fhir-date-time';
import { cloneJson } from './clone-json';
import { jsonEqual } from './json-equal';
import { SERVICE_SYSTEM } from './observation-identity';
import { mergeIntoValue, relayoutSampledData, setNewValue } from './observation-values';
import { collectWindowValues } from './window-values';

/** The outcome of {@link mergeObservation}. */
export interface MergeResult {
  /** The merged copy (the stored resource itself is never modified). */
  readonly observation: Observation;
  /** False when the merge changed nothing: no write is needed. */
  readonly changed: boolean;
}

/**
 * Merges a window into a stored Observation:
 * - `category` is replaced by the template's (removed when the template has none);
 * - the value and each component with values in the window are merged ({@link mergeIntoValue}); components are
 *   found by their service coding (system + value name), missing ones are appended;
 * - `effectivePeriod` is widened to cover the window (a stored `effectiveDateTime` becomes a Period);
 * - if the result deep-equals the stored resource nothing changed; otherwise its status becomes `amended`.
 *
 * @param template - the type's template
 * @param group - a windowed measurement group
 * @param stored - the Observation as read from the FHIR service (or as just built for an earlier window)
 * @throws PipelineError `NOT_SUPPORTED` for stored values the merge cannot handle; value errors as in build
 */
export function mergeObservation(
  template: CodeValueFhirTemplate,
  group: MeasurementGroup,
  stored: Observation,
): MergeResult {
  if (group.window === null) {
    throw new PipelineError(ErrorCode.Internal, 'A merge needs a windowed measurement group.', {
      details: { template: template.typeName },
    });
  }
  const ctx = { template: template.typeName };
  const merged = cloneJson(stored);

  delete merged.category;
  if (template.category !== undefined && template.category.length > 0) {
    merged.category = resolveCategory(template.category);
  }

  const storedPeriod = storedEffectivePeriod(stored, template.typeName);
  const window = parseWindow(group.window);
  const mergedPeriod: WindowBounds = {
    start: compareInstants(window.start, storedPeriod.start) < 0 ? window.start : storedPeriod.start,
    end: compareInstants(window.end, storedPeriod.end) > 0 ? window.end : storedPeriod.end,
  };

  const values = collectWindowValues(group);
  const valueName = template.value?.valueName;
  if (template.value !== undefined && valueName !== undefined && valueName.trim() !== '') {
    const mainValues = values.get(valueName);
    if (mainValues !== undefined) {
      mergeIntoValue(merged, template.value, mainValues, storedPeriod, mergedPeriod, ctx);
    } else {
      // A SampledData without new values must still follow a start that moved earlier.
      relayoutSampledData(merged, template.value, storedPeriod.start, mergedPeriod, ctx);
    }
  }

  for (const component of template.components) {
    const name = component.value.valueName;
    if (name === undefined) {
      continue;
    }
    const componentValues = values.get(name);
    const found = findComponent(merged.component, name);
    if (componentValues === undefined) {
      if (found !== undefined) {
        relayoutSampledData(found, component.value, storedPeriod.start, mergedPeriod, ctx);
      }
    } else if (found === undefined) {
      const added: ObservationComponent = { code: resolveCode(name, component.codes) };
      // Laid out over the widened period, so a new SampledData covers the whole effectivePeriod (MedTech uses the
      // stored period and would drop values of a window that extends it).
      setNewValue(added, component.value, componentValues, mergedPeriod, ctx);
      (merged.component ??= []).push(added);
    } else {
      mergeIntoValue(found, component.value, componentValues, storedPeriod, mergedPeriod, ctx);
    }
  }

  delete merged.effectiveDateTime;
  merged.effectivePeriod = {
    start: boundText(mergedPeriod.start, window.start, group.window.start, stored.effectivePeriod?.start),
    end: boundText(mergedPeriod.end, window.end, group.window.end, stored.effectivePeriod?.end),
  };
  return amendIfChanged(stored, merged);
}

/**
 * MedTech's `AmendIfChanged`: compares the merged copy with the stored resource and marks a changed copy `amended`.
 * @param stored - the resource before the merge
 * @param merged - the merged copy (its status is set when changed)
 */
export function amendIfChanged(stored: Observation, merged: Observation): MergeResult {
  const changed = !jsonEqual(stored, merged);
  if (changed) {
    merged.status = 'amended';
  }
  return { observation: merged, changed };
}

/**
 * The component of a value name: the one with a coding of the service system whose code is the name.
 * @param components - the Observation's components
 * @param name - the value name
 */
export function findComponent(
  components: readonly ObservationComponent[] | undefined,
  name: string,
): ObservationComponent | undefined {
  return components?.find((c) => c.code.coding?.some((cd) => cd.code === name && cd.system === SERVICE_SYSTEM));
}

/**
 * The stored effective time as UTC bounds: a Period, or a dateTime taken as `[t, t]`; anything else (or an
 * unreadable value) cannot be merged.
 * @param stored - a stored Observation
 * @param template - the template name, for the error message
 * @throws PipelineError `NOT_SUPPORTED`
 */
export function storedEffectivePeriod(stored: Observation, template: string): WindowBounds {
  const unsupported = (what: string): PipelineError =>
    new PipelineError(
      ErrorCode.NotSupported,
      `Cannot merge into the stored Observation of template '${template}': ${what}.`,
      { details: { template, field: 'effective[x]' } },
    );
  if (stored.effectivePeriod !== undefined) {
    const { start, end } = stored.effectivePeriod;
    const s = start === undefined ? undefined : parseFhirDateTime(start);
    const e = end === undefined ? undefined : parseFhirDateTime(end);
    if (s === undefined || e === undefined) {
      throw unsupported('its effectivePeriod lacks a readable start or end');
    }
    return { start: s, end: e };
  }
  if (stored.effectiveDateTime !== undefined) {
    const t = parseFhirDateTime(stored.effectiveDateTime);
    if (t === undefined) {
      throw unsupported('its effectiveDateTime is not readable');
    }
    return { start: t, end: t };
  }
  throw unsupported('it has neither effectivePeriod nor effectiveDateTime');
}

/**
 * The text of a merged bound. A bound taken from the window is written as the window writes it; a stored bound
 * keeps its stored text when it is a Period bound (a server that re-formats dateTimes, e.g. `+00:00` → `Z`, must
 * not turn every merge into an update); otherwise it is written in round-trip form, as MedTech does.
 * @param bound - the merged bound
 * @param windowBound - the corresponding bound of the incoming side (identity decides where `bound` came from)
 * @param windowText - the incoming side's text of that bound
 * @param storedText - the stored Period's text of that bound, if it was a Period
 */
export function boundText(
  bound: Instant,
  windowBound: Instant,
  windowText: string,
  storedText: string | undefined,
): string {
  if (bound === windowBound) {
    return windowText;
  }
  return storedText ?? formatRoundTrip(bound);
}
