import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, Matches } from 'class-validator';
import { HasCodePointLength, IsNumberInRange, IsWellFormedText } from '@app/common';
import { MAX_REPLY_TOKENS, MAX_SYSTEM_PROMPT_CHARS } from '../../chat/dto/chat-request.dto';

export const MAX_TITLE_CHARS = 200;

/** Body of `PATCH /api/history/{session_id}`: at least one of the fields (settings: null clears one). */
export class UpdateSessionDto {
  @ApiPropertyOptional({
    example: 'Trip to Lisbon',
    minLength: 1,
    maxLength: MAX_TITLE_CHARS,
    pattern: '^[^\\u0000-\\u001f\\u007f]*$',
    description:
      `New title of 1 to ${MAX_TITLE_CHARS} characters (Unicode code points); surrounding ` +
      'whitespace is trimmed, control characters (line breaks too) are not allowed.',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @IsString({ message: 'title must be a string' })
  @HasCodePointLength(1, MAX_TITLE_CHARS, {
    message: `title must be 1 to ${MAX_TITLE_CHARS} characters`,
  })
  // eslint-disable-next-line no-control-regex
  @Matches(/^[^\u0000-\u001f\u007f]*$/, { message: 'title must not contain control characters' })
  @IsWellFormedText()
  title?: string;

  // No example: generated requests (Postman, docs) would send a made-up id and get a 404.
  @ApiPropertyOptional({
    maxLength: 100,
    description:
      "Switch branch: any message of the session (e.g. one of a message's `sibling_ids`). The active " +
      'leaf becomes the end of its branch, following the newest reply at each step; the next chat turn ' +
      'continues from there. A message not in this session → 404.',
  })
  @IsOptional()
  @IsString({ message: 'active_message_id must be a string' })
  @HasCodePointLength(1, 100, { message: 'active_message_id must be 1 to 100 characters' })
  active_message_id?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: MAX_SYSTEM_PROMPT_CHARS,
    example: 'You are a concise travel planner.',
    description:
      "This conversation's system prompt, used by every turn that sends none; null clears it.",
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
      "This conversation's model (GET /api/models), used by every turn that names none; null clears it. Unknown → 400.",
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
    description: "This conversation's sampling temperature; null clears it.",
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
    description: "This conversation's longest reply in tokens; null clears it.",
  })
  @IsOptional()
  @IsNumberInRange(1, MAX_REPLY_TOKENS, { integer: true })
  max_tokens?: number | null;
}
