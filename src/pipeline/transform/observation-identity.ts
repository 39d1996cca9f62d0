/**
 * Deterministic identities of the resources the pipeline writes (medtech-reference §9.5, §10). These must match
 * MedTech bit for bit: a FHIR store MedTech wrote to keeps merging into the same Observations, Patients and Devices
 * (compatibility policy §0.1).
 */
import { createHash } from 'node:crypto';
import { formatIdentifierTime } from '../convert/instant';
import { ErrorCode, PipelineError } from '../errors';
import { parseWindow } from '../group/window';
import { PeriodInterval } from '../mapping/fhir-template';
import type { MeasurementGroup } from '../model/measurement-group';

/** The identifier system of MedTech's Observations and the system of its "service" codings. */
export const SERVICE_SYSTEM = 'https://azure.microsoft.com/en-us/services/iomt-fhir-connector/';

/** An Observation's business identifier and the logical id derived from it. */
export interface ObservationIdentity {
  readonly system: typeof SERVICE_SYSTEM;
  /** `{patientResourceId}.{deviceResourceId}.{MeasureType}.{segment}` */
  readonly value: string;
  /** Lowercase hex SHA-256 of `{system}_{value}`. */
  readonly id: string;
}

/**
 * Lowercase hex SHA-256 of the UTF-8 bytes of `text`.
 * @param text - the text to hash
 */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The logical id MedTech derives from an identifier (`SHA256HashGenerator`, `ResourceManagementService`):
 * SHA-256 of `{system}_{value}`, where a blank system counts as empty.
 * @param system - the identifier system, if any
 * @param value - the identifier value
 */
export function idForIdentifier(system: string | null | undefined, value: string): string {
  const s = system === null || system === undefined || system.trim() === '' ? '' : system;
  return sha256Hex(`${s}_${value}`);
}

/**
 * The id segment of an observation window: `yyyyMMddHHmmssZ.yyyyMMddHHmmssZ` (second precision) for time-based
 * intervals, the correlation id for CorrelationId windows.
 * @param group - a windowed measurement group
 */
export function observationIdSegment(group: MeasurementGroup): string {
  if (group.window === null || group.periodInterval === null) {
    throw new PipelineError(ErrorCode.Internal, 'An observation identity needs a windowed measurement group.', {
      details: { template: group.type },
    });
  }
  if (group.periodInterval === PeriodInterval.CorrelationId) {
    return group.correlationId ?? '';
  }
  const bounds = parseWindow(group.window);
  return `${formatIdentifierTime(bounds.start)}.${formatIdentifierTime(bounds.end)}`;
}

/**
 * The identifier and id of the Observation a window lands in. Encounter and (for time-based intervals) correlation
 * ids are deliberately not part of it, as in MedTech.
 * @param group - a windowed measurement group
 * @param patientResourceId - the Patient's logical id from identity resolution
 * @param deviceResourceId - the Device's logical id from identity resolution
 */
export function observationIdentity(
  group: MeasurementGroup,
  patientResourceId: string,
  deviceResourceId: string,
): ObservationIdentity {
  const value = `${patientResourceId}.${deviceResourceId}.${group.type}.${observationIdSegment(group)}`;
  return { system: SERVICE_SYSTEM, value, id: sha256Hex(`${SERVICE_SYSTEM}_${value}`) };
}
