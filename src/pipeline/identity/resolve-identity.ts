/**
 * Device / Patient / Encounter identity resolution (medtech-reference §10): which FHIR resources an Observation
 * refers to. Three modes, as MedTech's `ResourceIdentityServiceType`:
 *
 * - `Lookup`: the Device by identifier (the configured system, or any), the Patient from the Device's `patient`
 *   reference (the measurement's patient id is ignored), the Encounter by identifier when the group has one.
 * - `Create`: Lookup; when that fails with Device- or Patient-not-found, the Patient and Device are found or
 *   created with MedTech's deterministic ids by PUT (concurrent workers converge on one resource), and an
 *   unlinked Device is linked to the Patient (`If-Match`, so a concurrent change is not overwritten).
 * - `LookupWithEncounter`: Lookup, and the group must carry an encounter id.
 *
 * Fixes (docs/compatibility.md): the Encounter is linked in Create mode too, also for a newly created Device; results
 * are cached per device AND encounter id, so encounter links do not go stale; failures are never cached; a patient
 * reference whose id is longer than a FHIR id allows is not truncated into another patient's id.
 */
import type { Device, Encounter, Patient, Resource, ResourceType } from '@medplum/fhirtypes';
import type { Clock } from '../clock';
import { ErrorCode, PipelineError, isPipelineError } from '../errors';
import type { MeasurementGroup } from '../model/measurement-group';
import type { FhirStore } from '../persist/fhir-store';
import { LruTtlCache } from '../persist/lru-ttl-cache';
import { idForIdentifier } from '../transform/observation-identity';

/** The identity resolution modes (MedTech `ResourceIdentityServiceType`). */
export type IdentityMode = 'Create' | 'Lookup' | 'LookupWithEncounter';

/** The logical ids an Observation refers to. */
export interface ResolvedIdentity {
  readonly patientId: string;
  readonly deviceId: string;
  readonly encounterId?: string;
}

/** The identifiers of a group that resolution looks at. */
export type IdentitySource = Pick<MeasurementGroup, 'deviceId' | 'patientId' | 'encounterId'>;

/** Resolves groups to resource ids. */
export interface IdentityResolver {
  /**
   * The ids for a group's device, patient and encounter identifiers.
   * @param group - the group (only its identifiers are used)
   * @throws PipelineError DEVICE_NOT_FOUND, PATIENT_NOT_FOUND, ENCOUNTER_NOT_FOUND, PATIENT_IDENTITY_NOT_DEFINED,
   *   ENCOUNTER_IDENTITY_NOT_DEFINED, PATIENT_DEVICE_MISMATCH, MULTIPLE_RESOURCES_FOUND or a FHIR_* error
   */
  resolve(group: IdentitySource): Promise<ResolvedIdentity>;
}

/** Options of {@link createIdentityResolver}. */
export interface IdentityResolverOptions {
  readonly store: FhirStore;
  readonly mode: IdentityMode;
  /** `ResourceIdentity:DefaultDeviceIdentifierSystem`: the system of Device identifiers; blank means any. */
  readonly defaultDeviceIdentifierSystem?: string;
  readonly clock: Clock;
  /** Sliding lifetime of a cached resolution. Default 2 h (MedTech). */
  readonly ttlMs?: number;
  /**
   * Cached resolutions at most. Default 50,000 (MedTech: 5000). An entry is a few hundred bytes; with more active
   * devices than entries the LRU evicts every device before its next reading, and every measurement group costs a
   * Device search (`npm run bench`, 10,000 devices: 1,007 FHIR requests per 1,000 events and a third of the
   * throughput at 5000 entries; 7 requests at 50,000).
   */
  readonly maxEntries?: number;
}

/** A patient reference's id (`Firely GetId<Patient>`: `Patient/<id>` anywhere in the reference, so absolute URLs work). */
const PATIENT_REFERENCE = /Patient\/([A-Za-z0-9_.\-~#]{1,64})(?![A-Za-z0-9_.\-~#])/;

/** Attempts of the Create path when the Device link update meets a concurrent change. */
const CREATE_ATTEMPTS = 3;

/**
 * A resolver with its own cache and in-flight de-duplication (concurrent groups of one device cost one lookup).
 * @param options - store, mode, device identifier system, clock and cache limits
 */
export function createIdentityResolver(options: IdentityResolverOptions): IdentityResolver {
  const { store, mode } = options;
  const system = isBlank(options.defaultDeviceIdentifierSystem) ? undefined : options.defaultDeviceIdentifierSystem;
  const cache = new LruTtlCache<ResolvedIdentity>({
    clock: options.clock,
    ttlMs: options.ttlMs ?? 7_200_000,
    maxEntries: options.maxEntries ?? 50_000,
    expiry: 'sliding',
  });
  const inFlight = new Map<string, Promise<ResolvedIdentity>>();

  const findOne = async <K extends 'Device' | 'Patient' | 'Encounter'>(
    resourceType: K,
    value: string,
    identifierSystem?: string,
  ): Promise<Extract<Resource, { resourceType: K }> | undefined> => {
    const found = await store.searchByIdentifier(
      resourceType,
      identifierSystem === undefined ? { value } : { system: identifierSystem, value },
    );
    if (found.length > 1) {
      throw new PipelineError(
        ErrorCode.MultipleResourcesFound,
        `More than one ${resourceType} carries the measurement group's ${resourceType.toLowerCase()} identifier.`,
        { medtechErrorType: `Multiple${resourceType}FoundException`, details: { resourceType, count: found.length } },
      );
    }
    return found[0];
  };

  /** Lookup: the Device and the Patient it refers to. */
  const lookUpDeviceAndPatient = async (group: IdentitySource): Promise<ResolvedIdentity> => {
    const device = await findOne('Device', group.deviceId, system);
    if (device?.id === undefined) {
      throw notFound('Device');
    }
    const patientId = patientIdOf(device);
    if (patientId === undefined) {
      throw notFound('Patient');
    }
    return { deviceId: device.id, patientId };
  };

  /** Create: find or create the Patient and the Device, and link them. */
  const ensureDeviceAndPatient = async (group: IdentitySource): Promise<ResolvedIdentity> => {
    const patientIdentifier = group.patientId;
    if (patientIdentifier === null || isBlank(patientIdentifier)) {
      throw new PipelineError(
        ErrorCode.PatientIdentityNotDefined,
        'The Device is not linked to a Patient and the measurement group carries no patient identifier.',
        { medtechErrorType: 'PatientIdentityNotDefinedException' },
      );
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const patient =
          (await findOne('Patient', patientIdentifier)) ??
          (
            await store.put<Patient>({
              resourceType: 'Patient',
              id: idForIdentifier(undefined, patientIdentifier),
              identifier: [{ value: patientIdentifier }],
            })
          ).resource;
        const patientId = requireId(patient);
        const device =
          (await findOne('Device', group.deviceId, system)) ??
          (
            await store.put<Device>({
              resourceType: 'Device',
              id: idForIdentifier(system, group.deviceId),
              identifier: [system === undefined ? { value: group.deviceId } : { system, value: group.deviceId }],
              patient: { reference: `Patient/${patientId}` },
            })
          ).resource;
        if (device.patient === undefined) {
          const linked = await store.put<Device>(
            { ...device, patient: { reference: `Patient/${patientId}` } },
            device.meta?.versionId === undefined ? {} : { ifMatch: device.meta.versionId },
          );
          return { deviceId: requireId(linked.resource), patientId };
        }
        if (patientIdOf(device) !== patientId) {
          throw new PipelineError(
            ErrorCode.PatientDeviceMismatch,
            "The Device is linked to another Patient than the measurement group's patient identifier names.",
            { medtechErrorType: 'PatientDeviceMismatchException' },
          );
        }
        return { deviceId: requireId(device), patientId };
      } catch (error) {
        // Another worker linked the Device between our read and our write: read again.
        if (attempt >= CREATE_ATTEMPTS || !isPipelineError(error) || error.code !== ErrorCode.FhirConflict) {
          throw error;
        }
      }
    }
  };

  const resolveEncounter = async (encounterIdentifier: string): Promise<string> => {
    const encounter: Encounter | undefined = await findOne('Encounter', encounterIdentifier);
    if (encounter?.id === undefined) {
      throw notFound('Encounter');
    }
    return encounter.id;
  };

  const resolveUncached = async (group: IdentitySource): Promise<ResolvedIdentity> => {
    let ids: ResolvedIdentity;
    try {
      ids = await lookUpDeviceAndPatient(group);
    } catch (error) {
      const recoverable =
        mode === 'Create' &&
        isPipelineError(error) &&
        (error.code === ErrorCode.DeviceNotFound || error.code === ErrorCode.PatientNotFound);
      if (!recoverable) {
        throw error;
      }
      ids = await ensureDeviceAndPatient(group);
    }
    const encounterIdentifier = group.encounterId;
    if (encounterIdentifier === null || isBlank(encounterIdentifier)) {
      if (mode === 'LookupWithEncounter') {
        throw new PipelineError(
          ErrorCode.EncounterIdentityNotDefined,
          'The measurement group carries no encounter identifier (LookupWithEncounter mode requires one).',
          { medtechErrorType: 'EncounterIdentityNotDefinedException' },
        );
      }
      return ids;
    }
    return { ...ids, encounterId: await resolveEncounter(encounterIdentifier) };
  };

  return {
    resolve: (group) => {
      const key = `${group.deviceId}\u0000${group.encounterId ?? ''}`;
      const cached = cache.get(key);
      if (cached !== undefined) {
        return Promise.resolve(cached);
      }
      const pending = inFlight.get(key);
      if (pending !== undefined) {
        return pending;
      }
      const started = resolveUncached(group).then(
        (ids) => {
          inFlight.delete(key);
          cache.set(key, ids);
          return ids;
        },
        (error: unknown) => {
          inFlight.delete(key);
          throw error;
        },
      );
      inFlight.set(key, started);
      return started;
    },
  };
}

/** The Patient id of a Device's `patient` reference, or `undefined`. */
function patientIdOf(device: Device): string | undefined {
  const reference = device.patient?.reference;
  return reference === undefined ? undefined : PATIENT_REFERENCE.exec(reference)?.[1];
}

function notFound(resourceType: 'Device' | 'Patient' | 'Encounter'): PipelineError {
  const code =
    resourceType === 'Device'
      ? ErrorCode.DeviceNotFound
      : resourceType === 'Patient'
        ? ErrorCode.PatientNotFound
        : ErrorCode.EncounterNotFound;
  const what =
    resourceType === 'Patient'
      ? "No Patient is linked to the measurement group's Device."
      : `No ${resourceType} carries the measurement group's ${resourceType.toLowerCase()} identifier.`;
  return new PipelineError(code, what, { details: { resourceType } });
}

function requireId(resource: { readonly resourceType: ResourceType; readonly id?: string }): string {
  if (resource.id === undefined || resource.id === '') {
    throw new PipelineError(
      ErrorCode.FhirResourceInvalid,
      `The FHIR service returned a ${resource.resourceType} without id.`,
    );
  }
  return resource.id;
}

function isBlank(s: string | undefined): boolean {
  return s === undefined || s.trim() === '';
}
