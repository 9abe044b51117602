import type { SimulatedMessage } from './prompt-cache';
import type { SimulatedToolCall } from './tool-calls';

/**
 * Anthropic's Messages API on the wire (https://docs.anthropic.com/en/api/messages): the request
 * checks the real API makes, the normalised conversation, and the reply bodies and SSE events.
 */

/** API version from which temperature, top_p and top_k are refused (SDK 1.x sends it). */
const SAMPLING_REMOVED_IN = '2026-10-21';
const SAMPLING_PARAMETERS = ['temperature', 'top_p', 'top_k'];

/** The most `cache_control` marks one request may carry. */
export const ANTHROPIC_MAX_CACHE_BREAKPOINTS = 4;

/** `error.type` for each HTTP status the API answers with. */
const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export function anthropicErrorType(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** The error body of the API: `{type: "error", error: {type, message}}`. */
export function anthropicErrorBody(status: number, message: string) {
  return { type: 'error', error: { type: anthropicErrorType(status), message } };
}

interface ContentBlock {
  type?: unknown;
  text?: unknown;
  cache_control?: unknown;
}

interface AnthropicBody {
  model?: unknown;
  max_tokens?: unknown;
  system?: unknown;
  messages?: unknown;
  tools?: { cache_control?: unknown }[];
}

function blocksOf(content: unknown): ContentBlock[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return Array.isArray(content) ? (content as ContentBlock[]) : [];
}

function textOf(blocks: ContentBlock[]): string {
  return blocks.map((block) => (typeof block.text === 'string' ? block.text : '')).join('');
}

/** The conversation with the system prompt as a leading `system` message. */
export function anthropicMessages(body: unknown): SimulatedMessage[] {
  const request = body as AnthropicBody;
  const out: SimulatedMessage[] = [];
  if (request.system !== undefined) {
    out.push({ role: 'system', content: textOf(blocksOf(request.system)) });
  }
  if (!Array.isArray(request.messages)) return out;
  for (const message of request.messages as { role?: unknown; content?: unknown }[]) {
    out.push({
      role: typeof message.role === 'string' ? message.role : 'user',
      content: textOf(blocksOf(message.content)),
    });
  }
  return out;
}

/** Prefix lengths (in the normalised conversation) that end with a `cache_control` mark. */
export function anthropicCacheBreakpoints(body: unknown): number[] {
  const request = body as AnthropicBody;
  const marks: number[] = [];
  const offset = request.system === undefined ? 0 : 1;
  if (blocksOf(request.system).some((block) => block.cache_control)) marks.push(1);
  if (Array.isArray(request.messages)) {
    (request.messages as { content?: unknown }[]).forEach((message, index) => {
      if (blocksOf(message.content).some((block) => block.cache_control)) {
        marks.push(offset + index + 1);
      }
    });
  }
  return marks;
}

function cacheControlCount(request: AnthropicBody): number {
  const blocks = [
    ...blocksOf(request.system),
    ...(Array.isArray(request.messages)
      ? (request.messages as { content?: unknown }[]).flatMap((m) => blocksOf(m.content))
      : []),
    ...(Array.isArray(request.tools) ? request.tools : []),
  ];
  return blocks.filter((block) => block.cache_control).length;
}

/**
 * What the real API refuses before generating: a missing key (401: neither `x-api-key` nor
 * `Authorization: Bearer`, which SDK 1.x sends) or version header, and the body rules a client
 * most easily gets wrong (400). Undefined when the request is valid.
 */
export function anthropicRequestError(
  headers: Record<string, string | string[] | undefined>,
  body: unknown,
): { status: number; message: string } | undefined {
  if (!headers['x-api-key'] && !/^Bearer\s+\S/i.test(String(headers.authorization ?? ''))) {
    return { status: 401, message: 'x-api-key header is required' };
  }
  const version = headers['anthropic-version'];
  if (typeof version !== 'string' || !version) {
    return { status: 400, message: 'anthropic-version: header is required' };
  }
  const request = body as AnthropicBody;
  if (version >= SAMPLING_REMOVED_IN) {
    const sampling = SAMPLING_PARAMETERS.find((name) => name in (request as object));
    if (sampling) return { status: 400, message: `${sampling}: Extra inputs are not permitted` };
  }
  if (typeof request.model !== 'string') return { status: 400, message: 'model: Field required' };
  if (!Number.isInteger(request.max_tokens) || (request.max_tokens as number) < 1) {
    return { status: 400, message: 'max_tokens: Field required' };
  }
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    return { status: 400, message: 'messages: at least one message is required' };
  }
  let previous: string | undefined;
  for (const [index, message] of (request.messages as { role?: unknown }[]).entries()) {
    if (message.role !== 'user' && message.role !== 'assistant') {
      return {
        status: 400,
        message: `messages.${index}.role: Input should be 'user' or 'assistant'`,
      };
    }
    if (message.role === previous) {
      return {
        status: 400,
        message: 'messages: roles must alternate between "user" and "assistant"',
      };
    }
    previous = message.role;
  }
  const marks = cacheControlCount(request);
  if (marks > ANTHROPIC_MAX_CACHE_BREAKPOINTS) {
    return {
      status: 400,
      message: `A maximum of ${ANTHROPIC_MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${marks}.`,
    };
  }
  return undefined;
}

export interface AnthropicUsage {
  /** Prompt tokens neither read from nor written to the cache. */
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

function usageBody(usage: AnthropicUsage) {
  return {
    input_tokens: usage.inputTokens,
    cache_creation_input_tokens: usage.cacheWriteTokens,
    cache_read_input_tokens: usage.cacheReadTokens,
    output_tokens: usage.outputTokens,
  };
}

function stopReason(finish: string): string {
  if (finish === 'tool_calls') return 'tool_use';
  return finish === 'length' ? 'max_tokens' : 'end_turn';
}

function toolUse(call: SimulatedToolCall) {
  return { type: 'tool_use', id: call.id, name: call.name, input: JSON.parse(call.arguments) };
}

const MESSAGE_ID = 'msg_sim01';

export function anthropicMessage(
  model: string,
  text: string,
  finish: string,
  usage: AnthropicUsage,
  calls: readonly SimulatedToolCall[] = [],
) {
  return {
    id: MESSAGE_ID,
    type: 'message',
    role: 'assistant',
    model,
    content: calls.length > 0 ? calls.map(toolUse) : [{ type: 'text', text }],
    stop_reason: stopReason(finish),
    stop_sequence: null,
    usage: usageBody(usage),
  };
}

/** One SSE event in Anthropic's framing: a named event whose data repeats the type. */
export function anthropicEvent(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/** message_start (input usage), the text block's start (unless the reply is tool calls), a ping. */
export function anthropicStreamOpening(
  model: string,
  usage: AnthropicUsage,
  textBlock = true,
): string {
  return (
    anthropicEvent('message_start', {
      message: {
        ...anthropicMessage(model, '', 'stop', { ...usage, outputTokens: 1 }),
        content: [],
        stop_reason: null,
      },
    }) +
    (textBlock
      ? anthropicEvent('content_block_start', {
          index: 0,
          content_block: { type: 'text', text: '' },
        })
      : '') +
    anthropicEvent('ping', {})
  );
}

/**
 * One streamed `tool_use` block as the API sends it: the block's start (empty input), its input
 * JSON in `input_json_delta` pieces, and its stop; each event is one chunk.
 */
export function anthropicToolUseBlock(
  call: SimulatedToolCall,
  index: number,
  fragments: (json: string) => string[],
): string[] {
  return [
    anthropicEvent('content_block_start', {
      index,
      content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
    }),
    ...fragments(call.arguments).map((partial) =>
      anthropicEvent('content_block_delta', {
        index,
        delta: { type: 'input_json_delta', partial_json: partial },
      }),
    ),
    anthropicEvent('content_block_stop', { index }),
  ];
}

export function anthropicTextDelta(text: string): string {
  return anthropicEvent('content_block_delta', {
    index: 0,
    delta: { type: 'text_delta', text },
  });
}

/** The text block's stop (when there is one), message_delta (stop reason, output usage), message_stop. */
export function anthropicStreamClosing(
  finish: string,
  usage: AnthropicUsage,
  textBlock = true,
): string {
  return (
    (textBlock ? anthropicEvent('content_block_stop', { index: 0 }) : '') +
    anthropicEvent('message_delta', {
      delta: { stop_reason: stopReason(finish), stop_sequence: null },
      usage: { output_tokens: usage.outputTokens },
    }) +
    anthropicEvent('message_stop', {})
  );
}

/** An `error` event inside a 200 stream (the API sends `overloaded_error` this way). */
export function anthropicErrorEvent(code: number): string {
  const { error } = anthropicErrorBody(code, 'Overloaded');
  return anthropicEvent('error', { error });
}
