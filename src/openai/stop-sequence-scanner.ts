/**
 * Applies OpenAI `stop` sequences to a streamed reply on the server, the same for every provider:
 * text is released as soon as it can no longer be the start of a stop sequence, and everything
 * from the first stop sequence on is dropped.
 */
export class StopSequenceScanner {
  private held = '';
  private stoppedAt = false;
  private readonly longest: number;

  constructor(private readonly stops: readonly string[]) {
    this.longest = Math.max(0, ...stops.map((stop) => stop.length));
  }

  /** True once a stop sequence was seen: the caller ends the generation. */
  get stopped(): boolean {
    return this.stoppedAt;
  }

  /** The text of `chunk` that is safe to send now. */
  push(chunk: string): string {
    if (this.stoppedAt) return '';
    if (!this.longest) return chunk;
    const text = this.held + chunk;
    let cut = -1;
    for (const stop of this.stops) {
      const at = text.indexOf(stop);
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut !== -1) {
      this.stoppedAt = true;
      this.held = '';
      return text.slice(0, cut);
    }
    // Keep back the longest tail that could still grow into a stop sequence.
    let keep = Math.min(this.longest - 1, text.length);
    while (keep > 0 && !this.stops.some((stop) => stop.startsWith(text.slice(-keep)))) keep--;
    this.held = keep ? text.slice(-keep) : '';
    return keep ? text.slice(0, -keep) : text;
  }

  /** What is still held back when the reply ends without a stop sequence. */
  flush(): string {
    const rest = this.stoppedAt ? '' : this.held;
    this.held = '';
    return rest;
  }
}
