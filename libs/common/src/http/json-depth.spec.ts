import { InvalidInputError } from '../errors/domain-errors';
import {
  assertJsonDepth,
  isNestedDeeperThan,
  JSON_TOO_DEEP_DETAIL,
  MAX_JSON_DEPTH,
} from './json-depth';

/** Objects nested `levels` deep: `{"a":{"a":…{}}}`. */
function nested(levels: number): unknown {
  let value: unknown = {};
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

describe(isNestedDeeperThan.name, () => {
  it('counts objects and arrays as levels, scalars as none', () => {
    expect(isNestedDeeperThan('text', 0)).toBe(false);
    expect(isNestedDeeperThan(null, 0)).toBe(false);
    expect(isNestedDeeperThan({}, 0)).toBe(true);
    expect(isNestedDeeperThan({}, 1)).toBe(false);
    expect(isNestedDeeperThan({ a: [1, { b: 'x' }] }, 2)).toBe(true);
    expect(isNestedDeeperThan({ a: [1, { b: 'x' }] }, 3)).toBe(false);
  });

  it('finds a deep branch beside shallow ones', () => {
    expect(isNestedDeeperThan({ a: 1, b: [], c: nested(5) }, 6)).toBe(false);
    expect(isNestedDeeperThan({ a: 1, b: [], c: nested(5) }, 5)).toBe(true);
  });

  it('walks a million levels without overflowing the stack', () => {
    expect(isNestedDeeperThan(nested(1_000_000), 2_000_000)).toBe(false);
  });
});

describe(assertJsonDepth.name, () => {
  it(`accepts ${MAX_JSON_DEPTH} levels and throws the 400 detail beyond`, () => {
    expect(() => assertJsonDepth(nested(MAX_JSON_DEPTH))).not.toThrow();
    const error = (() => {
      try {
        assertJsonDepth(nested(MAX_JSON_DEPTH + 1));
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ message: JSON_TOO_DEEP_DETAIL, status: 400 });
  });
});
