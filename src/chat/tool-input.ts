import { InvalidInputError } from '@app/common';
import type { ToolDefinition } from '../providers/chat-provider.interface';

/** Most tools one chat request may offer. */
export const MAX_TOOLS = 32;
/** Longest tool description, in characters. */
export const MAX_TOOL_DESCRIPTION_CHARS = 1024;
/** Largest `parameters` schema of one tool, as JSON bytes. */
export const MAX_TOOL_PARAMETERS_BYTES = 16 * 1024;
/** Most results one request may answer (a model round makes at most this many calls here). */
export const MAX_TOOL_RESULTS = 128;
/** Longest tool result the client may send, in characters. */
export const MAX_TOOL_RESULT_CHARS = 100_000;
/** The names every provider accepts for a function. */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** A client's answer to one tool call of the reply its session waits on. */
export interface ToolResultInput {
  toolCallId: string;
  content: string;
  isError: boolean;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

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
    if (
      description !== undefined &&
      (typeof description !== 'string' || [...description].length > MAX_TOOL_DESCRIPTION_CHARS)
    ) {
      fail(
        `${field}.description`,
        `must be a string of at most ${MAX_TOOL_DESCRIPTION_CHARS} characters`,
      );
    }
    if (parameters !== undefined) {
      if (!isObject(parameters) || parameters.type !== 'object') {
        fail(`${field}.parameters`, 'must be a JSON Schema object with "type": "object"');
      }
      if (Buffer.byteLength(JSON.stringify(parameters)) > MAX_TOOL_PARAMETERS_BYTES) {
        fail(`${field}.parameters`, `must be at most ${MAX_TOOL_PARAMETERS_BYTES} bytes as JSON`);
      }
    }
    return {
      name,
      ...(description !== undefined ? { description: description } : {}),
      parameters: parameters ?? { type: 'object', properties: {} },
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
