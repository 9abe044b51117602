import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { buildDataSourceOptions, type DatabaseConfig } from '@app/config';
import { SqliteCheckpointer } from './sqlite-checkpointer';

/** The TypeORM connection for the configured database, and on SQLite its WAL checkpointer. */
@Module({})
export class DatabaseModule {
  static forRoot(database: DatabaseConfig): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [TypeOrmModule.forRoot(buildDataSourceOptions(database))],
      providers: database.type === 'sqlite' ? [SqliteCheckpointer] : [],
    };
  }
}
