import { LOG_FIELD_NAMES, type LogFields, noopLogger, pickLogFields } from '../../src/pipeline/logger';

describe('pickLogFields', () => {
  it('keeps every declared field (LOG_FIELD_NAMES lists all of LogFields)', () => {
    // `Required<LogFields>` forces this literal to name every field, so a field added to the interface but not to
    // LOG_FIELD_NAMES fails here.
    const all: Required<LogFields> = {
      code: 'c',
      errorType: 'e',
      stage: 's',
      template: 't',
      field: 'f',
      partition: 'p',
      sequenceNumber: 1,
      count: 2,
      durationMs: 3,
      attempt: 4,
      status: 500,
      retryable: true,
      resourceType: 'Observation',
      mappingVersion: 'v',
      deadLetterId: 'd',
      instanceId: 'i',
      invocationId: 'n',
      setting: 'FhirServerUrl',
    };
    expect(pickLogFields(all)).toEqual(all);
    expect([...LOG_FIELD_NAMES].sort()).toEqual(Object.keys(all).sort());
  });

  it.each<[string, unknown, unknown]>([
    ['drops keys outside the closed set', { code: 'X', deviceId: 'd1', body: '{}' }, { code: 'X' }],
    ['drops objects and arrays even under allowed keys', { code: { nested: 1 }, stage: ['a'] }, undefined],
    ['drops non-finite numbers', { count: Number.NaN, durationMs: Infinity, status: 404 }, { status: 404 }],
    ['returns undefined for nothing allowed', { patientId: 'p' }, undefined],
    ['returns undefined for non-objects', 'code', undefined],
    ['returns undefined for null', null, undefined],
  ])('%s', (_name, input, expected) => {
    expect(pickLogFields(input)).toEqual(expected);
  });

  it('shortens long strings', () => {
    const picked = pickLogFields({ template: 'x'.repeat(1000) });
    expect(picked?.template).toHaveLength(256);
    expect(String(picked?.template).endsWith('...')).toBe(true);
  });
});

describe('noopLogger', () => {
  it('accepts every level', () => {
    expect(() => {
      noopLogger.debug('a');
      noopLogger.info('b', { count: 1 });
      noopLogger.warn('c');
      noopLogger.error('d');
    }).not.toThrow();
  });
});
