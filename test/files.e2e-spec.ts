import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  closedPort,
  describeE2e,
  describeOnSqliteOnly,
  describeOnSqliteWithServices,
  type LoggedInUser,
  type ProviderSimulator,
  registerAndLogin,
  startAppWithSimulator,
  startTestApp,
  type TestApp,
} from '@app/testing';
import { expectedLogs } from '@app/testing/expected-logs';
import { createTestBucket, type TestBucket } from '@app/testing/s3-bucket';
import { StoredFile } from '../src/files/entities/stored-file.entity';
import {
  filesOnDisk,
  PDF_BYTES,
  PNG_1X1,
  uploadedFileId,
  uploadFile,
} from './factories/file.factory';

const MAX_BYTES = 4096;
const QUOTA_BYTES = 10_000;

/**
 * `/api/files`: uploads sniffed by content, owner-only reads, limits, and erasure from the
 * storage, checked behind the app's back: the directory walked, or the bucket listed over S3.
 */
function filesApiSuite(storage: 'local' | 's3'): void {
  let t: TestApp;
  let bucket: TestBucket | undefined;
  let alice: LoggedInUser;
  let bob: LoggedInUser;
  const auth = (user: LoggedInUser) => ({ Authorization: `Bearer ${user.token}` });
  /** Every stored key (`<user id>/<file id>`), as the storage itself lists them. */
  const storedKeys = async (): Promise<string[]> =>
    bucket
      ? bucket.keys()
      : filesOnDisk(t.config.files.dir).map((path) => path.split(sep).join('/'));

  beforeAll(async () => {
    bucket = storage === 's3' ? await createTestBucket() : undefined;
    t = await startTestApp({
      FILES__MAX_BYTES: String(MAX_BYTES),
      FILES__USER_QUOTA_BYTES: String(QUOTA_BYTES),
      RATE_LIMIT__AUTH_PER_MINUTE: '1000',
      ...bucket?.env,
    });
    alice = await registerAndLogin(t.url);
    bob = await registerAndLogin(t.url);
  });
  afterAll(async () => {
    await t?.close();
    await bucket?.drop();
  });

  it(`keeps the bytes in the ${storage === 's3' ? 'S3 bucket' : 'local directory'}`, async () => {
    const id = await uploadedFileId(t, alice.token, 'where.md', Buffer.from('# here'));
    expect(t.config.files.storage).toBe(storage);
    expect(await storedKeys()).toContain(`${alice.id}/${id}`);
    await request(t.url).delete(`/api/files/${id}`).set(auth(alice)).expect(204);
  });

  it('stores an image, sniffed from its content, and serves it back to its owner only', async () => {
    // The client claims text/plain: the content decides.
    const created = await uploadFile(t, alice.token, 'pixel.png', PNG_1X1, 'text/plain').expect(
      201,
    );
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'pixel.png',
      media_type: 'image/png',
      size_bytes: PNG_1X1.length,
      created_at: expect.stringMatching(/Z$/),
    });

    const read = await request(t.url)
      .get(`/api/files/${created.body.id}`)
      .set(auth(alice))
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(Buffer.compare(read.body as Buffer, PNG_1X1)).toBe(0);
    expect(read.headers['content-type']).toBe('image/png');
    expect(read.headers['x-content-type-options']).toBe('nosniff');
    expect(read.headers['content-disposition']).toBe(
      `inline; filename="pixel.png"; filename*=UTF-8''pixel.png`,
    );
    expect(read.headers['content-security-policy']).toContain("default-src 'none'");

    for (const method of ['get', 'delete'] as const) {
      const other = await request(t.url)[method](`/api/files/${created.body.id}`).set(auth(bob));
      expect(other.status).toBe(404);
      expect(other.body).toEqual({ detail: 'File not found' });
    }
    await request(t.url).get('/api/files/not-a-uuid').set(auth(alice)).expect(404);
    await request(t.url).get(`/api/files/${created.body.id}`).expect(401);
  });

  it('accepts the text types as UTF-8, keeps a UTF-8 name, and serves text as an attachment', async () => {
    const cases: [string, string, string][] = [
      ['notes.md', '# Títle\n\n- one\n', 'text/markdown'],
      ['data.csv', 'a,b\n1,2\n', 'text/csv'],
      ['config.json', '{"ok": true}', 'application/json'],
      ['résumé.txt', 'plain text ✓', 'text/plain'],
    ];
    for (const [name, text, mediaType] of cases) {
      const created = await uploadFile(t, alice.token, name, Buffer.from(text)).expect(201);
      expect(created.body).toMatchObject({ name, media_type: mediaType });
      const read = await request(t.url).get(`/api/files/${created.body.id}`).set(auth(alice));
      expect(read.status).toBe(200);
      expect(read.headers['content-type']).toBe(`${mediaType}; charset=utf-8`);
      expect(read.headers['content-disposition']).toMatch(/^attachment; /);
      expect(read.text).toBe(text);
      await request(t.url).delete(`/api/files/${created.body.id}`).set(auth(alice)).expect(204);
    }
  });

  it('refuses a name whose extension contradicts the content, and types not accepted (415)', async () => {
    const cases: [string, Buffer, string][] = [
      [
        'photo.png',
        PDF_BYTES,
        "The file name's extension .png does not match its content (application/pdf)",
      ],
      [
        'notes.txt',
        PNG_1X1,
        "The file name's extension .txt does not match its content (image/png)",
      ],
      [
        'report.pdf',
        Buffer.from('just text'),
        "The file name's extension .pdf does not match its content (text/plain)",
      ],
      [
        'page.html',
        Buffer.from('<p>hi</p>'),
        'Files named .html are not accepted; accepted: png, jpeg, webp, gif, pdf, txt, md, csv, json',
      ],
      [
        'blob.txt',
        Buffer.from([0x61, 0x62, 0xc3, 0x28, 0x0a]),
        'The file is neither a supported binary type nor UTF-8 text; accepted: png, jpeg, webp, gif, pdf, txt, md, csv, json',
      ],
      // A ZIP archive: recognised, but not an accepted type.
      [
        'archive.png',
        Buffer.from('504b0304140000000800', 'hex'),
        'Unsupported file type application/zip; accepted: png, jpeg, webp, gif, pdf, txt, md, csv, json',
      ],
    ];
    for (const [name, bytes, detail] of cases) {
      const response = await uploadFile(t, alice.token, name, bytes);
      expect({ name, status: response.status, body: response.body }).toEqual({
        name,
        status: 415,
        body: { detail },
      });
    }
    const listed = (await request(t.url).get('/api/files').set(auth(alice))).body.items;
    const refusedNames = cases.map(([name]) => name);
    expect(listed.filter((file: { name: string }) => refusedNames.includes(file.name))).toEqual([]);
  });

  it('answers 400 for a missing part, an empty file, a bad name and invalid JSON; 415 for a JSON body', async () => {
    const noPart = await request(t.url)
      .post('/api/files')
      .set(auth(alice))
      .field('other', 'x')
      .expect(400);
    expect(noPart.body.detail).toBe('file is required');
    const wrongField = await request(t.url)
      .post('/api/files')
      .set(auth(alice))
      .attach('upload', PNG_1X1, 'pixel.png')
      .expect(400);
    expect(wrongField.body.detail).toBe('Unexpected file field - upload');
    expect(
      (await uploadFile(t, alice.token, 'empty.txt', Buffer.alloc(0)).expect(400)).body,
    ).toEqual({
      detail: 'file is empty',
      errors: [{ field: 'file', message: 'is empty' }],
    });
    expect(
      (await uploadFile(t, alice.token, 'broken.json', Buffer.from('{nope')).expect(400)).body
        .detail,
    ).toBe('file is named .json but is not valid JSON');
    expect(
      (await uploadFile(t, alice.token, `${'n'.repeat(256)}.txt`, Buffer.from('x')).expect(400))
        .body.detail,
    ).toBe('file name must be 1 to 255 characters');
    const json = await request(t.url)
      .post('/api/files')
      .set(auth(alice))
      .send({ file: 'x' })
      .expect(415);
    expect(json.body).toEqual({ detail: 'Content-Type must be multipart/form-data' });
  });

  it('keeps only the base name of a path-like file name (no traversal)', async () => {
    const created = await uploadFile(
      t,
      alice.token,
      '../../etc/passwd.txt',
      Buffer.from('x'),
    ).expect(201);
    expect(created.body.name).toBe('passwd.txt');
    expect(existsSync(join(t.config.files.dir, '..', 'etc'))).toBe(false);
    await request(t.url).delete(`/api/files/${created.body.id}`).set(auth(alice)).expect(204);
  });

  it('refuses a file above FILES__MAX_BYTES with 413', async () => {
    const response = await uploadFile(t, alice.token, 'big.txt', Buffer.alloc(MAX_BYTES + 1, 'a'));
    expect(response.status).toBe(413);
    expect(response.body).toEqual({ detail: expect.any(String) });
    await uploadFile(t, alice.token, 'fits.txt', Buffer.alloc(MAX_BYTES, 'a')).expect(201);
    await clearFiles(alice);
  });

  it("refuses an upload beyond the user's FILES__USER_QUOTA_BYTES with 413, other users unaffected", async () => {
    const chunk = Buffer.alloc(MAX_BYTES, 'q');
    await uploadFile(t, alice.token, 'one.txt', chunk).expect(201);
    await uploadFile(t, alice.token, 'two.txt', chunk).expect(201);
    const over = await uploadFile(t, alice.token, 'three.txt', chunk).expect(413);
    expect(over.body.detail).toBe(
      `Storage quota exceeded: ${2 * MAX_BYTES} of ${QUOTA_BYTES} bytes used, this file needs ${MAX_BYTES}; delete files to make room`,
    );
    const list = await request(t.url).get('/api/files').set(auth(alice)).expect(200);
    expect(list.body).toMatchObject({ used_bytes: 2 * MAX_BYTES, quota_bytes: QUOTA_BYTES });
    expect(list.body.items.map((f: { name: string }) => f.name).sort()).toEqual([
      'one.txt',
      'two.txt',
    ]);
    await uploadFile(t, bob.token, 'bob.txt', chunk).expect(201);

    await request(t.url).delete(`/api/files/${list.body.items[0].id}`).set(auth(alice)).expect(204);
    await uploadFile(t, alice.token, 'three.txt', chunk).expect(201);
    await clearFiles(alice);
    await clearFiles(bob);
  });

  it('deletes a file from the list and from the storage', async () => {
    const id = await uploadedFileId(t, alice.token, 'gone.png', PNG_1X1);
    expect(await storedKeys()).toContain(`${alice.id}/${id}`);
    await request(t.url).delete(`/api/files/${id}`).set(auth(alice)).expect(204);
    await request(t.url).get(`/api/files/${id}`).set(auth(alice)).expect(404);
    await request(t.url).delete(`/api/files/${id}`).set(auth(alice)).expect(404);
    expect(await storedKeys()).not.toContain(`${alice.id}/${id}`);
  });

  it('lets an API key with the chat scope upload, and refuses keys without it', async () => {
    const key = async (scopes: string[]) =>
      (
        await request(t.url)
          .post('/api/keys')
          .set(auth(alice))
          .send({ name: `k-${scopes.join('-')}`, scopes })
          .expect(201)
      ).body.key as string;
    const chatKey = await key(['chat']);
    const readKey = await key(['history:read']);
    const created = await request(t.url)
      .post('/api/files')
      .set('Authorization', `Bearer ${chatKey}`)
      .attach('file', PNG_1X1, 'key.png')
      .expect(201);
    await request(t.url)
      .get(`/api/files/${created.body.id}`)
      .set('Authorization', `Bearer ${readKey}`)
      .expect(403);
    await clearFiles(alice);
  });

  it("leaves nothing of a user's files in the storage when the account is deleted", async () => {
    const carol = await registerAndLogin(t.url);
    await uploadedFileId(t, carol.token, 'a.png', PNG_1X1);
    await uploadedFileId(t, carol.token, 'b.md', Buffer.from('# b'));
    const bobsFile = await uploadedFileId(t, bob.token, 'kept.png', PNG_1X1);
    const carols = async () => (await storedKeys()).filter((key) => key.startsWith(`${carol.id}/`));
    expect(await carols()).toHaveLength(2);

    await request(t.url).delete('/api/users/me').set(auth(carol)).expect(204);

    expect(await carols()).toEqual([]);
    await request(t.url).get(`/api/files/${bobsFile}`).set(auth(bob)).expect(200);
    const rows = t.app.get(DataSource).getRepository(StoredFile);
    expect(await rows.countBy({ userId: carol.id })).toBe(0);
  });

  async function clearFiles(user: LoggedInUser): Promise<void> {
    const list = await request(t.url).get('/api/files').set(auth(user)).expect(200);
    for (const file of list.body.items as { id: string }[]) {
      await request(t.url).delete(`/api/files/${file.id}`).set(auth(user)).expect(204);
    }
  }
}

describeE2e('files API', () => filesApiSuite('local'));
describeOnSqliteWithServices(['s3'], 'files API on S3 storage', () => filesApiSuite('s3'));

describeOnSqliteOnly('files API with its S3 storage down', () => {
  let t: TestApp;
  let user: LoggedInUser;
  let logs: ReturnType<typeof expectedLogs>;

  beforeAll(async () => {
    t = await startTestApp({
      FILES__STORAGE: 's3',
      FILES__S3_BUCKET: 'unreachable',
      FILES__S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
      FILES__S3_ACCESS_KEY_ID: 'id',
      FILES__S3_SECRET_ACCESS_KEY: 'secret-that-must-not-leak',
    });
    user = await registerAndLogin(t.url);
    logs = expectedLogs('error');
  });
  afterAll(async () => {
    logs?.restore();
    await t?.close();
  });

  it('answers 503 {detail} with Retry-After for uploads, downloads, deletes and account deletion; nothing is recorded or lost', async () => {
    const upload = await uploadFile(t, user.token, 'a.png', PNG_1X1);
    expect({ status: upload.status, body: upload.body }).toEqual({
      status: 503,
      body: { detail: 'File storage unavailable' },
    });
    expect(upload.headers['retry-after']).toBe('5');
    const listed = await request(t.url)
      .get('/api/files')
      .set('Authorization', `Bearer ${user.token}`);
    expect(listed.body).toMatchObject({ items: [], used_bytes: 0 });

    // A file recorded while the storage was up.
    const id = randomUUID();
    await t.app
      .get(DataSource)
      .getRepository(StoredFile)
      .insert({
        id,
        userId: user.id,
        name: 'kept.png',
        mediaType: 'image/png',
        sizeBytes: PNG_1X1.length,
        storageKey: `${user.id}/${id}`,
      });
    for (const method of ['get', 'delete'] as const) {
      const response = await request(t.url)
        [method](`/api/files/${id}`)
        .set('Authorization', `Bearer ${user.token}`);
      expect({ method, status: response.status, body: response.body }).toEqual({
        method,
        status: 503,
        body: { detail: 'File storage unavailable' },
      });
    }
    // The account stays, to be deleted again once the storage is back.
    const erase = await request(t.url)
      .delete('/api/users/me')
      .set('Authorization', `Bearer ${user.token}`);
    expect({ status: erase.status, body: erase.body }).toEqual({
      status: 503,
      body: { detail: 'File storage unavailable' },
    });
    await request(t.url).get('/api/files').set('Authorization', `Bearer ${user.token}`).expect(200);
    expect(logs.messages.join('\n')).toMatch(/S3 put of .* failed: .*ECONNREFUSED/);
    expect(logs.messages.join('\n')).not.toContain('secret-that-must-not-leak');
  });
});

describeOnSqliteWithServices(['s3'], 'chat attachments read from S3 storage', () => {
  let t: TestApp & { sim: ProviderSimulator };
  let bucket: TestBucket;
  let user: LoggedInUser;

  beforeAll(async () => {
    bucket = await createTestBucket();
    t = await startAppWithSimulator((url) => ({
      AI_SERVICES__OPENAI_API_KEY: 'sim-openai-key',
      AI_SERVICES__OPENAI_BASE_URL: url,
      AI_SERVICES__DEFAULT_MODEL: 'openai/gpt-4o-mini',
      ...bucket.env,
    }));
    user = await registerAndLogin(t.url);
  });
  afterAll(async () => {
    await t?.close();
    await bucket?.drop();
  });

  it('sends an image from the bucket to the model, and deleting the session deletes the object', async () => {
    const image = await uploadedFileId(t, user.token, 'pixel.png', PNG_1X1);
    const reply = await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ message: 'what is this?', attachments: [image] })
      .expect(200);
    const upstream = t.sim.requests.at(-1)!.body as { messages: { content: unknown }[] };
    expect(upstream.messages.at(-1)!.content).toEqual([
      { type: 'text', text: 'what is this?' },
      {
        type: 'image_url',
        image_url: { url: `data:image/png;base64,${PNG_1X1.toString('base64')}` },
      },
    ]);
    expect(await bucket.keys()).toEqual([`${user.id}/${image}`]);

    await request(t.url)
      .delete(`/api/history/${reply.body.session_id}`)
      .set('Authorization', `Bearer ${user.token}`)
      .expect(204);
    expect(await bucket.keys()).toEqual([]);
  });
});
