import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DateToken } from '../../../../src/pipeline/convert/instant';
import type { Instant } from '../../../../src/pipeline/convert/instant';
import { ErrorCode, PipelineError } from '../../../../src/pipeline/errors';
import { compileJsonPath } from '../../../../src/pipeline/mapping/expressions/jsonpath';

/**
 * A case: `expect.many` is the select-many result. Select-one is checked too: `expect.one` if given, otherwise it
 * follows from `many` (no token → undefined, one → it, more → EXPRESSION_MULTIPLE_TOKENS). `expect.error` fails
 * both (unless `oneError` says otherwise); syntax errors also carry `position`.
 */
interface Case {
  readonly name: string;
  readonly expression: string;
  readonly document?: unknown;
  readonly documentName?: string;
  readonly expect: {
    readonly many?: unknown[];
    readonly one?: unknown;
    readonly error?: string;
    readonly oneError?: string;
    readonly position?: number;
  };
}

interface CaseFile {
  readonly description: string;
  readonly documents?: Record<string, unknown>;
  readonly cases: Case[];
}

const casesDir = join(__dirname, '../../../cases/jsonpath');
const caseFiles = readdirSync(casesDir)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => [file, JSON.parse(readFileSync(join(casesDir, file), 'utf8')) as CaseFile] as const);

function errorOf(action: () => unknown): PipelineError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    return error as PipelineError;
  }
  throw new Error('expected an error');
}

describe('compileJsonPath: case tables (test/cases/jsonpath)', () => {
  it('has case files', () => {
    expect(caseFiles.length).toBeGreaterThanOrEqual(6);
  });

  describe.each(caseFiles)('%s', (_file, caseFile) => {
    it.each(caseFile.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const document = c.documentName === undefined ? c.document : caseFile.documents?.[c.documentName];
      expect(c.documentName === undefined || document !== undefined).toBe(true);
      const { many, one, error, oneError, position } = c.expect;
      if (error === ErrorCode.TemplateExpressionInvalid) {
        const failure = errorOf(() => compileJsonPath(c.expression));
        expect(failure.code).toBe(error);
        expect(failure.details).toEqual({ expression: c.expression, position });
        return;
      }
      const expression = compileJsonPath(c.expression);
      if (error !== undefined) {
        expect(errorOf(() => expression.selectMany(document)).code).toBe(error);
      } else {
        expect(expression.selectMany(document)).toEqual(many);
      }
      const expectedOneError =
        oneError ?? error ?? ('one' in c.expect || (many?.length ?? 0) <= 1 ? undefined : 'EXPRESSION_MULTIPLE_TOKENS');
      if (expectedOneError !== undefined) {
        expect(errorOf(() => expression.selectOne(document)).code).toBe(expectedOneError);
      } else {
        expect(expression.selectOne(document)).toEqual('one' in c.expect ? one : many?.[0]);
      }
    });
  });
});

describe('compileJsonPath: the SyncExpression contract', () => {
  it('describes itself', () => {
    const expression = compileJsonPath('$.Body.heartRate');
    expect(expression).toMatchObject({ language: 'JsonPath', isAsync: false, source: '$.Body.heartRate' });
  });

  it('selectOne returns undefined for nothing and null for a JSON null', () => {
    expect(compileJsonPath('$.a').selectOne({})).toBeUndefined();
    expect(compileJsonPath('$.a').selectOne({ a: null })).toBeNull();
    expect(compileJsonPath('$..[?(@.a)].a').selectOne([{ a: null }])).toBeNull();
  });

  it('returns the tokens themselves, not copies', () => {
    const inner = { heartRate: 1 };
    const document = { list: [inner] };
    expect(compileJsonPath('$..[?(@heartRate)]').selectMany(document)[0]).toBe(inner);
    expect(compileJsonPath('$.list[0]').selectOne(document)).toBe(inner);
  });

  it('reports several tokens in selectOne with MedTech’s message, naming only the expression', () => {
    const failure = errorOf(() => compileJsonPath('$..heartRate').selectOne({ a: { heartRate: 1 }, heartRate: 2 }));
    expect(failure.code).toBe(ErrorCode.ExpressionMultipleTokens);
    expect(failure.message).toBe(
      'Unable to retrieve JsonToken using expression $..heartRate: Path returned multiple tokens.',
    );
    expect(failure.details).toEqual({ expression: '$..heartRate' });
    expect(failure.medtechErrorType).toBe('TemplateExpressionException');
  });

  it('reports a syntax error when compiling, with the position', () => {
    const failure = errorOf(() => compileJsonPath('$.Body[?(@.a == )]'));
    expect(failure.code).toBe(ErrorCode.TemplateExpressionInvalid);
    expect(failure.message).toBe(
      "The JsonPath expression $.Body[?(@.a == )] could not be parsed at position 16: Unexpected character while parsing path query: ')'",
    );
    expect(failure.details).toEqual({ expression: '$.Body[?(@.a == )]', position: 16 });
  });

  it('reports evaluation failures without data values', () => {
    const failure = errorOf(() => compileJsonPath('$.v[?(@ > 1)]').selectMany({ v: ['secret-patient-name'] }));
    expect(failure.code).toBe(ErrorCode.ExpressionFailed);
    expect(failure.message).not.toContain('secret');
    expect(failure.details).toEqual({ expression: '$.v[?(@ > 1)]', dotnetException: 'FormatException' });
  });

  it('can be evaluated again after a failure', () => {
    const expression = compileJsonPath('$..[?(@.v > 1)]');
    expect(() => expression.selectMany({ a: [{ v: 'x' }] })).toThrow(PipelineError);
    expect(expression.selectMany({ a: [{ v: 2 }] })).toEqual([{ v: 2 }]);
    expect(expression.selectOne({ a: [{ v: 3 }] })).toEqual({ v: 3 });
  });

  it('evaluates against any scope value, including primitives', () => {
    expect(compileJsonPath('$').selectMany(5)).toEqual([5]);
    expect(compileJsonPath('$.a').selectMany('text')).toEqual([]);
    expect(compileJsonPath('$..a').selectMany(null)).toEqual([]);
    expect(compileJsonPath('$..[?(@ == 5)]').selectMany(5)).toEqual([5]);
  });
});

describe('compileJsonPath: date tokens and big integers are primitive tokens', () => {
  const instant = (iso: string, kind: Instant['kind'], subMsTicks = 0): Instant => ({
    epochMs: Date.parse(iso),
    subMsTicks,
    kind,
  });
  const utc = new DateToken(instant('2024-07-04T09:15:30.123Z', 'utc', 4500));
  const local = new DateToken(instant('2024-07-04T09:15:30Z', 'local'));
  const unspecified = new DateToken(instant('2024-07-04T09:15:30Z', 'unspecified'));

  it('never descends into a date token', () => {
    expect(compileJsonPath('$.t.instant').selectMany({ t: utc })).toEqual([]);
    expect(compileJsonPath('$..epochMs').selectMany({ t: utc })).toEqual([]);
    expect(compileJsonPath('$..*').selectMany({ t: utc })).toEqual([{ t: utc }, utc]);
    expect(compileJsonPath('$..[?(@.kind)]').selectMany({ t: utc })).toEqual([]);
    expect(compileJsonPath('$.t').selectOne({ t: utc })).toBe(utc);
  });

  it('== compares a date with a string through its ISO text', () => {
    const items = { items: [{ t: utc }, { t: local }, { t: unspecified }] };
    expect(compileJsonPath("$.items[?(@.t == '2024-07-04T09:15:30.1234500Z')]").selectMany(items)).toEqual([]);
    expect(compileJsonPath("$.items[?(@.t == '2024-07-04T09:15:30.12345Z')]").selectMany(items)).toEqual([{ t: utc }]);
    expect(compileJsonPath("$.items[?(@.t == '2024-07-04T09:15:30+00:00')]").selectMany(items)).toEqual([{ t: local }]);
    expect(compileJsonPath("$.items[?(@.t == '2024-07-04T09:15:30')]").selectMany(items)).toEqual([{ t: unspecified }]);
  });

  it('< and > compare a date with an ISO string by instant', () => {
    const items = { items: [{ t: utc }, { t: unspecified }] };
    expect(compileJsonPath("$.items[?(@.t > '2024-07-04T09:15:30Z')]").selectMany(items)).toEqual([{ t: utc }]);
    expect(compileJsonPath("$.items[?(@.t <= '2024-07-04 11:15:30+02:00')]").selectMany(items)).toEqual([
      { t: unspecified },
    ]);
    expect(compileJsonPath("$.items[?(@.t < '2025-01-01')]").selectMany(items)).toEqual(items.items);
  });

  it('compares two dates by instant, whatever their kinds', () => {
    const document = { a: local, items: [{ t: unspecified }, { t: utc }] };
    expect(compileJsonPath('$.items[?(@.t == $.a)]').selectMany(document)).toEqual([{ t: unspecified }]);
    expect(compileJsonPath('$.items[?(@.t > $.a)]').selectMany(document)).toEqual([{ t: utc }]);
  });

  it('throws where Newtonsoft cannot convert (date against a number or a non-date string)', () => {
    expect(errorOf(() => compileJsonPath('$.items[?(@.t > 5)]').selectMany({ items: [{ t: utc }] })).code).toBe(
      ErrorCode.ExpressionFailed,
    );
    expect(
      errorOf(() => compileJsonPath("$.items[?(@.t > 'soon')]").selectMany({ items: [{ t: utc }] })).details,
    ).toMatchObject({ dotnetException: 'FormatException' });
    expect(
      errorOf(() => compileJsonPath("$.items[?('2024-01-01' < @.t)]").selectMany({ items: [{ t: utc }] })).details,
    ).toMatchObject({ dotnetException: 'InvalidCastException' });
  });

  it('regex never matches a date', () => {
    expect(compileJsonPath('$.items[?(@.t =~ /2024/)]').selectMany({ items: [{ t: utc }] })).toEqual([]);
  });

  it('compares bigint with numbers numerically, exactly', () => {
    const big = 2n ** 64n + 1n;
    const document = { v: [big, 2n ** 60n, 3] };
    expect(compileJsonPath('$.v[?(@ > 9223372036854775807)]').selectMany(document)).toEqual([big]);
    expect(compileJsonPath('$.v[?(@ > 1.5)]').selectMany(document)).toEqual([big, 2n ** 60n, 3]);
    expect(compileJsonPath('$.v[?(@ == 1152921504606846976)]').selectMany(document)).toEqual([2n ** 60n]);
    expect(compileJsonPath("$.v[?(@ > '18446744073709551616')]").selectMany({ v: [big] })).toEqual([big]);
    // Within Int64 the string is parsed as an Int64, which overflows (Newtonsoft throws).
    expect(errorOf(() => compileJsonPath("$.v[?(@ > '18446744073709551616')]").selectMany({ v: [3] })).code).toBe(
      ErrorCode.ExpressionFailed,
    );
    expect(compileJsonPath('$.v[?(@ > $.v[2])]').selectMany(document)).toEqual([big, 2n ** 60n]);
    expect(compileJsonPath('$..[?(@ == 3)]').selectMany(document)).toEqual([3]);
  });

  it('an Int64 literal beyond 2^53 keeps every digit; one beyond Int64 is a syntax error, as in Newtonsoft', () => {
    const document = { v: [9007199254740993n, 9007199254740995n] };
    expect(compileJsonPath('$.v[?(@ == 9007199254740993)]').selectMany(document)).toEqual([9007199254740993n]);
    expect(errorOf(() => compileJsonPath('$.v[?(@ > 9223372036854775808)]')).code).toBe(
      ErrorCode.TemplateExpressionInvalid,
    );
  });
});

describe('compileJsonPath: body date strings (kept as strings in the envelope)', () => {
  // What Newtonsoft would have read as date tokens: the strings createBodyDateIndex reports.
  const bodyDates = new Set(['2024-07-04T09:15:30.000Z', '2024-07-04T11:15:30+02:00', '2024-07-04T09:15:31']);
  const isBodyDate = (s: string): boolean => bodyDates.has(s);
  const document = {
    items: [
      { t: '2024-07-04T09:15:30.000Z' },
      { t: '2024-07-04T11:15:30+02:00' },
      { t: '2024-07-04T09:15:31' },
      { t: 'not a date' },
    ],
  };

  it('== compares a body date with a string through its ISO text, as Newtonsoft prints the date token', () => {
    const utc = compileJsonPath("$.items[?(@.t == '2024-07-04T09:15:30Z')]");
    expect(utc.selectMany(document, { isBodyDate })).toEqual([document.items[0]]);
    // Without the predicate the strings are compared as written.
    expect(utc.selectMany(document)).toEqual([]);
    const local = compileJsonPath("$.items[?(@.t == '2024-07-04T09:15:30+00:00')]");
    expect(local.selectMany(document, { isBodyDate })).toEqual([document.items[1]]);
  });

  it('< and > compare body dates by instant; other strings stay strings', () => {
    const later = compileJsonPath("$.items[?(@.t > '2024-07-04T09:15:30.5Z')]");
    // 11:15:30+02:00 is 09:15:30Z, before the literal; 'not a date' is a string and sorts after it ('n' > '2').
    expect(later.selectMany(document, { isBodyDate })).toEqual([document.items[2], document.items[3]]);
    // As plain strings, '2024-07-04T11:…' sorts after the literal too.
    expect(later.selectMany(document)).toEqual([document.items[1], document.items[2], document.items[3]]);
  });

  it('a body date never matches a regex, and compares with another body date by instant', () => {
    expect(compileJsonPath('$.items[?(@.t =~ /2024/)]').selectMany(document, { isBodyDate })).toEqual([]);
    expect(compileJsonPath('$.items[?(@.t == $.items[0].t)]').selectMany(document, { isBodyDate })).toEqual([
      document.items[0],
      document.items[1],
    ]);
  });

  it('the predicate applies to one evaluation only', () => {
    const expression = compileJsonPath("$.items[?(@.t == '2024-07-04T09:15:30Z')]");
    expect(expression.selectMany(document, { isBodyDate })).toHaveLength(1);
    expect(compileJsonPath('$.items[?(@.t =~ /2024/)]').selectMany(document)).toHaveLength(3);
  });
});

describe('compileJsonPath: robustness', () => {
  function deepChain(depth: number): Record<string, unknown> {
    const root: Record<string, unknown> = {};
    let node = root;
    for (let i = 0; i < depth; i++) {
      const child: Record<string, unknown> = { x: i };
      node.child = [child];
      node = child;
    }
    return root;
  }

  it('walks 10,000 levels of nesting without overflowing the stack', () => {
    const document = deepChain(10_000);
    expect(compileJsonPath('$..x').selectMany(document)).toHaveLength(10_000);
    expect(compileJsonPath('$..[?(@.x)]').selectMany(document)).toHaveLength(10_000);
    expect(compileJsonPath('$..[?(@.x == 9999)].x').selectOne(document)).toBe(9999);
    expect(compileJsonPath('$..*').selectMany(document)).toHaveLength(1 + 3 * 10_000);
    expect(compileJsonPath('$..[?(@)]').selectMany(deepArrays(10_000))).toHaveLength(10_001);
  });

  function deepArrays(depth: number): unknown[] {
    const root: unknown[] = [];
    let node = root;
    for (let i = 0; i < depth; i++) {
      const child: unknown[] = [];
      node.push(child);
      node = child;
    }
    return root;
  }

  it('never reads inherited properties, even from a polluted Object.prototype', () => {
    const prototype = Object.prototype as Record<string, unknown>;
    prototype.injected = 'from the prototype';
    try {
      expect(compileJsonPath('$.injected').selectMany({})).toEqual([]);
      expect(compileJsonPath('$..injected').selectMany({ a: {} })).toEqual([]);
      expect(compileJsonPath('$..[?(@.injected)]').selectMany({ a: {} })).toEqual([]);
      expect(compileJsonPath('$.*').selectMany({ a: 1 })).toEqual([1]);
      expect(compileJsonPath('$..*').selectMany({ a: 1 })).toEqual([{ a: 1 }, 1]);
      expect(compileJsonPath("$.o['injected','a']").selectMany({ o: { a: 1 } })).toEqual([1]);
    } finally {
      delete prototype.injected;
    }
  });

  it('reads own members of objects without a prototype', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: { c: 2 } });
    expect(compileJsonPath('$.b.c').selectOne(bare)).toBe(2);
    expect(compileJsonPath('$..c').selectMany(bare)).toEqual([2]);
  });

  it('compiles once and evaluates many documents independently', () => {
    const expression = compileJsonPath('$..[?(@heartRate)].heartRate');
    expect(expression.selectMany({ heartRate: 1 })).toEqual([1]);
    expect(expression.selectMany({ a: [{ heartRate: 2 }, { heartRate: 3 }] })).toEqual([2, 3]);
    expect(expression.selectMany({})).toEqual([]);
  });

  it('supports nested scans inside filters inside scans', () => {
    const document = { a: { list: [{ deep: { hr: 120 } }] }, b: { list: [{ deep: { hr: 90 } }] } };
    expect(compileJsonPath('$..[?(@..[?(@.hr > 100)])].list').selectMany(document)).toEqual([[{ deep: { hr: 120 } }]]);
  });
});
