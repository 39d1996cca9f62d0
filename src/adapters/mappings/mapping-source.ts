/**
 * Where mapping documents come from — a file deployed with the app (`package:`) or a blob (`blob:`) — and a cache
 * that picks up edits without a restart, as MedTech re-reads its mappings for every batch (medtech-reference §1).
 *
 * Sources report a version with each text: the blob's ETag, or a content hash for files. Asking with the version
 * already held costs one conditional request (`If-None-Match`, answered 304) or one `stat`. The cache validates a
 * new version with an injected callback and, when the new version is invalid, keeps serving the last valid one
 * and reports the issues: a bad upload must not stop ingestion.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';

import type { ContainerClient } from '@azure/storage-blob';

import type { Clock } from '../../pipeline';
import type { MappingSourceSpec, StorageConnection } from '../../pipeline';
import { ErrorCode, PipelineError, toPipelineError } from '../../pipeline';
import { createContainerClient, type StorageClientOptions } from '../storage/storage-clients';
import { isStorageNotFound, toStorageError } from '../storage/storage-errors';

/** A mapping document's text and the version it was read at. */
export interface MappingText {
  readonly text: string;
  /** An ETag (blob) or `sha256:…` content hash (file). Opaque; equal versions mean equal text. */
  readonly version: string;
}

/** A place a mapping document is read from. */
export interface MappingSource {
  /** `package:<path>` or `blob:<container>/<name>`, for messages. */
  readonly description: string;
  /**
   * Reads the document unless it is still at `knownVersion`.
   * @param knownVersion - the version the caller holds
   * @returns the text and its version, or undefined when unchanged
   */
  read(knownVersion?: string): Promise<MappingText | undefined>;
}

/** Mapping documents larger than this are refused (the largest known real-world mappings are a few hundred KB). */
export const MAX_MAPPING_BYTES = 16 * 1024 * 1024;

/**
 * A mapping file deployed with the app.
 * @param root - the package root (the folder holding host.json)
 * @param path - the file, relative to the root, `/`-separated
 */
export function createPackageMappingSource(root: string, path: string): MappingSource {
  const description = `package:${path}`;
  const file = resolve(root, path);
  const inside = relative(resolve(root), file);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    throw new PipelineError(ErrorCode.ConfigurationInvalid, `mapping ${description} is outside the app folder`);
  }
  let last: { statKey: string; version: string } | undefined;
  return {
    description,
    async read(knownVersion) {
      try {
        const info = await stat(file);
        const statKey = `${info.size}:${info.mtimeMs}`;
        // Unchanged size and modification time: skip reading and hashing the file.
        if (knownVersion !== undefined && last?.version === knownVersion && last.statKey === statKey) {
          return undefined;
        }
        if (info.size > MAX_MAPPING_BYTES) {
          throw tooLarge(description);
        }
        const bytes = await readFile(file);
        const version = `sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}`;
        last = { statKey, version };
        return version === knownVersion ? undefined : { text: decode(bytes), version };
      } catch (error) {
        if ((error as { code?: unknown }).code === 'ENOENT') {
          throw new PipelineError(ErrorCode.ConfigurationInvalid, `mapping ${description} not found`, {
            cause: error,
          });
        }
        throw toPipelineError(error);
      }
    },
  };
}

/**
 * A mapping blob, read with `If-None-Match` so an unchanged blob costs a 304.
 * @param container - the container client
 * @param blobName - the blob
 * @param options - request deadline
 */
export function createBlobMappingSource(
  container: ContainerClient,
  blobName: string,
  options: { readonly timeoutMs?: number } = {},
): MappingSource {
  const description = `blob:${container.containerName}/${blobName}`;
  const blob = container.getBlobClient(blobName);
  const timeoutMs = options.timeoutMs ?? 30_000;
  return {
    description,
    async read(knownVersion) {
      try {
        const response = await blob.download(0, undefined, {
          ...(knownVersion === undefined ? {} : { conditions: { ifNoneMatch: knownVersion } }),
          abortSignal: AbortSignal.timeout(timeoutMs),
        });
        if ((response.contentLength ?? 0) > MAX_MAPPING_BYTES) {
          response.readableStreamBody?.resume();
          throw tooLarge(description);
        }
        const bytes = await collect(response.readableStreamBody, description);
        const version = response.etag ?? `sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}`;
        return version === knownVersion ? undefined : { text: decode(bytes), version };
      } catch (error) {
        if ((error as { statusCode?: unknown }).statusCode === 304) {
          return undefined;
        }
        if (isStorageNotFound(error)) {
          throw new PipelineError(ErrorCode.ConfigurationInvalid, `mapping ${description} not found`, {
            cause: error,
          });
        }
        throw toStorageError(error, `mapping read of ${description}`);
      }
    },
  };
}

/** Options of {@link openMappingSource}. */
export interface OpenMappingSourceOptions {
  /** The package root for `package:` sources. */
  readonly packageRoot: string;
  /** `MappingStorage`, for `blob:` sources. */
  readonly storage: StorageConnection;
  /** Credential and retries for Blob storage. */
  readonly storageOptions?: StorageClientOptions;
}

/**
 * The source a `DeviceMappingSource` / `FhirMappingSource` setting names.
 * @param spec - the parsed setting
 * @param options - package root and storage connection
 */
export function openMappingSource(spec: MappingSourceSpec, options: OpenMappingSourceOptions): MappingSource {
  switch (spec.kind) {
    case 'package':
      return createPackageMappingSource(options.packageRoot, spec.path);
    case 'blob':
      return createBlobMappingSource(
        createContainerClient(options.storage, spec.container, options.storageOptions),
        spec.blobName,
      );
  }
}

/** The outcome of validating a mapping text: the loaded mapping, or its issues. */
export type MappingValidation<T, I> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly I[] };

/** A mapping version that failed validation. */
export interface MappingRejection<I> {
  readonly version: string;
  readonly issues: readonly I[];
  /** The valid version still in use, if any. */
  readonly keptVersion?: string;
}

/** A validated mapping and its version. */
export interface CachedMapping<T> {
  readonly value: T;
  readonly version: string;
}

/** Options of {@link createMappingCache}. */
export interface MappingCacheOptions<I> {
  /** Minimum time between two checks of the source; 0 (default) checks on every `get`, as MedTech does. */
  readonly refreshIntervalMs?: number;
  /** Time source for `refreshIntervalMs`. Default `Date.now`. */
  readonly clock?: Clock;
  /** Called once per rejected version, with its issues. */
  readonly onRejected?: (rejection: MappingRejection<I>) => void;
  /** Called when reading or validating fails while a valid mapping is still served. */
  readonly onStale?: (error: PipelineError, keptVersion: string) => void;
  /** Code of the error thrown when no valid version was ever loaded. Default `TEMPLATE_INVALID`. */
  readonly invalidCode?: ErrorCode;
  /** Names the mapping in errors, e.g. the source's description. */
  readonly description?: string;
}

/** A mapping kept current with its source. */
export interface MappingCache<T, I> {
  /** The newest valid mapping; checks the source first (subject to `refreshIntervalMs`). */
  get(): Promise<CachedMapping<T>>;
  /** The newest version's rejection, while the newest version is invalid. */
  readonly rejected: MappingRejection<I> | undefined;
}

/**
 * Caches a mapping, re-reading it when it changes and keeping the last valid one when a new version is invalid.
 * Concurrent `get` calls share one read.
 * @param load - reads the text unless it is still at the given version (e.g. `source.read`)
 * @param validate - parses and validates a text (the mapping loader)
 * @param options - refresh interval and reporting callbacks
 */
export function createMappingCache<T, I>(
  load: (knownVersion?: string) => Promise<MappingText | undefined>,
  validate: (text: string, version: string) => MappingValidation<T, I> | Promise<MappingValidation<T, I>>,
  options: MappingCacheOptions<I> = {},
): MappingCache<T, I> {
  const interval = options.refreshIntervalMs ?? 0;
  const clock = options.clock ?? Date.now;
  const name = options.description ?? 'mapping';
  let current: CachedMapping<T> | undefined;
  let seenVersion: string | undefined;
  let rejected: MappingRejection<I> | undefined;
  let invalidError: PipelineError | undefined;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let pending: Promise<CachedMapping<T>> | undefined;

  const refresh = async (): Promise<CachedMapping<T>> => {
    checkedAt = clock();
    let text: MappingText | undefined;
    let result: MappingValidation<T, I> | undefined;
    try {
      text = await load(seenVersion);
      result = text === undefined ? undefined : await validate(text.text, text.version);
    } catch (error) {
      const failure = toPipelineError(error);
      if (current === undefined) {
        throw failure;
      }
      options.onStale?.(failure, current.version);
      return current;
    }
    if (text === undefined || result === undefined) {
      // Unchanged since the version last seen, which is either `current` or a rejected one (already reported).
      if (current !== undefined) {
        return current;
      }
      throw invalidError ?? new PipelineError(ErrorCode.Internal, `${name}: source reported no change before any read`);
    }
    seenVersion = text.version;
    if (result.ok) {
      current = { value: result.value, version: text.version };
      rejected = undefined;
      invalidError = undefined;
      return current;
    }
    const count = result.issues.length;
    rejected = {
      version: text.version,
      issues: result.issues,
      ...(current === undefined ? {} : { keptVersion: current.version }),
    };
    options.onRejected?.(rejected);
    if (current !== undefined) {
      return current;
    }
    invalidError = new PipelineError(
      options.invalidCode ?? ErrorCode.TemplateInvalid,
      `${name} version ${text.version} is invalid (${count} ${count === 1 ? 'issue' : 'issues'}) and no earlier valid version is loaded`,
      { details: { mappingVersion: text.version, issueCount: count, issues: result.issues } },
    );
    throw invalidError;
  };

  return {
    get() {
      if (pending !== undefined) {
        return pending;
      }
      if (current !== undefined && interval > 0 && clock() - checkedAt < interval) {
        return Promise.resolve(current);
      }
      pending = refresh().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    get rejected() {
      return rejected;
    },
  };
}

/** UTF-8 text of a document; a byte-order mark is encoding metadata, not content, and JSON parsers reject it. */
function decode(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

async function collect(stream: NodeJS.ReadableStream | undefined, description: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (stream !== undefined) {
    for await (const chunk of stream) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > MAX_MAPPING_BYTES) {
        throw tooLarge(description);
      }
      chunks.push(buffer);
    }
  }
  return Buffer.concat(chunks);
}

function tooLarge(description: string): PipelineError {
  return new PipelineError(
    ErrorCode.ConfigurationInvalid,
    `mapping ${description} is larger than ${MAX_MAPPING_BYTES / 1024 / 1024} MiB`,
  );
}
