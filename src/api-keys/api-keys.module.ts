import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { AccessTokenModule } from '../auth/access-token.module';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { ApiKey } from './entities/api-key.entity';

/**
 * Personal API keys: `/api/keys` to manage them (access tokens only). Checking a presented key
 * (ApiKeyAuthenticator) lives in AccessTokenModule beside the JWT check, for every transport.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ApiKey]), AccessTokenModule, AuditModule],
  controllers: [ApiKeysController],
  providers: [ApiKeysService],
})
export class ApiKeysModule {}
