import request from 'supertest';
import { describeE2e, startTestApp, TestApp } from '@app/testing';

describeE2e('health and error shape', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers liveness without auth', async () => {
    await request(t.url).get('/health/live').expect(200, { status: 'ok' });
  });

  it('reports the database in readiness', async () => {
    const res = await request(t.url).get('/health/ready').expect(200);
    expect(res.body.info.database.status).toBe('up');
  });

  it('answers unknown routes with 404 {detail}', async () => {
    const res = await request(t.url).get('/api/does-not-exist').expect(404);
    expect(res.body).toEqual({ detail: expect.any(String) });
  });

  it('answers malformed JSON with 400 {detail}', async () => {
    const res = await request(t.url)
      .post('/health/live')
      .set('Content-Type', 'application/json')
      .send('{"broken":');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ detail: expect.any(String) });
  });

  it('answers an oversized body with 413 {detail}', async () => {
    const res = await request(t.url)
      .post('/health/live')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ blob: 'x'.repeat(2 * 1024 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ detail: 'Request body too large' });
  });

  it('serves the OpenAPI document', async () => {
    const res = await request(t.url).get('/docs-json').expect(200);
    expect(res.body.openapi).toMatch(/^3\./);
  });
});
