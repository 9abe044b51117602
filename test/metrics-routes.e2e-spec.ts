import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Body,
  CanActivate,
  Controller,
  Get,
  Injectable,
  Module,
  Param,
  Post,
  Res,
  UseGuards,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { Response } from 'express';
import request from 'supertest';
import { AppConfig } from '@app/config';
import { configureApp, RateLimitedError, UnauthorizedError } from '@app/common';
import { baseTestEnv } from '@app/testing';
import { AppConfigModule } from '../src/config/app-config.module';
import { MetricsModule } from '../src/metrics/metrics.module';
import { findSamples, sampleValue } from './metrics-text';

@Injectable()
class DenyGuard implements CanActivate {
  canActivate(): boolean {
    throw new UnauthorizedError('Not authenticated');
  }
}

/** Routes that exercise each way a request can end: ok, guard refusal, 429, a stream cut off. */
@Controller('api/probe')
class ProbeController {
  @Get('items/:item_id')
  item(@Param('item_id') id: string) {
    return { id };
  }

  @Get('secret')
  @UseGuards(DenyGuard)
  secret() {
    return { never: true };
  }

  @Get('limited')
  limited() {
    throw new RateLimitedError('Too many requests', 30);
  }

  @Post('echo')
  echo(@Body() body: unknown) {
    return body;
  }

  @Get('stream')
  stream(@Res() res: Response) {
    res.status(200).setHeader('Content-Type', 'text/event-stream');
    res.write(': open\n\n');
    // Never ends on its own: only the client going away finishes this request.
  }
}

const HTTP = 'chatbot_http_request_duration_seconds_count';

function buildConfig(): AppConfig {
  return AppConfig.fromEnv({ ...baseTestEnv(), BODY_LIMIT: '1kb', DOCS_ENABLED: 'false' });
}

function probeModule(config: AppConfig) {
  @Module({
    imports: [AppConfigModule.forRoot(config), MetricsModule.forRoot(config)],
    controllers: [ProbeController],
    providers: [DenyGuard],
  })
  class ProbeModule {}
  return ProbeModule;
}

async function listen(app: NestExpressApplication): Promise<string> {
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

async function scrape(url: string): Promise<string> {
  const res = await request(url).get('/metrics').expect(200);
  return res.text;
}

describe('HTTP metrics middleware (route templates, refusals, aborts)', () => {
  let app: NestExpressApplication;
  let url: string;
  beforeAll(async () => {
    const config = buildConfig();
    app = await NestFactory.create<NestExpressApplication>(probeModule(config), { logger: false });
    configureApp(app, config);
    url = await listen(app);
  });
  afterAll(() => app.close());

  it('labels requests with the route template, one series for many ids', async () => {
    const ids = [randomBytes(6).toString('hex'), randomBytes(6).toString('hex')];
    for (const id of ids) {
      await request(url).get(`/api/probe/items/${id}`).expect(200, { id });
    }
    const text = await scrape(url);
    expect(
      sampleValue(text, HTTP, { method: 'GET', route: '/api/probe/items/:item_id', status: '200' }),
    ).toBe(2);
    for (const id of ids) expect(text).not.toContain(id);
  });

  it('counts a guard refusal under the route it was refused on', async () => {
    const res = await request(url).get('/api/probe/secret').expect(401);
    expect(res.body).toEqual({ detail: 'Not authenticated' });
    const text = await scrape(url);
    expect(sampleValue(text, HTTP, { route: '/api/probe/secret', status: '401' })).toBe(1);
  });

  it('counts 429 answers in chatbot_throttled_requests_total{scope="http"}', async () => {
    const res = await request(url).get('/api/probe/limited').expect(429);
    expect(res.body).toEqual({ detail: 'Too many requests' });
    expect(res.headers['retry-after']).toBe('30');
    const text = await scrape(url);
    expect(sampleValue(text, 'chatbot_throttled_requests_total', { scope: 'http' })).toBe(1);
    expect(sampleValue(text, HTTP, { route: '/api/probe/limited', status: '429' })).toBe(1);
  });

  it('puts unknown paths under route="unmatched", never the raw path', async () => {
    const raw = `/api/nothing-here-${randomBytes(6).toString('hex')}/42`;
    const res = await request(url).get(raw).expect(404);
    expect(res.body).toEqual({ detail: expect.any(String) });
    const text = await scrape(url);
    expect(sampleValue(text, HTTP, { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(text).not.toContain('nothing-here');
  });

  it('counts bodies refused by the body parser (413, 400) before any route', async () => {
    await request(url)
      .post('/api/probe/echo')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ blob: 'x'.repeat(4096) }))
      .expect(413, { detail: 'Request body too large' });
    await request(url)
      .post('/api/probe/echo')
      .set('Content-Type', 'application/json')
      .send('{"broken":')
      .expect(400);
    const text = await scrape(url);
    expect(sampleValue(text, HTTP, { method: 'POST', status: '413' })).toBe(1);
    expect(sampleValue(text, HTTP, { method: 'POST', status: '400' })).toBe(1);
  });

  it('records a streamed response that the client abandons', async () => {
    const { hostname, port } = new URL(url);
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ hostname, port, path: '/api/probe/stream' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ECONNRESET') reject(error);
      });
      req.end();
    });
    const route = { route: '/api/probe/stream', status: '200' };
    let text = await scrape(url);
    for (let i = 0; i < 50 && sampleValue(text, HTTP, route) === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      text = await scrape(url);
    }
    expect(sampleValue(text, HTTP, route)).toBe(1);
  });

  it('keeps every route label a template or "unmatched"', async () => {
    const text = await scrape(url);
    const routes = new Set(findSamples(text, HTTP).map((s) => s.labels.route));
    for (const route of routes) expect(route === 'unmatched' || route.startsWith('/')).toBe(true);
    expect([...routes].some((route) => /[0-9a-f]{12}/.test(route))).toBe(false);
  });
});

describe('HTTP metrics middleware in a Test.createTestingModule app', () => {
  it('still records requests (attached as Nest middleware)', async () => {
    const config = buildConfig();
    const moduleRef = await Test.createTestingModule({ imports: [probeModule(config)] }).compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    configureApp(app, config);
    const url = await listen(app);
    try {
      await request(url).get('/api/probe/items/abc').expect(200);
      const text = await scrape(url);
      expect(sampleValue(text, HTTP, { route: '/api/probe/items/:item_id', status: '200' })).toBe(
        1,
      );
    } finally {
      await app.close();
    }
  });
});
