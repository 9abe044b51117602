import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';
import { HasCodePointLength, IsNumberInRange, IsWellFormedText } from '@app/common';
import { MAX_REPLY_TOKENS, MAX_SYSTEM_PROMPT_CHARS } from '../../chat/dto/chat-request.dto';
import type { SessionSettings } from '../history-store.interface';

/**
 * The chat settings a session or a preset keeps, validated like a chat request's: absent leaves
 * one as it is, null clears it.
 */
export class SettingsFieldsDto {
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: MAX_SYSTEM_PROMPT_CHARS,
    example: 'You are a concise travel planner.',
    description: 'The system prompt of every turn that sends none; null clears it.',
  })
  @IsOptional()
  @IsString()
  @HasCodePointLength(0, MAX_SYSTEM_PROMPT_CHARS)
  @IsWellFormedText()
  system_prompt?: string | null;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    minLength: 1,
    maxLength: 200,
    example: 'local/echo',
    description:
      'The model (GET /api/models) of every turn that names none; null clears it. Unknown → 400.',
  })
  @IsOptional()
  @IsString()
  @HasCodePointLength(1, 200)
  @IsWellFormedText()
  model?: string | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    minimum: 0,
    maximum: 2,
    example: 0.3,
    description: 'The sampling temperature of every turn that sends none; null clears it.',
  })
  @IsOptional()
  @IsNumberInRange(0, 2)
  temperature?: number | null;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: MAX_REPLY_TOKENS,
    example: 512,
    description: 'The longest reply in tokens of every turn that sends none; null clears it.',
  })
  @IsOptional()
  @IsNumberInRange(1, MAX_REPLY_TOKENS, { integer: true })
  max_tokens?: number | null;
}

/** The settings of a body, undefined where absent and null where cleared. */
export function settingsOfBody(body: SettingsFieldsDto): Partial<SessionSettings> {
  return {
    systemPrompt: body.system_prompt,
    model: body.model,
    temperature: body.temperature,
    maxTokens: body.max_tokens,
  };
}
