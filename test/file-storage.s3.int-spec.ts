import { AppConfig, type S3StorageConfig } from '@app/config';
import { baseTestEnv, closedPort, describeWithServices } from '@app/testing';
import { expectedLogs } from '@app/testing/expected-logs';
import { createTestBucket, type TestBucket } from '@app/testing/s3-bucket';
import { FileStorageUnavailableError } from '../src/files/storage/file-storage';
import { S3FileStorage } from '../src/files/storage/s3-file-storage';
import { fileStorageContract } from './file-storage.contract';

/** The S3 settings the app would read from `env` (so the config parsing is exercised too). */
function s3Config(env: Record<string, string>): S3StorageConfig {
  return AppConfig.fromEnv({ ...baseTestEnv(), ...env }).files.s3!;
}

describeWithServices(['s3'], 'FileStorage contract: S3FileStorage', () => {
  fileStorageContract(async () => {
    const bucket = await createTestBucket();
    const storage = new S3FileStorage(s3Config(bucket.env));
    return {
      storage,
      storedKeys: () => bucket.keys(),
      close: async () => {
        storage.onModuleDestroy();
        await bucket.drop();
      },
    };
  });

  describe('when the bucket does not exist', () => {
    let bucket: TestBucket;
    let storage: S3FileStorage;
    beforeAll(async () => {
      bucket = await createTestBucket();
      await bucket.drop();
      storage = new S3FileStorage(s3Config(bucket.env));
    });
    afterAll(() => storage.onModuleDestroy());

    it('reports the storage unavailable, never a missing file', async () => {
      const logs = expectedLogs('error');
      await expect(storage.put('u/f', Buffer.from('x'))).rejects.toBeInstanceOf(
        FileStorageUnavailableError,
      );
      await expect(storage.get('u/f')).rejects.toBeInstanceOf(FileStorageUnavailableError);
      logs.restore();
      expect(logs.messages).toEqual([
        expect.stringContaining('NoSuchBucket'),
        expect.stringContaining('NoSuchBucket'),
      ]);
    });
  });
});

describe('S3FileStorage with its endpoint down', () => {
  it('fails every operation with FileStorageUnavailableError (503), after the SDK retries', async () => {
    const storage = new S3FileStorage(
      s3Config({
        FILES__STORAGE: 's3',
        FILES__S3_BUCKET: 'unreachable-bucket',
        FILES__S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
        FILES__S3_ACCESS_KEY_ID: 'id',
        FILES__S3_SECRET_ACCESS_KEY: 'never-shown-secret',
      }),
    );
    const logs = expectedLogs('error');
    try {
      for (const call of [
        () => storage.put('u/f', Buffer.from('x')),
        () => storage.get('u/f'),
        () => storage.open('u/f'),
        () => storage.delete('u/f'),
      ]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(FileStorageUnavailableError);
        expect(error).toMatchObject({ status: 503, message: 'File storage unavailable' });
      }
    } finally {
      logs.restore();
      storage.onModuleDestroy();
    }
    // The cause is logged for operators, without the secret.
    expect(logs.messages).toHaveLength(4);
    expect(logs.messages[0]).toMatch(
      /^S3 put of u\/f in bucket unreachable-bucket failed: .*ECONNREFUSED/,
    );
    expect(logs.messages.join('\n')).not.toContain('never-shown-secret');
  });
});
