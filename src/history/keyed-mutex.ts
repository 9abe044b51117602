/**
 * Runs async tasks one at a time per key inside this process. The Mongo store uses it where the
 * database cannot serialise writes for it: FerretDB 1.x applies document updates as
 * read-modify-write without isolation.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.runAll([key], task);
  }

  /**
   * Runs `task` holding every key's turn at once: after the tasks queued on any of them, before
   * any queued later (it queues on all keys in one step, so it can never wait on itself).
   */
  async runAll<T>(keys: Iterable<string>, task: () => Promise<T>): Promise<T> {
    const held = [...new Set(keys)];
    const previous = held.map((key) => this.tails.get(key) ?? Promise.resolve());
    const result = Promise.all(previous).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    for (const key of held) this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      for (const key of held) if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
