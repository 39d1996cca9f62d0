/**
 * The values of one observation window, per property name (MedTech's `SortedObservationGroup`): each name keeps a
 * time-sorted list; a second value at exactly the same time for the same name is ignored (the first is kept).
 */
import { compareInstants } from '../convert/instant';
import { parseGroupTime } from '../group/window';
import type { MeasurementGroup } from '../model/measurement-group';
import type { TimedValue } from './sampled-data';

/**
 * Collects the window's values by property name (ordinal, case-sensitive).
 * @param group - a measurement group
 * @returns name → values sorted by time, at most one per instant
 */
export function collectWindowValues(group: MeasurementGroup): Map<string, TimedValue[]> {
  const byName = new Map<string, TimedValue[]>();
  for (const m of group.measurements) {
    if (m.properties.length === 0) {
      continue;
    }
    const time = parseGroupTime(m.occurrenceTimeUtc, 'OccurrenceTimeUtc');
    for (const p of m.properties) {
      const list = byName.get(p.name);
      if (list === undefined) {
        byName.set(p.name, [{ time, value: p.value }]);
      } else {
        list.push({ time, value: p.value });
      }
    }
  }
  for (const [name, list] of byName) {
    if (list.length > 1) {
      byName.set(name, sortedUniqueByTime(list));
    }
  }
  return byName;
}

/** Stable sort by time, then drop later entries at an already-present instant (first inserted wins). */
function sortedUniqueByTime(list: TimedValue[]): TimedValue[] {
  list.sort((a, b) => compareInstants(a.time, b.time));
  const out: TimedValue[] = [];
  let last: TimedValue | undefined;
  for (const v of list) {
    if (last === undefined || compareInstants(last.time, v.time) !== 0) {
      out.push(v);
      last = v;
    }
  }
  return out;
}
