import type { Observation } from '@medplum/fhirtypes';
import { InvocationContext } from '@azure/functions';

import { saveObservations } from '../../src/functions/save-observations.activity';
import { activityFailureCode } from '../../src/functions/shared/invocation-outcome';
import { ErrorCode, type MeasurementGroup, Metric, PipelineError } from '../../src/pipeline';
import { groupsFor, measurement } from '../helpers/fhir-stage-fixtures';
import { installTestComposition, type TestComposition, useTestComposition } from './helpers';

const context = (): InvocationContext =>
  new InvocationContext({ invocationId: 'activity-1', functionName: 'saveObservations', logHandler: () => undefined });

/** Heart rates of devices d1 and d2, plus a type no FHIR template maps. */
async function chunkOf(t: TestComposition, withUnmapped = false): Promise<MeasurementGroup[]> {
  const { value: mapping } = await t.composition.fhirMappings.get();
  return groupsFor(mapping, [
    measurement({ type: 'heartrate', deviceId: 'd1', values: { hr: '70' } }),
    measurement({ type: 'heartrate', deviceId: 'd2', values: { hr: '80' } }),
    ...(withUnmapped ? [measurement({ type: 'notmapped', deviceId: 'd3', values: { x: '1' } })] : []),
  ]);
}

/** The readings of an hourly SampledData Observation ('E' marks minutes without one). */
const readingsOf = (o: Observation): string[] => (o.valueSampledData?.data ?? '').split(' ').filter((v) => v !== 'E');

/** The JSON the orchestrator hands the activity. */
const inputOf = (groups: MeasurementGroup[]): unknown => JSON.parse(JSON.stringify({ partitionId: '3', groups }));

describe('saveObservations activity', () => {
  const t = useTestComposition();

  it('saves a chunk as Observations and reports the counts and latencies', async () => {
    const result = await saveObservations(inputOf(await chunkOf(t())), context());

    expect(result).toEqual({ created: 2, updated: 0, unchanged: 0, failed: 0, deadLettered: 0 });
    const observations = t().fhir.all('Observation');
    expect(observations.map(readingsOf)).toEqual([['70'], ['80']]);
    expect(t().metrics.total(Metric.FhirResourcesSaved)).toBe(2);
    expect(t().metrics.observations(Metric.PersistLatencyMs)).toEqual([
      {
        kind: 'record',
        metric: Metric.PersistLatencyMs,
        value: 0,
        dimensions: { stage: 'FHIRConversion', partition: '3' },
      },
    ]);
    expect(t().metrics.observations(Metric.DeviceToFhirLatencyMs)).toHaveLength(2);
  });

  it('is idempotent: the same chunk saved again changes nothing', async () => {
    const input = inputOf(await chunkOf(t()));
    await saveObservations(input, context());
    const before = t().fhir.all('Observation');

    expect(await saveObservations(input, context())).toEqual({
      created: 0,
      updated: 0,
      unchanged: 2,
      failed: 0,
      deadLettered: 0,
    });
    expect(t().fhir.all('Observation')).toEqual(before);
  });

  it('dead-letters a group that cannot be saved and saves the rest', async () => {
    const result = await saveObservations(inputOf(await chunkOf(t(), true)), context());

    expect(result).toEqual({ created: 2, updated: 0, unchanged: 0, failed: 1, deadLettered: 1 });
    expect(t().deadLetters.entries).toEqual([
      expect.objectContaining({
        stage: 'FHIRConversion',
        error: expect.objectContaining({ code: 'TEMPLATE_NOT_FOUND', retryable: false }),
        mappingVersion: (await t().composition.fhirMappings.get()).version,
        payload: { kind: 'group', group: expect.objectContaining({ type: 'notmapped', deviceId: 'd3' }) },
      }),
    ]);
    expect(t().metrics.total(Metric.DeadLetteredItems)).toBe(1);
  });

  it('throws for a retryable failure so Durable retries the chunk, after dead-lettering the permanent ones', async () => {
    // Device d2's Observation (heart rate 80) meets a throttled FHIR service.
    t().fhir.beforePut = (resource) =>
      resource.resourceType === 'Observation' && readingsOf(resource).includes('80')
        ? new PipelineError(ErrorCode.FhirThrottled, 'FHIR service throttled the request (429)')
        : undefined;
    const input = inputOf(await chunkOf(t(), true));

    const failure = await saveObservations(input, context()).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(PipelineError);
    expect((failure as PipelineError).message).toBe(
      '[FHIR_THROTTLED] 1 of 3 measurement group(s) failed with retryable errors',
    );
    expect(activityFailureCode(failure)).toBe('FHIR_THROTTLED');
    expect(t().deadLetters.entries.map((e) => e.error.code)).toEqual(['TEMPLATE_NOT_FOUND']);

    // The retry, with the service back: d1 is found unchanged, d2 is created, d3 is dead-lettered again (same id).
    t().fhir.beforePut = undefined;
    expect(await saveObservations(input, context())).toEqual({
      created: 1,
      updated: 0,
      unchanged: 1,
      failed: 1,
      deadLettered: 1,
    });
    expect(t().deadLetters.entries).toHaveLength(1);
  });

  it('throws for any failure under ErrorPolicy=Retry, dead-lettering nothing', async () => {
    const retry = installTestComposition({ settings: { ErrorPolicy: 'Retry' } });

    await expect(saveObservations(inputOf(await chunkOf(retry, true)), context())).rejects.toMatchObject({
      code: 'TEMPLATE_NOT_FOUND',
      message: '[TEMPLATE_NOT_FOUND] 1 of 3 measurement group(s) failed with errors (ErrorPolicy is Retry)',
    });
    expect(retry.deadLetters.entries).toHaveLength(0);
  });

  it('throws when a permanent failure cannot be dead-lettered', async () => {
    t().deadLetters.available = false;

    await expect(saveObservations(inputOf(await chunkOf(t(), true)), context())).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
    });
  });

  it('refuses an input it cannot read, naming the field', async () => {
    const input = inputOf(await chunkOf(t())) as { groups: { deviceId: unknown }[] };
    input.groups[1]!.deviceId = 7;

    await expect(saveObservations(input, context())).rejects.toThrow(
      'Invalid save activity input: /groups/1/deviceId must be a string.',
    );
    expect(t().fhir.all('Observation')).toHaveLength(0);
  });
});
