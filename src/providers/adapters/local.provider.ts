import type {
  ChatProvider,
  FinishReason,
  ModelInfo,
  ProviderCompletion,
  ProviderRequest,
  ProviderStreamEvent,
} from '../chat-provider.interface';
import { GenerationAbortedError } from '../provider.errors';
import { countTokens, estimateUsage } from '../token-counter';

/**
 * The built-in offline provider: answers without any network, so the app works with no key.
 * Its reply says plainly what it is and reflects the user's last message; it is deterministic,
 * streams word by word with a configurable pause and counts usage with the same estimate the
 * context builder uses. It offers no tool calling: tools in a request are ignored and it answers
 * in text as always.
 */
export class LocalProvider implements ChatProvider {
  readonly name = 'local';
  readonly callsTools = false;

  constructor(private readonly delayMs: number) {}

  listModels(): ModelInfo[] {
    return [{ id: 'local/echo', provider: this.name, contextWindow: 32_768 }];
  }

  supportsModel(model: string): boolean {
    return model === 'echo';
  }

  async complete(request: ProviderRequest): Promise<ProviderCompletion> {
    throwIfAborted(request.signal);
    request.onResponse?.();
    const { words, finishReason } = this.reply(request);
    const text = words.join('');
    return {
      text,
      model: `local/${request.model}`,
      usage: estimateUsage(request.messages, text),
      finishReason,
    };
  }

  async *stream(request: ProviderRequest): AsyncIterable<ProviderStreamEvent> {
    throwIfAborted(request.signal);
    request.onResponse?.();
    const { words, finishReason } = this.reply(request);
    let text = '';
    for (let i = 0; i < words.length; i++) {
      if (i > 0 && this.delayMs > 0) await sleep(this.delayMs, request.signal);
      throwIfAborted(request.signal);
      text += words[i];
      yield { type: 'delta', text: words[i] };
    }
    yield { type: 'done', usage: estimateUsage(request.messages, text), finishReason };
  }

  /** The reply split into words (each keeps its trailing space), cut at `maxTokens`. */
  private reply(request: ProviderRequest): { words: string[]; finishReason: FinishReason } {
    const lastUser = [...request.messages].reverse().find((message) => message.role === 'user');
    const said = lastUser?.content.trim() ?? '';
    const text = said
      ? `This is the built-in local provider (no AI service is configured), so I can only reflect your message. You said: "${said}"`
      : 'This is the built-in local provider (no AI service is configured). Your message was empty; say something and I will reflect it.';
    const words = text.match(/\S+\s*/g) ?? [];
    if (request.maxTokens === undefined) return { words, finishReason: 'stop' };
    const kept: string[] = [];
    let tokens = 0;
    for (const word of words) {
      tokens += countTokens(word);
      if (tokens > request.maxTokens) return { words: kept, finishReason: 'length' };
      kept.push(word);
    }
    return { words: kept, finishReason: 'stop' };
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new GenerationAbortedError();
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new GenerationAbortedError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new GenerationAbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
