import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { FileContentMissingError, type FileStorage } from './file-storage';

/** Path segments of letters, digits, `-` and `_` only: no `..`, no absolute paths, no dots. */
const SAFE_KEY = /^[A-Za-z0-9_-]{1,100}(\/[A-Za-z0-9_-]{1,100}){0,3}$/;

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
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new FileContentMissingError(key);
      }
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  /** The key's path under the root; refuses anything that is not a plain relative key. */
  private pathOf(key: string): string {
    if (!SAFE_KEY.test(key)) throw new Error(`Unsafe file storage key "${key}"`);
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new Error(`Unsafe file storage key "${key}"`);
    return path;
  }
}
