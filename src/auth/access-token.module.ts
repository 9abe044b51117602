import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '@app/config';
import { User } from '../users/entities/user.entity';
import { AccessTokenService } from './access-token.service';
import { JwtAuthGuard } from './guards/jwt-auth.guard';
import { buildJwtOptions } from './jwt-options';

/**
 * Bearer authentication on its own, so that UsersModule and the throttler can use it without
 * importing the whole AuthModule (which itself needs UsersModule). AuthModule re-exports it.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([User]),
    JwtModule.registerAsync({ inject: [AppConfig], useFactory: buildJwtOptions }),
  ],
  providers: [AccessTokenService, JwtAuthGuard],
  exports: [AccessTokenService, JwtAuthGuard],
})
export class AccessTokenModule {}
