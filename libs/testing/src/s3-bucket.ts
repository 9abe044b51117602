import { randomUUID } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { serviceUrl } from './services';

/** A bucket of its own on the test S3 server (TEST_S3_ENDPOINT), for one suite or app. */
export interface TestBucket {
  name: string;
  /** The app settings that store files in this bucket. */
  env: Record<string, string>;
  /** Every key in the bucket, listed by the S3 API itself (not through the app). */
  keys(): Promise<string[]>;
  /** Empties and removes the bucket. */
  drop(): Promise<void>;
}

/** Credentials for the test server; it does not check signatures, but the SDK needs some. */
function testCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return {
    accessKeyId: process.env.TEST_S3_ACCESS_KEY_ID || 'test-access-key',
    secretAccessKey: process.env.TEST_S3_SECRET_ACCESS_KEY || 'test-secret-access-key',
  };
}

/** Creates a fresh bucket on the server at TEST_S3_ENDPOINT (which must be set). */
export async function createTestBucket(): Promise<TestBucket> {
  const endpoint = serviceUrl('s3');
  if (!endpoint) throw new Error('TEST_S3_ENDPOINT is not set');
  const region = process.env.TEST_S3_REGION || 'us-east-1';
  const credentials = testCredentials();
  const client = new S3Client({ endpoint, region, credentials, forcePathStyle: true });
  const name = `chatbot-test-${randomUUID()}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  const keys = async () => {
    const listed: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: name, ContinuationToken: token }),
      );
      listed.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return listed;
  };
  return {
    name,
    env: {
      FILES__STORAGE: 's3',
      FILES__S3_BUCKET: name,
      FILES__S3_ENDPOINT: endpoint,
      FILES__S3_REGION: region,
      FILES__S3_ACCESS_KEY_ID: credentials.accessKeyId,
      FILES__S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    keys,
    drop: async () => {
      for (const key of await keys()) {
        await client.send(new DeleteObjectCommand({ Bucket: name, Key: key }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: name }));
      client.destroy();
    },
  };
}
