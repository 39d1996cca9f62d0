import { createServer } from 'node:http';
import { deepClone, operationOutcomeToString, OperationOutcomeError, parseSearchRequest } from '@medplum/core';
import type { Bundle, ExtractResource, Resource, ResourceType } from '@medplum/fhirtypes';
import { gracefulClose } from '../http/graceful-close';
import { listen } from '../http/listen';
import { buildCapabilityStatement } from './capability-statement';
import { ensureFhirDefinitions } from './fhir-definitions';
import { createFhirRouter } from './fhir-router';
import { createRequestListener } from './http-handler';
import { IndexedMemoryRepository } from './indexed-memory-repository';
import { SnapshotScheduler } from './snapshot-scheduler';
import { readSnapshot, writeSnapshot } from './snapshot-file';

/** Options of {@link startFhirServer}. */
export interface FhirServerOptions {
  /** Interface to bind; loopback by default, as the server has no authentication. */
  readonly host?: string;
  /** TCP port; 0 picks a free one (tests). Default 8080. */
  readonly port?: number;
  /** Path of the FHIR base. Default `/fhir`. */
  readonly basePath?: string;
  /**
   * Directory of `fhir-snapshot.json`: loaded at start, written on {@link EmbeddedFhirServer.snapshot}, on close and
   * shortly after writes. Without it the store lives in memory only.
   */
  readonly dataDir?: string;
  /** Validate every written resource (400 OperationOutcome when invalid). Default true. */
  readonly validate?: boolean;
  /** Resources to create when the store starts empty (no snapshot loaded); validated like any write. */
  readonly seed?: readonly Resource[] | Bundle;
  /** Request bodies above this get 413. Default 10 MiB. */
  readonly maxBodyBytes?: number;
  /** How long after a write the snapshot is written. Default 1000 ms. */
  readonly snapshotDelayMs?: number;
}

/** In-process, read-only access to the store, for tests. Results are copies. */
export interface EmbeddedFhirRepository {
  /**
   * Reads the current version of a resource.
   * @param resourceType - the resource type
   * @param id - the resource id
   * @returns the resource, or undefined when absent or deleted
   */
  read<K extends ResourceType>(resourceType: K, id: string): ExtractResource<K> | undefined;
  /**
   * Runs a FHIR search, unpaged (`_count`/`_offset` are ignored).
   * @param resourceType - the resource type
   * @param query - the query string without `?`, e.g. `identifier=urn:x|1&_sort=date`
   * @returns every match
   */
  search<K extends ResourceType>(resourceType: K, query?: string): ExtractResource<K>[];
  /**
   * Lists every current resource of a type.
   * @param resourceType - the resource type
   * @returns the resources, in creation order
   */
  all<K extends ResourceType>(resourceType: K): ExtractResource<K>[];
}

/** A running embedded FHIR server. */
export interface EmbeddedFhirServer {
  /** The FHIR base URL, e.g. `http://127.0.0.1:8080/fhir`. */
  readonly url: string;
  /** In-process access to the store. */
  readonly repository: EmbeddedFhirRepository;
  /** Writes the snapshot now (nothing to do without `dataDir`). */
  snapshot(): Promise<void>;
  /** Stops accepting requests, lets requests in flight finish, writes the last snapshot. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
const DEFAULT_SNAPSHOT_DELAY_MS = 1000;

function normalizeBasePath(basePath: string): string {
  const trimmed = basePath.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `/${trimmed}`;
}

function seedResources(seed: readonly Resource[] | Bundle): Resource[] {
  if (Array.isArray(seed)) {
    return [...(seed as readonly Resource[])];
  }
  return (seed as Bundle).entry?.flatMap((entry) => entry.resource ?? []) ?? [];
}

async function createSeed(repository: IndexedMemoryRepository, seed: readonly Resource[] | Bundle): Promise<void> {
  for (const [i, resource] of seedResources(seed).entries()) {
    try {
      await repository.createResource(resource);
    } catch (error) {
      const reason = error instanceof OperationOutcomeError ? operationOutcomeToString(error.outcome) : 'rejected';
      throw new Error(`FHIR server seed resource ${i} (${resource.resourceType}) is invalid: ${reason}`, {
        cause: error,
      });
    }
  }
}

/**
 * Starts the embedded FHIR R4 server: @medplum/fhir-router's FhirRouter and MemoryRepository behind node:http,
 * with an identifier index, per-identity serialization of conditional writes, validation, FHIR headers, batch
 * Bundles and optional snapshot persistence (see the folder's README comment in index.ts).
 * @param options - where to listen and what to load
 * @returns the running server
 */
export async function startFhirServer(options: FhirServerOptions = {}): Promise<EmbeddedFhirServer> {
  ensureFhirDefinitions();
  const basePath = normalizeBasePath(options.basePath ?? '/fhir');
  const { dataDir } = options;
  let scheduler: SnapshotScheduler | undefined;
  const repository = new IndexedMemoryRepository({
    validate: options.validate ?? true,
    onChange: () => scheduler?.markDirty(),
  });
  const restored = dataDir === undefined ? undefined : await readSnapshot(dataDir);
  if (restored !== undefined) {
    await repository.restore(restored);
  } else if (options.seed !== undefined) {
    await createSeed(repository, options.seed);
  }
  if (dataDir !== undefined) {
    // A point-in-time list of references: stored versions are immutable, so no copy of the store is needed.
    const write = (): Promise<void> => writeSnapshot(dataDir, [...repository.all()]);
    scheduler = new SnapshotScheduler(write, options.snapshotDelayMs ?? DEFAULT_SNAPSHOT_DELAY_MS);
    if (restored === undefined && options.seed !== undefined) {
      scheduler.markDirty();
    }
  }

  let url = '';
  let capabilityStatement: string | undefined;
  const startedAt = new Date().toISOString();
  const listener = createRequestListener({
    basePath,
    router: createFhirRouter(repository),
    repository,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    baseUrl: () => url,
    capabilityStatement: () => (capabilityStatement ??= JSON.stringify(buildCapabilityStatement(url, startedAt))),
  });
  const server = createServer(listener);
  const closeServer = gracefulClose(server);
  const { origin } = await listen(server, options.port ?? 8080, options.host ?? '127.0.0.1');
  url = `${origin}${basePath}`;
  repository.baseUrl = url;

  let closed: Promise<void> | undefined;
  const view: EmbeddedFhirRepository = {
    read: (resourceType, id) => {
      const resource = repository.current(resourceType, id);
      return resource === undefined ? undefined : (deepClone(resource) as ExtractResource<typeof resourceType>);
    },
    search: (resourceType, query = '') =>
      repository
        .matchAll(parseSearchRequest(`${resourceType}?${query}`))
        .map((resource) => deepClone(resource) as ExtractResource<typeof resourceType>),
    all: (resourceType) =>
      [...repository.all(resourceType)].map((resource) => deepClone(resource) as ExtractResource<typeof resourceType>),
  };
  return {
    url,
    repository: view,
    snapshot: () => scheduler?.flush() ?? Promise.resolve(),
    close: () =>
      (closed ??= (async () => {
        await closeServer();
        scheduler?.stop();
        await scheduler?.flush();
      })()),
  };
}
