/**
 * `iomt send`: sends device messages from an events file to an Azure event hub, the way a device or IoT Hub would,
 * so a deployment can be tried end to end from a terminal (step 5 of the MedTech quickstart: send data).
 *
 * Authentication is Microsoft Entra ID (`DefaultAzureCredential`: `az login`, environment, managed identity…) with the
 * Azure Event Hubs Data Sender role, or a connection string with Send rights. Events go out in as few batches as
 * `createBatch` allows; the service picks the partitions.
 */
import { parseArgs } from 'node:util';
import type * as EventHubs from '@azure/event-hubs';
import type { EventData, EventDataBatch, EventHubProducerClient } from '@azure/event-hubs';
import type * as Identity from '@azure/identity';

import type { DeviceEvent } from '../../../pipeline';
import { type FileEvent, readEventsFile } from '../events-file';
import type { CliIo, Command } from '../io';
import { UsageError } from '../io';

/** Where events are sent. */
export interface SendTarget {
  /** The fully qualified namespace, e.g. `myns.servicebus.windows.net`. */
  readonly fullyQualifiedNamespace: string;
  readonly eventHubName: string;
  /** A connection string with Send rights; Microsoft Entra ID (`DefaultAzureCredential`) when absent. */
  readonly connectionString?: string;
}

/** The part of `EventHubProducerClient` the command uses (tests inject a fake). */
export interface EventProducer {
  /** A new, empty batch sized by the hub's message size limit. */
  createBatch(): Promise<EventDataBatch>;
  /**
   * Sends a batch.
   * @param batch - a batch from {@link EventProducer.createBatch}
   */
  sendBatch(batch: EventDataBatch): Promise<void>;
  /** Closes the AMQP connection. */
  close(): Promise<void>;
}

/** What `iomt send` needs from the outside world. */
export interface SendDependencies {
  /**
   * Creates the producer for a target.
   * @param target - namespace, hub and optional connection string
   */
  createProducer(target: SendTarget): EventProducer;
}

/** The outcome of one `iomt send`. */
export interface SendReport {
  readonly sent: number;
  readonly batches: number;
  /** Events that carried `systemProperties` or `enqueuedTimeUtc`, which only Event Hubs and IoT Hub can set. */
  readonly ignoredServiceFields: number;
}

const USAGE = `usage: iomt send --namespace <namespace> --hub <event hub> --events <file> [--connection-string <cs>] [--json]

Sends the events of an events file to an event hub, as devices would.

  --namespace <ns>           Event Hubs namespace: a name (myns) or a host name (myns.servicebus.windows.net)
  --hub <name>               event hub name
  --events <file>            events file: a JSON array or JSON lines of {body | bodyText, properties?}
  --connection-string <cs>   connection string with Send rights (default: Microsoft Entra ID through
                             DefaultAzureCredential, e.g. after \`az login\`; needs Azure Event Hubs Data Sender)
  --json                     print the counts as JSON

Each event's body is sent as UTF-8 JSON text ("bodyText", or a string "body", is sent byte for byte; a null body is an
empty message) with content type application/json; "properties" become application properties. "systemProperties",
"enqueuedTimeUtc" and "batch" are not sent: Event Hubs and IoT Hub set the first two, and the service batches itself.`;

/** Application property values Event Hubs carries as AMQP primitives. */
type PropertyValue = string | number | boolean;

const JSON_CONTENT_TYPE = 'application/json';

/**
 * Normalizes `--namespace`: a bare name gets the public-cloud suffix; a host name is kept.
 * @param value - the option value
 */
export function toFullyQualifiedNamespace(value: string): string {
  const trimmed = value
    .trim()
    .replace(/^sb:\/\//i, '')
    .replace(/\/+$/, '');
  if (!/^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*$/.test(trimmed)) {
    throw new UsageError('--namespace must be a namespace name or host name, e.g. myns or myns.servicebus.windows.net');
  }
  return trimmed.includes('.') ? trimmed : `${trimmed}.servicebus.windows.net`;
}

/**
 * Converts a file event to the message a device would send.
 * @param event - the event from the events file
 * @param index - its position, for messages
 */
export function toEventData(event: DeviceEvent, index: number): EventData {
  const properties = toApplicationProperties(event.properties, index);
  return {
    body: encodeBody(event.body),
    contentType: JSON_CONTENT_TYPE,
    ...(properties === undefined ? {} : { properties }),
  };
}

/** The body bytes, with the pipeline's meaning of each form (see DeviceEvent.body): strings are the JSON text. */
function encodeBody(body: DeviceEvent['body']): Buffer {
  if (body === null) {
    return Buffer.alloc(0);
  }
  if (body instanceof Uint8Array) {
    return Buffer.from(body);
  }
  if (typeof body === 'string') {
    return Buffer.from(body, 'utf8');
  }
  return Buffer.from(JSON.stringify(body), 'utf8');
}

function toApplicationProperties(
  properties: DeviceEvent['properties'],
  index: number,
): Record<string, PropertyValue> | undefined {
  if (properties === undefined) {
    return undefined;
  }
  const result: Record<string, PropertyValue> = {};
  for (const [name, value] of Object.entries(properties)) {
    if (typeof value !== 'string' && typeof value !== 'boolean' && !(typeof value === 'number' && isFinite(value))) {
      // The message names the property, never its value (it may be patient data).
      throw new UsageError(`event ${index}: property '${name}' must be a string, a finite number or a boolean`);
    }
    result[name] = value;
  }
  return result;
}

/**
 * Sends events in as few batches as the hub's size limit allows, in file order.
 * @param producer - the producer
 * @param events - the events, in order
 * @returns the counts
 */
export async function sendEvents(producer: EventProducer, events: readonly FileEvent[]): Promise<SendReport> {
  const messages = events.map((e) => toEventData(e.event, e.index));
  const ignoredServiceFields = events.filter(
    (e) => e.event.systemProperties !== undefined || e.event.enqueuedTimeUtc !== undefined,
  ).length;
  let sent = 0;
  let batches = 0;
  let batch: EventDataBatch | undefined;
  const flush = async (): Promise<void> => {
    if (batch !== undefined && batch.count > 0) {
      await producer.sendBatch(batch);
      sent += batch.count;
      batches++;
    }
    batch = undefined;
  };
  for (const [i, message] of messages.entries()) {
    batch ??= await producer.createBatch();
    if (batch.tryAdd(message)) {
      continue;
    }
    await flush();
    batch = await producer.createBatch();
    if (!batch.tryAdd(message)) {
      throw new UsageError(
        `event ${events[i]?.index ?? i} is larger than the event hub accepts in one message ` +
          `(${batch.maxSizeInBytes} bytes with headers); ${sent} events were sent before it`,
      );
    }
  }
  await flush();
  return { sent, batches, ignoredServiceFields };
}

interface SendArgs {
  readonly target: SendTarget;
  readonly eventsFile: string;
  readonly json: boolean;
}

function parseSendArgs(args: string[]): SendArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        namespace: { type: 'string' },
        hub: { type: 'string' },
        events: { type: 'string' },
        'connection-string': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const connectionString = values['connection-string'];
  const endpoint = connectionString === undefined ? undefined : /Endpoint=sb:\/\/([^/;]+)/i.exec(connectionString)?.[1];
  if (connectionString !== undefined && endpoint === undefined) {
    throw new UsageError('--connection-string must be an Event Hubs connection string (Endpoint=sb://…)');
  }
  const namespace = values.namespace ?? endpoint;
  if (namespace === undefined) {
    throw new UsageError('--namespace is required (or a --connection-string that names the endpoint)');
  }
  if (values.hub === undefined || values.hub.trim() === '') {
    throw new UsageError('--hub is required');
  }
  if (values.events === undefined) {
    throw new UsageError('--events is required');
  }
  return {
    target: {
      fullyQualifiedNamespace: toFullyQualifiedNamespace(namespace),
      eventHubName: values.hub.trim(),
      ...(connectionString === undefined ? {} : { connectionString }),
    },
    eventsFile: values.events,
    json: values.json,
  };
}

/** The real producer: `@azure/event-hubs` with a connection string or `DefaultAzureCredential`. */
export const defaultSendDependencies: SendDependencies = {
  createProducer(target): EventHubProducerClient {
    // Loaded here: the SDKs take a while to load and other commands never need them.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { EventHubProducerClient: Producer } = require('@azure/event-hubs') as typeof EventHubs;
    if (target.connectionString !== undefined) {
      return new Producer(target.connectionString, target.eventHubName);
    }
    const { DefaultAzureCredential } = require('@azure/identity') as typeof Identity;
    /* eslint-enable @typescript-eslint/no-require-imports */
    return new Producer(target.fullyQualifiedNamespace, target.eventHubName, new DefaultAzureCredential());
  },
};

/**
 * Builds `iomt send` over the given dependencies.
 * @param deps - how producers are created
 */
export function createSendCommand(deps: SendDependencies): Command {
  return {
    summary: 'send test device messages from an events file to an Azure event hub',
    usage: USAGE,
    async run(args: string[], io: CliIo): Promise<number> {
      const options = parseSendArgs(args);
      let events: FileEvent[];
      try {
        events = readEventsFile(options.eventsFile);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      const { fullyQualifiedNamespace, eventHubName } = options.target;
      const producer = deps.createProducer(options.target);
      let report: SendReport;
      try {
        report = await sendEvents(producer, events);
      } catch (error) {
        if (error instanceof UsageError) {
          throw error;
        }
        io.err(`iomt send: sending to ${fullyQualifiedNamespace}/${eventHubName} failed: ${errorText(error)}\n`);
        return 1;
      } finally {
        await producer.close();
      }
      if (options.json) {
        io.out(`${JSON.stringify({ namespace: fullyQualifiedNamespace, eventHub: eventHubName, ...report })}\n`);
      } else {
        const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
        io.out(
          `Sent ${plural(report.sent, 'event', 'events')} in ${plural(report.batches, 'batch', 'batches')} to ` +
            `${fullyQualifiedNamespace}/${eventHubName}.\n`,
        );
        if (report.ignoredServiceFields > 0) {
          io.out(
            `${plural(report.ignoredServiceFields, 'event', 'events')} carried systemProperties or enqueuedTimeUtc; those are ` +
              'set by Event Hubs and IoT Hub, not by senders, and were not sent.\n',
          );
        }
      }
      return 0;
    },
  };
}

/** SDK errors name the problem (unauthorized, not found) in their message and code; they hold no event content. */
function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/** `iomt send` with the real Event Hubs client. */
export const sendCommand: Command = createSendCommand(defaultSendDependencies);
