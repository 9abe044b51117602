import { CalculatorTool } from './calculator.tool';
import type { ServerTool } from './server-tool';

describe(CalculatorTool.name, () => {
  const calculator: ServerTool = new CalculatorTool();
  const run = (expression: unknown) =>
    calculator.execute({ expression }, new AbortController().signal);

  it.each([
    ['6*7', '42'],
    ['1 + 2 * 3', '7'],
    ['(1 + 2) * 3', '9'],
    ['2 ^ 3 ^ 2', '512'],
    ['-2^2', '-4'],
    ['2^-1', '0.5'],
    ['--3 - -3', '6'],
    ['10 / 4', '2.5'],
    ['10 % 4', '2'],
    ['0.1 + 0.2', '0.3'],
    ['1e3 / .5', '2000'],
    ['  ( ( 7 ) )  ', '7'],
  ])('evaluates %s = %s', async (expression, result) => {
    await expect(run(expression)).resolves.toBe(result);
  });

  it.each([
    ['1 / 0', 'division by zero'],
    ['5 % 0', 'division by zero'],
    ['2 +', 'the expression ends too early'],
    ['(1 + 2', 'missing ")"'],
    ['1 + 2)', 'unexpected ")" at position 6'],
    ['process.exit()', 'unexpected "p" at position 1'],
    ['10 ^ 400', 'the result is too large'],
    ['('.repeat(200) + '1' + ')'.repeat(200), 'the expression nests too deeply'],
  ])('refuses %s with a reason', async (expression, reason) => {
    await expect(run(expression)).rejects.toThrow(reason);
  });

  it('needs an expression string of at most 1000 characters', async () => {
    await expect(run(undefined)).rejects.toThrow('expression must be a non-empty string');
    await expect(run(42)).rejects.toThrow('expression must be a non-empty string');
    await expect(run('1+'.repeat(600) + '1')).rejects.toThrow('at most 1000 characters');
    await expect(calculator.execute('6*7', new AbortController().signal)).rejects.toThrow(
      'expression must be a non-empty string',
    );
  });

  it('offers a JSON-Schema object with a required expression', () => {
    expect(calculator.definition).toMatchObject({
      name: 'calculator',
      parameters: { type: 'object', required: ['expression'] },
    });
  });
});
