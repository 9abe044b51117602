import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { ProvidersModule } from '../providers/providers.module';
import { User } from '../users/entities/user.entity';
import { UsageModule } from '../usage/usage.module';
import { UsersModule } from '../users/users.module';
import { AdminBootstrap } from './admin-bootstrap';
import { AdminController } from './admin.controller';
import { AdminGuard } from './admin.guard';
import { AdminUsersService } from './admin-users.service';
import { ProviderHealthService } from './provider-health.service';

/**
 * Administration: `/api/admin/*` (admins only), the ADMIN_EMAILS bootstrap and provider health.
 * The audit log it reads is written by AuditModule's users across the app.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([User]),
    AuthModule,
    UsersModule,
    ProvidersModule,
    AuditModule,
    UsageModule,
  ],
  controllers: [AdminController],
  providers: [AdminBootstrap, AdminGuard, AdminUsersService, ProviderHealthService],
})
export class AdminModule {}
