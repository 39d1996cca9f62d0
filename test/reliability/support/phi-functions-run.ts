/**
 * Child-process script of test/reliability/no-patient-data.test.ts: runs the Functions app's handlers — the Event
 * Hubs trigger, the grouping orchestrator (durable-functions' replay engine) and its activities — over the
 * scenario's events, with the real Application Insights telemetry of the composition sending to the HTTPS loopback
 * sink named in TEST_AI_CONNECTION_STRING (the SDK trusts its certificate only through NODE_EXTRA_CA_CERTS, read at
 * process start, hence the child). Writes what it captured to PHI_OUTPUT as JSON: every Logger call (all levels),
 * every InvocationContext log call, every error an invocation threw (as the host would log it), the orchestrations'
 * outputs and custom status, the dead-letter entries and the requests the FHIR service received.
 */
import { writeFileSync } from 'node:fs';

import { InvocationContext } from '@azure/functions';

import { createAppInsightsMetrics } from '../../../src/adapters/telemetry/app-insights-metrics';
import { deadLetterGroups } from '../../../src/functions/dead-letter-groups.activity';
import { groupMeasurementsOrchestrator } from '../../../src/functions/group-measurements.orchestrator';
import { ingestDeviceEvents } from '../../../src/functions/ingest-device-events';
import { saveObservations } from '../../../src/functions/save-observations.activity';
import { createComposition, setComposition } from '../../../src/functions/shared/composition';
import type { Logger, LogFields, MetricsSink } from '../../../src/pipeline';
import {
  EditableMappingSource,
  eventHubInvocation,
  FakeDurableClient,
  testSettings,
  TEST_NOW,
  type TestEvent,
} from '../../functions/helpers';
import { LoopbackFhir } from '../../helpers/loopback-fhir';
import { MemoryDeadLetterStore } from '../../helpers/memory-dead-letter-store';
import { HistoryBuilder, replay } from '../../orchestration/replay-harness';
import {
  type CapturedLog,
  CREATE_EVENTS,
  DEVICE_MAPPING,
  FHIR_MAPPING,
  LOOKUP_EVENTS,
  type ScenarioEvent,
  scenarioFhir,
} from './phi-scenario';

/** What the child reports. */
export interface FunctionsRunReport {
  readonly logs: CapturedLog[];
  /** Errors thrown by invocations: what the host would log (message, stack, causes). */
  readonly thrown: { readonly fn: string; readonly text: string; readonly code?: string }[];
  /** Orchestration outputs and custom status (the host records them in its history and logs). */
  readonly orchestrations: string[];
  /** Normalized measurements handed to orchestrations, events dead-lettered, groups saved/dead-lettered. */
  readonly counts: { events: number; measurements: number; deadLettered: number };
  /** The dead-letter entries, JSON (they may hold the bodies: that is their purpose). */
  readonly deadLetters: string;
  /** What the FHIR service received, JSON. */
  readonly fhirRequests: string;
}

const logs: CapturedLog[] = [];
const thrown: FunctionsRunReport['thrown'] = [];
const orchestrations: string[] = [];
const counts = { events: 0, measurements: 0, deadLettered: 0 };

function describeError(error: unknown): { text: string; code?: string } {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    parts.push(current instanceof Error ? `${String(current)}\n${current.stack ?? ''}` : JSON.stringify(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  const code = (error as { code?: unknown }).code;
  return { text: parts.join('\ncaused by: '), ...(typeof code === 'string' ? { code } : {}) };
}

function invocationContext(functionName: string, triggerMetadata?: Record<string, unknown>): InvocationContext {
  return new InvocationContext({
    invocationId: `inv-${functionName}-${logs.length}`,
    functionName,
    logHandler: (level, ...args) => {
      logs.push({ source: `invocation:${functionName}`, level, text: JSON.stringify(args) });
    },
    ...(triggerMetadata === undefined ? {} : { triggerMetadata }),
  });
}

/** Records every call at every level, and passes it on to Application Insights. */
function teeLogger(target: Logger): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, fields?: LogFields): void => {
      logs.push({ source: 'logger', level, text: JSON.stringify({ message, ...fields }) });
      target[level](message, fields);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function invoke<T>(fn: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    thrown.push({ fn, ...describeError(error) });
    return undefined;
  }
}

const toTestEvents = (events: readonly ScenarioEvent[], firstSequence: number): TestEvent[] =>
  events.map((e, i) => ({
    body: Buffer.from(e.bodyText ?? JSON.stringify(e.body), 'utf8'),
    ...(e.properties === undefined ? {} : { properties: e.properties }),
    ...(e.systemProperties === undefined ? {} : { systemProperties: e.systemProperties }),
    sequenceNumber: firstSequence + i,
    enqueuedTimeUtc: new Date(TEST_NOW - 60_000).toISOString(),
  }));

/** Runs one orchestration to its end: the save activity once (PersistMaxAttempts=1), then dead-lettering. */
async function orchestrate(input: unknown): Promise<void> {
  const history = new HistoryBuilder(input);
  const first = await replay(groupMeasurementsOrchestrator, input, history.events);
  history.nextEpisode();
  const saves = first.actions;
  const outcomes: ({ ok: true; result: unknown } | { ok: false; reason: string })[] = [];
  for (const [i, action] of saves.entries()) {
    history.scheduled(i, 'saveObservations');
    try {
      outcomes.push({ ok: true, result: await saveObservations(action.input, invocationContext('saveObservations')) });
    } catch (error) {
      thrown.push({ fn: 'saveObservations', ...describeError(error) });
      const message = error instanceof Error ? error.message : String(error);
      outcomes.push({ ok: false, reason: `Activity function 'saveObservations' failed: ${message}` });
    }
  }
  history.nextEpisode();
  let nextId = saves.length;
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.ok) {
      history.completed(i, outcome.result);
    }
  }
  for (const [i, outcome] of outcomes.entries()) {
    if (!outcome.ok) {
      history.failed(i, outcome.reason).retryTimer(nextId++);
    }
  }
  let episode = await replay(groupMeasurementsOrchestrator, input, history.events);
  const deadLettering = episode.actions.slice(saves.length);
  if (deadLettering.length > 0) {
    const results: unknown[] = [];
    for (const action of deadLettering) {
      results.push(
        await invoke('deadLetterGroups', () => deadLetterGroups(action.input, invocationContext('deadLetterGroups'))),
      );
    }
    const ids = deadLettering.map(() => nextId++);
    for (const id of ids) {
      history.scheduled(id, 'deadLetterGroups');
    }
    history.nextEpisode();
    ids.forEach((id, i) => history.completed(id, results[i] ?? 0));
    episode = await replay(groupMeasurementsOrchestrator, input, history.events);
  }
  orchestrations.push(
    JSON.stringify({
      isDone: episode.isDone,
      output: episode.output,
      status: episode.customStatus,
      error: episode.error,
    }),
  );
}

async function main(): Promise<void> {
  const connectionString = process.env.TEST_AI_CONNECTION_STRING;
  const output = process.env.PHI_OUTPUT;
  if (connectionString === undefined || output === undefined) {
    throw new Error('TEST_AI_CONNECTION_STRING and PHI_OUTPUT must be set');
  }
  const fhir = await LoopbackFhir.start();
  fhir.otherwise(scenarioFhir());
  const telemetry = createAppInsightsMetrics({ connectionString, roleName: 'iomt-phi-test' });
  if (!telemetry.enabled) {
    throw new Error('expected Application Insights to be enabled');
  }
  const metrics: MetricsSink = telemetry;
  const deadLetters = new MemoryDeadLetterStore();
  const logger = teeLogger(telemetry.logger);

  const compose = (settings: Record<string, string>) =>
    createComposition(
      testSettings({
        FhirServerUrl: fhir.baseUrl,
        PersistMaxAttempts: '1',
        PersistChunkSize: '1',
        APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString,
        ...settings,
      }),
      {
        clock: () => TEST_NOW,
        metrics,
        logger,
        deadLetters,
        deviceMappingSource: new EditableMappingSource(DEVICE_MAPPING),
        fhirMappingSource: new EditableMappingSource(FHIR_MAPPING),
      },
    );

  let sequence = 100;
  const runBatch = async (events: readonly ScenarioEvent[], partitionId: string): Promise<void> => {
    const testEvents = toTestEvents(events, sequence);
    sequence += events.length;
    const client = new FakeDurableClient();
    const { messages, context } = eventHubInvocation(testEvents, { partitionId });
    const ingest = invocationContext('ingestDeviceEvents', context.triggerMetadata);
    const summary = await invoke('ingestDeviceEvents', () => ingestDeviceEvents(messages, client, ingest));
    if (summary !== undefined) {
      counts.events += summary.events;
      counts.measurements += summary.measurements;
      counts.deadLettered += summary.deadLettered;
    }
    for (const started of client.started) {
      await orchestrate(started.input);
    }
  };

  // Identity mode Create: every failure of normalization and persistence.
  setComposition(compose({ ResourceIdentityServiceType: 'Create' }));
  await runBatch(CREATE_EVENTS, '0');
  // Identity mode Lookup: the device is not found.
  setComposition(compose({ ResourceIdentityServiceType: 'Lookup' }));
  await runBatch(LOOKUP_EVENTS, '1');
  // ErrorPolicy=Retry: the batch fails as a whole (the host logs the thrown error).
  setComposition(compose({ ErrorPolicy: 'Retry' }));
  await runBatch(CREATE_EVENTS.slice(12, 16), '2');
  // The dead-letter store is unreachable: the invocation fails so the batch is redelivered.
  setComposition(compose({}));
  deadLetters.available = false;
  await runBatch(CREATE_EVENTS.slice(12, 16), '3');
  deadLetters.available = true;
  setComposition(undefined);

  await telemetry.flush();
  await telemetry.shutdown();
  await fhir.close();
  const report: FunctionsRunReport = {
    logs,
    thrown,
    orchestrations,
    counts,
    deadLetters: JSON.stringify(deadLetters.entries),
    fhirRequests: JSON.stringify(fhir.requests.map((r) => ({ method: r.method, url: r.url, body: r.body }))),
  };
  writeFileSync(output, JSON.stringify(report));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
