/**
 * Builders for Functions-app tests: valid settings, a composition over in-memory ports, Event Hubs-shaped invocation
 * contexts, recording metrics and logs, an editable mapping source and a fake Durable client.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { InvocationContext } from '@azure/functions';
import type { DurableOrchestrationStatus } from 'durable-functions';

import type { MappingSource } from '../../src/adapters/mappings/mapping-source';
import {
  type Composition,
  type CompositionOverrides,
  createComposition,
  setComposition,
} from '../../src/functions/shared/composition';
import type { OrchestrationClient } from '../../src/functions/shared/start-orchestration';
import type { Dimensions, LogFields, Logger, Metric, MetricsSink, SettingsEnv } from '../../src/pipeline';
import { MemoryDeadLetterStore } from '../helpers/memory-dead-letter-store';
import { MemoryFhirStore } from '../helpers/memory-fhir-store';

/** The repository root (package mappings are read from it). */
export const APP_ROOT = join(__dirname, '..', '..');

/** The example mappings shipped in mappings/. */
export const DEVICE_MAPPING = readFileSync(join(APP_ROOT, 'mappings', 'devicecontent.json'), 'utf8');
export const FHIR_MAPPING = readFileSync(join(APP_ROOT, 'mappings', 'fhirmapping.json'), 'utf8');

/**
 * A complete, valid settings environment (what local.settings.json would hold), with overrides.
 * @param overrides - settings to change; `undefined` removes one
 */
export function testSettings(overrides: Record<string, string | undefined> = {}): SettingsEnv {
  const env: Record<string, string | undefined> = {
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    EventHubConnection:
      'Endpoint=sb://test.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=dGVzdA==',
    EventHubName: 'devices',
    FhirServerUrl: 'http://127.0.0.1:1/fhir',
    FhirAuthMode: 'None',
    ResourceIdentityServiceType: 'Create',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
}

/** One recorded metric. */
export interface RecordedMetric {
  readonly kind: 'count' | 'record';
  readonly metric: Metric;
  readonly value: number;
  readonly dimensions?: Dimensions;
}

/** A MetricsSink that keeps every call. */
export class RecordingMetrics implements MetricsSink {
  readonly calls: RecordedMetric[] = [];
  count(metric: Metric, value: number, dimensions?: Dimensions): void {
    this.calls.push({ kind: 'count', metric, value, ...(dimensions === undefined ? {} : { dimensions }) });
  }
  record(metric: Metric, value: number, dimensions?: Dimensions): void {
    this.calls.push({ kind: 'record', metric, value, ...(dimensions === undefined ? {} : { dimensions }) });
  }
  /** The sum of a counter. */
  total(metric: Metric): number {
    return this.calls.filter((c) => c.kind === 'count' && c.metric === metric).reduce((n, c) => n + c.value, 0);
  }
  /** The recorded observations of a metric. */
  observations(metric: Metric): RecordedMetric[] {
    return this.calls.filter((c) => c.kind === 'record' && c.metric === metric);
  }
}

/** A Logger that keeps every entry. */
export class RecordingLogger implements Logger {
  readonly entries: { level: string; message: string; fields?: LogFields }[] = [];
  debug = (message: string, fields?: LogFields): void => {
    this.push('debug', message, fields);
  };
  info = (message: string, fields?: LogFields): void => {
    this.push('info', message, fields);
  };
  warn = (message: string, fields?: LogFields): void => {
    this.push('warn', message, fields);
  };
  error = (message: string, fields?: LogFields): void => {
    this.push('error', message, fields);
  };
  private push(level: string, message: string, fields?: LogFields): void {
    this.entries.push({ level, message, ...(fields === undefined ? {} : { fields }) });
  }
}

/** A mapping source whose text a test can change (a blob being edited). */
export class EditableMappingSource implements MappingSource {
  readonly description = 'test:mapping';
  text: string;
  /** @param text - the initial text */
  constructor(text: string) {
    this.text = text;
  }
  read(knownVersion?: string): Promise<{ text: string; version: string } | undefined> {
    const version = `sha256:${createHash('sha256').update(this.text).digest('hex').slice(0, 32)}`;
    return Promise.resolve(version === knownVersion ? undefined : { text: this.text, version });
  }
}

/** A composition over in-memory ports, and the ports. */
export interface TestComposition {
  readonly composition: Composition;
  readonly fhir: MemoryFhirStore;
  readonly deadLetters: MemoryDeadLetterStore;
  readonly metrics: RecordingMetrics;
  readonly logger: RecordingLogger;
  readonly deviceSource: EditableMappingSource;
  readonly fhirSource: EditableMappingSource;
}

/** The fixed time of test compositions: 2024-03-10T15:00:00Z. */
export const TEST_NOW = Date.UTC(2024, 2, 10, 15, 0, 0);

/**
 * Builds a composition with in-memory FHIR and dead-letter stores, recording telemetry and editable mappings.
 * @param options - settings overrides and port overrides
 */
export function testComposition(
  options: { settings?: Record<string, string | undefined>; overrides?: CompositionOverrides } = {},
): TestComposition {
  const fhir = new MemoryFhirStore();
  const deadLetters = new MemoryDeadLetterStore();
  const metrics = new RecordingMetrics();
  const logger = new RecordingLogger();
  const deviceSource = new EditableMappingSource(DEVICE_MAPPING);
  const fhirSource = new EditableMappingSource(FHIR_MAPPING);
  const composition = createComposition(testSettings(options.settings), {
    clock: () => TEST_NOW,
    metrics,
    logger,
    fhirStore: fhir,
    deadLetters,
    deviceMappingSource: deviceSource,
    fhirMappingSource: fhirSource,
    ...options.overrides,
  });
  return { composition, fhir, deadLetters, metrics, logger, deviceSource, fhirSource };
}

/**
 * Builds a test composition and installs it as the Functions app's composition (as the host would at start).
 * @param options - settings overrides and port overrides
 */
export function installTestComposition(options: Parameters<typeof testComposition>[0] = {}): TestComposition {
  const t = testComposition(options);
  setComposition(t.composition);
  return t;
}

/**
 * Installs a fresh test composition before each test of the enclosing `describe` block and removes it after each.
 * @returns the running test's composition
 */
export function useTestComposition(): () => TestComposition {
  let current: TestComposition | undefined;
  beforeEach(() => {
    current = installTestComposition();
  });
  afterEach(() => {
    setComposition(undefined);
    current = undefined;
  });
  return () => {
    if (current === undefined) {
      throw new Error('useTestComposition: the composition exists only while a test runs');
    }
    return current;
  };
}

/** One event as a test describes it. */
export interface TestEvent {
  readonly body: unknown;
  readonly properties?: Record<string, unknown>;
  readonly systemProperties?: Record<string, unknown>;
  readonly sequenceNumber: number;
  readonly enqueuedTimeUtc: string;
}

/**
 * A real InvocationContext carrying Event Hubs trigger metadata shaped as @azure/functions hands it over for
 * `cardinality: 'many'` (arrays, camel-cased keys, the extension's binding members in the system properties).
 * @param events - the events
 * @param options - partition, invocation id, retry count
 */
export function eventHubInvocation(
  events: readonly TestEvent[],
  options: { partitionId?: string; invocationId?: string; retryCount?: number } = {},
): { messages: unknown[]; context: InvocationContext } {
  const partitionId = options.partitionId ?? '3';
  const context = new InvocationContext({
    invocationId: options.invocationId ?? 'invocation-1',
    functionName: 'ingestDeviceEvents',
    logHandler: () => undefined,
    ...(options.retryCount === undefined
      ? {}
      : { retryContext: { retryCount: options.retryCount, maxRetryCount: -1 } }),
    triggerMetadata: {
      partitionContext: {
        eventHubName: 'devices',
        consumerGroup: '$Default',
        fullyQualifiedNamespace: 'test.servicebus.windows.net',
        partitionId,
      },
      enqueuedTimeUtcArray: events.map((e) => e.enqueuedTimeUtc),
      sequenceNumberArray: events.map((e) => e.sequenceNumber),
      offsetArray: events.map((e) => String(e.sequenceNumber * 100)),
      partitionKeyArray: events.map(() => null),
      propertiesArray: events.map((e) => e.properties ?? {}),
      systemPropertiesArray: events.map((e) => ({
        'x-opt-sequence-number': e.sequenceNumber,
        'x-opt-offset': String(e.sequenceNumber * 100),
        'x-opt-enqueued-time': e.enqueuedTimeUtc,
        ...e.systemProperties,
        sequenceNumber: e.sequenceNumber,
        offset: e.sequenceNumber * 100,
        offsetString: String(e.sequenceNumber * 100),
        partitionKey: null,
        enqueuedTimeUtc: e.enqueuedTimeUtc,
      })),
    },
  });
  return { messages: events.map((e) => e.body), context };
}

/**
 * A Durable client double: instances by id with a runtime status; `getStatus` of an unknown id fails the way the
 * real client does (an Error naming the HTTP 404); `startNew` of an existing running id fails like the extension.
 */
export class FakeDurableClient implements OrchestrationClient {
  readonly instances = new Map<string, { status: string; input: unknown }>();
  readonly started: { name: string; instanceId: string | undefined; input: unknown }[] = [];
  #next = 0;

  startNew(name: string, options?: { instanceId?: string; input?: unknown }): Promise<string> {
    const instanceId = options?.instanceId ?? `generated-${++this.#next}`;
    const existing = this.instances.get(instanceId);
    if (existing !== undefined && (existing.status === 'Running' || existing.status === 'Pending')) {
      return Promise.reject(
        new Error(`The operation failed with an unexpected status code: 500. Details: "already exists"`),
      );
    }
    // The input crosses Durable Functions as JSON.
    const input: unknown = JSON.parse(JSON.stringify(options?.input ?? null));
    this.started.push({ name, instanceId: options?.instanceId, input });
    this.instances.set(instanceId, { status: 'Pending', input });
    return Promise.resolve(instanceId);
  }

  getStatus(instanceId: string): Promise<DurableOrchestrationStatus> {
    const instance = this.instances.get(instanceId);
    if (instance === undefined) {
      return Promise.reject(
        new Error(
          `DurableClient error: Durable Functions extension replied with HTTP 404 response. This usually means we ` +
            `could not find any data associated with the instanceId provided: ${instanceId}.`,
        ),
      );
    }
    return Promise.resolve({ instanceId, runtimeStatus: instance.status } as unknown as DurableOrchestrationStatus);
  }
}
