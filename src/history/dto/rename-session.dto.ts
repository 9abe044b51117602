import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, Matches } from 'class-validator';
import { HasCodePointLength, IsWellFormedText } from '@app/common';

export const MAX_TITLE_CHARS = 200;

/** Body of `PATCH /api/history/{session_id}`. */
export class RenameSessionDto {
  @ApiProperty({
    example: 'Trip to Lisbon',
    minLength: 1,
    maxLength: MAX_TITLE_CHARS,
    pattern: '^[^\\u0000-\\u001f\\u007f]*$',
    description:
      `New title of 1 to ${MAX_TITLE_CHARS} characters (Unicode code points); surrounding ` +
      'whitespace is trimmed, control characters (line breaks too) are not allowed.',
  })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @IsString({ message: 'title must be a string' })
  @HasCodePointLength(1, MAX_TITLE_CHARS, {
    message: `title must be 1 to ${MAX_TITLE_CHARS} characters`,
  })
  // eslint-disable-next-line no-control-regex
  @Matches(/^[^\u0000-\u001f\u007f]*$/, { message: 'title must not contain control characters' })
  @IsWellFormedText()
  title: string;
}
