import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ToolCallDto, UsageDto } from '../../history/dto/history-response.dto';
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
    enum: ['stop', 'length', 'content_filter', 'tool_calls', 'aborted'],
    description:
      '`aborted` when POST /api/chat/{session_id}/abort stopped it (reply is the partial text); ' +
      '`tool_calls` when the model waits for the results of the client calls in `tool_calls`.',
  })
  finish_reason: FinishReasonPayload;

  @ApiPropertyOptional({
    type: [ToolCallDto],
    description:
      'Only when the model called tools in this turn: every call in order. Server-side ones carry ' +
      'their result; client ones (`result: null`) wait for `tool_results` in the next request.',
  })
  tool_calls?: ToolCallDto[];

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
    ...(result.tool_calls?.length ? { tool_calls: result.tool_calls } : {}),
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
