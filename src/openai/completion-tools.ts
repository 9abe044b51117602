import { InvalidInputError } from '@app/common';
import type {
  ProviderMessage,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from '../providers/chat-provider.interface';
import {
  isJsonObject as isObject,
  noParameters,
  TOOL_NAME,
  toolDescriptionProblem,
  toolParametersProblem,
} from '../providers/tool-definition';

/** OpenAI's limits: 128 functions per request; names every provider accepts. */
export const MAX_COMPLETION_TOOLS = 128;
const MAX_CALL_ID_CHARS = 256;

export function invalidField(field: string, message: string): InvalidInputError {
  return new InvalidInputError(`${field} ${message}`, [{ field, message: `${field} ${message}` }]);
}

/**
 * `tools`: `[{type: "function", function: {name, description?, parameters?, strict?}}]`, names
 * unique; undefined when absent or empty. 400 naming the first problem otherwise.
 */
export function parseTools(tools: unknown): ToolDefinition[] | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools) || tools.length > MAX_COMPLETION_TOOLS) {
    throw invalidField('tools', `must be an array of at most ${MAX_COMPLETION_TOOLS} functions`);
  }
  const seen = new Set<string>();
  const parsed = tools.map((tool: unknown, index) => {
    const field = `tools[${index}]`;
    if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function)) {
      throw invalidField(field, 'must be {"type": "function", "function": {"name": …}}');
    }
    const { name, description, parameters, strict } = tool.function;
    if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
      throw invalidField(`${field}.function.name`, 'must match ^[a-zA-Z0-9_-]{1,64}$');
    }
    if (seen.has(name)) throw invalidField(`${field}.function.name`, `repeats "${name}"`);
    seen.add(name);
    const descriptionProblem = toolDescriptionProblem(description);
    if (descriptionProblem) throw invalidField(`${field}.function.description`, descriptionProblem);
    if (strict !== undefined && strict !== null && typeof strict !== 'boolean') {
      throw invalidField(`${field}.function.strict`, 'must be a boolean');
    }
    return {
      name,
      ...(description ? { description: description as string } : {}),
      parameters: parseParameters(parameters, `${field}.function.parameters`),
    };
  });
  return parsed.length > 0 ? parsed : undefined;
}

function parseParameters(parameters: unknown, field: string): Record<string, unknown> {
  if (parameters === undefined || parameters === null) return noParameters();
  const problem = toolParametersProblem(parameters);
  if (problem) throw invalidField(field, problem);
  return parameters as Record<string, unknown>;
}

/**
 * `tool_choice`: `none`, `auto`, `required` or `{type: "function", function: {name}}` naming one
 * of `tools`; only with tools (as OpenAI answers).
 */
export function parseToolChoice(
  choice: unknown,
  tools: readonly ToolDefinition[] | undefined,
): ToolChoice | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (!tools) throw invalidField('tool_choice', 'is only allowed when tools are specified');
  if (choice === 'none' || choice === 'auto' || choice === 'required') return choice;
  const name = isObject(choice) && isObject(choice.function) ? choice.function.name : undefined;
  if (!isObject(choice) || choice.type !== 'function' || typeof name !== 'string') {
    throw invalidField(
      'tool_choice',
      'must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}',
    );
  }
  if (!tools.some((tool) => tool.name === name)) {
    throw invalidField('tool_choice', `names "${name}", which is not one of the tools`);
  }
  return { name };
}

/** An assistant message's `tool_calls`: `[{id, type: "function", function: {name, arguments}}]`. */
export function parseToolCalls(value: unknown, field: string): ToolCall[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > MAX_COMPLETION_TOOLS) {
    throw invalidField(field, `must be an array of at most ${MAX_COMPLETION_TOOLS} calls`);
  }
  const calls = value.map((call: unknown, index) => {
    const { id, type, function: fn } = isObject(call) ? call : {};
    const { name, arguments: args } = isObject(fn) ? fn : {};
    if (
      typeof id !== 'string' ||
      id.length < 1 ||
      id.length > MAX_CALL_ID_CHARS ||
      type !== 'function' ||
      typeof name !== 'string' ||
      !TOOL_NAME.test(name) ||
      typeof args !== 'string'
    ) {
      throw invalidField(
        `${field}[${index}]`,
        'must be {"id": …, "type": "function", "function": {"name": …, "arguments": "<JSON text>"}}',
      );
    }
    return { id, name, arguments: args };
  });
  return calls.length > 0 ? calls : undefined;
}

/**
 * Checks the tool rounds of a conversation as OpenAI does, and names each tool message's call
 * (Gemini answers calls by name): a `tool` message must answer a call of the assistant message
 * before it (only tool messages between), and every call must be answered before the next
 * message that is not a tool message.
 */
export function linkToolResults(messages: ProviderMessage[]): void {
  let waiting = new Map<string, string>();
  let waitingSince = -1;
  messages.forEach((message, index) => {
    if (message.role === 'tool') {
      const name = waiting.get(message.toolCallId ?? '');
      if (name === undefined) {
        throw invalidField(
          `messages[${index}].tool_call_id`,
          'must answer a call of the assistant message before it (messages with role "tool" must follow the message with its tool_calls)',
        );
      }
      waiting.delete(message.toolCallId!);
      message.toolName = name;
      return;
    }
    if (waiting.size > 0) {
      throw invalidField(
        `messages[${waitingSince}].tool_calls`,
        `must each be answered by a tool message before the next message; no answer for ${[...waiting.keys()].join(', ')}`,
      );
    }
    waiting = new Map((message.toolCalls ?? []).map((call) => [call.id, call.name]));
    waitingSince = index;
  });
  if (waiting.size > 0) {
    throw invalidField(
      `messages[${waitingSince}].tool_calls`,
      `must each be answered by a tool message; no answer for ${[...waiting.keys()].join(', ')}`,
    );
  }
}
