/** DataSource for the TypeORM CLI (`npm run migration:run`, `migration:generate`). */
import 'dotenv/config';
import { DataSource } from 'typeorm';
import { AppConfig } from './app-config';
import { buildDataSourceOptions } from './database';

const config = AppConfig.fromEnv(process.env);
export default new DataSource({ ...buildDataSourceOptions(config.database), migrationsRun: false });
