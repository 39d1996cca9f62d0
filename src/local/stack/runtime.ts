/**
 * What `iomt start` and `iomt replay` share: the data folder (locked), the mappings (validated, then watched), the
 * FHIR service (the embedded server, or a real one by URL), the dead-letter store and the {@link LocalPipeline}.
 * Only the adapters differ from the Functions app: the pipeline code is the same.
 *
 * With the intake journal (`iomt start`), accepted events are durable before they are acknowledged and processed
 * again after a hard kill. Its checkpoint advances as events complete when the FHIR service is remote; with the
 * embedded server, whose store reaches the disk only in snapshots, only to a watermark captured before a snapshot
 * that was then written (every {@link SNAPSHOT_CHECKPOINT_MS}, and at close).
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
import { type IntakeJournal, openIntakeJournal } from './intake-journal';
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
  /** Journal accepted events in `<dataDir>/intake/` (see intake-journal.ts). Default off. */
  readonly journal?: boolean;
}

/** How often, with the embedded server and the journal, the FHIR store is snapshotted and the checkpoint advanced. */
export const SNAPSHOT_CHECKPOINT_MS = 10_000;

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
  /** Events recovered from the intake journal at start and queued again (0 without a journal). */
  readonly recoveredEvents: number;
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
  let journal: IntakeJournal | undefined;
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
    let recovered: Awaited<ReturnType<typeof openIntakeJournal>>['recovered'] = [];
    if (options.journal === true) {
      const opened = await openIntakeJournal({
        directory: join(options.dataDir, 'intake'),
        autoCheckpoint: fhirServer === undefined,
        ...(options.onNotice === undefined ? {} : { onProblem: options.onNotice }),
      });
      journal = opened.journal;
      recovered = opened.recovered;
    }
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
      ...(journal === undefined ? {} : { journal }),
    });
    if (recovered.length > 0) {
      pipeline.resume(recovered);
      options.onNotice?.(`recovered ${recovered.length} events from the intake journal`);
    }
    const server = fhirServer;
    const intake = journal;
    let closed: Promise<void> | undefined;
    let timer: unknown;
    /** Snapshots the embedded store, then moves the checkpoint to what completed before the snapshot. */
    const snapshotAndCheckpoint = async (): Promise<void> => {
      if (server === undefined || intake === undefined) {
        return;
      }
      const watermark = intake.watermark;
      if (watermark > intake.checkpointed) {
        await server.snapshot();
        await intake.checkpoint(watermark);
      }
    };
    const schedule = (): void => {
      timer = options.timers.set(() => {
        snapshotAndCheckpoint().then(
          () => {
            if (closed === undefined) {
              schedule();
            }
          },
          (error: unknown) => {
            options.onNotice?.(`intake journal: snapshot or checkpoint failed (${errorCode(error)}); retried later`);
            if (closed === undefined) {
              schedule();
            }
          },
        );
      }, SNAPSHOT_CHECKPOINT_MS);
    };
    if (server !== undefined && intake !== undefined) {
      schedule();
    }
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
      recoveredEvents: recovered.length,
      close: () =>
        (closed ??= (async () => {
          options.timers.clear(timer);
          try {
            await pipeline.stop();
            if (server !== undefined) {
              const watermark = intake?.watermark;
              await server.snapshot();
              if (watermark !== undefined) {
                await intake?.checkpoint(watermark);
              }
              await server.close();
            }
          } finally {
            try {
              await intake?.close();
            } finally {
              await lock.release();
            }
          }
        })()),
    };
  } catch (error) {
    await journal?.close();
    await fhirServer?.close();
    await lock.release();
    throw error;
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}
