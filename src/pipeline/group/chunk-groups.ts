import type { MeasurementGroup } from '../model/measurement-group';

/**
 * Splits groups into chunks of at most `size` for the persist fan-out (house-style convention 10). A device's
 * groups are kept together and in order where they fit, so concurrent chunks rarely touch one Observation
 * (MedTech also processes one device's groups sequentially, §9.2); a device with more groups than `size` spans
 * consecutive chunks.
 *
 * @param groups - the groups of a batch, in grouping order
 * @param size - the most groups per chunk (≥ 1)
 */
export function chunkGroups(groups: readonly MeasurementGroup[], size: number): MeasurementGroup[][] {
  const limit = Math.max(1, Math.floor(size));
  const byDevice = new Map<string, MeasurementGroup[]>();
  for (const group of groups) {
    const list = byDevice.get(group.deviceId);
    if (list === undefined) {
      byDevice.set(group.deviceId, [group]);
    } else {
      list.push(group);
    }
  }
  const chunks: MeasurementGroup[][] = [];
  let current: MeasurementGroup[] = [];
  for (const deviceGroups of byDevice.values()) {
    if (current.length > 0 && current.length + deviceGroups.length > limit) {
      chunks.push(current);
      current = [];
    }
    for (const group of deviceGroups) {
      if (current.length === limit) {
        chunks.push(current);
        current = [];
      }
      current.push(group);
    }
  }
  if (current.length > 0) {
    chunks.push(current);
  }
  return chunks;
}
