import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Logger, type OnModuleDestroy } from '@nestjs/common';
import type { S3StorageConfig } from '@app/config';
import {
  assertSafeStorageKey,
  FileContentMissingError,
  FileStorageUnavailableError,
  type FileStorage,
  type OpenedContent,
} from './file-storage';

/** Time allowed to open a connection to the S3 endpoint before the attempt counts as failed. */
const CONNECT_TIMEOUT_MS = 5_000;
/** Longest silence on an S3 connection (a stalled upload or download). */
const SOCKET_TIMEOUT_MS = 30_000;
/** Attempts per call, the SDK's own retry with backoff included (outage → 503 after these). */
const MAX_ATTEMPTS = 3;

/**
 * Files in an S3 bucket (FILES__STORAGE=s3) through the official AWS SDK v3: AWS S3 itself or an
 * S3-compatible service (FILES__S3_ENDPOINT: MinIO, Ceph, R2…). One object per key, written by a
 * single PutObject, so a reader never sees a partial file. Any failure other than a missing key
 * is the storage being unavailable (503); its cause is logged, never sent to the client.
 */
export class S3FileStorage implements FileStorage, OnModuleDestroy {
  private readonly logger = new Logger(S3FileStorage.name);
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(config: S3StorageConfig) {
    this.bucket = config.bucket;
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      credentials: config.accessKeyId
        ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey ?? '' }
        : undefined,
      // Checksums only where an operation requires them: S3-compatible servers do not all accept
      // the aws-chunked trailing checksums SDK v3 otherwise adds to every upload.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: MAX_ATTEMPTS,
      requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: SOCKET_TIMEOUT_MS },
    });
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    assertSafeStorageKey(key);
    await this.send('put', key, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentLength: bytes.length,
          ContentType: 'application/octet-stream',
        }),
      ),
    );
  }

  async get(key: string): Promise<Buffer> {
    const object = await this.getObject(key);
    const body = await this.send('get', key, () => object.Body!.transformToByteArray());
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }

  async open(key: string): Promise<OpenedContent> {
    const object = await this.getObject(key);
    // In Node.js the SDK's streaming body is the HTTP response, a Readable.
    return { stream: object.Body as Readable, sizeBytes: object.ContentLength };
  }

  async delete(key: string): Promise<void> {
    assertSafeStorageKey(key);
    // S3 answers a delete of a missing key with success, as the port requires.
    await this.send('delete', key, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
    );
  }

  onModuleDestroy(): void {
    this.client.destroy();
  }

  private async getObject(key: string): Promise<GetObjectCommandOutput> {
    assertSafeStorageKey(key);
    const object = await this.send('get', key, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })),
    );
    if (!object.Body) throw new FileContentMissingError(key);
    return object;
  }

  /** Runs one S3 call: a missing key is FileContentMissingError, any other failure a 503. */
  private async send<T>(operation: string, key: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isMissingKey(error)) throw new FileContentMissingError(key);
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.logger.error(`S3 ${operation} of ${key} in bucket ${this.bucket} failed: ${reason}`);
      throw new FileStorageUnavailableError();
    }
  }
}

function isMissingKey(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404) &&
    error.name !== 'NoSuchBucket'
  );
}
