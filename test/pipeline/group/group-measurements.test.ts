import { groupMeasurements, measurementGroupKey } from '../../../src/pipeline/group/group-measurements';
import type { PeriodInterval } from '../../../src/pipeline/mapping/fhir-template';
import type { MeasurementGroup } from '../../../src/pipeline/model/measurement-group';
import { measurement } from '../../helpers/fhir-stage-fixtures';

const every = (interval: PeriodInterval) => () => interval;
const hourly = every(60);

/** Compact view of groups: key, window and the values of the `v` property. */
const view = (groups: MeasurementGroup[]) =>
  groups.map((g) => ({
    key: g.key,
    window: g.window === null ? null : `${g.window.start}..${g.window.end}`,
    v: g.measurements.map((m) => m.properties.find((p) => p.name === 'v')?.value),
  }));

describe('measurement-group key (§9.2)', () => {
  it('is {DeviceId}-{Type}-{PatientId}-{EncounterId}-{CorrelationId} with nulls empty', () => {
    expect(
      measurementGroupKey(
        measurement({ deviceId: 'd', type: 'T', patientId: 'p', encounterId: 'e', correlationId: 'c' }),
      ),
    ).toBe('d-T-p-e-c');
    expect(measurementGroupKey(measurement({ deviceId: 'd', type: 'T', patientId: null }))).toBe('d-T---');
  });

  it('groups in first-seen order, case-sensitively', () => {
    const groups = groupMeasurements(
      [
        measurement({ deviceId: 'b', values: { v: '1' } }),
        measurement({ deviceId: 'a', values: { v: '2' }, time: '2024-03-10T14:06:00.0000000Z' }),
        measurement({ deviceId: 'B', values: { v: '3' } }),
        measurement({ deviceId: 'b', values: { v: '4' }, time: '2024-03-10T14:07:00.0000000Z' }),
      ],
      hourly,
    );
    expect(view(groups).map((g) => [g.key, g.v])).toEqual([
      ['b-HeartRate-patient-1--', ['1', '4']],
      ['a-HeartRate-patient-1--', ['2']],
      ['B-HeartRate-patient-1--', ['3']],
    ]);
  });

  it('puts a null and an empty patient id into one group whose metadata come from the first measurement', () => {
    const [group, ...rest] = groupMeasurements(
      [
        measurement({ patientId: '', values: { v: '1' } }),
        measurement({ patientId: null, values: { v: '2' }, time: '2024-03-10T14:06:00.0000000Z' }),
      ],
      hourly,
    );
    expect(rest).toHaveLength(0);
    expect(group?.patientId).toBe('');
    expect(group?.measurements).toHaveLength(2);
  });
});

describe('de-duplication by occurrence time (§9.2)', () => {
  const t = '2024-03-10T14:05:00.0000000Z';

  it.each([
    {
      name: 'latest ingestion wins and takes the place of the first',
      batch: [
        measurement({ time: t, ingested: '2024-03-10T14:05:01.0000000Z', values: { v: 'old' } }),
        measurement({ time: '2024-03-10T14:06:00.0000000Z', values: { v: 'other' } }),
        measurement({ time: t, ingested: '2024-03-10T14:05:09.0000000Z', values: { v: 'new' } }),
      ],
      kept: ['new', 'other'],
    },
    {
      name: 'an earlier ingestion does not replace',
      batch: [
        measurement({ time: t, ingested: '2024-03-10T14:05:09.0000000Z', values: { v: 'kept' } }),
        measurement({ time: t, ingested: '2024-03-10T14:05:01.0000000Z', values: { v: 'dropped' } }),
      ],
      kept: ['kept'],
    },
    {
      name: 'equal ingestion: the first in the batch wins',
      batch: [measurement({ time: t, values: { v: 'first' } }), measurement({ time: t, values: { v: 'second' } })],
      kept: ['first'],
    },
    {
      name: 'the same instant written with different kinds is a duplicate',
      batch: [
        measurement({ time: '2024-03-10T14:05:00.0000000', values: { v: 'a' } }),
        measurement({
          time: '2024-03-10T14:05:00.0000000+00:00',
          ingested: '2024-03-10T14:05:02.0000000Z',
          values: { v: 'b' },
        }),
      ],
      kept: ['b'],
    },
    {
      name: 'one tick apart is not a duplicate',
      batch: [
        measurement({ time: t, values: { v: 'a' } }),
        measurement({ time: '2024-03-10T14:05:00.0000001Z', values: { v: 'b' } }),
      ],
      kept: ['a', 'b'],
    },
  ])('$name', ({ batch, kept }) => {
    expect(view(groupMeasurements(batch, hourly)).flatMap((g) => g.v)).toEqual(kept);
  });

  it('drops the loser whole (its other properties do not survive)', () => {
    const [group] = groupMeasurements(
      [
        measurement({ time: t, values: { v: '1', extra: 'x' } }),
        measurement({ time: t, ingested: '2024-03-10T14:05:02.0000000Z', values: { v: '2' } }),
      ],
      hourly,
    );
    expect(group?.measurements).toEqual([expect.objectContaining({ properties: [{ name: 'v', value: '2' }] })]);
  });
});

describe('windows (§9.4)', () => {
  it('Hourly: splits at the hour, first appearance order, bounds with 100 ns precision', () => {
    const groups = groupMeasurements(
      [
        measurement({ time: '2024-03-10T15:00:00.0000000Z', values: { v: 'b' } }),
        measurement({ time: '2024-03-10T14:59:59.9999999Z', values: { v: 'a' } }),
        measurement({ time: '2024-03-10T15:30:00.0000000Z', values: { v: 'c' } }),
      ],
      hourly,
    );
    expect(view(groups).map((g) => [g.window, g.v])).toEqual([
      ['2024-03-10T15:00:00.0000000Z..2024-03-10T15:59:59.9999999Z', ['b', 'c']],
      ['2024-03-10T14:00:00.0000000Z..2024-03-10T14:59:59.9999999Z', ['a']],
    ]);
  });

  it('Single: two readings in the same second are two windows', () => {
    const groups = groupMeasurements(
      [
        measurement({ time: '2024-03-10T14:05:00.1000000Z', values: { v: 'a' } }),
        measurement({ time: '2024-03-10T14:05:00.2000000+00:00', values: { v: 'b' } }),
      ],
      every(0),
    );
    expect(view(groups).map((g) => g.window)).toEqual([
      '2024-03-10T14:05:00.1000000Z..2024-03-10T14:05:00.1000000Z',
      '2024-03-10T14:05:00.2000000Z..2024-03-10T14:05:00.2000000Z',
    ]);
  });

  it('Daily: midnight and leap day', () => {
    const groups = groupMeasurements(
      [
        measurement({ time: '2024-02-29T23:59:59.9999999Z', values: { v: 'a' } }),
        measurement({ time: '2024-03-01T00:00:00.0000000Z', values: { v: 'b' } }),
        measurement({ time: '2024-02-29T00:00:00.0000000Z', values: { v: 'c' } }),
      ],
      every(1440),
    );
    expect(view(groups).map((g) => [g.window, g.v])).toEqual([
      ['2024-02-29T00:00:00.0000000Z..2024-02-29T23:59:59.9999999Z', ['a', 'c']],
      ['2024-03-01T00:00:00.0000000Z..2024-03-01T23:59:59.9999999Z', ['b']],
    ]);
  });

  it('CorrelationId: one window [min, max] whose bounds keep the measurement kind', () => {
    const groups = groupMeasurements(
      [
        measurement({ correlationId: 'c1', time: '2024-03-10T14:05:00.0000000+00:00', values: { v: 'b' } }),
        measurement({ correlationId: 'c1', time: '2024-03-10T13:05:00.0000000', values: { v: 'a' } }),
        measurement({ correlationId: 'c1', time: '2024-03-10T18:00:00.0000000Z', values: { v: 'c' } }),
      ],
      every(-1),
    );
    expect(view(groups)).toEqual([
      {
        key: 'device-1-HeartRate-patient-1--c1',
        window: '2024-03-10T13:05:00.0000000..2024-03-10T18:00:00.0000000Z',
        v: ['b', 'a', 'c'],
      },
    ]);
  });

  it.each([null, '  '])(
    'CorrelationId without a correlation id (%p): the group carries CorrelationIdNotDefined',
    (id) => {
      const [group] = groupMeasurements([measurement({ correlationId: id, values: { v: '1' } })], every(-1));
      expect(group).toMatchObject({
        window: null,
        periodInterval: -1,
        error: { code: 'CORRELATION_ID_NOT_DEFINED', medtechErrorType: 'CorrelationIdNotDefinedException' },
      });
    },
  );

  it('a type without a template still forms one group, without a window', () => {
    const groups = groupMeasurements(
      [
        measurement({ type: 'Unknown', time: '2024-03-10T14:05:00.0000000Z', values: { v: '1' } }),
        measurement({ type: 'Unknown', time: '2024-03-11T09:00:00.0000000Z', values: { v: '2' } }),
      ],
      () => undefined,
    );
    expect(groups).toEqual([expect.objectContaining({ type: 'Unknown', periodInterval: null, window: null })]);
    expect(groups[0]?.measurements).toHaveLength(2);
    expect(groups[0]?.error).toBeUndefined();
  });

  it('keeps a measurement with a corrupt time out of the windows and reports it', () => {
    const groups = groupMeasurements(
      [measurement({ values: { v: 'ok' } }), measurement({ time: '2024-03-10T14:05:00Z', values: { v: 'bad' } })],
      hourly,
    );
    expect(view(groups).map((g) => g.v)).toEqual([['ok'], ['bad']]);
    expect(groups[1]).toMatchObject({ window: null, error: { code: 'MEASUREMENT_INVALID' } });
  });

  it('produces plain JSON (it crosses Durable Functions)', () => {
    const groups = groupMeasurements(
      [measurement({ values: { v: '1' } }), measurement({ type: 'Other', values: { v: '2' } })],
      (type) => (type === 'Other' ? undefined : 60),
    );
    expect(JSON.parse(JSON.stringify(groups))).toEqual(groups);
  });

  it('an empty batch has no groups', () => {
    expect(groupMeasurements([], hourly)).toEqual([]);
  });
});
