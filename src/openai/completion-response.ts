import type { ToolCall } from '../providers/chat-provider.interface';
import type { CompletionResult } from './chat-completions.service';
import type { ChatCompletionDto } from './dto/openai-response.dto';

/** What every chunk and the response of one completion share. */
export interface CompletionIdentity {
  id: string;
  /** Unix seconds. */
  created: number;
}

/** OpenAI has no `aborted`/`error` finish reasons; those replies never reach a finished answer. */
function finishReasonOf(result: CompletionResult): string {
  if (result.toolCalls?.length) return 'tool_calls';
  return result.finishReason === 'length' || result.finishReason === 'content_filter'
    ? result.finishReason
    : 'stop';
}

/** A call in OpenAI's shape; streamed, it also carries its `index` in the reply. */
export function toOpenAiToolCall(call: ToolCall) {
  return {
    id: call.id,
    type: 'function' as const,
    function: { name: call.name, arguments: call.arguments },
  };
}

export function toChatCompletion(
  identity: CompletionIdentity,
  result: CompletionResult,
): ChatCompletionDto {
  return {
    id: identity.id,
    object: 'chat.completion',
    created: identity.created,
    model: result.model,
    choices: [
      {
        index: 0,
        // A reply of only tool calls has no content (null), as OpenAI sends it.
        message: result.toolCalls?.length
          ? {
              role: 'assistant',
              content: result.text || null,
              refusal: null,
              tool_calls: result.toolCalls.map(toOpenAiToolCall),
            }
          : { role: 'assistant', content: result.text, refusal: null },
        finish_reason: finishReasonOf(result),
        logprobs: null,
      },
    ],
    usage: result.usage,
    system_fingerprint: null,
  };
}

/** One `chat.completion.chunk`; `usage: null` on every chunk when the client asked for usage. */
export function toChunk(
  identity: CompletionIdentity,
  model: string,
  delta: {
    role?: 'assistant';
    content?: string;
    tool_calls?: (ReturnType<typeof toOpenAiToolCall> & { index: number })[];
  },
  finishReason: string | null,
  includeUsage: boolean,
): Record<string, unknown> {
  return {
    id: identity.id,
    object: 'chat.completion.chunk',
    created: identity.created,
    model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  };
}

/** The last chunk of `stream_options.include_usage`: no choices, the usage. */
export function toUsageChunk(
  identity: CompletionIdentity,
  result: CompletionResult,
): Record<string, unknown> {
  return {
    id: identity.id,
    object: 'chat.completion.chunk',
    created: identity.created,
    model: result.model,
    system_fingerprint: null,
    choices: [],
    usage: result.usage,
  };
}

export function finishChunk(
  identity: CompletionIdentity,
  result: CompletionResult,
  includeUsage: boolean,
): Record<string, unknown> {
  return toChunk(identity, result.model, {}, finishReasonOf(result), includeUsage);
}
