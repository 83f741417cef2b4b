import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../daemon/src/util/canonical.js';

describe('canonical JSON', () => {
  it('sorts keys at every depth, drops undefined and has no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('is independent of insertion order', () => {
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });

  it('matches RFC 8785 number and string forms', () => {
    expect(canonicalJson([1e21, 0.1, -0, 1.5e-7, 'é\u2028"\n'])).toBe('[1e+21,0.1,0,1.5e-7,"é\u2028\\"\\n"]');
  });

  it('refuses values that have no canonical form', () => {
    expect(() => canonicalJson(NaN)).toThrow(/finite/);
    expect(() => canonicalJson({ a: () => 1 })).toThrow(/function/);
    expect(() => canonicalJson(10n)).toThrow(/bigint/);
  });
});
