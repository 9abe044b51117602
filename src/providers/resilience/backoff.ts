/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
 * Jitter"): the n-th retry waits a uniformly random time in [0, min(cap, base * 2^(n-1))].
 * Full jitter spreads retries of many clients so they do not hit a recovering provider together.
 */
export function fullJitterBackoff(
  retry: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, retry - 1);
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(exponent, 30));
  return Math.floor(random() * ceiling);
}

/**
 * The wait before a retry: the provider's Retry-After when it sent one (capped at `capMs`, so a
 * huge value cannot hang a request), else full-jitter backoff.
 */
export function retryDelay(
  retry: number,
  retryAfterMs: number | undefined,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(0, retryAfterMs), capMs);
  return fullJitterBackoff(retry, baseMs, capMs, random);
}
