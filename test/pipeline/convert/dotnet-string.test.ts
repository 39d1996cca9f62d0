import fc from 'fast-check';
import {
  formatDotNetDouble,
  formatDotNetInteger,
  tokenToDotNetString,
  tokenToInstant,
} from '../../../src/pipeline/convert/dotnet-string';
import { DateToken, formatRoundTrip, instantFromEpochMs } from '../../../src/pipeline/convert/instant';
import { ErrorCode, PipelineError } from '../../../src/pipeline/errors';

const noBodyDates = (): boolean => false;
const allBodyDates = (): boolean => true;

describe('formatDotNetDouble (.NET Core 3.0+ double.ToString(), invariant)', () => {
  it.each([
    [36.6, '36.6'],
    [36.6, '36.6'],
    [100, '100'],
    [-1.5, '-1.5'],
    [0.1 + 0.2, '0.30000000000000004'],
    [0.0001, '0.0001'],
    [0.00012345, '0.00012345'],
    [0.00001, '1E-05'],
    [1.2345e-5, '1.2345E-05'],
    [-0.00001, '-1E-05'],
    [1e14, '100000000000000'],
    [123456789012345, '123456789012345'],
    [1e15, '1E+15'],
    [1.5e20, '1.5E+20'],
    [1e16, '1E+16'],
    [1234567890123456.8, '1234567890123456.8'],
    [2 ** 53, '9007199254740992'],
    [123456789012345680, '1.2345678901234568E+17'],
    [1e100, '1E+100'],
    [5e-324, '5E-324'],
    [Number.MAX_VALUE, '1.7976931348623157E+308'],
    [0, '0'],
    [-0, '-0'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [-Infinity, '-Infinity'],
  ])('%p → %s', (n, expected) => {
    expect(formatDotNetDouble(n)).toBe(expected);
  });

  it('round-trips through Number() for every double (property)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (n) => {
        const text = formatDotNetDouble(n);
        // .NET's invariant infinity symbols are spelled out; Number() reads them back too.
        expect(Object.is(Number(text), n)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('switches to exponent notation exactly below 1E-04 and from 1E+15 on (property)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: 1e-300, max: 1e300 }), (n) => {
        const text = formatDotNetDouble(n);
        const scientific = n < 1e-4 || n >= 1e15 ? /E[+-]\d{2,3}$/ : /^\d+(\.\d+)?$/;
        // Doubles with 16-17 significant digits stay fixed a little beyond 1E+15 (.NET widens to the digit count).
        if (!(n >= 1e15 && n < 1e17)) {
          expect(text).toMatch(scientific);
        }
      }),
    );
  });
});

describe('formatDotNetInteger (long.ToString())', () => {
  it.each([
    [0, '0'],
    [-0, '0'],
    [42, '42'],
    [-9007199254740991, '-9007199254740991'],
    [2 ** 60, '1152921504606846976'],
    [1e21, '1000000000000000000000'],
    [-9007199254740993n, '-9007199254740993'],
    [2n ** 63n - 1n, '9223372036854775807'],
  ])('%p → %s', (n, expected) => {
    expect(formatDotNetInteger(n)).toBe(expected);
  });

  it('refuses a number with a fraction', () => {
    expect(() => formatDotNetInteger(1.5)).toThrow(RangeError);
  });
});

describe('tokenToDotNetString (§6.4)', () => {
  it.each<[string, unknown, string | null]>([
    ['a string unchanged (no trimming)', '  dev-01 ', '  dev-01 '],
    ['an empty string', '', ''],
    ['an integer', 72, '72'],
    ['a negative integer', -5, '-5'],
    ['2^53 as digits', 2 ** 53, '9007199254740992'],
    ['-2^53 as digits', -(2 ** 53), '-9007199254740992'],
    ['an integral double beyond 2^53 as a double', 2 ** 60, '1.152921504606847E+18'],
    ['a float', 36.6, '36.6'],
    ['a float with trailing zeros read as a number', 37.2, '37.2'],
    ['a tiny float', 0.00001, '1E-05'],
    ['-0 as the Int64 it was read as', -0, '0'],
    ['NaN', NaN, 'NaN'],
    ['bigint 2^53 + 1', 9007199254740993n, '9007199254740993'],
    ['bigint -9007199254740993', -9007199254740993n, '-9007199254740993'],
    ['bigint Int64.MinValue', -(2n ** 63n), '-9223372036854775808'],
    ['true', true, 'True'],
    ['false', false, 'False'],
    ['null', null, null],
    ['undefined', undefined, null],
    ['a date token', new DateToken(instantFromEpochMs(Date.parse('2024-07-04T09:15:07.5Z'))), '07/04/2024 09:15:07'],
  ])('%s', (_name, token, expected) => {
    expect(tokenToDotNetString(token, noBodyDates)).toBe(expected);
  });

  it.each([
    ['2024-07-04T09:15:07.1234567Z', '07/04/2024 09:15:07'],
    ['2024-07-04T09:15:07+02:00', '07/04/2024 07:15:07'],
    ['2024-07-04T00:30:00+01:00', '07/03/2024 23:30:00'],
    ['2024-07-04T24:00:00', '07/05/2024 00:00:00'],
    ['/Date(1720084507000)/', '07/04/2024 09:15:07'],
  ])('renders the body date token %s as %s', (text, expected) => {
    expect(tokenToDotNetString(text, (s) => s === text)).toBe(expected);
  });

  it('keeps a date-like string that is not a body date token', () => {
    expect(tokenToDotNetString('2024-07-04T09:15:07Z', noBodyDates)).toBe('2024-07-04T09:15:07Z');
  });

  it('keeps a string the index claims but Newtonsoft would not read as a date', () => {
    expect(tokenToDotNetString('2024-07-04 09:15:07', allBodyDates)).toBe('2024-07-04 09:15:07');
  });

  it.each<[string, unknown]>([
    ['an object', { patient: 'p-123' }],
    ['an array', ['p-123']],
    ['a bigint beyond Int64 (a BigInteger is not IConvertible in .NET)', 2n ** 64n],
    ['a function', () => 'x'],
  ])('refuses %s with VALUE_CONVERSION_FAILED and no data in the message', (_name, token) => {
    let caught: unknown;
    try {
      tokenToDotNetString(token, noBodyDates);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PipelineError);
    expect((caught as PipelineError).code).toBe(ErrorCode.ValueConversionFailed);
    expect((caught as PipelineError).message).not.toMatch(/p-123|18446744073709551616/);
  });
});

describe('tokenToInstant (§6.5)', () => {
  const token = new DateToken({ epochMs: Date.parse('2024-07-04T09:15:00Z'), subMsTicks: 1, kind: 'unspecified' });

  it.each<[string, unknown, (s: string) => boolean, string | undefined]>([
    ['a date token as is', token, noBodyDates, '2024-07-04T09:15:00.0000001'],
    [
      'a body date token with its Newtonsoft kind',
      '2024-07-04T09:15:00Z',
      allBodyDates,
      '2024-07-04T09:15:00.0000000Z',
    ],
    [
      'a body date token with an offset',
      '2024-07-04T09:15:00+02:00',
      allBodyDates,
      '2024-07-04T07:15:00.0000000+00:00',
    ],
    [
      'a property string through DateTime.Parse (Z → local)',
      '2024-07-04T09:15:00Z',
      noBodyDates,
      '2024-07-04T09:15:00.0000000+00:00',
    ],
    ['a zone-less string through DateTime.Parse', '2024-07-04 09:15', noBodyDates, '2024-07-04T09:15:00.0000000'],
    [
      'a claimed body string Newtonsoft would not read falls back to DateTime.Parse',
      '07/04/2024 09:15:00',
      allBodyDates,
      '2024-07-04T09:15:00.0000000',
    ],
    ['an unparsable string', 'yesterday', noBodyDates, undefined],
    ['an epoch number (needs fromUnixTimestamp)', 1_720_084_500, noBodyDates, undefined],
    ['a boolean', true, noBodyDates, undefined],
    ['an object', { t: '2024-07-04T09:15:00Z' }, noBodyDates, undefined],
    ['null', null, noBodyDates, undefined],
    ['undefined', undefined, noBodyDates, undefined],
  ])('%s', (_name, value, isBodyDate, expected) => {
    const instant = tokenToInstant(value, isBodyDate);
    expect(instant === undefined ? undefined : formatRoundTrip(instant)).toBe(expected);
  });
});
