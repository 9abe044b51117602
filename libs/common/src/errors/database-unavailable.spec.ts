import { createServer } from 'node:net';
import { Client } from 'pg';
import { QueryFailedError } from 'typeorm';
import { mapError } from './error-body';
import { isDatabaseUnavailable } from './database-unavailable';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A PostgreSQL server error as node-postgres raises it (DatabaseError with a SQLSTATE). */
function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: 'error', code, severity: 'FATAL' });
}

describe(isDatabaseUnavailable.name, () => {
  it('maps a refused connection from node-postgres to 503 "Database unavailable"', async () => {
    const client = new Client({ host: '127.0.0.1', port: await closedPort(), user: 'x' });
    const error = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(mapError(error)).toEqual({
      status: 503,
      body: { detail: 'Database unavailable' },
      retryAfterSeconds: 5,
    });
  });

  it.each([
    ['57P01', 'terminating connection due to administrator command'],
    ['57P03', 'the database system is starting up'],
    ['08006', 'connection failure'],
    ['53300', 'sorry, too many clients already'],
  ])('maps QueryFailedError around SQLSTATE %s to 503', (code, message) => {
    const error = new QueryFailedError('SELECT 1', [], pgError(code, message));
    const mapped = mapError(error);
    expect(mapped.status).toBe(503);
    expect(JSON.stringify(mapped.body)).not.toContain('SELECT');
  });

  it('maps a connection that died mid-query to 503', () => {
    const error = new QueryFailedError(
      'SELECT 1',
      [],
      new Error('Connection terminated unexpectedly'),
    );
    expect(mapError(error).status).toBe(503);
  });

  it('maps MongoDB server-selection failures to 503', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:27017'), {
      name: 'MongoServerSelectionError',
    });
    expect(mapError(error).status).toBe(503);
  });

  it('keeps real bugs a generic 500: SQL errors, unknown errors, sockets of other calls', () => {
    const syntax = new QueryFailedError('SELEC 1', [], pgError('42601', 'syntax error'));
    const unique = new QueryFailedError('INSERT', [], pgError('23505', 'duplicate key'));
    // ECONNRESET on a syscall that is not a network one (no syscall): not a database outage.
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    for (const error of [syntax, unique, reset, new TypeError('x is undefined'), null, 'text']) {
      expect(mapError(error)).toEqual({ status: 500, body: { detail: 'Internal server error' } });
    }
  });
});
