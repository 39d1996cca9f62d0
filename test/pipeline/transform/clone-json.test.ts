import fc from 'fast-check';

import { cloneJson } from '../../../src/pipeline/transform/clone-json';

describe('cloneJson', () => {
  it('copies JSON values as structuredClone does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(cloneJson(value)).toStrictEqual(structuredClone(value));
      }),
    );
  });

  it('shares nothing with the original', () => {
    const original = { a: [{ b: 1 }], c: { d: 'x' } };
    const copy = cloneJson(original);
    copy.a[0]!.b = 2;
    copy.c.d = 'y';
    expect(original).toEqual({ a: [{ b: 1 }], c: { d: 'x' } });
  });

  it('keeps a member named __proto__ as a member, not as the prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const copy = cloneJson(parsed);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('keeps members whose value is undefined, in order', () => {
    expect(Object.entries(cloneJson({ a: undefined, b: 1 }))).toEqual([
      ['a', undefined],
      ['b', 1],
    ]);
  });
});
