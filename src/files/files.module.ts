import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '@app/config';
import { AccessTokenModule } from '../auth/access-token.module';
import { FileUse } from './entities/file-use.entity';
import { StoredFile } from './entities/stored-file.entity';
import { FilesController } from './files.controller';
import { FilesService } from './files.service';
import { FILE_STORAGE } from './storage/file-storage';
import { LocalDirectoryFileStorage } from './storage/local-directory-file-storage';

/** Uploaded files: the /api/files API, and FilesService for chat attachments and erasure. */
@Module({
  imports: [
    TypeOrmModule.forFeature([StoredFile, FileUse]),
    AccessTokenModule,
    MulterModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        // No storage or dest: multer keeps the (size-limited) upload in memory as `buffer`.
        // Names are UTF-8 in every browser and curl; multer's default reads them as Latin-1.
        defParamCharset: 'utf8',
        limits: { fileSize: config.files.maxBytes, files: 1, fields: 10, parts: 20 },
      }),
    }),
  ],
  controllers: [FilesController],
  providers: [
    FilesService,
    {
      provide: FILE_STORAGE,
      inject: [AppConfig],
      // The AWS SDK is loaded only when S3 is configured: it adds ~150 ms to every start.
      useFactory: async (config: AppConfig) =>
        config.files.s3
          ? new (await import('./storage/s3-file-storage')).S3FileStorage(config.files.s3)
          : new LocalDirectoryFileStorage(config.files.dir),
    },
  ],
  exports: [FilesService],
})
export class FilesModule {}
