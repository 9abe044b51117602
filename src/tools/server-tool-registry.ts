import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, ConfigError } from '@app/config';
import type { ToolCallResult } from '../history/history-store.interface';
import type { ToolCall, ToolDefinition } from '../providers/chat-provider.interface';
import { SERVER_TOOLS, type ServerTool } from './server-tool';

/**
 * The server-side tools this deployment enabled (TOOLS__SERVER_TOOLS), and how one call of them is
 * run: parsed arguments, TOOLS__TIMEOUT_MS, TOOLS__MAX_RESULT_CHARS. Every way a call can fail —
 * bad JSON arguments, a throw, the timeout, a result too long — is an error result with the
 * reason, which the model sees; the turn goes on.
 */
@Injectable()
export class ServerToolRegistry {
  private readonly enabled = new Map<string, ServerTool>();

  constructor(
    @Inject(SERVER_TOOLS) tools: ServerTool[],
    private readonly config: AppConfig,
  ) {
    const known = new Map(tools.map((tool) => [tool.definition.name, tool]));
    for (const name of config.tools.serverTools) {
      const tool = known.get(name);
      if (!tool) {
        throw new ConfigError(
          `TOOLS__SERVER_TOOLS names "${name}", which is not a server-side tool (known: ${
            [...known.keys()].join(', ') || 'none'
          })`,
        );
      }
      this.enabled.set(name, tool);
    }
  }

  /** What every /api chat turn offers the model besides the client's tools. */
  definitions(): ToolDefinition[] {
    return [...this.enabled.values()].map((tool) => tool.definition);
  }

  /** True when `name` is an enabled server-side tool (a client tool may not take its name). */
  has(name: string): boolean {
    return this.enabled.has(name);
  }

  /** Runs one call of an enabled tool; never rejects (a failure is an `isError` result). */
  async run(call: ToolCall, signal: AbortSignal): Promise<ToolCallResult> {
    const tool = this.enabled.get(call.name);
    if (!tool) return failed(`${call.name} is not a server-side tool`);
    let args: unknown;
    try {
      args = call.arguments.trim() ? JSON.parse(call.arguments) : {};
    } catch {
      return failed('The arguments are not valid JSON');
    }
    const { timeoutMs, maxResultChars } = this.config.tools;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const stop = AbortSignal.any([signal, timeout.signal]);
    try {
      const content = await new Promise<string>((resolve, reject) => {
        // A tool that ignores its signal still ends the wait.
        stop.addEventListener('abort', () => reject(new ToolStoppedError()), { once: true });
        tool.execute(args, stop).then(resolve, reject);
      });
      if (typeof content !== 'string') return failed('The tool returned no text');
      if (content.length > maxResultChars) {
        return failed(`The result is longer than ${maxResultChars} characters`);
      }
      return { content, isError: false };
    } catch (error) {
      if (timeout.signal.aborted) return failed(`The tool did not finish within ${timeoutMs} ms`);
      if (signal.aborted) return failed('The turn was stopped');
      const reason = error instanceof Error && error.message ? error.message : 'The tool failed';
      return failed(reason.slice(0, maxResultChars));
    } finally {
      clearTimeout(timer);
    }
  }
}

class ToolStoppedError extends Error {}

function failed(content: string): ToolCallResult {
  return { content, isError: true };
}
