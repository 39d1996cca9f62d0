import type * as OtelResources from '@opentelemetry/resources';
import type * as AppInsights from 'applicationinsights';

import { type LogFields, type Logger, type LogLevel, pickLogFields } from '../../pipeline';
import type { Dimensions, Metric, MetricsSink } from '../../pipeline';
import { createConsoleLogger } from './console-logger';

/** Options of {@link createAppInsightsMetrics}. */
export interface AppInsightsMetricsOptions {
  /** `APPLICATIONINSIGHTS_CONNECTION_STRING`. Without it the sink is a no-op and logs go to the console. */
  readonly connectionString?: string;
  /** The cloud role name shown in Application Insights (e.g. the function app name). Default: the SDK's. */
  readonly roleName?: string;
  /** The lowest log level sent. Default `info`. */
  readonly minLogLevel?: LogLevel;
}

/** A {@link MetricsSink} backed by Application Insights, with a logger to the same destination. */
export interface AppInsightsMetrics extends MetricsSink {
  /** True when telemetry is sent to Application Insights. */
  readonly enabled: boolean;
  /** Logs to Application Insights traces when enabled, to the console otherwise. */
  readonly logger: Logger;
  /** Sends everything queued now (the SDK otherwise exports metrics once a minute). */
  flush(): Promise<void>;
  /** Flushes and stops the exporters' timers. */
  shutdown(): Promise<void>;
}

/** The dimension keys that may be sent: exactly {@link Dimensions}. */
const DIMENSION_NAMES = [
  'stage',
  'errorType',
  'errorCategory',
  'severity',
  'partition',
  'outcome',
  'resourceType',
] as const satisfies readonly (keyof Dimensions)[];

const SEVERITY: Readonly<Record<LogLevel, string>> = {
  debug: 'Verbose',
  info: 'Information',
  warn: 'Warning',
  error: 'Error',
};
const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Creates the Application Insights metrics sink.
 *
 * `count` and `record` both become `trackMetric` calls. The SDK (3.x, on OpenTelemetry) pre-aggregates them per
 * metric name and dimension set and exports one `Aggregation` item per minute with sum, count, min and max, so
 * counters are read as the sum and durations as sum/count. Only the closed {@link Dimensions} keys are sent, as
 * custom dimensions.
 *
 * The client is isolated (`useGlobalProviders: false`): it neither installs global OpenTelemetry providers nor
 * instruments http, so it cannot interfere with the Functions host's own telemetry. Without a connection string
 * nothing from the SDK is loaded: the SDK's `trackTrace`/`trackEvent` throw a TypeError in that state, and loading it
 * takes over a second of cold start.
 * @param options - connection string and role name
 */
export function createAppInsightsMetrics(options: AppInsightsMetricsOptions = {}): AppInsightsMetrics {
  const minLogLevel = options.minLogLevel ?? 'info';
  if (options.connectionString === undefined || options.connectionString.trim() === '') {
    return Object.freeze({
      enabled: false,
      logger: createConsoleLogger({ minLevel: minLogLevel }),
      count: () => undefined,
      record: () => undefined,
      flush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    });
  }
  const client = createClient(options.connectionString, options.roleName);
  const track = (metric: Metric, value: number, dimensions?: Dimensions): void => {
    if (Number.isFinite(value)) {
      client.trackMetric({ name: metric, value, properties: pickDimensions(dimensions) });
    }
  };
  const min = RANK[minLogLevel];
  const log =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (RANK[level] >= min) {
        client.trackTrace({ message, severity: SEVERITY[level], properties: pickLogFields(fields) ?? {} });
      }
    };
  return Object.freeze({
    enabled: true,
    logger: Object.freeze({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }),
    count: track,
    record: track,
    flush: () => client.flush(),
    shutdown: () => client.shutdown(),
  });
}

function pickDimensions(dimensions: Dimensions | undefined): Record<string, string> {
  const properties: Record<string, string> = {};
  if (dimensions !== undefined) {
    for (const key of DIMENSION_NAMES) {
      const value = dimensions[key];
      if (typeof value === 'string') {
        properties[key] = value;
      }
    }
  }
  return properties;
}

function createClient(connectionString: string, roleName: string | undefined): AppInsights.TelemetryClient {
  // Loaded here, not at the top: the SDK and OpenTelemetry take over a second to load, which a cold start without
  // Application Insights should not pay.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { TelemetryClient: Client } = require('applicationinsights') as typeof AppInsights;
  const client = new Client(connectionString, { useGlobalProviders: false });
  if (roleName !== undefined) {
    // The role name is the OpenTelemetry resource's service.name; the shim's `context.tags` would only add a
    // custom property. `@opentelemetry/resources` is the SDK's own dependency (same instance).
    const { defaultResource, resourceFromAttributes } = require('@opentelemetry/resources') as typeof OtelResources;
    client.config.azureMonitorOpenTelemetryOptions = {
      ...client.config.azureMonitorOpenTelemetryOptions,
      resource: defaultResource().merge(resourceFromAttributes({ 'service.name': roleName })),
    };
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  return client;
}
