/**
 * The FHIR side of the benchmarks: the embedded FHIR server seeded with the devices' Patients and Devices (what
 * Lookup identity resolution needs), the HTTP client with a request counter, and the pipeline wired as the local
 * stack wires it.
 */
import type { Device, Patient, Resource } from '@medplum/fhirtypes';

import type { FhirRequestEvent } from '../../src/adapters/fhir/fhir-http-store';
import { FhirHttpStore } from '../../src/adapters/fhir/fhir-http-store';
import type { EmbeddedFhirServer } from '../../src/local/fhir-server';
import { startFhirServer } from '../../src/local/fhir-server';
import type { BatchDependencies, FhirStore, Normalizer, FhirMapping } from '../../src/pipeline';
import { createIdentityResolver, createObservationCache } from '../../src/pipeline';
import { deviceId, patientId } from './workload';

/**
 * The Patient and Device of every device, linked, with the identifiers the events carry.
 * @param devices - how many devices
 */
export function identityResources(devices: number): Resource[] {
  const resources: Resource[] = [];
  for (let d = 0; d < devices; d++) {
    const patient: Patient = { resourceType: 'Patient', id: `pat-${d}`, identifier: [{ value: patientId(d) }] };
    const device: Device = {
      resourceType: 'Device',
      id: `dev-${d}`,
      identifier: [{ value: deviceId(d) }],
      patient: { reference: `Patient/pat-${d}` },
    };
    resources.push(patient, device);
  }
  return resources;
}

/**
 * Starts a fresh embedded FHIR server (validation on, as `iomt start` runs it) on an ephemeral port.
 * @param devices - devices whose Patient and Device are seeded
 */
export async function startSeededServer(devices: number): Promise<EmbeddedFhirServer> {
  return startFhirServer({ port: 0, seed: identityResources(devices) });
}

/** Counts HTTP requests (a batch Bundle is one) and the entries they carried. */
export class RequestCounter {
  requests = 0;
  /** Entries in batches plus single requests. */
  entries = 0;
  readonly byInteraction = new Map<string, { requests: number; entries: number }>();

  /** The FhirHttpStore `onRequest` hook. */
  readonly onRequest = (event: FhirRequestEvent): void => {
    const entries = event.entries ?? 1;
    this.requests++;
    this.entries += entries;
    const key = event.interaction === 'batch' ? 'batch' : `${event.method} ${event.resourceType ?? ''}`.trim();
    const row = this.byInteraction.get(key) ?? { requests: 0, entries: 0 };
    row.requests++;
    row.entries += entries;
    this.byInteraction.set(key, row);
  };

  /** Starts counting from zero. */
  reset(): void {
    this.requests = 0;
    this.entries = 0;
    this.byInteraction.clear();
  }
}

/**
 * The HTTP client the Functions app and the local stack use, against a server.
 * @param server - the server (its base URL)
 * @param counter - counts the requests, if given
 */
export function httpStore(server: { readonly url: string }, counter?: RequestCounter): FhirHttpStore {
  return new FhirHttpStore({ baseUrl: server.url, ...(counter === undefined ? {} : { onRequest: counter.onRequest }) });
}

/**
 * Fresh pipeline dependencies (cold caches) over a store, as one worker holds them.
 * @param store - the FHIR store
 * @param normalizer - the device mapping
 * @param fhirMapping - the FHIR mapping
 * @param overrides - chunk size, concurrency
 */
export function pipelineDeps(
  store: FhirStore,
  normalizer: Normalizer,
  fhirMapping: FhirMapping,
  overrides: Partial<Pick<BatchDependencies, 'chunkSize' | 'concurrency'>> = {},
): BatchDependencies {
  const clock = Date.now;
  return {
    normalizer,
    fhirMapping,
    store,
    identity: createIdentityResolver({ store, mode: 'Lookup', clock }),
    clock,
    cache: createObservationCache({ clock }),
    ...overrides,
  };
}
