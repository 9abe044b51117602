import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import {
  assertSafeStorageKey,
  FileContentMissingError,
  type FileStorage,
  type OpenedContent,
} from './file-storage';

/**
 * Files in a local directory (FILES__DIR), one file per key. Writes go to a temporary file in the
 * same directory and are renamed into place, so a crash never leaves half a file under a key.
 */
export class LocalDirectoryFileStorage implements FileStorage {
  private readonly root: string;

  constructor(dir: string) {
    this.root = resolve(dir);
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${randomUUID()}.tmp`;
    try {
      await writeFile(temporary, bytes, { flag: 'wx', mode: 0o600 });
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Buffer> {
    return this.missingAsError(key, () => readFile(this.pathOf(key)));
  }

  async open(key: string): Promise<OpenedContent> {
    const handle = await this.missingAsError(key, () => open(this.pathOf(key), 'r'));
    try {
      const { size } = await handle.stat();
      return { stream: handle.createReadStream(), sizeBytes: size };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  private async missingAsError<T>(key: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new FileContentMissingError(key);
      }
      throw error;
    }
  }

  /** The key's path under the root; refuses anything that is not a plain relative key. */
  private pathOf(key: string): string {
    assertSafeStorageKey(key);
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new Error(`Unsafe file storage key "${key}"`);
    return path;
  }
}
