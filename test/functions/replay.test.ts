import { HttpRequest, InvocationContext } from '@azure/functions';

import { readReplayRequest, replay } from '../../src/functions/replay';
import { setComposition } from '../../src/functions/shared/composition';
import { eventDeadLetterEntry, PipelineError } from '../../src/pipeline';
import { type TestComposition, testComposition, TEST_NOW } from './helpers';

const post = (body?: string): HttpRequest =>
  new HttpRequest({
    method: 'POST',
    url: 'http://localhost:7071/api/replay',
    ...(body === undefined ? {} : { body: { string: body } }),
  });
const context = new InvocationContext({ invocationId: 'replay-1', logHandler: () => undefined });

/** An event that failed normalization under a mapping since fixed. */
const deadLetteredReading = eventDeadLetterEntry(
  {
    body: JSON.stringify({ deviceId: 'd1', patientId: 'p1', measurementTime: '2024-03-10T14:01:00Z', heartRate: 70 }),
    partitionId: '0',
    sequenceNumber: 5,
    enqueuedTimeUtc: '2024-03-10T14:01:01Z',
  },
  new PipelineError('REQUIRED_VALUE_MISSING', 'Required value missing for [hr].'),
  { mappingVersion: 'sha256:old', now: TEST_NOW },
);

describe('replay function', () => {
  let t: TestComposition;
  beforeEach(async () => {
    t = testComposition();
    setComposition(t.composition);
    await t.deadLetters.put([deadLetteredReading]);
  });
  afterEach(() => {
    setComposition(undefined);
  });

  it('replays the selected entries through the current mappings and answers each outcome', async () => {
    const response = await replay(post('{"errorType": "REQUIRED_VALUE_MISSING", "limit": 10}'), context);

    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({
      dryRun: false,
      replayed: 1,
      failed: 0,
      entries: [{ id: 'evt-20240310-0-5', outcome: 'Replayed', measurements: 1, created: 1, removed: true }],
    });
    expect(t.deadLetters.entries).toEqual([]);
    expect(t.fhir.all('Observation')).toHaveLength(1);
  });

  it('replays the newest entries when the body is empty, and changes nothing on a dry run', async () => {
    const dry = await replay(post('{"dryRun": true}'), context);
    expect(dry.jsonBody).toMatchObject({ dryRun: true, ready: 1, entries: [{ outcome: 'Ready' }] });
    expect(t.deadLetters.entries).toHaveLength(1);

    const all = await replay(post(), context);
    expect(all.jsonBody).toMatchObject({ replayed: 1 });
  });

  it('answers 503 while the dead-letter store is unreachable', async () => {
    t.deadLetters.available = false;

    const response = await replay(post('{}'), context);

    expect(response.status).toBe(503);
    expect(response.jsonBody).toEqual({ error: { code: 'STORAGE_UNAVAILABLE', message: expect.any(String) } });
  });

  it('answers 413 for a body no replay request needs', async () => {
    const response = await replay(post(`{"since": "${'x'.repeat(20_000)}"}`), context);
    expect(response.status).toBe(413);
  });

  it.each([
    ['[]', 'the body must be a JSON object'],
    ['{', 'the body must be JSON'],
    ['{"since": "yesterday"}', 'since must be an ISO-8601 date-time'],
    ['{"limit": 0}', 'limit must be a whole number from 1 to 1000'],
    ['{"limit": 1.5}', 'limit must be a whole number from 1 to 1000'],
    ['{"stage": "Grouping"}', 'stage must be Normalization or FHIRConversion'],
    ['{"errorType": "a b"}', 'errorType must be an error code (REQUIRED_VALUE_MISSING) or a MedTech error type'],
    ['{"dryRun": "yes"}', 'dryRun must be true or false'],
    ['{"all": true}', 'unknown member "all"; allowed: since, errorType, stage, limit, dryRun'],
  ])('answers 400 for %s', async (body, error) => {
    const response = await replay(post(body), context);
    expect(response).toMatchObject({ status: 400, jsonBody: { error } });
    expect(t.deadLetters.entries).toHaveLength(1);
  });

  it('reads a complete request', () => {
    const request =
      '{"since": "2024-03-10T00:00:00Z", "errorType": "IncompatibleDataException", "stage": "Normalization", "limit": 5, "dryRun": false}';
    expect(readReplayRequest(new TextEncoder().encode(request))).toEqual({
      since: '2024-03-10T00:00:00Z',
      errorType: 'IncompatibleDataException',
      stage: 'Normalization',
      limit: 5,
      dryRun: false,
    });
  });
});
