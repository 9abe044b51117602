import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccessTokenModule } from '../auth/access-token.module';
import { ProvidersModule } from '../providers/providers.module';
import { Preset } from './entities/preset.entity';
import { PresetsController } from './presets.controller';
import { PresetsService } from './presets.service';

/** Presets: the CRUD API, and PresetsService for `preset_id` on chat requests and sessions. */
@Module({
  imports: [TypeOrmModule.forFeature([Preset]), AccessTokenModule, ProvidersModule],
  controllers: [PresetsController],
  providers: [PresetsService],
  exports: [PresetsService],
})
export class PresetsModule {}
