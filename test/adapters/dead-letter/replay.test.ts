/**
 * Dead-letter replay end to end, against Azurite's Table and Blob storage: items fail in the Functions app's own
 * handlers, land in the Table store, the mapping is fixed, and replay saves them and removes their entries.
 */
import { InvocationContext } from '@azure/functions';

import { replayDeadLetters, type ReplayDependencies } from '../../../src/adapters/dead-letter/replay';
import { openTableDeadLetterStore } from '../../../src/adapters/dead-letter/table-dead-letter-store';
import { ingestDeviceEvents } from '../../../src/functions/ingest-device-events';
import { saveObservations } from '../../../src/functions/save-observations.activity';
import { setComposition } from '../../../src/functions/shared/composition';
import { readGroupingInput } from '../../../src/functions/shared/orchestration-io';
import { chunkGroups, type DeadLetterStore, groupMeasurements, secret } from '../../../src/pipeline';
import { startAzurite, type Azurite } from '../../helpers/azurite';
import {
  eventHubInvocation,
  FakeDurableClient,
  FHIR_MAPPING,
  type TestComposition,
  testComposition,
} from '../../functions/helpers';

/** A device mapping whose value expression misspells the field: every heart rate fails REQUIRED_VALUE_MISSING. */
const brokenDeviceMapping = (field: string): string =>
  JSON.stringify({
    templateType: 'CollectionContent',
    template: [
      {
        templateType: 'CalculatedContent',
        template: {
          typeName: 'heartrate',
          typeMatchExpression: '$..[?(@heartRate)]',
          deviceIdExpression: '$.matchedToken.deviceId',
          patientIdExpression: '$.matchedToken.patientId',
          timestampExpression: '$.matchedToken.measurementTime',
          values: [{ valueName: 'hr', valueExpression: `$.matchedToken.${field}`, required: true }],
        },
      },
    ],
  });

const reading = (deviceId: string, minute: number, hr: number): string =>
  JSON.stringify({
    deviceId,
    patientId: `p-${deviceId}`,
    measurementTime: `2024-03-10T14:0${minute}:00Z`,
    heartRate: hr,
  });

describe('dead-letter replay (Azurite)', () => {
  let azurite: Azurite;
  let table = 0;
  let store: DeadLetterStore;
  let t: TestComposition;

  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(() => azurite.stop());

  beforeEach(() => {
    store = openTableDeadLetterStore(
      { kind: 'connectionString', setting: 'DeadLetterStorage', connectionString: secret(azurite.connectionString) },
      `replay${++table}`,
    );
    t = testComposition({ overrides: { deadLetters: store } });
    setComposition(t.composition);
  });
  afterEach(() => {
    setComposition(undefined);
  });

  /** Replay with the composition's CURRENT mappings, as the replay function and CLI do. */
  const deps = async (): Promise<ReplayDependencies> => {
    const [device, fhir] = await Promise.all([t.composition.deviceMappings.get(), t.composition.fhirMappings.get()]);
    return {
      deadLetters: store,
      normalizer: device.value.normalizer,
      deviceMappingVersion: device.version,
      fhirMapping: fhir.value,
      fhirMappingVersion: fhir.version,
      store: t.fhir,
      identity: t.composition.identity,
      clock: t.composition.clock,
    };
  };

  const ingest = async (bodies: string[]): Promise<FakeDurableClient> => {
    const client = new FakeDurableClient();
    const { messages, context } = eventHubInvocation(
      bodies.map((body, i) => ({ body, sequenceNumber: 100 + i, enqueuedTimeUtc: `2024-03-10T14:0${i}:30Z` })),
    );
    await ingestDeviceEvents(messages, client, context);
    return client;
  };

  it('saves a dead-lettered event once the mapping is fixed, removes its entry, and a second replay is harmless', async () => {
    t.deviceSource.text = brokenDeviceMapping('heartrate');
    await ingest([reading('d1', 1, 70), reading('d2', 2, 80)]);
    const listed = await store.list();
    // Same creation time (the test clock): listed by id.
    expect(listed.map((e) => [e.id, e.error.code])).toEqual([
      ['evt-20240310-3-100', 'REQUIRED_VALUE_MISSING'],
      ['evt-20240310-3-101', 'REQUIRED_VALUE_MISSING'],
    ]);

    // Replaying with the broken mapping fails again: the entries stay, with one more attempt.
    const again = await replayDeadLetters({}, await deps());
    expect(again).toMatchObject({ replayed: 0, failed: 2 });
    expect((await store.list()).map((e) => e.attempts)).toEqual([2, 2]);

    // A dry run with the fixed mapping says they would go through, and changes nothing.
    t.deviceSource.text = brokenDeviceMapping('heartRate');
    const dry = await replayDeadLetters({ dryRun: true }, await deps());
    expect(dry.entries.map((e) => [e.outcome, e.measurements])).toEqual([
      ['Ready', 1],
      ['Ready', 1],
    ]);
    expect(await store.list()).toHaveLength(2);
    expect(t.fhir.all('Observation')).toHaveLength(0);

    const report = await replayDeadLetters({}, await deps());

    expect(report).toMatchObject({ dryRun: false, replayed: 2, failed: 0 });
    expect(report.entries.map((e) => [e.id, e.outcome, e.created, e.removed])).toEqual([
      ['evt-20240310-3-100', 'Replayed', 1, true],
      ['evt-20240310-3-101', 'Replayed', 1, true],
    ]);
    expect(await store.list()).toEqual([]);
    const observations = t.fhir.all('Observation');
    expect(observations).toHaveLength(2);

    const second = await replayDeadLetters({}, await deps());
    expect(second.entries).toEqual([]);
    expect(t.fhir.all('Observation')).toEqual(observations);
  });

  it('re-groups a dead-lettered measurement group with the current FHIR mapping, then saves it', async () => {
    // The FHIR mapping lacks the heart-rate template: the group has no window and cannot be saved.
    t.fhirSource.text = JSON.stringify({ templateType: 'CollectionFhir', template: [] });
    const client = await ingest([reading('d1', 1, 70), reading('d1', 2, 72)]);
    const input = readGroupingInput(client.started[0]!.input);
    const groups = groupMeasurements(input.measurements, () => undefined);
    for (const chunk of chunkGroups(groups, input.chunkSize)) {
      await saveObservations(JSON.parse(JSON.stringify({ groups: chunk })), new InvocationContext());
    }
    const [entry] = await store.list();
    expect(entry).toMatchObject({
      stage: 'FHIRConversion',
      payloadKind: 'group',
      error: { code: 'TEMPLATE_NOT_FOUND' },
    });

    t.fhirSource.text = FHIR_MAPPING;
    const report = await replayDeadLetters({ stage: 'FHIRConversion' }, await deps());

    expect(report.entries).toEqual([
      expect.objectContaining({ outcome: 'Replayed', measurements: 2, created: 1, removed: true }),
    ]);
    const [observation] = t.fhir.all('Observation');
    // Both readings are in the hourly Observation the fixed mapping describes.
    expect(observation?.effectivePeriod).toEqual({
      start: '2024-03-10T14:00:00.0000000Z',
      end: '2024-03-10T14:59:59.9999999Z',
    });
    expect(observation?.valueSampledData?.data?.split(' ').filter((v) => v !== 'E')).toEqual(['70', '72']);
    expect(await store.list()).toEqual([]);
  });

  it('replays only the entries the filter selects', async () => {
    t.deviceSource.text = brokenDeviceMapping('heartrate');
    await ingest([reading('d1', 1, 70), '{"deviceId": "d2", "heartRate": ']);
    t.deviceSource.text = brokenDeviceMapping('heartRate');

    const report = await replayDeadLetters({ errorType: 'IncompatibleDataException' }, await deps());

    expect(report.entries.map((e) => [e.id, e.outcome])).toEqual([['evt-20240310-3-100', 'Replayed']]);
    expect((await store.list()).map((e) => e.error.code)).toEqual(['BODY_INVALID_JSON']);
  });
});
