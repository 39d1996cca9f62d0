import { DEFAULT_MAX_BODY_BYTES, MAX_JSON_DEPTH, parseJsonBody } from '../../../src/pipeline/convert/json-body';
import { ErrorCode, PipelineError } from '../../../src/pipeline/errors';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function errorOf(run: () => unknown): PipelineError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    return error as PipelineError;
  }
  throw new Error('expected a PipelineError');
}

/** UTF-16 code units of an ASCII/Latin-1 text. */
const units = (text: string): number[] => Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('parseJsonBody: bytes and text', () => {
  it('reads a zero-length body as JSON null', () => {
    expect(parseJsonBody(new Uint8Array(0))).toBeNull();
    expect(parseJsonBody('')).toBeNull();
  });

  it('reads UTF-8 bytes', () => {
    expect(parseJsonBody(bytes('{"name":"Zoë ❤"}'))).toEqual({ name: 'Zoë ❤' });
  });

  it.each([
    ['UTF-8', [0xef, 0xbb, 0xbf, ...bytes('{"a":"é"}')]],
    ['UTF-16 LE', [0xff, 0xfe, ...units('{"a":"é"}').flatMap((c) => [c, 0])]],
    ['UTF-16 BE', [0xfe, 0xff, ...units('{"a":"é"}').flatMap((c) => [0, c])]],
    ['UTF-32 LE', [0xff, 0xfe, 0, 0, ...units('{"a":"é"}').flatMap((c) => [c, 0, 0, 0])]],
    ['UTF-32 BE', [0, 0, 0xfe, 0xff, ...units('{"a":"é"}').flatMap((c) => [0, 0, 0, c])]],
  ])('honours a %s byte-order mark like StreamReader', (_name, data) => {
    expect(parseJsonBody(Uint8Array.from(data))).toEqual({ a: 'é' });
  });

  it('strips a byte-order mark from text', () => {
    expect(parseJsonBody('\ufeff{"a":1}')).toEqual({ a: 1 });
  });

  it('replaces invalid UTF-8 with U+FFFD instead of failing', () => {
    expect(parseJsonBody(Uint8Array.from([0x22, 0xff, 0x22]))).toBe('\ufffd');
  });

  it.each([
    ['a byte-order mark alone', Uint8Array.from([0xef, 0xbb, 0xbf])],
    ['white space only', bytes(' \r\n\t ')],
    ['a comment only', bytes('/* nothing */')],
  ])('rejects %s: there is no JSON value', (_name, body) => {
    expect(errorOf(() => parseJsonBody(body)).code).toBe(ErrorCode.BodyInvalidJson);
  });
});

describe('parseJsonBody: only the first value is read', () => {
  it.each([
    ['{"a":1} garbage', { a: 1 }],
    ['{"a":1}{"b":2}', { a: 1 }],
    ['[1,2]]', [1, 2]],
    ['123 abc', 123],
    ['"text" , more', 'text'],
    ['true false', true],
    ['null}', null],
  ])('%s', (text, expected) => {
    expect(parseJsonBody(text)).toEqual(expected);
  });

  it('still rejects a number that runs into letters', () => {
    expect(errorOf(() => parseJsonBody('123abc')).code).toBe(ErrorCode.BodyInvalidJson);
  });
});

describe('parseJsonBody: integers keep every digit', () => {
  it.each<[string, unknown]>([
    ['9007199254740992', 9007199254740992],
    ['9007199254740993', 9007199254740993n],
    ['-9007199254740993', -9007199254740993n],
    ['1234567890123456', 1234567890123456],
    ['9223372036854775807', 9223372036854775807n],
    ['-9223372036854775808', -9223372036854775808n],
    ['12345678901234567890123', 12345678901234567890123n],
    ['{"id": 9007199254740993, "v": 1.5}', { id: 9007199254740993n, v: 1.5 }],
    ['[3.14159265358979323846]', [3.141592653589793]],
    ['1.0000000000000000000001e2', 100],
  ])('%s', (text, expected) => {
    expect(parseJsonBody(text)).toEqual(expected);
  });

  it('accepts a BigInteger of 380 characters and rejects a longer one (Newtonsoft limit)', () => {
    expect(typeof parseJsonBody('9'.repeat(380))).toBe('bigint');
    expect(errorOf(() => parseJsonBody('9'.repeat(381))).message).toMatch(/too large/);
  });
});

describe('parseJsonBody: Newtonsoft lenient syntax', () => {
  it.each<[string, string, unknown]>([
    ['line comments', '{"a":1 // note\n}', { a: 1 }],
    ['block comments everywhere', '/*x*/{/*x*/"a":/*x*/1/*x*/,//x\n"b":[/*x*/2/*x*/]}/*x*/', { a: 1, b: [2] }],
    ['single-quoted strings', "{'a':'it\\'s'}", { a: "it's" }],
    ['unquoted property names', '{hr:72, _x$1: true, Zoë: 1}', { hr: 72, _x$1: true, Zoë: 1 }],
    ['trailing commas', '{"a":[1,2,],}', { a: [1, 2] }],
    ['empty array slots (undefined → null)', '[1,,2,]', [1, null, 2]],
    ['a leading empty slot', '[,1]', [null, 1]],
    ['an empty property value', '{"a":,"b":1}', { a: null, b: 1 }],
    ['undefined', '[undefined]', [null]],
    ['NaN and infinities', '[NaN, Infinity, -Infinity]', [NaN, Infinity, -Infinity]],
    ['hexadecimal integers', '[0x1F, 0XfF]', [31, 255]],
    ['hexadecimal two’s complement', '0xFFFFFFFFFFFFFFFF', -1],
    ['hexadecimal beyond 2^53', '0x7FFFFFFFFFFFFFFF', 9223372036854775807n],
    ['octal integers', '[017, 00]', [15, 0]],
    ['numbers with a bare point', '[.5, 5., -.5, 1.e2]', [0.5, 5, -0.5, 100]],
    ['-0 as the integer 0', '[-0,]', [0]],
    ['exponent overflow as infinity', '1e400', Infinity],
    ['raw control characters in strings', '"a\tb\u0001c"', 'a\tb\u0001c'],
    ['raw line breaks in strings', '"a\nb"', 'a\nb'],
    ['non-breaking and other Unicode spaces between tokens', '\u00a0{\u2003"a"\u3000:\u20281}', { a: 1 }],
    ['NUL characters between tokens', '{\u0000"a":1}', { a: 1 }],
    ['a top-level empty slot', ',', null],
    ['escaped surrogate pairs', '"\\ud83d\\ude00"', '😀'],
    ['a lone high surrogate escape', '"a\\ud83db"', 'a\ufffdb'],
    ['a lone low surrogate escape', '"\\ude00"', '\ufffd'],
    ['a high surrogate before a non-surrogate escape', '"\\ud83d\\u0041"', '\ufffdA'],
    ['two high surrogates before a low one', '"\\ud83d\\ud83d\\ude00"', '\ufffd😀'],
    ['all simple escapes', '"\\b\\t\\n\\f\\r\\\\\\/\\"\\\'"', '\b\t\n\f\r\\/"\''],
  ])('%s', (_name, text, expected) => {
    expect(parseJsonBody(text)).toEqual(expected);
  });

  it.each([
    ['a property without a value', '{"a":}'],
    ['a missing colon', '{"a" 1}'],
    ['a comment between a name and its colon', '{"a"/**/:1}'],
    ['a missing comma', '[1 2]'],
    ['mismatched brackets', '[1}'],
    ['a bad escape', '"\\x41"'],
    ['a short unicode escape', '"\\u12"'],
    ['a non-hex unicode escape', '"\\u12G4"'],
    ['an unterminated string', '{"a":"b'],
    ['an unterminated comment', '[1 /* open'],
    ['a slash that is not a comment', '[1 / 2]'],
    ['a bad literal', 'nul'],
    ['a literal followed by letters', 'trueish'],
    ['an invalid octal digit', '09'],
    ['a hexadecimal number without digits', '0x'],
    ['a hexadecimal number beyond 64 bits', '0x1FFFFFFFFFFFFFFFF'],
    ['a number with two points', '1.2.3'],
    ['a lone minus', '-'],
    ['a plus sign', '+1'],
    ['a constructor', 'new Date(1)'],
    ['an unquoted name with a dash', '{a-b:1}'],
    ['a truncated object', '{"a":1,'],
    ['a top-level closing bracket', ']'],
  ])('rejects %s', (_name, text) => {
    expect(errorOf(() => parseJsonBody(text)).code).toBe(ErrorCode.BodyInvalidJson);
  });

  it('names the position but never the content', () => {
    const error = errorOf(() => parseJsonBody('{\n  "patient": "Jane Doe",\n  "hr": }'));
    expect(error.code).toBe(ErrorCode.BodyInvalidJson);
    expect(error.medtechErrorType).toBe('InvalidDataFormatException');
    expect(error.message).toMatch(
      /^The message body cannot be parsed into a JSON object: .* at line 3, position \d+\.$/,
    );
    expect(error.message).not.toMatch(/Jane|patient|hr/);
  });
});

describe('parseJsonBody: nesting (JsonReader.MaxDepth = 64)', () => {
  it('reads 64 nested containers', () => {
    let value = parseJsonBody(nested(MAX_JSON_DEPTH));
    let depth = 0;
    while (Array.isArray(value)) {
      depth++;
      value = value[0] ?? null;
    }
    expect(depth).toBe(MAX_JSON_DEPTH);
  });

  it.each([
    ['65 arrays', nested(65)],
    ['65 objects', '{"a":'.repeat(65) + '1' + '}'.repeat(65)],
    ['10,000 arrays', nested(10_000)],
    ['1,000,000 arrays', nested(1_000_000)],
    ['65 arrays in lenient syntax', '[/*c*/'.repeat(65) + ']'.repeat(65)],
    ['65 arrays beside a big integer', '['.repeat(65) + '9007199254740993' + ']'.repeat(65)],
  ])('rejects %s without crashing', (_name, text) => {
    const error = errorOf(() => parseJsonBody(text, { maxBytes: 0 }));
    expect(error.code).toBe(ErrorCode.BodyInvalidJson);
    expect(error.message).toMatch(/nesting deeper than 64 levels/);
  });
});

describe('parseJsonBody: objects', () => {
  it.each([
    ['fast path', '{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}}'],
    ['exact path', '{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}, "big": 9007199254740993}'],
    ['lenient path', "{'__proto__': {polluted: true}, constructor: {prototype: 1}}"],
  ])('keeps __proto__ and constructor as own data properties (%s)', (_name, text) => {
    const value = parseJsonBody(text) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(value, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: true });
    expect(Object.prototype.hasOwnProperty.call(value, 'constructor')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['fast path', '{"a":1,"b":2,"a":3}'],
    ['lenient path', "{'a':1,'b':2,'a':3}"],
  ])('lets a duplicate name replace the value in its first position (%s)', (_name, text) => {
    const value = parseJsonBody(text) as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['a', 'b']);
    expect(value.a).toBe(3);
  });
});

describe('parseJsonBody: size limit', () => {
  it('defaults to 1 MiB', () => {
    expect(DEFAULT_MAX_BODY_BYTES).toBe(1_048_576);
    const body = bytes(`"${'x'.repeat(DEFAULT_MAX_BODY_BYTES - 2)}"`);
    expect(parseJsonBody(body)).toHaveLength(DEFAULT_MAX_BODY_BYTES - 2);
    const tooBig = bytes(`"${'x'.repeat(DEFAULT_MAX_BODY_BYTES - 1)}"`);
    expect(errorOf(() => parseJsonBody(tooBig)).code).toBe(ErrorCode.BodyTooLarge);
  });

  it.each([
    ['bytes', bytes('[1,2,3,4,5]'), 10],
    ['text counted in UTF-8 bytes', '["éééé"]', 10],
  ])('rejects %s above maxBytes', (_name, body, maxBytes) => {
    const error = errorOf(() => parseJsonBody(body, { maxBytes }));
    expect(error.code).toBe(ErrorCode.BodyTooLarge);
    expect(error.message).toBe('The message body exceeds the maximum size of 10 bytes.');
  });

  it('accepts a body of exactly maxBytes, and any size when the limit is 0', () => {
    expect(parseJsonBody('["éé"]', { maxBytes: 8 })).toEqual(['éé']);
    expect(parseJsonBody(bytes('[1,2,3,4,5]'), { maxBytes: 0 })).toEqual([1, 2, 3, 4, 5]);
  });
});
