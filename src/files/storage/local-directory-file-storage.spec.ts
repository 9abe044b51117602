import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileContentMissingError } from './file-storage';
import { LocalDirectoryFileStorage } from './local-directory-file-storage';

describe(LocalDirectoryFileStorage.name, () => {
  let dir: string;
  let sut: LocalDirectoryFileStorage;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'file-storage-'));
    sut = new LocalDirectoryFileStorage(join(dir, 'files'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stores, reads and deletes by key, leaving no temporary file behind', async () => {
    await sut.put('user-1/file-1', Buffer.from('bytes'));
    await expect(sut.get('user-1/file-1')).resolves.toEqual(Buffer.from('bytes'));
    expect(readdirSync(join(dir, 'files', 'user-1'))).toEqual(['file-1']);
    await sut.delete('user-1/file-1');
    await sut.delete('user-1/file-1');
    await expect(sut.get('user-1/file-1')).rejects.toBeInstanceOf(FileContentMissingError);
  });
  // The behaviour shared with S3FileStorage (unsafe keys, streams…): test/file-storage.contract.ts.
});
