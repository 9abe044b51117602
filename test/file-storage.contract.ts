import { randomBytes, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FileContentMissingError, type FileStorage } from '../src/files/storage/file-storage';

/** One FileStorage on an empty location, and how to remove that location. */
export interface FileStorageHarness {
  storage: FileStorage;
  /** Every key that holds bytes, as the backend itself lists them (directory walk, ListObjects). */
  storedKeys(): Promise<string[]>;
  close(): Promise<void>;
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The behaviour every FileStorage must have. Call inside a `describe` (one per implementation);
 * `open` builds the storage on a fresh location and is called once for the whole suite.
 */
export function fileStorageContract(open: () => Promise<FileStorageHarness>): void {
  let harness: FileStorageHarness;
  let storage: FileStorage;
  const newKey = () => `user-${randomUUID()}/${randomUUID()}`;

  beforeAll(async () => {
    harness = await open();
    storage = harness.storage;
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('stores bytes under a key and gives the same bytes back, whole and as a stream', async () => {
    const key = newKey();
    // Every byte value, so no layer may treat the content as text.
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await storage.put(key, bytes);
    expect(Buffer.compare(await storage.get(key), bytes)).toBe(0);
    const opened = await storage.open(key);
    expect(opened.sizeBytes).toBe(bytes.length);
    expect(Buffer.compare(await drain(opened.stream), bytes)).toBe(0);
    expect(await harness.storedKeys()).toContain(key);
  });

  it('streams a large file intact', async () => {
    const key = newKey();
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    await storage.put(key, bytes);
    const opened = await storage.open(key);
    expect(opened.sizeBytes).toBe(bytes.length);
    expect(Buffer.compare(await drain(opened.stream), bytes)).toBe(0);
  });

  it('replaces the bytes of a key written again', async () => {
    const key = newKey();
    await storage.put(key, Buffer.from('first version, longer'));
    await storage.put(key, Buffer.from('second'));
    expect((await storage.get(key)).toString()).toBe('second');
  });

  it('deletes a key, twice without error, after which get and open fail as missing', async () => {
    const key = newKey();
    await storage.put(key, Buffer.from('bytes'));
    await storage.delete(key);
    await storage.delete(key);
    await expect(storage.get(key)).rejects.toBeInstanceOf(FileContentMissingError);
    await expect(storage.open(key)).rejects.toBeInstanceOf(FileContentMissingError);
    expect(await harness.storedKeys()).not.toContain(key);
  });

  it('reports a key never written as missing', async () => {
    await expect(storage.get(newKey())).rejects.toBeInstanceOf(FileContentMissingError);
    await expect(storage.open(newKey())).rejects.toBeInstanceOf(FileContentMissingError);
  });

  it.each(['../escape', '/etc/passwd', 'a/../../b', 'a/./b', 'a\\b', '', 'a//b', 'a/b.txt'])(
    'refuses the unsafe key %p',
    async (key) => {
      await expect(storage.put(key, Buffer.from('x'))).rejects.toThrow(/Unsafe file storage key/);
      await expect(storage.get(key)).rejects.toThrow(/Unsafe file storage key/);
      await expect(storage.open(key)).rejects.toThrow(/Unsafe file storage key/);
      await expect(storage.delete(key)).rejects.toThrow(/Unsafe file storage key/);
    },
  );
}
