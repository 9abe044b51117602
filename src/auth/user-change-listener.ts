import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Client, type Notification } from 'pg';
import { AppConfig } from '@app/config';
import { ActiveUserCache } from './active-user-cache';

/** The channel and trigger of migration UserChangeNotifications1766700000000. */
export const USER_CHANGES_CHANNEL = 'chatbot_users_changed';
export const USER_CHANGES_TRIGGER = 'users_changed_notify';
/** The payload that stands for every account (TRUNCATE). */
export const ALL_USERS = '*';
/** How the listening connection shows in `pg_stat_activity`. */
export const USER_CHANGES_APPLICATION_NAME = 'chatbot-user-changes';

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * On PostgreSQL, keeps ActiveUserCache exact: one connection per instance LISTENs to the
 * notifications the `users` trigger sends for every change of an account's email, role or
 * activation, every deletion and any truncation, whoever makes it (this app on any instance, an
 * operator's SQL). The cache is open only while that connection listens and the trigger exists;
 * after a lost connection it is emptied and reopened once listening again. On SQLite nothing
 * listens and every request reads its account (a synchronous, local read there).
 */
@Injectable()
export class UserChangeListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(UserChangeListener.name);
  private client?: Client;
  private retryTimer?: NodeJS.Timeout;
  private retryMs = RETRY_MIN_MS;
  private stopped = false;

  constructor(
    private readonly config: AppConfig,
    private readonly activeUsers: ActiveUserCache,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.database.type !== 'postgres') return;
    await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.activeUsers.close();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    const client = new Client({
      connectionString: this.config.database.url,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      application_name: USER_CHANGES_APPLICATION_NAME,
    });
    client.on('notification', (message) => this.onNotification(message));
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${USER_CHANGES_CHANNEL}`);
      const trigger = await client.query(
        "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('users') AND tgname = $1",
        [USER_CHANGES_TRIGGER],
      );
      if (trigger.rowCount === 0) {
        // Migrations not run (DATABASE_RUN_MIGRATIONS=false) or the schema built by synchronize:
        // changes would go untold, so the cache stays closed.
        this.logger.warn(
          `The users trigger ${USER_CHANGES_TRIGGER} is missing (migrations not run?): ` +
            'every request reads its account from the database',
        );
        this.client = undefined;
        await client.end().catch(() => undefined);
        return;
      }
    } catch (error) {
      this.lost(client, error);
      return;
    }
    if (this.client !== client) return;
    this.retryMs = RETRY_MIN_MS;
    this.activeUsers.open();
  }

  private onNotification(message: Notification): void {
    if (message.channel !== USER_CHANGES_CHANNEL) return;
    if (!message.payload || message.payload === ALL_USERS) this.activeUsers.forgetAll();
    else this.activeUsers.forget(message.payload);
  }

  /** Closes the cache at once, then listens again after a growing pause. */
  private lost(client: Client, error?: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.activeUsers.close();
    void client.end().catch(() => undefined);
    if (this.stopped) return;
    this.logger.warn(
      { err: error, retryInMs: this.retryMs },
      'Lost the listener of account changes; every request reads its account until it is back',
    );
    this.retryTimer = setTimeout(() => void this.listen(), this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}
