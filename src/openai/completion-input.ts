import type {
  ChatRole,
  ProviderMessage,
  ToolChoice,
  ToolDefinition,
} from '../providers/chat-provider.interface';
import {
  invalidField as invalid,
  linkToolResults,
  parseToolCalls,
  parseToolChoice,
  parseTools,
} from './completion-tools';
import type { ChatCompletionRequestDto } from './dto/chat-completion-request.dto';

/** Most stop sequences per request (OpenAI's limit) and their longest length. */
const MAX_STOPS = 4;
const MAX_STOP_CHARS = 200;

const ROLES: Record<string, ChatRole> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
  tool: 'tool',
};

/** A `/v1/chat/completions` request after validation, in the app's own terms. */
export interface CompletionInput {
  model: string;
  messages: ProviderMessage[];
  stream: boolean;
  includeUsage: boolean;
  temperature?: number;
  maxTokens?: number;
  stops: string[];
  store: boolean;
  /** The caller's functions; absent when none. Server-side tools are never offered on /v1. */
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
}

/** Checks what the DTO cannot (message shapes, `stop`) and returns the request; 400 otherwise. */
export function toCompletionInput(dto: ChatCompletionRequestDto): CompletionInput {
  const messages = dto.messages.map((message, index) => toProviderMessage(message, index));
  linkToolResults(messages);
  const tools = parseTools(dto.tools);
  const toolChoice = parseToolChoice(dto.tool_choice, tools);
  return {
    model: dto.model,
    messages,
    stream: dto.stream ?? false,
    includeUsage: dto.stream_options?.include_usage ?? false,
    temperature: dto.temperature ?? undefined,
    maxTokens: dto.max_completion_tokens ?? dto.max_tokens ?? undefined,
    stops: parseStops(dto.stop),
    store: dto.store ?? false,
    ...(tools ? { tools } : {}),
    ...(toolChoice ? { toolChoice } : {}),
  };
}

function toProviderMessage(value: unknown, index: number): ProviderMessage {
  const field = `messages[${index}]`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(field, 'must be an object with role and content');
  }
  const { role, content, tool_calls, tool_call_id } = value as Record<string, unknown>;
  if (typeof role !== 'string' || !Object.hasOwn(ROLES, role)) {
    throw invalid(`${field}.role`, 'must be one of: system, developer, user, assistant, tool');
  }
  if (role === 'tool') {
    if (typeof tool_call_id !== 'string' || tool_call_id.length === 0) {
      throw invalid(`${field}.tool_call_id`, 'is required on a tool message');
    }
    return { role: 'tool', content: textOf(content, `${field}.content`), toolCallId: tool_call_id };
  }
  if (role === 'assistant') {
    const toolCalls = parseToolCalls(tool_calls, `${field}.tool_calls`);
    if (toolCalls) {
      // An assistant message that only calls functions has no content (null).
      const text =
        content === null || content === undefined ? '' : textOf(content, `${field}.content`);
      return { role: 'assistant', content: text, toolCalls };
    }
  }
  return { role: ROLES[role], content: textOf(content, `${field}.content`) };
}

/** A string, or text parts joined; anything else (images, audio, null) is refused. */
function textOf(content: unknown, field: string): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown, index) => {
        const { type, text } = (part ?? {}) as { type?: unknown; text?: unknown };
        if (type !== 'text' || typeof text !== 'string') {
          throw invalid(
            `${field}[${index}]`,
            'must be a text part {"type": "text", "text": "..."}',
          );
        }
        return text;
      })
      .join('');
  }
  throw invalid(field, 'must be a string or an array of text parts');
}

function parseStops(stop: unknown): string[] {
  if (stop === undefined || stop === null) return [];
  const stops = typeof stop === 'string' ? [stop] : stop;
  if (
    !Array.isArray(stops) ||
    stops.length > MAX_STOPS ||
    !stops.every((s) => typeof s === 'string' && s.length > 0 && s.length <= MAX_STOP_CHARS)
  ) {
    throw invalid(
      'stop',
      `must be a string or an array of 1 to ${MAX_STOPS} non-empty strings of at most ${MAX_STOP_CHARS} characters`,
    );
  }
  return stops as string[];
}
