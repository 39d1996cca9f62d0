/**
 * What the Functions host would be told: the function modules are loaded against a stand-in for the worker's
 * `@azure/functions-core` API, so @azure/functions leaves test mode and hands over the real function metadata
 * (bindings, retry policy) exactly as the worker would send it to the host.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as names from '../../src/functions/shared/function-names';
import { APP_ROOT, testSettings } from './helpers';

interface Binding {
  readonly type: string;
  readonly direction: string;
  readonly [key: string]: unknown;
}
interface Registration {
  readonly module: string;
  readonly metadata: { name: string; bindings: Record<string, Binding>; retryOptions?: Record<string, unknown> };
}

const FUNCTIONS_DIR = join(APP_ROOT, 'src', 'functions');
const functionFiles = readdirSync(FUNCTIONS_DIR).filter((f) => f.endsWith('.ts'));
const NAMES: readonly string[] = Object.values(names);

/** Loads modules in a fresh registry with a core API that records registrations and hooks. */
function loadWithCoreApi(modules: string[]): {
  registrations: Registration[];
  hooks: string[];
  exports: Record<string, Record<string, unknown>>;
} {
  const registrations: Registration[] = [];
  const hooks: string[] = [];
  const exports: Record<string, Record<string, unknown>> = {};
  let current = '';
  jest.isolateModules(() => {
    jest.doMock(
      '@azure/functions-core',
      () => ({
        setProgrammingModel: () => undefined,
        getProgrammingModel: () => undefined,
        registerFunction: (metadata: Registration['metadata']) => {
          registrations.push({ module: current, metadata });
          return { dispose: () => undefined };
        },
        registerHook: (name: string) => {
          hooks.push(name);
          return { dispose: () => undefined };
        },
        log: () => undefined,
      }),
      { virtual: true },
    );
    for (const module of modules) {
      current = module;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      exports[module] = require(module) as Record<string, unknown>;
    }
  });
  return { registrations, hooks, exports };
}

describe('function registration', () => {
  const loaded = loadWithCoreApi(functionFiles.map((f) => join(FUNCTIONS_DIR, f)));
  const byName = new Map(loaded.registrations.map((r) => [r.metadata.name, r]));
  const triggerOf = (name: string): Binding =>
    Object.values(byName.get(name)?.metadata.bindings ?? {}).find((b) => b.type.endsWith('Trigger'))!;

  it('registers one function per file, under the name constant the file exports', () => {
    for (const file of functionFiles) {
      const module = join(FUNCTIONS_DIR, file);
      const exported = Object.entries(loaded.exports[module] ?? {}).filter(
        ([key, value]) => typeof value === 'string' && NAMES.includes(value) && key === key.toUpperCase(),
      );
      const registered = loaded.registrations.filter((r) => r.module === module).map((r) => r.metadata.name);
      expect({ file, registered }).toEqual({ file, registered: exported.map(([, value]) => value) });
      expect(registered).toHaveLength(1);
    }
    expect([...byName.keys()].sort()).toEqual([...NAMES].sort());
  });

  it('binds the Event Hubs trigger for batches of exact bytes, with the durable client and unlimited retries', () => {
    const ingest = byName.get(names.INGEST_DEVICE_EVENTS)!.metadata;
    expect(triggerOf(names.INGEST_DEVICE_EVENTS)).toMatchObject({
      type: 'eventHubTrigger',
      direction: 'in',
      connection: 'EventHubConnection',
      eventHubName: '%EventHubName%',
      consumerGroup: '%EventHubConsumerGroup%',
      cardinality: 'many',
      dataType: 'binary',
    });
    expect(Object.values(ingest.bindings).map((b) => [b.type, b.direction])).toContainEqual(['durableClient', 'in']);
    expect(ingest.retryOptions).toMatchObject({
      retryStrategy: 'exponentialBackoff',
      maxRetryCount: -1,
      minimumInterval: { seconds: 5 },
      maximumInterval: { seconds: 300 },
    });
  });

  it('registers the orchestrator and the activities with Durable triggers', () => {
    expect(triggerOf(names.GROUP_MEASUREMENTS).type).toBe('orchestrationTrigger');
    expect(triggerOf(names.SAVE_OBSERVATIONS).type).toBe('activityTrigger');
    expect(triggerOf(names.DEAD_LETTER_GROUPS).type).toBe('activityTrigger');
  });

  it.each([
    [names.DEBUG, ['POST'], 'debug/{operation?}'],
    [names.HEALTH, ['GET'], 'health'],
    [names.REPLAY, ['POST'], 'replay'],
  ])('protects the %s HTTP function with a function key', (name, methods, route) => {
    expect(triggerOf(name)).toMatchObject({ type: 'httpTrigger', authLevel: 'function', methods, route });
  });

  it('names in bindings only app settings that local.settings.json.example lists', () => {
    const example = JSON.parse(readFileSync(join(APP_ROOT, 'local.settings.json.example'), 'utf8')) as {
      Values: Record<string, string>;
    };
    const host = readFileSync(join(APP_ROOT, 'host.json'), 'utf8');
    const referenced = new Set<string>();
    for (const { metadata } of loaded.registrations) {
      for (const binding of Object.values(metadata.bindings)) {
        for (const [key, value] of Object.entries(binding)) {
          if (typeof value !== 'string') {
            continue;
          }
          for (const match of value.matchAll(/%([^%]+)%/g)) {
            referenced.add(match[1]!);
          }
          if (key === 'connection') {
            referenced.add(value);
          }
        }
      }
    }
    for (const match of host.matchAll(/%([^%]+)%/g)) {
      referenced.add(match[1]!);
    }
    expect([...referenced].sort()).toEqual(['EventHubConnection', 'EventHubConsumerGroup', 'EventHubName']);
    for (const setting of referenced) {
      expect(Object.keys(example.Values)).toContain(setting);
    }
  });
});

describe('start-up (src/index.ts)', () => {
  const index = join(APP_ROOT, 'src', 'index.ts');
  let saved: NodeJS.ProcessEnv;
  beforeEach(() => {
    saved = process.env;
  });
  afterEach(() => {
    process.env = saved;
  });

  it('builds the composition and registers the telemetry flush when the worker stops', () => {
    process.env = { ...testSettings() };
    const { hooks } = loadWithCoreApi([index]);
    expect(hooks).toEqual(['appTerminate']);
  });

  it('stops start-up with one error listing every bad setting, without secret values', () => {
    process.env = {
      FhirServerUrl: 'ftp://fhir',
      FhirAuthMode: 'None',
      FhirBearerToken: 'token-value',
      PersistChunkSize: '0',
    };
    let error: unknown;
    try {
      loadWithCoreApi([index]);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID' });
    const message = (error as Error).message;
    for (const setting of [
      'EventHubConnection',
      'EventHubName',
      'FhirServerUrl',
      'FhirBearerToken',
      'PersistChunkSize',
    ]) {
      expect(message).toContain(`- ${setting}:`);
    }
    expect(message).not.toContain('token-value');
  });
});
