import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '@app/config';
import { ApiKeyAuthenticator } from '../api-keys/api-key-authenticator';
import { ApiKeyHasher } from '../api-keys/api-key-hasher';
import { ApiKey } from '../api-keys/entities/api-key.entity';
import { User } from '../users/entities/user.entity';
import { AccessTokenService } from './access-token.service';
import { ActiveUserCache } from './active-user-cache';
import { JwtAuthGuard } from './guards/jwt-auth.guard';
import { buildJwtOptions } from './jwt-options';
import { UserChangeListener } from './user-change-listener';

/**
 * Bearer authentication (access tokens and personal API keys) on its own, so that UsersModule
 * and the throttler can use it without importing the whole AuthModule (which itself needs
 * UsersModule). AuthModule re-exports it.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([User, ApiKey]),
    JwtModule.registerAsync({ inject: [AppConfig], useFactory: buildJwtOptions }),
  ],
  providers: [
    AccessTokenService,
    ActiveUserCache,
    UserChangeListener,
    ApiKeyHasher,
    ApiKeyAuthenticator,
    JwtAuthGuard,
  ],
  exports: [AccessTokenService, ActiveUserCache, ApiKeyHasher, ApiKeyAuthenticator, JwtAuthGuard],
})
export class AccessTokenModule {}
