import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { LocalDirectoryFileStorage } from '../src/files/storage/local-directory-file-storage';
import { filesOnDisk } from './factories/file.factory';
import { fileStorageContract } from './file-storage.contract';

describe('FileStorage contract: LocalDirectoryFileStorage', () => {
  fileStorageContract(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'file-storage-'));
    const root = join(dir, 'files');
    return {
      storage: new LocalDirectoryFileStorage(root),
      storedKeys: async () => filesOnDisk(root).map((path) => path.split(sep).join('/')),
      close: async () => rmSync(dir, { recursive: true, force: true }),
    };
  });
});
