import type { ProviderRequest } from '../chat-provider.interface';

/**
 * Awaits the SDK call that opens a reply (the whole reply, or a stream once its headers came):
 * a failure comes out normalised by `normalize`, a success is signalled to the resilience layer
 * (`onResponse`, which stops the connect timer).
 */
export async function openUpstream<T>(
  request: ProviderRequest,
  normalize: (error: unknown, signal: AbortSignal | undefined) => Error,
  open: () => Promise<T>,
): Promise<T> {
  let opened: T;
  try {
    opened = await open();
  } catch (error) {
    throw normalize(error, request.signal);
  }
  request.onResponse?.();
  return opened;
}
