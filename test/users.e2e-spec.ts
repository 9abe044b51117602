import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e, startTestApp, TestApp } from '@app/testing';
import { EmailToken } from '../src/auth/entities/email-token.entity';
import { RefreshToken } from '../src/auth/entities/refresh-token.entity';
import { ChatMessage } from '../src/history/entities/chat-message.entity';
import { ChatSession } from '../src/history/entities/chat-session.entity';
import { User } from '../src/users/entities/user.entity';

const PASSWORD = 'correct horse battery';
const newEmail = () => `users-${randomUUID().slice(0, 8)}@example.com`;

describeE2e('users', () => {
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT__AUTH_PER_MINUTE: '10000' });
    db = t.app.get(DataSource);
  });
  afterAll(() => t.close());

  const http = () => request(t.url);

  async function signUp() {
    const email = newEmail();
    const reg = await http()
      .post('/api/auth/register')
      .send({ email, password: PASSWORD })
      .expect(201);
    const login = await http()
      .post('/api/auth/login')
      .send({ email, password: PASSWORD })
      .expect(200);
    return {
      id: reg.body.id as string,
      email,
      createdAt: reg.body.created_at as string,
      access: login.body.access_token as string,
      refresh: login.body.refresh_token as string,
    };
  }

  describe('GET /api/users/me', () => {
    it('returns the current account', async () => {
      const user = await signUp();
      const res = await http()
        .get('/api/users/me')
        .set('Authorization', `Bearer ${user.access}`)
        .expect(200);
      expect(res.body).toEqual({
        id: user.id,
        email: user.email,
        is_active: true,
        email_verified: false,
        created_at: user.createdAt,
      });
      expect(res.body.created_at).toMatch(/Z$/);
    });

    it('answers 401 {detail} without a token', async () => {
      const res = await http().get('/api/users/me');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Not authenticated' });
    });
  });

  describe('inactive accounts', () => {
    it('are refused with 403 on bearer routes, login and refresh', async () => {
      const user = await signUp();
      await db.getRepository(User).update({ id: user.id }, { isActive: false });

      const me = await http().get('/api/users/me').set('Authorization', `Bearer ${user.access}`);
      expect(me.status).toBe(403);
      expect(me.body).toEqual({ detail: 'Account is disabled' });

      const login = await http()
        .post('/api/auth/login')
        .send({ email: user.email, password: PASSWORD });
      expect(login.status).toBe(403);
      expect(login.body).toEqual({ detail: 'Account is disabled' });

      // A wrong password still gets the ordinary 401: 403 only tells the real owner.
      const wrong = await http()
        .post('/api/auth/login')
        .send({ email: user.email, password: 'not the password' });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({ detail: 'Incorrect email or password' });

      const refresh = await http().post('/api/auth/refresh').send({ refresh_token: user.refresh });
      expect(refresh.status).toBe(403);
      expect(refresh.body).toEqual({ detail: 'Account is disabled' });

      // Re-activated, the same (unspent) refresh token works again.
      await db.getRepository(User).update({ id: user.id }, { isActive: true });
      await http().post('/api/auth/refresh').send({ refresh_token: user.refresh }).expect(200);
    });
  });

  describe('DELETE /api/users/me', () => {
    it('deletes the account with its tokens and SQL history; its tokens stop working', async () => {
      const user = await signUp();
      const other = await signUp();
      const sessionId = randomUUID();
      await db.getRepository(ChatSession).insert({
        id: sessionId,
        userId: user.id,
        title: 'doomed',
        messageCount: 1,
        lastMessage: 'hi',
      });
      await db.getRepository(ChatMessage).insert({
        id: randomUUID(),
        sessionId,
        seq: 1,
        role: 'user',
        content: 'hi',
        status: 'complete',
      });
      await db.getRepository(EmailToken).insert({
        id: randomUUID(),
        userId: user.id,
        purpose: 'verify_email',
        tokenHash: randomUUID().replace(/-/g, '').padEnd(64, '0'),
        expiresAt: new Date(Date.now() + 60_000),
        usedAt: null,
      });

      await http()
        .delete('/api/users/me')
        .set('Authorization', `Bearer ${user.access}`)
        .expect(204);

      const me = await http().get('/api/users/me').set('Authorization', `Bearer ${user.access}`);
      expect(me.status).toBe(401);
      expect(me.body).toEqual({ detail: 'Invalid access token' });
      const refresh = await http().post('/api/auth/refresh').send({ refresh_token: user.refresh });
      expect(refresh.status).toBe(401);
      expect(refresh.body).toEqual({ detail: 'Invalid refresh token' });
      const login = await http()
        .post('/api/auth/login')
        .send({ email: user.email, password: PASSWORD });
      expect(login.status).toBe(401);

      expect(await db.getRepository(User).countBy({ id: user.id })).toBe(0);
      expect(await db.getRepository(RefreshToken).countBy({ userId: user.id })).toBe(0);
      expect(await db.getRepository(EmailToken).countBy({ userId: user.id })).toBe(0);
      expect(await db.getRepository(ChatSession).countBy({ userId: user.id })).toBe(0);
      expect(await db.getRepository(ChatMessage).countBy({ sessionId })).toBe(0);

      // Nobody else is touched.
      await http().get('/api/users/me').set('Authorization', `Bearer ${other.access}`).expect(200);
      expect(await db.getRepository(RefreshToken).countBy({ userId: other.id })).toBe(1);

      // The address is free again.
      await http()
        .post('/api/auth/register')
        .send({ email: user.email, password: PASSWORD })
        .expect(201);
    });

    it('requires a bearer token', async () => {
      const res = await http().delete('/api/users/me');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Not authenticated' });
    });
  });
});
