/**
 * The local stack (`iomt start` without its terminal) run as a child process by
 * test/reliability/intake-journal-crash.test.ts, so that the test can kill it with SIGKILL. It reports
 * `{ type: 'ready', ingestUrl, metricsUrl, recovered }` over IPC once it listens, and on `{ type: 'stop' }` stops
 * cleanly and reports `{ type: 'stopped', processed }` before exiting.
 *
 * The config is the first argument, as JSON ({@link IntakeWorkerConfig}).
 */
import { systemTimers } from '../../../src/local/stack/batcher';
import { startLocalStack } from '../../../src/local/stack/local-stack';
import type { FhirTarget } from '../../../src/local/stack/runtime';

/** The worker's configuration. */
export interface IntakeWorkerConfig {
  readonly dataDir: string;
  readonly mappings: { readonly device: string; readonly fhir: string };
  /** A FHIR server that outlives the worker; the embedded one (in `dataDir`) when absent. */
  readonly fhirUrl?: string;
  readonly maxEvents: number;
  readonly maxWaitMs: number;
}

/** Messages to the parent. */
export type IntakeWorkerMessage =
  | { readonly type: 'ready'; readonly ingestUrl: string; readonly metricsUrl: string; readonly recovered: number }
  | { readonly type: 'stopped'; readonly processed: number };

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] as string) as IntakeWorkerConfig;
  const fhir: FhirTarget =
    config.fhirUrl === undefined
      ? { kind: 'embedded', host: '127.0.0.1', port: 0 }
      : { kind: 'remote', url: config.fhirUrl, auth: { mode: 'none' } };
  const stack = await startLocalStack({
    host: '127.0.0.1',
    port: 0,
    dataDir: config.dataDir,
    mappings: config.mappings,
    fhir,
    resolution: 'Create',
    batching: { maxEvents: config.maxEvents, maxWaitMs: config.maxWaitMs, partitions: 4 },
    clock: Date.now,
    timers: systemTimers,
    journal: true,
    onNotice: (message) => {
      process.stderr.write(`${message}\n`);
    },
  });
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'stop') {
      void stack.stop().then((summary) => {
        process.send?.({ type: 'stopped', processed: summary.events.processed } satisfies IntakeWorkerMessage, () => {
          process.exit(0);
        });
      });
    }
  });
  process.send?.({
    type: 'ready',
    ingestUrl: stack.urls.ingest,
    metricsUrl: stack.urls.metrics,
    recovered: stack.runtime.recoveredEvents,
  } satisfies IntakeWorkerMessage);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
