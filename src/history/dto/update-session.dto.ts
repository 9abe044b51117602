import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, Matches } from 'class-validator';
import { HasCodePointLength, IsWellFormedText } from '@app/common';
import { SettingsFieldsDto } from './settings-fields.dto';

export const MAX_TITLE_CHARS = 200;

/** Body of `PATCH /api/history/{session_id}`: at least one of the fields (settings: null clears one). */
export class UpdateSessionDto extends SettingsFieldsDto {
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
    maxLength: 100,
    description:
      "A preset of the caller (GET /api/presets): its settings replace the session's; settings sent " +
      "in the same body win over it. Unknown or another user's → 404.",
  })
  @IsOptional()
  @IsString({ message: 'preset_id must be a string' })
  @HasCodePointLength(1, 100, { message: 'preset_id must be 1 to 100 characters' })
  preset_id?: string;
}
