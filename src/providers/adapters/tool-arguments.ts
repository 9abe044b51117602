/**
 * A call's JSON arguments as the object the APIs that take them parsed want (Gemini's `args`,
 * Anthropic's `input`). Text that is not a JSON object (models can write bad JSON) becomes `{}`:
 * the API would refuse the whole conversation otherwise.
 */
export function argumentsObject(json: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  return {};
}
