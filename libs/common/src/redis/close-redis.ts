import type Redis from 'ioredis';

/**
 * Closes an ioredis connection on shutdown without hanging on a dead one: QUIT when it is
 * ready (pending replies still arrive), otherwise, or when QUIT fails, a plain disconnect.
 */
export async function closeRedis(connection: Redis): Promise<void> {
  // QUIT on a connection that is down would wait behind queued commands forever.
  if (connection.status !== 'ready') {
    connection.disconnect();
    return;
  }
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
