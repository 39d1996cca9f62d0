import type { MeasurementGroup } from '../../../src/pipeline/model/measurement-group';
import {
  SERVICE_SYSTEM,
  idForIdentifier,
  observationIdSegment,
  observationIdentity,
  sha256Hex,
} from '../../../src/pipeline/transform/observation-identity';

// Expected hashes were computed outside the code under test: printf '%s' '<text>' | sha256sum
const group = (over: Partial<MeasurementGroup>): MeasurementGroup => ({
  key: 'k',
  type: 'HeartRate',
  deviceId: 'dev',
  patientId: 'pat',
  encounterId: null,
  correlationId: null,
  periodInterval: 60,
  window: { start: '2019-01-01T00:00:00.0000000Z', end: '2019-01-01T00:59:59.9999999Z' },
  measurements: [],
  ...over,
});

describe('Observation identity (§9.5)', () => {
  it('uses the IoMT connector system', () => {
    expect(SERVICE_SYSTEM).toBe('https://azure.microsoft.com/en-us/services/iomt-fhir-connector/');
  });

  it.each([
    {
      name: 'Hourly window: second-precision start and end',
      group: group({}),
      value: 'p1.d1.HeartRate.20190101000000Z.20190101005959Z',
      id: '92d4db46a677eb004cb4b30ad862bff0a452c4318674bf5aaccf2afcf6b29804',
    },
    {
      name: 'Single window on a leap day: the sub-second part is not in the identifier',
      group: group({
        periodInterval: 0,
        window: { start: '2024-02-29T23:59:59.9999999Z', end: '2024-02-29T23:59:59.9999999Z' },
      }),
      value: 'p1.d1.HeartRate.20240229235959Z.20240229235959Z',
      id: '71e150cd294b8437135d782d914ed3e813aa4adabcc10fd968f6809b38870b64',
    },
    {
      name: 'CorrelationId window: the correlation id is the segment, type spelled as measured',
      group: group({
        type: 'bp',
        periodInterval: -1,
        correlationId: 'corr-42',
        window: { start: '2024-03-10T13:05:00.0000000', end: '2024-03-10T18:00:00.0000000Z' },
      }),
      value: 'p1.d1.bp.corr-42',
      id: '70eb3fabd09c9b3d878d2f894ab2aeec0b38cabaffa6a6a1277f13a0c46f7f50',
    },
  ])('$name', ({ group: g, value, id }) => {
    expect(observationIdentity(g, 'p1', 'd1')).toEqual({ system: SERVICE_SYSTEM, value, id });
  });

  it('leaves encounter and correlation ids out of time-based identifiers', () => {
    const a = observationIdentity(group({ encounterId: 'e1', correlationId: 'c1' }), 'p1', 'd1');
    const b = observationIdentity(group({}), 'p1', 'd1');
    expect(a).toEqual(b);
  });

  it('needs a window', () => {
    expect(() => observationIdSegment(group({ window: null }))).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });
});

describe('Create-mode resource ids (§10)', () => {
  it.each([
    [
      'Patient: sha256("_" + identifier)',
      undefined,
      'patient-1',
      'deab8edda8ce4b54e9ff81bdcf69ce1613dd065e76cdeb9862ff915568f7200d',
    ],
    [
      'Device with a system: sha256(system + "_" + identifier)',
      'urn:sys',
      'dev-1',
      '03971f3e7bb835ff08f5e73e6df33d184da22c714c00dcceba06b0f1e6b3bd80',
    ],
    ['Device without a system', null, 'dev-1', '9c868b413e91c43e266d4227585cbc658ccd6e2df9503c5a9835c394b24cab00'],
    [
      'a blank system counts as none',
      '  ',
      'dev-1',
      '9c868b413e91c43e266d4227585cbc658ccd6e2df9503c5a9835c394b24cab00',
    ],
    [
      'UTF-8 bytes of non-ASCII identifiers',
      undefined,
      'Pätient-ü',
      'bb674f1e1bbd371b561f3e009b4d1b4381245061772fed39b77b5a997d57a96e',
    ],
  ])('%s', (_name, system, value, expected) => {
    expect(idForIdentifier(system, value)).toBe(expected);
  });

  it('sha256Hex is lowercase hex', () => {
    expect(sha256Hex('_patient-1')).toMatch(/^[0-9a-f]{64}$/);
  });
});
