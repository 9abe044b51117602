import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import type { Connection } from 'mongoose';

/**
 * Readiness of the Mongo history store: a real `ping` command with a short deadline (terminus'
 * MongooseHealthIndicator only reads the connection state, which stays "connected" for a while
 * after the server died). Provided by HistoryModule only when HISTORY_STORE=mongo. Down
 * messages are fixed strings: the URI (which may hold a password) never reaches a response.
 */
@Injectable()
export class MongoHealthIndicator {
  constructor(@InjectConnection() private readonly connection: Connection) {}

  async pingCheck(key: string, timeoutMs = 1_000): Promise<HealthIndicatorResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const db = this.connection.db;
      if (!db) return { [key]: { status: 'down', message: 'MongoDB is not connected' } };
      const answer = await Promise.race([db.command({ ping: 1 }), timeout]);
      if (answer === 'timeout') {
        return {
          [key]: { status: 'down', message: `MongoDB did not answer ping within ${timeoutMs} ms` },
        };
      }
      return { [key]: { status: 'up' } };
    } catch {
      return { [key]: { status: 'down', message: 'MongoDB is unreachable' } };
    } finally {
      clearTimeout(timer);
    }
  }
}
