import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, Matches } from 'class-validator';
import { HasCodePointLength, IsWellFormedText } from '@app/common';
import { SettingsFieldsDto } from '../../history/dto/settings-fields.dto';
import type { Preset } from '../entities/preset.entity';

export const MAX_PRESET_NAME_CHARS = 100;
const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
const NAME_RULES = {
  example: 'Terse French',
  minLength: 1,
  maxLength: MAX_PRESET_NAME_CHARS,
  pattern: '^[^\\u0000-\\u001f\\u007f]*$',
  description: `1 to ${MAX_PRESET_NAME_CHARS} characters, trimmed, no control characters.`,
};

/** Body of `POST /api/presets`. */
export class CreatePresetDto extends SettingsFieldsDto {
  @ApiProperty(NAME_RULES)
  @Transform(trim)
  @IsString({ message: 'name must be a string' })
  @HasCodePointLength(1, MAX_PRESET_NAME_CHARS, {
    message: `name must be 1 to ${MAX_PRESET_NAME_CHARS} characters`,
  })
  // eslint-disable-next-line no-control-regex
  @Matches(/^[^\u0000-\u001f\u007f]*$/, { message: 'name must not contain control characters' })
  @IsWellFormedText()
  name: string;
}

/** Body of `PATCH /api/presets/{preset_id}`: the fields to change (a setting's null clears it). */
export class UpdatePresetDto extends SettingsFieldsDto {
  @ApiPropertyOptional(NAME_RULES)
  @IsOptional()
  @Transform(trim)
  @IsString({ message: 'name must be a string' })
  @HasCodePointLength(1, MAX_PRESET_NAME_CHARS, {
    message: `name must be 1 to ${MAX_PRESET_NAME_CHARS} characters`,
  })
  // eslint-disable-next-line no-control-regex
  @Matches(/^[^\u0000-\u001f\u007f]*$/, { message: 'name must not contain control characters' })
  @IsWellFormedText()
  name?: string;
}

/** A preset as the API shows it. */
export class PresetDto {
  @ApiProperty({ example: '5d0f2c1e-8a4b-4c3d-9e2f-1a0b9c8d7e6f', format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'Terse French' })
  name: string;

  @ApiProperty({ type: String, nullable: true, example: 'Answer in French, briefly.' })
  system_prompt: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'local/echo' })
  model: string | null;

  @ApiProperty({ type: Number, nullable: true, example: 0.3 })
  temperature: number | null;

  @ApiProperty({ type: 'integer', nullable: true, example: 256 })
  max_tokens: number | null;

  @ApiProperty({ example: '2026-11-25T16:02:10.004Z', format: 'date-time' })
  created_at: string;

  @ApiProperty({ example: '2026-11-25T16:02:10.004Z', format: 'date-time' })
  updated_at: string;
}

/** `GET /api/presets`: the caller's presets, oldest first. */
export class PresetListDto {
  @ApiProperty({ type: [PresetDto] })
  items: PresetDto[];
}

export function mapPreset(preset: Preset): PresetDto {
  return {
    id: preset.id,
    name: preset.name,
    system_prompt: preset.systemPrompt,
    model: preset.model,
    temperature: preset.temperature,
    max_tokens: preset.maxTokens,
    created_at: preset.createdAt.toISOString(),
    updated_at: preset.updatedAt.toISOString(),
  };
}
