import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { SMTPServer } from 'smtp-server';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e, startTestApp, TestApp } from '@app/testing';
import { EmailToken } from '../src/auth/entities/email-token.entity';

interface ReceivedMail {
  from: string;
  to: string[];
  /** The whole message with quoted-printable decoded, headers included. */
  text: string;
}

/** A real SMTP server on a random loopback port that keeps every message it receives. */
class SmtpReceiver {
  readonly mails: ReceivedMail[] = [];
  private readonly server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData: (stream, session, callback) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        this.mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          text: decodeQuotedPrintable(Buffer.concat(chunks).toString('utf8')),
        });
        callback();
      });
    },
  });
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.server.address() as { port: number }).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Waits for a message to `to` whose text matches, and returns the first capture group. */
  async waitFor(to: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const mail of this.mails) {
        const match = mail.to.includes(to) ? pattern.exec(mail.text) : null;
        if (match) return match[1];
      }
      if (Date.now() > deadline) throw new Error(`no mail to ${to} matching ${pattern}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  mailsTo(to: string): ReceivedMail[] {
    return this.mails.filter((mail) => mail.to.includes(to));
  }
}

function decodeQuotedPrintable(raw: string): string {
  return raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

const PUBLIC_BASE_URL = 'https://chat.example.test';
const VERIFY_LINK = /https:\/\/chat\.example\.test\/verify-email\?token=([A-Za-z0-9_-]{43})\b/;
const RESET_LINK = /https:\/\/chat\.example\.test\/reset-password\?token=([A-Za-z0-9_-]{43})\b/;
const PASSWORD = 'correct horse battery';
const newEmail = () => `mail-${randomUUID().slice(0, 8)}@example.com`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeE2e('auth e-mail flows', () => {
  const smtp = new SmtpReceiver();
  let t: TestApp;

  beforeAll(async () => {
    await smtp.start();
    t = await startTestApp({
      EMAIL__SMTP_HOST: '127.0.0.1',
      EMAIL__SMTP_PORT: String(smtp.port),
      EMAIL__SMTP_SECURE: 'false',
      EMAIL__FROM: 'Chatbot <no-reply@chat.example.test>',
      PUBLIC_BASE_URL,
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
    });
  });
  afterAll(async () => {
    await t.close();
    await smtp.stop();
  });

  const http = () => request(t.url);

  async function signUp(email = newEmail()) {
    await http().post('/api/auth/register').send({ email, password: PASSWORD }).expect(201);
    const res = await http()
      .post('/api/auth/login')
      .send({ email, password: PASSWORD })
      .expect(200);
    return { email, access: res.body.access_token as string, refresh: res.body.refresh_token };
  }

  const me = (access: string) =>
    http().get('/api/users/me').set('Authorization', `Bearer ${access}`).expect(200);

  describe('e-mail verification', () => {
    it('sends a link whose token verifies the address once', async () => {
      const user = await signUp();
      const requested = await http()
        .post('/api/auth/verify-email/request')
        .set('Authorization', `Bearer ${user.access}`)
        .expect(202);
      expect(requested.body).toEqual({ message: 'Verification e-mail sent' });

      const token = await smtp.waitFor(user.email, VERIFY_LINK);
      const [mail] = smtp.mailsTo(user.email);
      expect(mail.from).toBe('no-reply@chat.example.test');
      expect(mail.text).toContain('Subject: Confirm your e-mail address');
      expect((await me(user.access)).body.email_verified).toBe(false);

      const confirmed = await http()
        .post('/api/auth/verify-email/confirm')
        .send({ token })
        .expect(200);
      expect(confirmed.body).toMatchObject({ email: user.email, email_verified: true });
      expect((await me(user.access)).body.email_verified).toBe(true);

      const again = await http().post('/api/auth/verify-email/confirm').send({ token });
      expect(again.status).toBe(400);
      expect(again.body).toEqual({ detail: 'Token has already been used' });

      const noMail = await http()
        .post('/api/auth/verify-email/request')
        .set('Authorization', `Bearer ${user.access}`)
        .expect(202);
      expect(noMail.body).toEqual({ message: 'E-mail address is already verified' });
      expect(smtp.mailsTo(user.email)).toHaveLength(1);
    });

    it('stores the token only as a SHA-256 hash', async () => {
      const user = await signUp();
      await http()
        .post('/api/auth/verify-email/request')
        .set('Authorization', `Bearer ${user.access}`)
        .expect(202);
      const token = await smtp.waitFor(user.email, VERIFY_LINK);
      const rows = await t.app.get(DataSource).getRepository(EmailToken).find();
      expect(rows.every((row) => /^[0-9a-f]{64}$/.test(row.tokenHash))).toBe(true);
      const sha256 = createHash('sha256').update(token).digest('hex');
      expect(rows.filter((row) => row.tokenHash === sha256)).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(token);
    });

    it('requires a bearer token to request a link', async () => {
      const res = await http().post('/api/auth/verify-email/request');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Not authenticated' });
    });

    it('rejects garbage, expired and wrong-purpose tokens with 400', async () => {
      let res = await http().post('/api/auth/verify-email/confirm').send({ token: 'garbage' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: 'Invalid token' });

      res = await http().post('/api/auth/verify-email/confirm').send({});
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'token is required',
        errors: [{ field: 'token', message: 'token is required' }],
      });

      const user = await signUp();
      await http()
        .post('/api/auth/verify-email/request')
        .set('Authorization', `Bearer ${user.access}`)
        .expect(202);
      const token = await smtp.waitFor(user.email, VERIFY_LINK);
      await t.app
        .get(DataSource)
        .getRepository(EmailToken)
        .update({ purpose: 'verify_email' }, { expiresAt: new Date(Date.now() - 1000) });
      res = await http().post('/api/auth/verify-email/confirm').send({ token });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: 'Token has expired' });

      // A password-reset token is not a verification token (and vice versa).
      await http().post('/api/auth/password-reset/request').send({ email: user.email }).expect(202);
      const resetToken = await smtp.waitFor(user.email, RESET_LINK);
      res = await http().post('/api/auth/verify-email/confirm').send({ token: resetToken });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: 'Invalid token' });
    });
  });

  describe('password reset', () => {
    it('resets the password with the mailed token and revokes refresh tokens', async () => {
      const user = await signUp();
      const requested = await http()
        .post('/api/auth/password-reset/request')
        .send({ email: `  ${user.email.toUpperCase()} ` })
        .expect(202);
      expect(requested.body).toEqual({
        message: 'If the address belongs to an account, a reset link is on its way',
      });
      const token = await smtp.waitFor(user.email, RESET_LINK);
      expect(smtp.mailsTo(user.email)[0].text).toContain('Subject: Reset your password');

      const newPassword = 'a brand new passphrase';
      await http()
        .post('/api/auth/password-reset/confirm')
        .send({ token, new_password: newPassword })
        .expect(204);

      const oldLogin = await http()
        .post('/api/auth/login')
        .send({ email: user.email, password: PASSWORD });
      expect(oldLogin.status).toBe(401);
      expect(oldLogin.body).toEqual({ detail: 'Incorrect email or password' });
      const newLogin = await http()
        .post('/api/auth/login')
        .send({ email: user.email, password: newPassword })
        .expect(200);

      const refresh = await http().post('/api/auth/refresh').send({ refresh_token: user.refresh });
      expect(refresh.status).toBe(401);
      expect(refresh.body).toEqual({ detail: 'Refresh token has been revoked' });
      // Receiving the link proved the mailbox, so the address now counts as verified.
      expect((await me(newLogin.body.access_token)).body.email_verified).toBe(true);

      const reuse = await http()
        .post('/api/auth/password-reset/confirm')
        .send({ token, new_password: 'yet another passphrase' });
      expect(reuse.status).toBe(400);
      expect(reuse.body).toEqual({ detail: 'Token has already been used' });
    });

    it('answers an unknown address exactly like a known one and sends nothing', async () => {
      const unknown = newEmail();
      const known = (await signUp()).email;
      const a = await http().post('/api/auth/password-reset/request').send({ email: unknown });
      const b = await http().post('/api/auth/password-reset/request').send({ email: known });
      expect(a.status).toBe(202);
      expect(b.status).toBe(202);
      expect(a.body).toEqual(b.body);
      await smtp.waitFor(known, RESET_LINK);
      await sleep(300);
      expect(smtp.mailsTo(unknown)).toEqual([]);
    });

    it('voids an older link once a newer one was used', async () => {
      const user = await signUp();
      await http().post('/api/auth/password-reset/request').send({ email: user.email }).expect(202);
      const first = await smtp.waitFor(user.email, RESET_LINK);
      await http().post('/api/auth/password-reset/request').send({ email: user.email }).expect(202);
      let second = first;
      for (let i = 0; i < 200 && second === first; i++) {
        const mails = smtp.mailsTo(user.email);
        second = RESET_LINK.exec(mails[mails.length - 1].text)?.[1] ?? first;
        if (second === first) await sleep(25);
      }
      expect(second).not.toBe(first);
      await http()
        .post('/api/auth/password-reset/confirm')
        .send({ token: second, new_password: 'second passphrase' })
        .expect(204);
      const res = await http()
        .post('/api/auth/password-reset/confirm')
        .send({ token: first, new_password: 'first passphrase' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: 'Token has already been used' });
    });

    it('validates the request and confirmation bodies', async () => {
      let res = await http().post('/api/auth/password-reset/request').send({ email: 'nope' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'email must be a valid e-mail address',
        errors: [{ field: 'email', message: 'email must be a valid e-mail address' }],
      });
      res = await http()
        .post('/api/auth/password-reset/confirm')
        .send({ token: 'whatever', new_password: 'short' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'new_password must be between 8 and 128 characters long',
        errors: [
          {
            field: 'new_password',
            message: 'new_password must be between 8 and 128 characters long',
          },
        ],
      });
      res = await http()
        .post('/api/auth/password-reset/confirm')
        .send({ token: 'garbage-token', new_password: 'long enough passphrase' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: 'Invalid token' });
    });

    it('rejects an expired reset token with 400', async () => {
      const user = await signUp();
      await http().post('/api/auth/password-reset/request').send({ email: user.email }).expect(202);
      const token = await smtp.waitFor(user.email, RESET_LINK);
      await t.app
        .get(DataSource)
        .getRepository(EmailToken)
        .update({ purpose: 'password_reset' }, { expiresAt: new Date(Date.now() - 1000) });
      const res = await http()
        .post('/api/auth/password-reset/confirm')
        .send({ token, new_password: 'long enough passphrase' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: 'Token has expired' });
      await http()
        .post('/api/auth/login')
        .send({ email: user.email, password: PASSWORD })
        .expect(200);
    });
  });
});

describeE2e('auth e-mail flows without SMTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('still answers the request endpoints with 202', async () => {
    const email = newEmail();
    await request(t.url).post('/api/auth/register').send({ email, password: PASSWORD }).expect(201);
    const login = await request(t.url)
      .post('/api/auth/login')
      .send({ email, password: PASSWORD })
      .expect(200);
    const verify = await request(t.url)
      .post('/api/auth/verify-email/request')
      .set('Authorization', `Bearer ${login.body.access_token}`)
      .expect(202);
    expect(verify.body).toEqual({
      message: 'E-mail is disabled on this server; no e-mail was sent',
    });
    const reset = await request(t.url)
      .post('/api/auth/password-reset/request')
      .send({ email })
      .expect(202);
    expect(reset.body).toEqual({
      message: 'If the address belongs to an account, a reset link is on its way',
    });
  });
});

describeE2e('auth e-mail flows with an unreachable SMTP server', () => {
  let t: TestApp;
  beforeAll(async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    t = await startTestApp({
      EMAIL__SMTP_HOST: '127.0.0.1',
      EMAIL__SMTP_PORT: String(port),
      EMAIL__SMTP_SECURE: 'false',
    });
  });
  afterAll(() => t.close());

  it('answers a verification request with 503 {detail}', async () => {
    const email = newEmail();
    await request(t.url).post('/api/auth/register').send({ email, password: PASSWORD }).expect(201);
    const login = await request(t.url)
      .post('/api/auth/login')
      .send({ email, password: PASSWORD })
      .expect(200);
    const res = await request(t.url)
      .post('/api/auth/verify-email/request')
      .set('Authorization', `Bearer ${login.body.access_token}`);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ detail: 'Could not send the e-mail; try again later' });
  });

  it('still answers a reset request with 202 (delivery fails in the background)', async () => {
    const res = await request(t.url)
      .post('/api/auth/password-reset/request')
      .send({ email: newEmail() });
    expect(res.status).toBe(202);
  });
});
