import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventData, EventDataBatch } from '@azure/event-hubs';

import {
  createSendCommand,
  defaultSendDependencies,
  type EventProducer,
  type SendTarget,
  toFullyQualifiedNamespace,
} from '../../../src/local/cli/commands/send';
import { UsageError } from '../../../src/local/cli/io';
import { captureIo } from './capture-io';

/** A fake producer: batches hold events up to a byte budget (body + properties), as the real one does. */
class FakeProducer implements EventProducer {
  readonly sent: EventData[][] = [];
  closed = false;
  readonly maxSizeInBytes: number;
  readonly failSend: Error | undefined;

  constructor(maxSizeInBytes = 1024 * 1024, failSend?: Error) {
    this.maxSizeInBytes = maxSizeInBytes;
    this.failSend = failSend;
  }

  createBatch(): Promise<EventDataBatch> {
    const events: EventData[] = [];
    let size = 0;
    const max = this.maxSizeInBytes;
    const batch = {
      get count() {
        return events.length;
      },
      get sizeInBytes() {
        return size;
      },
      maxSizeInBytes: max,
      tryAdd(event: EventData): boolean {
        const bytes = (event.body as Buffer).length + JSON.stringify(event.properties ?? {}).length;
        if (size + bytes > max) {
          return false;
        }
        size += bytes;
        events.push(event);
        return true;
      },
      events,
    };
    return Promise.resolve(batch as unknown as EventDataBatch);
  }

  sendBatch(batch: EventDataBatch): Promise<void> {
    if (this.failSend !== undefined) {
      return Promise.reject(this.failSend);
    }
    this.sent.push([...(batch as unknown as { events: EventData[] }).events]);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

describe('iomt send', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iomt-send-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function eventsFile(name: string, entries: unknown[]): string {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(entries));
    return path;
  }

  function run(
    producer: FakeProducer,
    args: string[],
  ): { targets: SendTarget[]; io: ReturnType<typeof captureIo>; exit: Promise<number> } {
    const targets: SendTarget[] = [];
    const command = createSendCommand({
      createProducer: (target) => {
        targets.push(target);
        return producer;
      },
    });
    const io = captureIo();
    return { targets, io, exit: command.run(args, io) };
  }

  it('sends each body as the bytes the pipeline reads, with application properties, and prints the counts', async () => {
    const file = eventsFile('mixed.json', [
      { body: { deviceId: 'd1', heartRate: 72, measurementTime: '2024-03-10T14:00:00Z' } },
      { bodyText: '{"deviceId":"d2","heartRate":80.0}', properties: { source: 'ward-3', retries: 2, test: true } },
      { body: null },
    ]);
    const producer = new FakeProducer();
    const { targets, io, exit } = run(producer, ['--namespace', 'myns', '--hub', 'devicedata', '--events', file]);

    expect(await exit).toBe(0);
    expect(targets).toEqual([{ fullyQualifiedNamespace: 'myns.servicebus.windows.net', eventHubName: 'devicedata' }]);
    expect(producer.sent).toHaveLength(1);
    const [first, second, third] = producer.sent[0] ?? [];
    expect((first?.body as Buffer).toString('utf8')).toBe(
      '{"deviceId":"d1","heartRate":72,"measurementTime":"2024-03-10T14:00:00Z"}',
    );
    // bodyText goes out byte for byte: 80.0 keeps its decimal point, which JSON.parse would lose.
    expect((second?.body as Buffer).toString('utf8')).toBe('{"deviceId":"d2","heartRate":80.0}');
    expect(second?.properties).toEqual({ source: 'ward-3', retries: 2, test: true });
    expect((third?.body as Buffer).length).toBe(0);
    expect(first?.contentType).toBe('application/json');
    expect(first?.properties).toBeUndefined();
    expect(producer.closed).toBe(true);
    expect(io.output()).toBe('Sent 3 events in 1 batch to myns.servicebus.windows.net/devicedata.\n');
  });

  it('starts a new batch when one is full and keeps the file order', async () => {
    const entries = Array.from({ length: 10 }, (_, i) => ({ body: { deviceId: `d${i}`, heartRate: 60 + i } }));
    const producer = new FakeProducer(100);
    const { io, exit } = run(producer, [
      '--namespace',
      'myns',
      '--hub',
      'hub',
      '--events',
      eventsFile('ten.json', entries),
    ]);

    expect(await exit).toBe(0);
    expect(producer.sent.length).toBeGreaterThan(1);
    const order = producer.sent
      .flat()
      .map((e) => (JSON.parse((e.body as Buffer).toString('utf8')) as { deviceId: string }).deviceId);
    expect(order).toEqual(entries.map((e) => e.body.deviceId));
    expect(io.output()).toContain(`Sent 10 events in ${producer.sent.length} batches`);
  });

  it('refuses an event larger than an empty batch, naming it but not its content', async () => {
    const file = eventsFile('big.json', [{ body: { n: 1 } }, { bodyText: `{"note":"${'x'.repeat(500)}"}` }]);
    const producer = new FakeProducer(200);
    const { exit } = run(producer, ['--namespace', 'myns', '--hub', 'hub', '--events', file]);

    const error = await exit.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(
      /event 1 is larger than the event hub accepts.*1 events were sent before it/,
    );
    expect((error as Error).message).not.toContain('xxx');
    expect(producer.sent.flat()).toHaveLength(1);
    expect(producer.closed).toBe(true);
  });

  it('rejects application properties that are not AMQP primitives, naming the property only', async () => {
    const file = eventsFile('props.json', [{ body: {}, properties: { patient: { id: 'secret-patient' } } }]);
    const { exit } = run(new FakeProducer(), ['--namespace', 'myns', '--hub', 'hub', '--events', file]);

    const error = await exit.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe("event 0: property 'patient' must be a string, a finite number or a boolean");
  });

  it('says which fields only Event Hubs and IoT Hub can set, and does not send them', async () => {
    const file = eventsFile('iothub.json', [
      {
        body: { HeartRate: 78 },
        properties: { 'iothub-creation-time-utc': '2024-03-10T14:00:00Z' },
        systemProperties: { 'iothub-connection-device-id': 'dev-1' },
        enqueuedTimeUtc: '2024-03-10T14:00:01Z',
      },
    ]);
    const producer = new FakeProducer();
    const { io, exit } = run(producer, ['--namespace', 'myns', '--hub', 'hub', '--events', file]);

    expect(await exit).toBe(0);
    expect(producer.sent[0]?.[0]).toEqual({
      body: Buffer.from('{"HeartRate":78}'),
      contentType: 'application/json',
      properties: { 'iothub-creation-time-utc': '2024-03-10T14:00:00Z' },
    });
    expect(io.output()).toContain('1 event carried systemProperties or enqueuedTimeUtc');
  });

  it('takes the namespace from a connection string and passes the string to the producer', async () => {
    const cs = 'Endpoint=sb://other.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=';
    const file = eventsFile('one.json', [{ body: { a: 1 } }]);
    const { targets, io, exit } = run(new FakeProducer(), [
      '--hub',
      'hub',
      '--events',
      file,
      '--connection-string',
      cs,
      '--json',
    ]);

    expect(await exit).toBe(0);
    expect(targets).toEqual([
      { fullyQualifiedNamespace: 'other.servicebus.windows.net', eventHubName: 'hub', connectionString: cs },
    ]);
    expect(JSON.parse(io.output())).toEqual({
      namespace: 'other.servicebus.windows.net',
      eventHub: 'hub',
      sent: 1,
      batches: 1,
      ignoredServiceFields: 0,
    });
    expect(io.output()).not.toContain('SharedAccessKey');
  });

  it('reports a failed send with exit code 1 and still closes the producer', async () => {
    const producer = new FakeProducer(
      1024,
      Object.assign(new Error('Unauthorized access.'), { code: 'UnauthorizedError' }),
    );
    const { io, exit } = run(producer, [
      '--namespace',
      'myns',
      '--hub',
      'hub',
      '--events',
      eventsFile('f.json', [{ body: {} }]),
    ]);

    expect(await exit).toBe(1);
    expect(io.errors()).toBe(
      'iomt send: sending to myns.servicebus.windows.net/hub failed: UnauthorizedError: Unauthorized access.\n',
    );
    expect(producer.closed).toBe(true);
  });

  it.each([
    [['--hub', 'h', '--events', 'f'], /--namespace is required/],
    [['--namespace', 'n', '--events', 'f'], /--hub is required/],
    [['--namespace', 'n', '--hub', 'h'], /--events is required/],
    [['--namespace', 'bad/ns', '--hub', 'h', '--events', 'f'], /--namespace must be/],
    [['--hub', 'h', '--events', 'f', '--connection-string', 'nonsense'], /--connection-string must be/],
    [['--namespace', 'n', '--hub', 'h', '--events', '/no/such/file.json'], /ENOENT|no such file/],
    [['--namespace', 'n', '--hub', 'h', '--events', 'f', '--bogus'], /Unknown option/],
  ])('rejects %j with a usage error', async (args, message) => {
    await expect(run(new FakeProducer(), args).exit).rejects.toThrow(message);
  });
});

describe('toFullyQualifiedNamespace', () => {
  it.each([
    ['myns', 'myns.servicebus.windows.net'],
    ['myns.servicebus.windows.net', 'myns.servicebus.windows.net'],
    ['sb://myns.servicebus.windows.net/', 'myns.servicebus.windows.net'],
    ['myns.servicebus.chinacloudapi.cn', 'myns.servicebus.chinacloudapi.cn'],
  ])('%s → %s', (input, expected) => {
    expect(toFullyQualifiedNamespace(input)).toBe(expected);
  });
});

describe('the real producer factory', () => {
  it.each([
    [
      'a connection string',
      { connectionString: 'Endpoint=sb://cs.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=a=' },
      'cs.servicebus.windows.net',
    ],
    ['Microsoft Entra ID', {}, 'ns.servicebus.windows.net'],
  ])('builds an Event Hubs producer from %s without connecting', async (_name, extra, namespace) => {
    const producer = defaultSendDependencies.createProducer({
      fullyQualifiedNamespace: 'ns.servicebus.windows.net',
      eventHubName: 'hub',
      ...extra,
    }) as EventProducer & { fullyQualifiedNamespace: string; eventHubName: string };
    try {
      expect(producer.fullyQualifiedNamespace).toBe(namespace);
      expect(producer.eventHubName).toBe('hub');
    } finally {
      await producer.close();
    }
  });
});
