import type { Response } from 'express';
import { ChatEvent, eventPayload } from './chat-events';
import type { GenerationEvent } from './generations/generation-event-log';

/**
 * Writes Server-Sent Events on a raw Express response: the streaming headers (no proxy
 * buffering, no transformation), one `id:` per event (the generation's sequence number, which a
 * resume takes as `Last-Event-ID`), and `: ping` comment
 * heartbeats so idle connections survive proxies while the model thinks.
 */
export class SseWriter {
  private heartbeat: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly res: Response,
    private readonly heartbeatMs: number,
  ) {
    // A flag read per event instead of the response's own state: on an Express response those
    // getters cost more than the rest of a write's JavaScript (measured in bench/resume.ts).
    this.ended = res.writableEnded || res.destroyed;
    res.once('close', () => {
      this.ended = true;
      this.stopHeartbeat();
    });
  }

  /**
   * Sends the headers at once, so the client sees the stream open before the first token. Corked
   * until the end of this tick: events written right after open() leave in the same TCP segment
   * as the headers (one write instead of two).
   */
  open(): void {
    this.res.cork();
    process.nextTick(() => this.res.uncork());
    this.res.status(200);
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache, no-transform');
    this.res.setHeader('Connection', 'keep-alive');
    this.res.setHeader('X-Accel-Buffering', 'no');
    this.res.flushHeaders();
    this.res.socket?.setNoDelay(true);
    this.heartbeat = setInterval(() => this.comment('ping'), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Ended by end(), or the connection closed. */
  get closed(): boolean {
    return this.ended;
  }

  /** Writes one chat event as `id` (its sequence), `event` and a single-line JSON `data` field. */
  send(event: ChatEvent, seq: number): void {
    this.sendEvent({ seq, type: event.type, data: eventPayload(event) });
  }

  /** Writes an event as stored in the generation's log (a resume). */
  sendEvent(event: GenerationEvent): void {
    if (this.closed) return;
    const data = JSON.stringify(event.data);
    this.res.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${data}\n\n`);
  }

  /** Writes a bare `data:` line (no `id`/`event`), as OpenAI-style streams do. */
  data(json: string): void {
    if (this.closed) return;
    this.res.write(`data: ${json}\n\n`);
  }

  comment(text: string): void {
    if (this.closed) return;
    this.res.write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
  }

  end(): void {
    this.stopHeartbeat();
    if (this.closed) return;
    this.ended = true;
    this.res.end();
  }

  stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
