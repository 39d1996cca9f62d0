import { parseDecimalValue } from '../../../src/pipeline/transform/decimal-value';

describe('Quantity values: .NET decimal.Parse, invariant culture, NumberStyles.Number', () => {
  it.each([
    ['72', 72],
    ['37.20', 37.2],
    ['-5', -5],
    ['+5', 5],
    ['5-', -5],
    ['5 -', -5],
    [' \t 98.6 \n', 98.6],
    ['1,234.5', 1234.5],
    ['1,2,3', 123],
    ['1,', 1],
    ['.5', 0.5],
    ['5.', 5],
    ['-0', 0],
    ['0000.100', 0.1],
    ['79228162514264337593543950335', 7.922816251426434e28],
  ])('accepts %p as %p', (text, expected) => {
    expect(parseDecimalValue(text)).toBe(expected);
  });

  it.each([
    '',
    '   ',
    '.',
    '-',
    '1e3',
    '1E-5',
    'NaN',
    'Infinity',
    '- 5',
    '-5-',
    '+-5',
    ',5',
    '1.2.3',
    '1.2,3',
    '(5)',
    '$5',
    '0x10',
    '5 5',
    '79228162514264337593543950336000',
  ])('rejects %p', (text) => {
    expect(parseDecimalValue(text)).toBeUndefined();
  });

  it('never yields negative zero', () => {
    expect(Object.is(parseDecimalValue('-0.0'), -0)).toBe(false);
  });
});
