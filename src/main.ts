import 'dotenv/config';
import { AppConfig, ConfigError } from '@app/config';
import { createApp } from './bootstrap';

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = AppConfig.fromEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Refusing to start: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await createApp(config);
  await app.listen(config.http.port, config.http.host);
  const url = `http://${config.http.host === '0.0.0.0' ? 'localhost' : config.http.host}:${config.http.port}`;
  process.stdout.write(
    `Chatbot API listening on ${url} — database ${config.database.type}, history ${config.historyStore}` +
      (config.http.docsEnabled ? `, docs ${url}/docs` : '') +
      '\n',
  );
}

void main();
