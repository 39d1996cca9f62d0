/**
 * What `iomt start` and `iomt replay` share: the data folder (locked), the mappings (validated, then watched), the
 * FHIR service (the embedded server, or a real one by URL), the dead-letter store and the {@link LocalPipeline}.
 * Only the adapters differ from the Functions app: the pipeline code is the same.
 */
import { join } from 'node:path';

import { createFileDeadLetterStore } from '../../adapters/dead-letter/file-dead-letter-store';
import type { FhirAuth } from '../../adapters/fhir/auth';
import { FhirHttpStore } from '../../adapters/fhir/fhir-http-store';
import type { Clock, DeadLetterStore, IdentityMode } from '../../pipeline';
import { createIdentityResolver, createObservationCache } from '../../pipeline';
import { type EmbeddedFhirServer, startFhirServer } from '../fhir-server';
import type { Timers } from './batcher';
import { type DataDirLock, lockDataDir } from './data-dir-lock';
import { LocalPipeline } from './local-pipeline';
import { checkMappingFiles, type MappingFiles, watchMappingFiles } from './mapping-files';
import { StackMetrics } from './stack-metrics';

/** The FHIR service to write to. */
export type FhirTarget =
  /** The embedded server, its snapshot kept in the data folder. */
  | { readonly kind: 'embedded'; readonly host: string; readonly port: number }
  | { readonly kind: 'remote'; readonly url: string; readonly auth: FhirAuth };

/** Batching of the pipeline. */
export interface BatchingOptions {
  readonly maxEvents: number;
  readonly maxWaitMs: number;
  readonly partitions: number;
}

/** Options of {@link openRuntime}. */
export interface RuntimeOptions {
  /** `.iomt-data/` by default: FHIR snapshot and dead letters. */
  readonly dataDir: string;
  readonly mappings: MappingFiles;
  readonly fhir: FhirTarget;
  readonly resolution: IdentityMode;
  readonly batching: BatchingOptions;
  /** Who holds the data folder (`start`, `replay`). */
  readonly command: string;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Retry delay of retryable saves (tests shorten it). Default 1000 ms. */
  readonly retryDelayMs?: number;
  /** Reports problems and mapping reloads (no data values). */
  readonly onNotice?: (message: string) => void;
}

/** The shared runtime. */
export interface Runtime {
  readonly pipeline: LocalPipeline;
  readonly metrics: StackMetrics;
  readonly deadLetters: DeadLetterStore;
  /** The dead-letter folder. */
  readonly deadLetterDir: string;
  /** The embedded server, when it runs. */
  readonly fhirServer: EmbeddedFhirServer | undefined;
  /** The FHIR base URL written to. */
  readonly fhirUrl: string;
  /** Template counts and warnings of the mappings loaded at start. */
  readonly mappingSummary: { readonly deviceTemplates: number; readonly fhirTemplates: number };
  readonly mappingWarnings: readonly string[];
  /** Stops the pipeline (processing what is queued), snapshots and closes the embedded server, unlocks. */
  close(): Promise<void>;
}

/**
 * Opens the runtime.
 * @param options - data folder, mappings, FHIR target, identity mode, batching, time
 * @throws InvalidMappingsError, DataDirLockedError, or a listen error of the embedded server
 */
export async function openRuntime(options: RuntimeOptions): Promise<Runtime> {
  const checked = await checkMappingFiles(options.mappings);
  const lock: DataDirLock = await lockDataDir(options.dataDir, options.command);
  let fhirServer: EmbeddedFhirServer | undefined;
  try {
    if (options.fhir.kind === 'embedded') {
      fhirServer = await startFhirServer({
        host: options.fhir.host,
        port: options.fhir.port,
        dataDir: options.dataDir,
      });
    }
    const fhirUrl = fhirServer?.url ?? (options.fhir.kind === 'remote' ? options.fhir.url : '');
    const store = new FhirHttpStore({
      baseUrl: fhirUrl,
      ...(options.fhir.kind === 'remote' ? { auth: options.fhir.auth } : {}),
    });
    const metrics = new StackMetrics(options.clock);
    const deadLetterDir = join(options.dataDir, 'dead-letters');
    const deadLetters = createFileDeadLetterStore({ directory: deadLetterDir });
    const pipeline = new LocalPipeline({
      mappings: watchMappingFiles(options.mappings, {
        clock: options.clock,
        ...(options.onNotice === undefined ? {} : { onNotice: options.onNotice }),
      }),
      store,
      identity: createIdentityResolver({ store, mode: options.resolution, clock: options.clock }),
      cache: createObservationCache({ clock: options.clock }),
      deadLetters,
      metrics,
      clock: options.clock,
      timers: options.timers,
      ...options.batching,
      ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
      ...(options.onNotice === undefined ? {} : { onProblem: options.onNotice }),
    });
    const server = fhirServer;
    let closed: Promise<void> | undefined;
    return {
      pipeline,
      metrics,
      deadLetters,
      deadLetterDir,
      fhirServer,
      fhirUrl,
      mappingSummary: {
        deviceTemplates: checked.device.templates.length,
        fhirTemplates: checked.fhir.templates.length,
      },
      mappingWarnings: checked.warnings,
      close: () =>
        (closed ??= (async () => {
          try {
            await pipeline.stop();
            if (server !== undefined) {
              await server.snapshot();
              await server.close();
            }
          } finally {
            await lock.release();
          }
        })()),
    };
  } catch (error) {
    await fhirServer?.close();
    await lock.release();
    throw error;
  }
}
