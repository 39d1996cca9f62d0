import { InvocationContext } from '@azure/functions';

import { deadLetterGroups } from '../../src/functions/dead-letter-groups.activity';
import { groupDeadLetterEntry, Metric, PipelineError } from '../../src/pipeline';
import { groupsFor, mappingOf, measurement, template } from '../helpers/fhir-stage-fixtures';
import { TEST_NOW, useTestComposition } from './helpers';

const context = (): InvocationContext =>
  new InvocationContext({ invocationId: 'activity-2', functionName: 'deadLetterGroups', logHandler: () => undefined });

const groups = groupsFor(mappingOf(template({ typeName: 'heartrate' })), [
  measurement({ type: 'heartrate', deviceId: 'd1' }),
  measurement({ type: 'heartrate', deviceId: 'd2' }),
]);

const inputOf = (code = 'FHIR_THROTTLED'): unknown =>
  JSON.parse(
    JSON.stringify({
      groups,
      code,
      message: 'Saving failed on all 5 attempt(s): [FHIR_THROTTLED] 2 of 2 measurement group(s) failed',
      mappingVersion: 'sha256:fhir',
      attempts: 5,
    }),
  );

describe('deadLetterGroups activity', () => {
  const t = useTestComposition();

  it('writes every group of the failed chunk, as no longer retryable, and reports them all', async () => {
    expect(await deadLetterGroups(inputOf(), context())).toBe(2);

    expect(t().deadLetters.entries).toEqual(
      groups.map((g) => ({
        ...groupDeadLetterEntry(
          g,
          new PipelineError(
            'FHIR_THROTTLED',
            'Saving failed on all 5 attempt(s): [FHIR_THROTTLED] 2 of 2 measurement group(s) failed',
            {
              retryable: false,
            },
          ),
          { mappingVersion: 'sha256:fhir', now: TEST_NOW, attempts: 5 },
        ),
      })),
    );
    expect(t().metrics.total(Metric.DeadLetteredItems)).toBe(2);
  });

  it('keeps the entry the save activity already wrote for a group, with its more precise error', async () => {
    const precise = groupDeadLetterEntry(groups[0]!, new PipelineError('PATIENT_NOT_FOUND', 'Patient not found.'), {
      mappingVersion: 'sha256:fhir',
      now: TEST_NOW,
    });
    await t().deadLetters.put([precise]);

    expect(await deadLetterGroups(inputOf(), context())).toBe(2);

    expect(
      t()
        .deadLetters.entries.map((e) => e.error.code)
        .sort(),
    ).toEqual(['FHIR_THROTTLED', 'PATIENT_NOT_FOUND']);
    expect(t().metrics.total(Metric.DeadLetteredItems)).toBe(1);
  });

  it('fails (and is retried) while the dead-letter store is unreachable', async () => {
    t().deadLetters.available = false;
    await expect(deadLetterGroups(inputOf(), context())).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });

  it('refuses an input whose error code is not in the catalogue', async () => {
    await expect(deadLetterGroups(inputOf('NOT_A_CODE'), context())).rejects.toThrow(
      'Invalid dead-letter activity input: /code must be an error code of the catalogue.',
    );
  });
});
