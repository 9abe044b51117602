import { InvalidInputError } from '@app/common';
import type { ToolDefinition } from '../providers/chat-provider.interface';
import {
  isJsonObject as isObject,
  noParameters,
  TOOL_NAME,
  toolDescriptionProblem,
  toolParametersProblem,
} from '../providers/tool-definition';

export {
  MAX_TOOL_DESCRIPTION_CHARS,
  MAX_TOOL_PARAMETERS_BYTES,
} from '../providers/tool-definition';

/** Most tools one chat request may offer. */
export const MAX_TOOLS = 32;
/** Most results one request may answer (a model round makes at most this many calls here). */
export const MAX_TOOL_RESULTS = 128;
/** Longest tool result the client may send, in characters. */
export const MAX_TOOL_RESULT_CHARS = 100_000;

/** A client's answer to one tool call of the reply its session waits on. */
export interface ToolResultInput {
  toolCallId: string;
  content: string;
  isError: boolean;
}

type Json = Record<string, unknown>;

function fail(field: string, message: string): never {
  throw new InvalidInputError(`${field} ${message}`, [{ field, message }]);
}

/** Only these keys (unknown fields are refused, as everywhere in the API). */
function checkKeys(value: Json, field: string, allowed: string[]): void {
  const unknown = Object.keys(value).find((key) => !allowed.includes(key));
  if (unknown !== undefined) fail(`${field}.${unknown}`, 'is not a known field');
}

/**
 * A chat request's `tools`: at most 32, each `{name, description?, parameters?}` with a name
 * providers accept, unique, a description of at most 1024 characters and `parameters` a JSON-Schema
 * object (`"type": "object"`) of at most 16 KB; absent parameters are an empty object schema.
 * 400 naming the tool and the problem otherwise.
 */
export function parseTools(raw: unknown): ToolDefinition[] {
  if (!Array.isArray(raw)) fail('tools', 'must be a list');
  if (raw.length > MAX_TOOLS) fail('tools', `must have at most ${MAX_TOOLS} tools`);
  const names = new Set<string>();
  return raw.map((tool, index): ToolDefinition => {
    const field = `tools[${index}]`;
    if (!isObject(tool)) fail(field, 'must be an object {name, description?, parameters?}');
    checkKeys(tool, field, ['name', 'description', 'parameters']);
    const { name, description, parameters } = tool;
    if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
      fail(`${field}.name`, 'must be 1 to 64 letters, digits, _ or -');
    }
    if (names.has(name)) fail(`${field}.name`, `repeats the tool name ${name}`);
    names.add(name);
    const descriptionProblem = toolDescriptionProblem(description);
    if (descriptionProblem) fail(`${field}.description`, descriptionProblem);
    const problem = parameters === undefined ? undefined : toolParametersProblem(parameters);
    if (problem) fail(`${field}.parameters`, problem);
    return {
      name,
      ...(description !== undefined ? { description: description as string } : {}),
      parameters: (parameters as Json | undefined) ?? noParameters(),
    };
  });
}

/** A chat request's `tool_results`: at least one `{tool_call_id, content, is_error?}`, ids unique. */
export function parseToolResults(raw: unknown): ToolResultInput[] {
  if (!Array.isArray(raw) || raw.length === 0) fail('tool_results', 'must be a non-empty list');
  if (raw.length > MAX_TOOL_RESULTS) {
    fail('tool_results', `must have at most ${MAX_TOOL_RESULTS} results`);
  }
  const ids = new Set<string>();
  return raw.map((result, index): ToolResultInput => {
    const field = `tool_results[${index}]`;
    if (!isObject(result)) fail(field, 'must be an object {tool_call_id, content, is_error?}');
    checkKeys(result, field, ['tool_call_id', 'content', 'is_error']);
    const { tool_call_id: id, content, is_error: isError } = result;
    if (typeof id !== 'string' || !id || id.length > 100) {
      fail(`${field}.tool_call_id`, 'must be a string of 1 to 100 characters');
    }
    if (ids.has(id)) fail(`${field}.tool_call_id`, `repeats ${id}`);
    ids.add(id);
    if (typeof content !== 'string' || content.length > MAX_TOOL_RESULT_CHARS) {
      fail(`${field}.content`, `must be a string of at most ${MAX_TOOL_RESULT_CHARS} characters`);
    }
    if (isError !== undefined && typeof isError !== 'boolean') {
      fail(`${field}.is_error`, 'must be a boolean');
    }
    return { toolCallId: id, content, isError: isError === true };
  });
}
