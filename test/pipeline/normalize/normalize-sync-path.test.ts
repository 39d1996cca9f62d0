import type { DeviceEvent, NormalizeResult } from '../../../src/pipeline';
import { createNormalizer, loadDeviceMapping, normalizeBatch } from '../../../src/pipeline';

/**
 * A mapping with a general JSONata expression is asynchronous, but only events that reach that expression need to
 * wait for it: the others are answered synchronously, with the same results and the same first failure.
 */
const mapping = {
  templateType: 'CollectionContent',
  template: [
    {
      templateType: 'CalculatedContent',
      template: {
        typeName: 'heartrate',
        typeMatchExpression: '$..[?(@heartRate)]',
        deviceIdExpression: '$.matchedToken.deviceId',
        timestampExpression: '$.matchedToken.time',
        values: [{ valueName: 'hr', valueExpression: '$.matchedToken.heartRate', required: true }],
      },
    },
    {
      templateType: 'CalculatedContent',
      template: {
        typeName: 'temperature',
        typeMatchExpression: '$..[?(@temperatureF)]',
        deviceIdExpression: '$.matchedToken.deviceId',
        timestampExpression: '$.matchedToken.time',
        values: [
          {
            valueName: 'celsius',
            valueExpression: { value: '$round((matchedToken.temperatureF - 32) * 5 / 9, 1)', language: 'JsonAta' },
            required: true,
          },
        ],
      },
    },
    {
      templateType: 'CalculatedContent',
      template: {
        typeName: 'steps',
        typeMatchExpression: '$..[?(@steps)]',
        deviceIdExpression: '$.matchedToken.deviceId',
        timestampExpression: '$.matchedToken.time',
        values: [{ valueName: 'steps', valueExpression: '$.matchedToken.steps', required: true }],
      },
    },
  ],
};

const loaded = loadDeviceMapping(JSON.stringify(mapping));
const normalizer = createNormalizer(loaded.mapping!, () => 0);

function event(body: object): DeviceEvent {
  return {
    body: new TextEncoder().encode(JSON.stringify({ deviceId: 'd1', time: '2024-03-10T14:05:00Z', ...body })),
    enqueuedTimeUtc: '2024-03-10T14:05:01Z',
  };
}

function measurementOf(type: string, name: string, value: string): object {
  return {
    type,
    occurrenceTimeUtc: '2024-03-10T14:05:00.0000000Z',
    ingestionTimeUtc: '2024-03-10T14:05:01.0000000Z',
    deviceId: 'd1',
    patientId: null,
    encounterId: null,
    correlationId: null,
    properties: [{ name, value }],
  };
}

describe('an asynchronous mapping', () => {
  it('is asynchronous', () => {
    expect(loaded.issues).toEqual([]);
    expect(normalizer.isAsync).toBe(true);
  });

  it('answers an event that needs no asynchronous expression synchronously', () => {
    const result = normalizer.normalize(event({ heartRate: 72, steps: 10 }));
    expect(result).not.toBeInstanceOf(Promise);
    expect((result as NormalizeResult).measurements).toEqual([
      measurementOf('heartrate', 'hr', '72'),
      measurementOf('steps', 'steps', '10'),
    ]);
  });

  it('continues asynchronously from the template that needs it, keeping template order', async () => {
    const pending = normalizer.normalize(event({ heartRate: 72, temperatureF: 98.6, steps: 10 }));
    expect(pending).toBeInstanceOf(Promise);
    expect((await pending).measurements).toEqual([
      measurementOf('heartrate', 'hr', '72'),
      measurementOf('temperature', 'celsius', '37'),
      measurementOf('steps', 'steps', '10'),
    ]);
  });

  it('reports the first failure after the asynchronous template as the synchronous order would', async () => {
    const result = await normalizer.normalize(event({ temperatureF: 98.6, steps: null }));
    expect(result.measurements).toEqual([measurementOf('temperature', 'celsius', '37')]);
    expect(result.error).toMatchObject({ details: { template: 'steps', field: 'steps' } });
  });

  it('reports a failure of the asynchronous expression with its template', async () => {
    const result = await normalizer.normalize(event({ temperatureF: 'hot' }));
    expect(result.measurements).toEqual([]);
    expect(result.error).toMatchObject({ details: { template: 'temperature' } });
  });

  it('normalizes a batch mixing both kinds of event in event order', async () => {
    const batch = [event({ heartRate: 60 }), event({ temperatureF: 212 }), event({ steps: 5 })];
    const result = await normalizeBatch(normalizer, batch);
    expect(result.failures).toEqual([]);
    expect(result.measurements.map((m) => m.type)).toEqual(['heartrate', 'temperature', 'steps']);
    expect(result.measurements[1]?.properties).toEqual([{ name: 'celsius', value: '100' }]);
  });
});
