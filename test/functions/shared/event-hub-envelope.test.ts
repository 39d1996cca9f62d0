import { Buffer } from 'node:buffer';

import { toDeviceEvents } from '../../../src/functions/shared/event-hub-envelope';
import { DateToken, toEnvelope } from '../../../src/pipeline';
import { eventHubInvocation } from '../helpers';

const T0 = '2024-03-10T14:05:00.1234567Z';

describe('toDeviceEvents', () => {
  it('zips each body with its enqueued time, sequence number, properties and the batch partition', () => {
    const { messages, context } = eventHubInvocation(
      [
        { body: Buffer.from('{"a":1}'), sequenceNumber: 41, enqueuedTimeUtc: T0, properties: { source: 'x' } },
        { body: Buffer.from('{"a":2}'), sequenceNumber: 42, enqueuedTimeUtc: '2024-03-10T14:05:01Z' },
      ],
      { partitionId: '7' },
    );
    const batch = toDeviceEvents(messages, context.triggerMetadata);
    expect(batch.partitionId).toBe('7');
    expect(batch.events.map((e) => [e.sequenceNumber, e.enqueuedTimeUtc, e.partitionId])).toEqual([
      [41, T0, '7'],
      [42, '2024-03-10T14:05:01Z', '7'],
    ]);
    expect(batch.events[0]?.properties).toEqual({ source: 'x' });
    expect(batch.events[1]?.properties).toEqual({});
  });

  it.each([
    ['bytes (dataType binary)', Buffer.from('{"hr": 70}'), { hr: 70 }],
    ['a Uint8Array', new TextEncoder().encode('{"hr":71}'), { hr: 71 }],
    ['a string', '{"hr":72}', { hr: 72 }],
    ['parsed JSON', { hr: 73 }, { hr: 73 }],
    ['a serialized Buffer', JSON.parse(JSON.stringify(Buffer.from('{"hr":74}'))), { hr: 74 }],
    ['an empty body', Buffer.alloc(0), null],
  ])('takes a body given as %s', (_kind, body, expected) => {
    const { messages, context } = eventHubInvocation([{ body, sequenceNumber: 1, enqueuedTimeUtc: T0 }]);
    const [event] = toDeviceEvents(messages, context.triggerMetadata).events;
    expect(toEnvelope(event!).Body).toEqual(expected);
  });

  it('keeps the exact bytes of a binary body (a pretty-printed body is not re-serialized)', () => {
    const bytes = Buffer.from('{ "hr" : 70 }\n');
    const { messages, context } = eventHubInvocation([{ body: bytes, sequenceNumber: 1, enqueuedTimeUtc: T0 }]);
    const [event] = toDeviceEvents(messages, context.triggerMetadata).events;
    expect(Buffer.from(event!.body as Uint8Array).equals(bytes)).toBe(true);
  });

  it('gives back the system properties MedTech sees: AMQP annotations without the binding-only members', () => {
    const { messages, context } = eventHubInvocation([
      {
        body: '{}',
        sequenceNumber: 9,
        enqueuedTimeUtc: T0,
        systemProperties: {
          'iothub-connection-device-id': 'device-1',
          'iothub-enqueuedtime': '2024-03-10T14:04:59.5Z',
        },
      },
    ]);
    const [event] = toDeviceEvents(messages, context.triggerMetadata).events;
    const system = event!.systemProperties!;
    expect(Object.keys(system).sort()).toEqual([
      'iothub-connection-device-id',
      'iothub-enqueuedtime',
      'x-opt-enqueued-time',
      'x-opt-offset',
      'x-opt-sequence-number',
    ]);
    // Date-typed annotations are dates again in the envelope, as the Event Hubs SDK hands them to MedTech.
    const envelope = toEnvelope(event!);
    expect(envelope.SystemProperties['iothub-enqueuedtime']).toBeInstanceOf(DateToken);
    expect((envelope.SystemProperties['iothub-enqueuedtime'] as DateToken).instant.epochMs).toBe(
      Date.parse('2024-03-10T14:04:59.5Z'),
    );
    expect(envelope.SystemProperties['x-opt-enqueued-time']).toBeInstanceOf(DateToken);
    expect(envelope.SystemProperties['iothub-connection-device-id']).toBe('device-1');
  });

  it('falls back to the system properties when the metadata arrays are missing', () => {
    const batch = toDeviceEvents(['{}'], {
      partitionContext: { partitionId: 0 },
      systemPropertiesArray: [{ sequenceNumber: '12', enqueuedTimeUtc: '2024-03-10T14:05:00' }],
    });
    expect(batch.partitionId).toBe('0');
    expect(batch.events[0]).toMatchObject({ sequenceNumber: 12, enqueuedTimeUtc: '2024-03-10T14:05:00' });
  });

  it('accepts a single body and no metadata at all (outside the host)', () => {
    const batch = toDeviceEvents('{"hr":1}', undefined);
    expect(batch.partitionId).toBeUndefined();
    expect(batch.events).toEqual([{ body: '{"hr":1}', properties: {}, systemProperties: {} }]);
  });

  it('ignores metadata values of the wrong shape instead of trusting them', () => {
    const batch = toDeviceEvents(['{}'], {
      enqueuedTimeUtcArray: ['yesterday'],
      sequenceNumberArray: [-1],
      propertiesArray: ['not an object'],
      systemPropertiesArray: [null],
    });
    expect(batch.events[0]).toEqual({ body: '{}', properties: {}, systemProperties: {} });
  });
});
