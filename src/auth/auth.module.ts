import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { ThrottlingModule } from '../throttling/throttling.module';
import { UsersModule } from '../users/users.module';
import { AccessTokenModule } from './access-token.module';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { EmailTokenService } from './email-token.service';
import { EmailToken } from './entities/email-token.entity';
import { RefreshToken } from './entities/refresh-token.entity';
import { MailService } from './mail.service';
import { PasswordHasher } from './password-hasher.service';
import { RefreshTokenService } from './refresh-token.service';

/**
 * Registration, login, token refresh, logout and the e-mail flows; also brings in global rate
 * limiting. Exports bearer authentication (AccessTokenService, JwtAuthGuard) for other modules.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([RefreshToken, EmailToken]),
    AccessTokenModule,
    UsersModule,
    ThrottlingModule,
    AuditModule,
  ],
  controllers: [AuthController],
  providers: [AuthService, PasswordHasher, RefreshTokenService, EmailTokenService, MailService],
  exports: [AccessTokenModule, RefreshTokenService],
})
export class AuthModule {}
