/**
 * The names every provider accepts for a function. On its own so that the configuration
 * (TOOLS__SERVER_TOOLS) can check names without the request parsers' dependencies.
 */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
