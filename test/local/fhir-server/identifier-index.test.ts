import type { IdentifierToken } from '../../../src/local/fhir-server/identifier-index';
import { IdentifierIndex, parseIdentifierTokens } from '../../../src/local/fhir-server/identifier-index';

describe('parseIdentifierTokens', () => {
  test.each<[string, IdentifierToken[] | undefined]>([
    ['v1', [{ match: 'any-system', value: 'v1' }]],
    ['urn:s|v1', [{ match: 'system', system: 'urn:s', value: 'v1' }]],
    ['|v1', [{ match: 'no-system', value: 'v1' }]],
    [
      'urn:s|a,b',
      [
        { match: 'system', system: 'urn:s', value: 'a' },
        { match: 'any-system', value: 'b' },
      ],
    ],
    ['urn:s|a\\|b', [{ match: 'system', system: 'urn:s', value: 'a|b' }]],
    ['a\\,b', [{ match: 'any-system', value: 'a,b' }]],
    ['a\\\\', [{ match: 'any-system', value: 'a\\' }]],
    [
      'p.d.HeartRate.2024-01-01T00:00:00.0000000Z',
      [{ match: 'any-system', value: 'p.d.HeartRate.2024-01-01T00:00:00.0000000Z' }],
    ],
    // Forms the index leaves to medplum:
    ['urn:s|', undefined],
    ['', undefined],
    ['a|b|c', undefined],
    ['a,', undefined],
  ])('%j → %j', (text, tokens) => {
    expect(parseIdentifierTokens(text)).toEqual(tokens);
  });
});

describe('IdentifierIndex', () => {
  const ids = (index: IdentifierIndex, text: string, type = 'Device'): string[] => [
    ...index.find(type, parseIdentifierTokens(text) ?? []),
  ];

  function sample(): IdentifierIndex {
    const index = new IdentifierIndex();
    index.put('Device', 'd1', { identifier: [{ system: 'urn:a', value: 'X' }] });
    index.put('Device', 'd2', { identifier: [{ system: 'urn:b', value: 'X' }, { value: 'Y' }] });
    index.put('Device', 'd3', { identifier: [{ value: 'X' }] });
    index.put('Patient', 'p1', { identifier: [{ system: 'urn:a', value: 'X' }] });
    return index;
  }

  test.each([
    ['urn:a|X', ['d1']],
    ['urn:b|X', ['d2']],
    ['|X', ['d3']],
    ['X', ['d1', 'd2', 'd3']],
    ['Y', ['d2']],
    ['|Y', ['d2']],
    ['urn:a|Y', []],
    ['x', []],
    ['URN:A|X', []],
    ['urn:a|X,|Y', ['d1', 'd2']],
  ])('%s finds %j (exact, case-sensitive, per type)', (text, expected) => {
    expect(ids(sample(), text)).toEqual(expected);
  });

  test('does not match on a prefix of the value', () => {
    const index = new IdentifierIndex();
    index.put('Observation', 'o1', { identifier: [{ system: 'urn:s', value: 'abc.def' }] });
    expect(ids(index, 'urn:s|abc', 'Observation')).toEqual([]);
  });

  test('follows updates: dropped identifiers stop matching, kept ones keep their place', () => {
    const index = sample();
    index.put('Device', 'd1', { identifier: [{ system: 'urn:c', value: 'X' }] });
    expect(ids(index, 'urn:a|X')).toEqual([]);
    expect(ids(index, 'urn:c|X')).toEqual(['d1']);
    expect(ids(index, 'X')).toEqual(['d1', 'd2', 'd3']);

    index.put('Device', 'd2', { identifier: [{ value: 'Y' }] });
    expect(ids(index, 'X')).toEqual(['d1', 'd3']);
    expect(ids(index, 'Y')).toEqual(['d2']);
  });

  test('keeps a value found through another system when one of two identifiers with that value goes', () => {
    const index = new IdentifierIndex();
    index.put('Device', 'd1', {
      identifier: [
        { system: 'urn:a', value: 'X' },
        { system: 'urn:b', value: 'X' },
      ],
    });
    index.put('Device', 'd1', { identifier: [{ system: 'urn:b', value: 'X' }] });
    expect(ids(index, 'X')).toEqual(['d1']);
    expect(ids(index, 'urn:a|X')).toEqual([]);
  });

  test('forgets deleted resources', () => {
    const index = sample();
    index.remove('Device', 'd2');
    index.remove('Device', 'never-indexed');
    expect(ids(index, 'X')).toEqual(['d1', 'd3']);
    expect(ids(index, 'Y')).toEqual([]);
  });

  test('accepts a single Identifier (not an array) and skips identifiers without a string value', () => {
    const index = new IdentifierIndex();
    index.put('Bundle', 'b1', { identifier: { system: 'urn:s', value: 'B' } });
    index.put('Device', 'd1', { identifier: [{ system: 'urn:s' }, { value: 42 }, null] });
    expect(ids(index, 'urn:s|B', 'Bundle')).toEqual(['b1']);
    expect(ids(index, 'urn:s|42')).toEqual([]);
  });
});
