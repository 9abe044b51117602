/* eslint-disable @typescript-eslint/no-explicit-any -- test clients hand parsed JSON to assertions, like supertest's res.body */
import {
  request as httpRequest,
  IncomingHttpHeaders,
  IncomingMessage,
  ClientRequest,
} from 'node:http';

/** One parsed server-sent event. */
export interface SseEvent {
  id?: string;
  event: string;
  /** `data` parsed as JSON when possible, else the raw string. */
  data: any;
}

/**
 * An incremental text/event-stream parser (WHATWG rules that matter here: `field: value` lines,
 * one optional space after the colon, multi-line `data`, `:` comments, blank line dispatches).
 */
export class SseParser {
  private buffer = '';
  private id: string | undefined;
  private event: string | undefined;
  private data: string[] = [];

  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    private readonly onComment: (text: string) => void = () => undefined,
  ) {}

  feed(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const length = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0 || this.event !== undefined) {
        const raw = this.data.join('\n');
        let data: unknown = raw;
        try {
          data = JSON.parse(raw);
        } catch {
          // Plain-text data stays a string.
        }
        this.onEvent({ id: this.id, event: this.event ?? 'message', data });
      }
      this.event = undefined;
      this.data = [];
      return;
    }
    if (line.startsWith(':')) {
      this.onComment(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
  }
}

export interface SseRequestOptions {
  token?: string;
  headers?: Record<string, string>;
}

/** A streamed POST: either an event stream (`events`) or an ordinary JSON answer (`json`). */
export interface SseStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed body when the answer is not text/event-stream. */
  json?: any;
  /** Events received so far (grows while the stream is open). */
  events: SseEvent[];
  /** Comment lines received so far (heartbeats: `ping`). */
  comments: string[];
  /** Resolves with the first event of that type (already received or still to come). */
  waitFor(type: string, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves when the server ended the stream, with every event. */
  finished: Promise<SseEvent[]>;
  /** Closes the connection from the client side (a disconnecting browser). */
  close(): void;
}

/** POSTs a JSON body and reads the answer as a server-sent event stream, without buffering. */
export function postSse(
  baseUrl: string,
  path: string,
  body: unknown,
  options: SseRequestOptions = {},
): Promise<SseStream> {
  return requestSse(
    'POST',
    baseUrl,
    path,
    typeof body === 'string' ? body : JSON.stringify(body),
    options,
  );
}

/** GETs an event stream (a resume), e.g. with a `Last-Event-ID` header in `options.headers`. */
export function getSse(
  baseUrl: string,
  path: string,
  options: SseRequestOptions = {},
): Promise<SseStream> {
  return requestSse('GET', baseUrl, path, '', options);
}

function requestSse(
  method: 'GET' | 'POST',
  baseUrl: string,
  path: string,
  payload: string,
  options: SseRequestOptions,
): Promise<SseStream> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req: ClientRequest = httpRequest(url, {
      method,
      headers: {
        ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}),
        Accept: 'text/event-stream',
        'Content-Length': Buffer.byteLength(payload),
        ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
    });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      res.setEncoding('utf8');
      const isStream = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
      if (!isStream) {
        let text = '';
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: unknown = text;
          try {
            json = JSON.parse(text);
          } catch {
            // Not JSON: keep the text.
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            json,
            events: [],
            comments: [],
            waitFor: () => Promise.reject(new Error(`Not an event stream (${res.statusCode})`)),
            finished: Promise.resolve([]),
            close: () => req.destroy(),
          });
        });
        return;
      }
      const events: SseEvent[] = [];
      const comments: string[] = [];
      const waiters: { type: string; resolve: (event: SseEvent) => void }[] = [];
      const parser = new SseParser(
        (event) => {
          events.push(event);
          for (const waiter of waiters.filter((w) => w.type === event.event)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(event);
          }
        },
        (comment) => comments.push(comment),
      );
      res.on('data', (chunk: string) => parser.feed(chunk));
      const finished = new Promise<SseEvent[]>((done) => {
        res.on('end', () => done(events));
        res.on('close', () => done(events));
        res.on('error', () => done(events));
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        finished,
        close: () => {
          res.destroy();
          req.destroy();
        },
        waitFor: (type, timeoutMs = 10_000) => {
          const seen = events.find((event) => event.event === type);
          if (seen) return Promise.resolve(seen);
          return new Promise((resolveEvent, rejectEvent) => {
            const timer = setTimeout(
              () => rejectEvent(new Error(`No "${type}" event within ${timeoutMs} ms`)),
              timeoutMs,
            );
            waiters.push({
              type,
              resolve: (event) => {
                clearTimeout(timer);
                resolveEvent(event);
              },
            });
          });
        },
      });
    });
    req.end(payload);
  });
}
