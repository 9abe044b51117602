import { ApiProperty } from '@nestjs/swagger';
import { UsageDto } from '../../history/dto/history-response.dto';
import type { FinishReasonPayload } from '../chat-events';
import type { StoredChatResult } from '../idempotency/idempotency-store';

export class ChatResponseDto {
  @ApiProperty({ example: '3f2b8a5e-2c1d-4b7a-9e0f-1a2b3c4d5e6f' })
  session_id: string;

  @ApiProperty({
    example: '9c1e7d2a-4b3f-4e8a-8d7c-6b5a4f3e2d1c',
    description: 'Id of the stored assistant message.',
  })
  message_id: string;

  @ApiProperty({ example: 'Server-sent events let a server push text to the browser over HTTP.' })
  reply: string;

  @ApiProperty({ example: 'local/echo', description: 'The model that answered.' })
  model: string;

  @ApiProperty({ type: UsageDto })
  usage: UsageDto;

  @ApiProperty({
    example: 'stop',
    enum: ['stop', 'length', 'content_filter', 'aborted'],
    description:
      '`aborted` when POST /api/chat/{session_id}/abort stopped it (reply is the partial text).',
  })
  finish_reason: FinishReasonPayload;

  @ApiProperty({ example: '2026-01-01T12:00:00.000Z' })
  created_at: string;
}

export function mapChatResponse(result: StoredChatResult): ChatResponseDto {
  return {
    session_id: result.session_id,
    message_id: result.message_id,
    reply: result.reply,
    model: result.model,
    usage: result.usage,
    finish_reason: result.finish_reason,
    created_at: result.created_at,
  };
}

export class AbortResponseDto {
  @ApiProperty({ example: '3f2b8a5e-2c1d-4b7a-9e0f-1a2b3c4d5e6f' })
  session_id: string;

  @ApiProperty({
    example: true,
    description:
      'True when a generation was running and is being stopped; false when nothing was running (still 202).',
  })
  running: boolean;
}
