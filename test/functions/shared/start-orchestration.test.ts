import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import { toDeviceEvents } from '../../../src/functions/shared/event-hub-envelope';
import { batchInstanceId, startOrchestrationOnce } from '../../../src/functions/shared/start-orchestration';
import { LoopbackFhir } from '../../helpers/loopback-fhir';
import { eventHubInvocation, FakeDurableClient } from '../helpers';

const batchOf = (partitionId: string, first: number, count: number, enqueued = '2024-03-10T14:05:00.0000000Z') => {
  const events = Array.from({ length: count }, (_, i) => ({
    body: '{}',
    sequenceNumber: first + i,
    enqueuedTimeUtc: enqueued,
  }));
  const { messages, context } = eventHubInvocation(events, { partitionId });
  return toDeviceEvents(messages, context.triggerMetadata);
};

describe('batchInstanceId', () => {
  it('is derived from partition, first and last sequence number and first enqueued time', () => {
    expect(batchInstanceId(batchOf('3', 100, 5))).toBe('ingest-p3-s100-104-t1710079500000');
  });

  it('is the same for a redelivered batch and differs when the batch is cut differently', () => {
    expect(batchInstanceId(batchOf('3', 100, 5))).toBe(batchInstanceId(batchOf('3', 100, 5)));
    expect(batchInstanceId(batchOf('3', 100, 8))).not.toBe(batchInstanceId(batchOf('3', 100, 5)));
    expect(batchInstanceId(batchOf('4', 100, 5))).not.toBe(batchInstanceId(batchOf('3', 100, 5)));
  });

  it('differs after an event hub is re-created (sequence numbers start again, enqueued times do not)', () => {
    expect(batchInstanceId(batchOf('3', 0, 5, '2024-03-11T00:00:00Z'))).not.toBe(
      batchInstanceId(batchOf('3', 0, 5, '2024-03-10T00:00:00Z')),
    );
  });

  it('hashes a partition id that would need escaping in a row key', () => {
    expect(batchInstanceId(batchOf('a/b#c', 1, 1))).toMatch(/^ingest-ph[0-9a-f]{16}-s1-1-t\d+$/);
  });

  it('is undefined without sequence numbers (nothing to de-duplicate)', () => {
    expect(batchInstanceId(toDeviceEvents(['{}'], undefined))).toBeUndefined();
  });
});

describe('startOrchestrationOnce', () => {
  it.each([
    ['no instance', 'Started', undefined, 1],
    ['a pending instance', 'AlreadyStarted', 'Pending', 0],
    ['a running instance', 'AlreadyStarted', 'Running', 0],
    ['a completed instance', 'AlreadyStarted', 'Completed', 0],
    ['a failed instance', 'Restarted', 'Failed', 1],
    ['a terminated instance', 'Restarted', 'Terminated', 1],
  ])('with %s it reports %s', async (_case, outcome, status, starts) => {
    const client = new FakeDurableClient();
    if (status !== undefined) {
      client.instances.set('id-1', { status, input: null });
    }
    const result = await startOrchestrationOnce(client, 'groupMeasurements', 'id-1', { n: 1 });
    expect(result).toEqual({ instanceId: 'id-1', outcome });
    expect(client.started).toHaveLength(starts);
  });

  it('treats a start refused because a concurrent delivery started the id first as already started', async () => {
    const client = new FakeDurableClient();
    const getStatus = client.getStatus.bind(client);
    let calls = 0;
    client.getStatus = (id: string) => {
      // The first look finds nothing; the other delivery starts the instance before our start arrives.
      if (calls++ === 0) {
        const pending = getStatus(id);
        client.instances.set(id, { status: 'Running', input: null });
        return pending;
      }
      return getStatus(id);
    };
    await expect(startOrchestrationOnce(client, 'groupMeasurements', 'id-1', {})).resolves.toEqual({
      instanceId: 'id-1',
      outcome: 'AlreadyStarted',
    });
    expect(client.started).toHaveLength(0);
  });

  it('rethrows a start failure when no instance exists afterwards', async () => {
    const client = new FakeDurableClient();
    client.startNew = () => Promise.reject(new Error('task hub unavailable'));
    await expect(startOrchestrationOnce(client, 'groupMeasurements', 'id-1', {})).rejects.toThrow(
      'task hub unavailable',
    );
  });

  it('rethrows a status lookup that fails for another reason than a missing instance', async () => {
    const client = new FakeDurableClient();
    client.getStatus = () => Promise.reject(new Error('The operation failed with an unexpected status code: 500'));
    await expect(startOrchestrationOnce(client, 'groupMeasurements', 'id-1', {})).rejects.toThrow('500');
    expect(client.started).toHaveLength(0);
  });

  it('lets Durable pick an id when the batch has none', async () => {
    const client = new FakeDurableClient();
    const result = await startOrchestrationOnce(client, 'groupMeasurements', undefined, {});
    expect(result).toEqual({ instanceId: 'generated-1', outcome: 'Started' });
  });

  describe('with the real DurableClient against the extension HTTP API on loopback', () => {
    let server: LoopbackFhir;
    beforeEach(async () => {
      server = await LoopbackFhir.start();
    });
    afterEach(() => server.close());

    /** `df.getClient` over the binding data the extension would hand the trigger. */
    const realClient = (): df.DurableClient => {
      const clientInput = df.input.durableClient();
      const context = new InvocationContext({
        options: { trigger: { type: 'eventHubTrigger', name: 't' }, extraInputs: [clientInput], extraOutputs: [] },
      });
      context.extraInputs.set(clientInput, {
        taskHubName: 'IomtFhir',
        creationUrls: {},
        managementUrls: {},
        baseUrl: `${server.baseUrl}/`,
        requiredQueryStringParameters: '',
        rpcBaseUrl: `${server.baseUrl}/`,
      });
      return df.getClient(context);
    };

    it('starts when the status lookup answers 404, with the id in the path and the input as the body', async () => {
      server.reply('GET /instances/id-1', { status: 404 });
      server.reply('POST /orchestrators/groupMeasurements/id-1', { status: 202, body: { id: 'id-1' } });
      const result = await startOrchestrationOnce(realClient(), 'groupMeasurements', 'id-1', { measurements: [] });
      expect(result).toEqual({ instanceId: 'id-1', outcome: 'Started' });
      const [start] = server.requestsTo('POST /orchestrators/groupMeasurements/id-1');
      expect(start?.body).toEqual({ measurements: [] });
      expect(server.requestsTo('GET /instances/id-1')[0]?.query.get('showInput')).toBeNull();
    });

    it('does not start when the extension knows the instance', async () => {
      server.reply('GET /instances/id-1', {
        status: 200,
        body: {
          name: 'groupMeasurements',
          instanceId: 'id-1',
          runtimeStatus: 'Completed',
          createdTime: '2024-03-10T14:05:00Z',
          lastUpdatedTime: '2024-03-10T14:05:10Z',
          // The extension sends both members; input is null because it was not asked for.
          input: null,
          output: { groups: 1 },
        },
      });
      const result = await startOrchestrationOnce(realClient(), 'groupMeasurements', 'id-1', {});
      expect(result.outcome).toBe('AlreadyStarted');
      expect(server.requestsTo('POST /orchestrators/groupMeasurements/id-1')).toHaveLength(0);
    });
  });
});
