import 'dotenv/config';
import { DataSource } from 'typeorm';
import { AppConfig, ConfigError } from '@app/config';
import { createApp } from './bootstrap';
import { ProvidersService } from './providers/providers.service';
import { describeStartError, startupLine } from './startup-summary';

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
  try {
    const app = await createApp(config);
    await app.listen(config.http.port, config.http.host);
    const models = app.get(ProvidersService).listModels();
    process.stdout.write(
      `${startupLine({
        config,
        address: app.getHttpServer().address(),
        providers: [...new Set(models.map((model) => model.provider))],
        defaultModel: models.find((model) => model.default)?.id,
        pendingMigrations: await app.get(DataSource).showMigrations(),
      })}\n`,
    );
  } catch (error) {
    process.stderr.write(`Failed to start: ${describeStartError(error, config)}\n`);
    process.exit(1);
  }
}

void main();
