import { validateSync } from 'class-validator';
import { IsNumberInRange } from './number-validators';

class Query {
  @IsNumberInRange(1, 100, { integer: true })
  per_page: unknown;

  @IsNumberInRange(0, 2)
  temperature: unknown = 1;
}

/** The messages a client gets for `per_page` (integer) and `temperature` (any finite number). */
function messages(values: Partial<Query>): string[] {
  return validateSync(Object.assign(new Query(), { per_page: 20, ...values })).flatMap((error) =>
    Object.values(error.constraints ?? {}),
  );
}

describe(IsNumberInRange.name, () => {
  it('accepts numbers within the bounds, both included', () => {
    expect(messages({ per_page: 1, temperature: 0 })).toEqual([]);
    expect(messages({ per_page: 100, temperature: 2 })).toEqual([]);
    expect(messages({ temperature: 0.7 })).toEqual([]);
  });

  it.each([
    ['ten', 'per_page must be a whole number'],
    ['10', 'per_page must be a whole number'],
    [1.5, 'per_page must be a whole number'],
    [null, 'per_page must be a whole number'],
    [0, 'per_page must be at least 1'],
    [101, 'per_page must not be greater than 100'],
  ])('answers per_page %p with the one rule it breaks', (value, message) => {
    expect(messages({ per_page: value })).toEqual([message]);
  });

  it.each([
    ['0.5', 'temperature must be a number'],
    [Number.NaN, 'temperature must be a number'],
    [Number.POSITIVE_INFINITY, 'temperature must be a number'],
    [-0.1, 'temperature must be at least 0'],
    [2.5, 'temperature must not be greater than 2'],
  ])('answers temperature %p with the one rule it breaks', (value, message) => {
    expect(messages({ temperature: value })).toEqual([message]);
  });
});
