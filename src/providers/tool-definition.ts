import { codePointLength } from '@app/common';

/** What every provider accepts of a function definition, for the /api and /v1 request parsers. */

export { TOOL_NAME } from './tool-name';

/** Longest tool description, in characters (Unicode code points, as every length in the API). */
export const MAX_TOOL_DESCRIPTION_CHARS = 1024;
/** Largest `parameters` schema of one tool, as JSON bytes. */
export const MAX_TOOL_PARAMETERS_BYTES = 16 * 1024;

/** The schema of a function that takes no arguments (a tool sent without `parameters`). */
export function noParameters(): Record<string, unknown> {
  return { type: 'object', properties: {} };
}

export const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Why `parameters` cannot be a tool's schema (it needs `"type": "object"`), or undefined. */
export function toolParametersProblem(parameters: unknown): string | undefined {
  if (!isJsonObject(parameters) || parameters.type !== 'object') {
    return 'must be a JSON Schema object with "type": "object"';
  }
  if (Buffer.byteLength(JSON.stringify(parameters)) > MAX_TOOL_PARAMETERS_BYTES) {
    return `must be at most ${MAX_TOOL_PARAMETERS_BYTES} bytes as JSON`;
  }
  return undefined;
}

/** Why `description` cannot be a tool's description, or undefined (absent is fine). */
export function toolDescriptionProblem(description: unknown): string | undefined {
  if (description === undefined) return undefined;
  if (
    typeof description !== 'string' ||
    codePointLength(description) > MAX_TOOL_DESCRIPTION_CHARS
  ) {
    return `must be a string of at most ${MAX_TOOL_DESCRIPTION_CHARS} characters`;
  }
  return undefined;
}
