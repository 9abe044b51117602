/**
 * Tool calling as the simulator plays it, for the three APIs: which tools a request offers, the
 * calls a user message asks for with `[[tool:NAME {json args}]]` markers, and the tool results a
 * conversation ends with (answered with the deterministic text `Tool results: NAME=CONTENT; …`).
 */

export type ToolApi = 'openai' | 'gemini' | 'anthropic';

/** A call the simulated model makes; `arguments` is compact JSON text of an object. */
export interface SimulatedToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** A tool result the conversation ends with, named after the call it answers. */
export interface SimulatedToolResult {
  name: string;
  content: string;
}

interface OpenAiBody {
  tools?: { type?: unknown; function?: { name?: unknown } }[];
  tool_choice?: unknown;
  messages?: OpenAiMessage[];
}

interface OpenAiMessage {
  role?: unknown;
  content?: unknown;
  tool_call_id?: unknown;
  tool_calls?: { id?: unknown; function?: { name?: unknown } }[];
}

interface GeminiBody {
  tools?: { functionDeclarations?: { name?: unknown }[] }[];
  toolConfig?: { functionCallingConfig?: { mode?: unknown; allowedFunctionNames?: unknown } };
  contents?: { role?: unknown; parts?: GeminiPart[] }[];
}

interface GeminiPart {
  text?: unknown;
  functionCall?: { name?: unknown; args?: unknown };
  functionResponse?: { name?: unknown; response?: unknown };
}

interface AnthropicBody {
  tools?: { type?: unknown; name?: unknown; input_schema?: unknown }[];
  tool_choice?: { type?: unknown; name?: unknown };
  messages?: { role?: unknown; content?: unknown }[];
}

interface AnthropicBlock {
  type?: unknown;
  id?: unknown;
  name?: unknown;
  input?: unknown;
  tool_use_id?: unknown;
  content?: unknown;
  text?: unknown;
}

const names = (values: unknown[]): string[] =>
  values.filter((value): value is string => typeof value === 'string');

/**
 * The names of the functions the request offers the model, or none when the request forbids
 * calling them (`tool_choice: "none"`, Gemini's mode `NONE`, Anthropic's `{type: "none"}`).
 */
export function offeredToolNames(api: ToolApi, body: unknown): string[] {
  if (api === 'openai') {
    const request = body as OpenAiBody;
    if (request.tool_choice === 'none' || !Array.isArray(request.tools)) return [];
    return names(request.tools.map((tool) => tool?.function?.name));
  }
  if (api === 'gemini') {
    const request = body as GeminiBody;
    if (request.toolConfig?.functionCallingConfig?.mode === 'NONE') return [];
    if (!Array.isArray(request.tools)) return [];
    return names(
      request.tools.flatMap((tool) => tool?.functionDeclarations ?? []).map((d) => d?.name),
    );
  }
  const request = body as AnthropicBody;
  if (request.tool_choice?.type === 'none' || !Array.isArray(request.tools)) return [];
  return names(request.tools.map((tool) => tool?.name));
}

const MARKER = /\[\[tool:([a-zA-Z0-9_-]{1,64})(?:\s+(\{.*?\}))?\s*\]\]/gs;

/**
 * The calls `text` asks for with `[[tool:NAME {json args}]]` markers, in order; markers naming a
 * tool not in `offered`, or whose arguments are not a JSON object, are ignored. Ids are left
 * empty (each API numbers its own).
 */
export function requestedToolCalls(text: string, offered: readonly string[]): SimulatedToolCall[] {
  const calls: SimulatedToolCall[] = [];
  for (const [, name, json] of text.matchAll(MARKER)) {
    if (!offered.includes(name)) continue;
    let args: unknown = {};
    try {
      if (json !== undefined) args = JSON.parse(json);
    } catch {
      continue;
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) continue;
    calls.push({ id: '', name, arguments: JSON.stringify(args) });
  }
  return calls;
}

/** `Tool results: NAME=CONTENT; NAME2=CONTENT2`, the simulator's reply to tool results. */
export function toolResultsReply(results: readonly SimulatedToolResult[]): string {
  return `Tool results: ${results.map((r) => `${r.name}=${r.content}`).join('; ')}`;
}

/** A tool's name, or `?` when the result answers no known call. */
function nameOf(name: unknown): string {
  return typeof name === 'string' ? name : '?';
}

function plainText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as { text?: unknown }[])
    .map((part) => (typeof part?.text === 'string' ? part.text : ''))
    .join('');
}

/**
 * The tool results the conversation ends with (those after the last assistant turn that made
 * calls), or undefined when it does not end with tool results.
 */
export function trailingToolResults(
  api: ToolApi,
  body: unknown,
): SimulatedToolResult[] | undefined {
  const results = TRAILING_RESULTS[api](body);
  return results.length > 0 ? results : undefined;
}

const TRAILING_RESULTS: Readonly<Record<ToolApi, (body: unknown) => SimulatedToolResult[]>> = {
  openai: (body) => {
    const messages = (body as OpenAiBody).messages ?? [];
    let start = messages.length;
    while (start > 0 && messages[start - 1]?.role === 'tool') start--;
    const calls = messages[start - 1]?.tool_calls ?? [];
    return messages.slice(start).map((message) => {
      const call = calls.find((c) => c?.id === message.tool_call_id);
      return { name: nameOf(call?.function?.name), content: plainText(message.content) };
    });
  },
  gemini: (body) => {
    const last = (body as GeminiBody).contents?.at(-1);
    if (last?.role === 'model') return [];
    return (last?.parts ?? [])
      .filter((part) => part?.functionResponse !== undefined)
      .map(({ functionResponse }) => ({
        name: nameOf(functionResponse?.name),
        content: geminiResponseText(functionResponse?.response),
      }));
  },
  anthropic: (body) => {
    const messages = (body as AnthropicBody).messages ?? [];
    const last = messages.at(-1);
    if (last?.role !== 'user' || !Array.isArray(last.content)) return [];
    const previous = messages.at(-2);
    const uses = (Array.isArray(previous?.content) ? previous.content : []) as AnthropicBlock[];
    return (last.content as AnthropicBlock[])
      .filter((block) => block?.type === 'tool_result')
      .map((block) => {
        const use = uses.find((u) => u?.type === 'tool_use' && u.id === block.tool_use_id);
        return { name: nameOf(use?.name), content: plainText(block.content) };
      });
  },
};

/** A functionResponse's `response` as text: its `output` or `error` string, else its JSON. */
function geminiResponseText(response: unknown): string {
  const value = response as { output?: unknown; error?: unknown } | undefined;
  if (typeof value?.output === 'string') return value.output;
  if (typeof value?.error === 'string') return value.error;
  return JSON.stringify(response ?? {});
}

/** Splits a call's JSON arguments into two fragments (at least one character in the first). */
export function argumentFragments(json: string): [string, string] {
  const cut = Math.max(1, Math.floor(json.length / 2));
  return [json.slice(0, cut), json.slice(cut)];
}

/**
 * Why the real API would refuse the request's tools or tool turns (400), as the checks a client
 * most easily fails: each tool needs a name (and OpenAI `type: "function"`, Anthropic an
 * `input_schema`); OpenAI `tool` messages must answer a call of the assistant message before
 * them; Anthropic `tool_result` blocks must answer a `tool_use` of the previous assistant turn,
 * and every `tool_use` must be answered in the next user turn.
 */
export function invalidToolRequest(api: ToolApi, body: unknown): string | undefined {
  return TOOL_CHECKS[api](body);
}

const TOOL_CHECKS: Readonly<Record<ToolApi, (body: unknown) => string | undefined>> = {
  openai: (body) => {
    const request = body as OpenAiBody;
    for (const [index, tool] of (request.tools ?? []).entries()) {
      if (tool?.type !== 'function' || typeof tool.function?.name !== 'string') {
        return `tools[${index}]: a {type: "function", function: {name, …}} object is required`;
      }
    }
    const messages = request.messages ?? [];
    let open = new Set<unknown>();
    for (const [index, message] of messages.entries()) {
      if (message?.role === 'tool') {
        if (!open.has(message.tool_call_id)) {
          return `messages[${index}]: messages with role 'tool' must be a response to a preceding message with 'tool_calls'`;
        }
        open.delete(message.tool_call_id);
        continue;
      }
      if (open.size > 0) {
        return `messages[${index}]: an assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'`;
      }
      open = new Set((message?.tool_calls ?? []).map((call) => call?.id));
    }
    return undefined;
  },
  gemini: (body) => {
    const request = body as GeminiBody;
    for (const [index, tool] of (request.tools ?? []).entries()) {
      for (const declaration of tool?.functionDeclarations ?? []) {
        if (typeof declaration?.name !== 'string') {
          return `tools[${index}].function_declarations: name is required`;
        }
      }
    }
    return undefined;
  },
  anthropic: (body) => {
    const request = body as AnthropicBody;
    for (const [index, tool] of (request.tools ?? []).entries()) {
      if (typeof tool?.name !== 'string' || typeof tool.input_schema !== 'object') {
        return `tools.${index}: name and input_schema are required`;
      }
    }
    const messages = request.messages ?? [];
    for (const [index, message] of messages.entries()) {
      const blocks = (Array.isArray(message?.content) ? message.content : []) as AnthropicBlock[];
      const previous = messages[index - 1];
      const uses = (Array.isArray(previous?.content) ? previous.content : []) as AnthropicBlock[];
      const useIds = uses.filter((b) => b?.type === 'tool_use').map((b) => b.id);
      const resultIds = blocks.filter((b) => b?.type === 'tool_result').map((b) => b.tool_use_id);
      if (resultIds.some((id) => !useIds.includes(id))) {
        return `messages.${index}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks`;
      }
      if (message?.role === 'user' && useIds.some((id) => !resultIds.includes(id))) {
        return `messages.${index}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after`;
      }
    }
    const last = messages.at(-1);
    const lastBlocks = (Array.isArray(last?.content) ? last.content : []) as AnthropicBlock[];
    if (last?.role === 'assistant' && lastBlocks.some((b) => b?.type === 'tool_use')) {
      return `messages.${messages.length - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after`;
    }
    return undefined;
  },
};
