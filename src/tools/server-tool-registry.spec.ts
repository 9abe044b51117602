import { AppConfig, ConfigError } from '@app/config';
import { CalculatorTool } from './calculator.tool';
import type { ServerTool } from './server-tool';
import { ServerToolRegistry } from './server-tool-registry';

const config = (tools: Partial<AppConfig['tools']>) =>
  ({
    tools: { serverTools: [], timeoutMs: 5000, maxResultChars: 100, maxRounds: 5, ...tools },
  }) as AppConfig;

/** A tool whose behaviour each test chooses. */
function tool(name: string, execute: ServerTool['execute']): ServerTool {
  return { definition: { name, parameters: { type: 'object' } }, execute };
}

const call = (name: string, args: string) => ({ id: 'call_1', name, arguments: args });
const signal = () => new AbortController().signal;

describe(ServerToolRegistry.name, () => {
  it('offers only the enabled tools, and none by default', () => {
    const tools = [new CalculatorTool(), tool('echo', (args) => Promise.resolve(String(args)))];
    expect(new ServerToolRegistry(tools, config({})).definitions()).toEqual([]);
    const registry = new ServerToolRegistry(tools, config({ serverTools: ['calculator'] }));
    expect(registry.definitions().map((d) => d.name)).toEqual(['calculator']);
    expect(registry.has('calculator')).toBe(true);
    expect(registry.has('echo')).toBe(false);
  });

  it('refuses to start with an unknown tool name, listing the known ones', () => {
    expect(
      () => new ServerToolRegistry([new CalculatorTool()], config({ serverTools: ['weather'] })),
    ).toThrow(
      new ConfigError(
        'TOOLS__SERVER_TOOLS names "weather", which is not a server-side tool (known: calculator)',
      ),
    );
  });

  it('runs a call with its parsed arguments', async () => {
    const registry = new ServerToolRegistry(
      [new CalculatorTool()],
      config({ serverTools: ['calculator'] }),
    );
    await expect(
      registry.run(call('calculator', '{"expression":"6*7"}'), signal()),
    ).resolves.toEqual({ content: '42', isError: false });
    await expect(
      registry.run(call('calculator', '{"expression":"1/0"}'), signal()),
    ).resolves.toEqual({ content: 'division by zero', isError: true });
  });

  it('turns bad JSON arguments, an unknown tool and a throw into error results', async () => {
    const registry = new ServerToolRegistry(
      [tool('boom', () => Promise.reject(new Error('the database is gone')))],
      config({ serverTools: ['boom'] }),
    );
    await expect(registry.run(call('boom', '{"a":'), signal())).resolves.toEqual({
      content: 'The arguments are not valid JSON',
      isError: true,
    });
    await expect(registry.run(call('boom', '{}'), signal())).resolves.toEqual({
      content: 'the database is gone',
      isError: true,
    });
    await expect(registry.run(call('other', '{}'), signal())).resolves.toEqual({
      content: 'other is not a server-side tool',
      isError: true,
    });
  });

  it('ends a call at TOOLS__TIMEOUT_MS, even one that ignores its signal', async () => {
    let aborted = false;
    const registry = new ServerToolRegistry(
      [
        tool('slow', (_args, stop) => {
          stop.addEventListener('abort', () => (aborted = true));
          return new Promise(() => undefined);
        }),
      ],
      config({ serverTools: ['slow'], timeoutMs: 50 }),
    );
    const started = Date.now();
    await expect(registry.run(call('slow', ''), signal())).resolves.toEqual({
      content: 'The tool did not finish within 50 ms',
      isError: true,
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(aborted).toBe(true);
  });

  it('stops a call when the turn is stopped', async () => {
    const registry = new ServerToolRegistry(
      [tool('slow', () => new Promise(() => undefined))],
      config({ serverTools: ['slow'] }),
    );
    const turn = new AbortController();
    const result = registry.run(call('slow', '{}'), turn.signal);
    turn.abort();
    await expect(result).resolves.toEqual({ content: 'The turn was stopped', isError: true });
  });

  it('refuses a result longer than TOOLS__MAX_RESULT_CHARS', async () => {
    const registry = new ServerToolRegistry(
      [tool('long', () => Promise.resolve('x'.repeat(101)))],
      config({ serverTools: ['long'] }),
    );
    await expect(registry.run(call('long', '{}'), signal())).resolves.toEqual({
      content: 'The result is longer than 100 characters',
      isError: true,
    });
  });
});
