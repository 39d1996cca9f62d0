/**
 * Combining two stored versions of one Observation. Needed when a PUT meant to create an Observation replaced one
 * that another worker created in between (update-as-create cannot be made conditional in FHIR R4): the replaced
 * version's readings are folded back in, so two concurrent writers never lose data.
 */
import type { Observation } from '@medplum/fhirtypes';
import { compareInstants, formatRoundTrip } from '../convert/instant';
import type { WindowBounds } from '../group/window';
import type { CodeValueFhirTemplate } from '../mapping/fhir-template';
import { cloneJson } from './clone-json';
import { amendIfChanged, boundText, findComponent, storedEffectivePeriod, type MergeResult } from './merge-observation';
import { combineStoredValue, relayoutSampledData } from './observation-values';

/**
 * Folds `other` into a copy of `base`: the effective periods are united; SampledData readings of both are kept
 * (`base` wins at equal times); for other value types `base`'s value stays and `other`'s fills a gap; components
 * only `other` has are added. Status becomes `amended` when anything changed.
 *
 * @param template - the type's template
 * @param base - the version to keep (newest content)
 * @param other - the version whose readings must survive
 * @throws PipelineError `NOT_SUPPORTED` when the versions cannot be combined
 */
export function foldObservation(template: CodeValueFhirTemplate, base: Observation, other: Observation): MergeResult {
  const ctx = { template: template.typeName };
  const merged = cloneJson(base);
  const basePeriod = storedEffectivePeriod(base, template.typeName);
  const otherPeriod = storedEffectivePeriod(other, template.typeName);
  const period: WindowBounds = {
    start: compareInstants(otherPeriod.start, basePeriod.start) < 0 ? otherPeriod.start : basePeriod.start,
    end: compareInstants(otherPeriod.end, basePeriod.end) > 0 ? otherPeriod.end : basePeriod.end,
  };

  if (template.value !== undefined) {
    combineStoredValue(merged, other, template.value, basePeriod.start, otherPeriod.start, period, ctx);
  }
  for (const component of template.components) {
    const name = component.value.valueName;
    if (name === undefined) {
      continue;
    }
    const theirs = findComponent(other.component, name);
    const ours = findComponent(merged.component, name);
    if (theirs === undefined) {
      if (ours !== undefined) {
        relayoutSampledData(ours, component.value, basePeriod.start, period, ctx);
      }
    } else if (ours === undefined) {
      const added = cloneJson(theirs);
      relayoutSampledData(added, component.value, otherPeriod.start, period, ctx);
      (merged.component ??= []).push(added);
    } else {
      combineStoredValue(ours, theirs, component.value, basePeriod.start, otherPeriod.start, period, ctx);
    }
  }

  delete merged.effectiveDateTime;
  merged.effectivePeriod = {
    start: boundText(
      period.start,
      otherPeriod.start,
      other.effectivePeriod?.start ?? formatRoundTrip(otherPeriod.start),
      base.effectivePeriod?.start,
    ),
    end: boundText(
      period.end,
      otherPeriod.end,
      other.effectivePeriod?.end ?? formatRoundTrip(otherPeriod.end),
      base.effectivePeriod?.end,
    ),
  };
  return amendIfChanged(base, merged);
}
