/**
 * The local stack (`iomt start`, `npm start`): the shared runtime (embedded FHIR server or a real one, mappings,
 * pipeline, dead letters) plus the HTTP server (ingest, metrics, health, the web mapping debugger) and the device
 * simulator, which injects through the same ingest path as HTTP.
 */
import type { DeviceSimulator, SimulatorRun } from './device-simulator';
import { createDeviceSimulator, runSimulator } from './device-simulator';
import type { IngestLimits } from './ingest-request';
import { openRuntime, type Runtime, type RuntimeOptions } from './runtime';
import type { StackSnapshot } from './stack-metrics';
import { type HealthReport, type RouteHandler, type StackServer, startStackServer } from './stack-server';

/** The simulator's settings. */
export interface SimulatorOptions {
  /** Devices (one patient each). */
  readonly devices: number;
  /** Messages per second, all devices together. */
  readonly rate: number;
  readonly seed: number;
}

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions extends Omit<RuntimeOptions, 'command'> {
  /** Interface of the HTTP server (loopback unless told otherwise). */
  readonly host: string;
  /** Port of the HTTP server; 0 picks a free one. */
  readonly port: number;
  /** Off when undefined. */
  readonly simulator?: SimulatorOptions;
  /** The web mapping debugger, mounted at `/`. */
  readonly debuggerHandler?: RouteHandler;
  readonly limits?: IngestLimits;
}

/** The stack's addresses. */
export interface LocalStackUrls {
  readonly ingest: string;
  readonly metrics: string;
  readonly health: string;
  /** Only when a debugger handler is mounted. */
  readonly debugger?: string;
  readonly fhir: string;
  readonly observations: string;
}

/** A running stack. */
export interface LocalStack {
  readonly runtime: Runtime;
  readonly urls: LocalStackUrls;
  /** The simulated devices, when the simulator runs. */
  readonly simulator?: DeviceSimulator;
  /**
   * Stops cleanly: the simulator, then intake (requests are refused), processes every queued event, closes the
   * servers, snapshots the FHIR store. Idempotent.
   * @returns the final counters
   */
  stop(): Promise<StackSnapshot>;
}

/** A recent infrastructure failure makes `/health` say `degraded` for this long. */
const DEGRADED_FOR_MS = 60_000;

/**
 * Starts the local stack.
 * @param options - addresses, mappings, FHIR target, batching, simulator, debugger
 * @throws InvalidMappingsError, DataDirLockedError, or a listen error (`EADDRINUSE`…)
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const runtime = await openRuntime({ ...options, command: 'start' });
  const { pipeline, metrics } = runtime;
  const { clock } = options;
  let server: StackServer;
  try {
    server = await startStackServer({
      host: options.host,
      port: options.port,
      ingest: (events) => pipeline.ingest(events),
      metrics,
      health: () => health(runtime, clock),
      ...(options.debuggerHandler === undefined ? {} : { debuggerHandler: options.debuggerHandler }),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  let simulator: DeviceSimulator | undefined;
  let run: SimulatorRun | undefined;
  if (options.simulator !== undefined) {
    simulator = createDeviceSimulator({ devices: options.simulator.devices, seed: options.simulator.seed });
    run = runSimulator(simulator, {
      rate: options.simulator.rate,
      // Same path as HTTP. A full queue refuses simulated events like any other (they were never accepted).
      send: (events) => pipeline.ingest(events),
      clock,
      timers: options.timers,
    });
  }
  let stopped: Promise<StackSnapshot> | undefined;
  return {
    runtime,
    urls: {
      ingest: `${server.url}/ingest`,
      metrics: `${server.url}/metrics`,
      health: `${server.url}/health`,
      ...(options.debuggerHandler === undefined ? {} : { debugger: `${server.url}/` }),
      fhir: runtime.fhirUrl,
      observations: `${runtime.fhirUrl}/Observation`,
    },
    ...(simulator === undefined ? {} : { simulator }),
    stop: () =>
      (stopped ??= (async () => {
        run?.stop();
        const draining = pipeline.stop();
        try {
          await server.close();
          await draining;
        } finally {
          await runtime.close();
        }
        return metrics.snapshot();
      })()),
  };
}

async function health(runtime: Runtime, clock: () => number): Promise<HealthReport> {
  let deadLetterStore = 'ok';
  try {
    await runtime.deadLetters.ping();
  } catch {
    deadLetterStore = 'unavailable';
  }
  const last = runtime.pipeline.lastInfrastructureFailure;
  const recent = last !== undefined && clock() - last.at < DEGRADED_FOR_MS;
  const snapshot = runtime.metrics.snapshot();
  return {
    status: runtime.pipeline.stopping ? 'stopping' : recent || deadLetterStore !== 'ok' ? 'degraded' : 'ok',
    uptimeSeconds: snapshot.uptimeSeconds,
    fhir: { url: runtime.fhirUrl, embedded: runtime.fhirServer !== undefined },
    deadLetterStore,
    queued: snapshot.events.queued,
    ...(last === undefined
      ? {}
      : {
          lastInfrastructureError: {
            code: last.code,
            medtechErrorType: last.medtechErrorType,
            at: new Date(last.at).toISOString(),
          },
        }),
  };
}
