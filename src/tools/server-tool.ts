import type { ToolDefinition } from '../providers/chat-provider.interface';

/**
 * A tool the server runs itself when the model calls it (opt-in per deployment with
 * TOOLS__SERVER_TOOLS). Adding one is a class implementing this plus its entry in
 * SERVER_TOOL_CLASSES (tools.module.ts); see docs/DEPLOYMENT.md.
 */
export interface ServerTool {
  /** What the model is offered: the name it calls, what the tool does, its JSON-Schema arguments. */
  readonly definition: ToolDefinition;
  /**
   * Runs one call. `args` is the model's arguments, already parsed from JSON (check their shape:
   * models write anything). Resolves with the result text; a throw becomes an error result the
   * model sees (the message is its content, so keep secrets out of it). Stop when `signal`
   * aborts (the call timed out or the turn was stopped).
   */
  execute(args: unknown, signal: AbortSignal): Promise<string>;
}

/** Every ServerTool the application knows (enabled or not), as one array. */
export const SERVER_TOOLS = Symbol('SERVER_TOOLS');
