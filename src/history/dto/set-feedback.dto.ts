import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString } from 'class-validator';
import { HasCodePointLength, IsWellFormedText } from '@app/common';
import type { FeedbackRating } from '../history-store.interface';
import { FEEDBACK_RATINGS } from './history-response.dto';

/** Longest feedback comment, in characters. */
export const MAX_FEEDBACK_COMMENT_CHARS = 2000;

/** Body of `PUT /api/history/{session_id}/messages/{message_id}/feedback`. */
export class SetFeedbackDto {
  @ApiProperty({ enum: FEEDBACK_RATINGS, example: 'down' })
  @IsIn(FEEDBACK_RATINGS, { message: 'rating must be one of: up, down' })
  rating: FeedbackRating;

  @ApiPropertyOptional({
    example: 'The dates are wrong.',
    maxLength: MAX_FEEDBACK_COMMENT_CHARS,
    description: `Optional, at most ${MAX_FEEDBACK_COMMENT_CHARS} characters; replaces any earlier comment (absent: none).`,
  })
  @IsOptional()
  @IsString({ message: 'comment must be a string' })
  @HasCodePointLength(0, MAX_FEEDBACK_COMMENT_CHARS, {
    message: `comment must be at most ${MAX_FEEDBACK_COMMENT_CHARS} characters`,
  })
  @IsWellFormedText()
  comment?: string;
}
