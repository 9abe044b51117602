import {
  GenerationEvent,
  GenerationEventLog,
  GenerationOwner,
  isFinalEvent,
} from './generation-event-log';

interface Entry {
  owner: GenerationOwner;
  events: GenerationEvent[];
  ended: boolean;
  /** Readers waiting for the next event. */
  waiters: Set<() => void>;
  expiry?: NodeJS.Timeout;
}

/**
 * The event log of one process. A finished generation's events are dropped after the TTL, so
 * memory holds the running generations plus the ones finished within the TTL.
 */
export class MemoryGenerationEventLog extends GenerationEventLog {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlSeconds: number) {
    super();
  }

  async open(id: string, owner: GenerationOwner): Promise<void> {
    this.entries.set(id, { owner, events: [], ended: false, waiters: new Set() });
  }

  append(id: string, event: GenerationEvent): void {
    const entry = this.entries.get(id);
    if (!entry || entry.ended) return;
    entry.events.push(event);
    if (isFinalEvent(event)) {
      entry.ended = true;
      entry.expiry = setTimeout(() => this.forget(id, entry), this.ttlSeconds * 1000);
      entry.expiry.unref();
    }
    this.wake(entry);
  }

  async interrupt(id: string, final: Omit<GenerationEvent, 'seq'>): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry || entry.ended) return;
    this.append(id, { ...final, seq: entry.events.length + 1 });
  }

  async owner(id: string): Promise<GenerationOwner | null> {
    return this.entries.get(id)?.owner ?? null;
  }

  async *read(id: string, after: number, signal?: AbortSignal): AsyncIterable<GenerationEvent> {
    const entry = this.entries.get(id);
    if (!entry) return;
    // One abort listener for the whole read: it wakes the reader's current wait, if any.
    let waiting: (() => void) | undefined;
    let aborted = signal?.aborted ?? false;
    const onAbort = () => {
      aborted = true;
      waiting?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Sequences are 1, 2, 3…: the event after `last` is at index `last`.
      let last = Math.max(0, after);
      while (!aborted) {
        if (last < entry.events.length) {
          yield entry.events[last];
          last++;
          // More may have come while the consumer held this one.
          continue;
        }
        if (entry.ended || this.entries.get(id) !== entry) return;
        await new Promise<void>((resolve) => {
          waiting = () => {
            entry.waiters.delete(waiting!);
            waiting = undefined;
            resolve();
          };
          entry.waiters.add(waiting);
        });
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (waiting) entry.waiters.delete(waiting);
    }
  }

  async close(): Promise<void> {
    for (const [id, entry] of this.entries) this.forget(id, entry);
  }

  private forget(id: string, entry: Entry): void {
    clearTimeout(entry.expiry);
    if (this.entries.get(id) === entry) this.entries.delete(id);
    entry.ended = true;
    this.wake(entry);
  }

  private wake(entry: Entry): void {
    if (entry.waiters.size === 0) return;
    for (const wake of [...entry.waiters]) wake();
  }
}
