import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { TestApp } from '@app/testing';

/** A real 1×1 PNG (a red pixel). */
export const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

/** A minimal, well-formed one-page PDF. */
export const PDF_BYTES = Buffer.from(
  '%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n' +
    '2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n' +
    '3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>\nendobj\n' +
    'trailer\n<< /Root 1 0 R >>\n%%EOF\n',
  'latin1',
);

/** Uploads `bytes` as `name` (multipart field `file`) and returns the response. */
export function uploadFile(
  t: TestApp,
  token: string,
  name: string,
  bytes: Buffer,
  contentType?: string,
) {
  return request(t.url)
    .post('/api/files')
    .set('Authorization', `Bearer ${token}`)
    .attach('file', bytes, { filename: name, ...(contentType ? { contentType } : {}) });
}

/** Uploads and returns the new file's id (fails the test on any other status than 201). */
export async function uploadedFileId(
  t: TestApp,
  token: string,
  name: string,
  bytes: Buffer,
): Promise<string> {
  const response = await uploadFile(t, token, name, bytes).expect(201);
  return response.body.id as string;
}

/** Every regular file under a directory, recursively (paths relative to it). */
export function filesOnDisk(dir: string): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(dir, relative))) {
      const path = join(relative, entry);
      if (statSync(join(dir, path)).isDirectory()) walk(path);
      else found.push(path);
    }
  };
  walk('');
  return found;
}
