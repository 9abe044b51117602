import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ConflictError, NotFoundError } from '@app/common';
import type { SessionSettings } from '../history/history-store.interface';
import { newHistoryId, parseSessionId } from '../history/session-id';
import { ProvidersService } from '../providers/providers.service';
import { mapPreset, type PresetDto } from './dto/preset.dto';
import { Preset } from './entities/preset.entity';

/** Most presets one user may keep. */
export const MAX_PRESETS_PER_USER = 100;

/** A preset that does not exist, is malformed, or belongs to another user (never say which). */
export class PresetNotFoundError extends NotFoundError {
  constructor() {
    super('Preset not found');
  }
}

/** A user's presets: named chat settings (validated like a chat request's). */
@Injectable()
export class PresetsService {
  constructor(
    @InjectRepository(Preset) private readonly presets: Repository<Preset>,
    private readonly providers: ProvidersService,
  ) {}

  async list(userId: string): Promise<PresetDto[]> {
    const presets = await this.presets.find({
      where: { userId },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
    return presets.map(mapPreset);
  }

  async get(userId: string, presetId: string): Promise<PresetDto> {
    return mapPreset(await this.owned(userId, presetId));
  }

  async create(
    userId: string,
    name: string,
    settings: Partial<SessionSettings>,
  ): Promise<PresetDto> {
    if ((await this.presets.countBy({ userId })) >= MAX_PRESETS_PER_USER) {
      throw new ConflictError(`At most ${MAX_PRESETS_PER_USER} presets per user`);
    }
    const preset = this.presets.create({
      id: newHistoryId(),
      userId,
      name,
      systemPrompt: settings.systemPrompt ?? null,
      model: this.model(settings.model) ?? null,
      temperature: settings.temperature ?? null,
      maxTokens: settings.maxTokens ?? null,
    });
    return mapPreset(await this.presets.save(preset));
  }

  async update(
    userId: string,
    presetId: string,
    changes: { name?: string } & Partial<SessionSettings>,
  ): Promise<PresetDto> {
    const model = this.model(changes.model);
    const preset = await this.owned(userId, presetId);
    for (const [field, value] of Object.entries({ ...changes, model })) {
      if (value !== undefined) Object.assign(preset, { [field]: value });
    }
    return mapPreset(await this.presets.save(preset));
  }

  async remove(userId: string, presetId: string): Promise<void> {
    const preset = await this.owned(userId, presetId);
    await this.presets.delete({ id: preset.id, userId });
  }

  /** The settings of the caller's preset (PresetNotFoundError otherwise). */
  async settings(userId: string, presetId: string): Promise<SessionSettings> {
    const preset = await this.owned(userId, presetId);
    return {
      systemPrompt: preset.systemPrompt,
      model: preset.model,
      temperature: preset.temperature,
      maxTokens: preset.maxTokens,
    };
  }

  /** The catalog's id of a model to store (unknown → 400); null and undefined as given. */
  private model(model: string | null | undefined): string | null | undefined {
    return model ? this.providers.resolveModel(model).id : model;
  }

  private async owned(userId: string, presetId: string): Promise<Preset> {
    const id = parseSessionId(presetId);
    const preset = id ? await this.presets.findOneBy({ id, userId }) : null;
    if (!preset) throw new PresetNotFoundError();
    return preset;
  }
}
