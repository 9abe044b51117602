import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiExtraModels,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiKeyScope } from '../api-keys/api-key-scopes';
import type { AuthUser } from '../auth/auth-user';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator';
import { CurrentUser } from '../auth/decorators/current-user.decorator';
import { ApiErrorResponse } from '@app/common';
import { ExportQueryDto, ListHistoryQueryDto, SessionQueryDto } from './dto/history-query.dto';
import {
  FeedbackDto,
  ImportResultDto,
  SessionDetailDto,
  SessionExportDto,
  SessionListDto,
  SessionSummaryDto,
} from './dto/history-response.dto';
import { ImportHistoryDto } from './dto/import-history.dto';
import { SetFeedbackDto } from './dto/set-feedback.dto';
import { settingsOfBody } from './dto/settings-fields.dto';
import { UpdateSessionDto } from './dto/update-session.dto';
import { HistoryService } from './history.service';

const SESSION_PARAM = {
  name: 'session_id',
  format: 'uuid',
  description: "A session of the caller; malformed, unknown and other users' ids all answer 404.",
  example: '3f2b8c1e-9a4d-4e7b-8f10-2c5d6e7f8a9b',
};
const SessionNotFound = () =>
  ApiErrorResponse(404, 'Unknown or malformed session id, or a session of another user', {
    detail: 'Session not found',
  });
const MESSAGE_PARAM = {
  name: 'message_id',
  format: 'uuid',
  description:
    'A message of that session (see GET /api/history/{session_id}); any other id answers 404.',
  example: '8d0c7a52-1b3e-4f6a-9c2d-0e1f2a3b4c5d',
};
const MessageNotFound = () =>
  ApiErrorResponse(
    404,
    "Unknown session or another user's (Session not found), or a message not in it (Message not found)",
    { detail: 'Message not found' },
  );
const MARKDOWN_EXAMPLE =
  '# Trip to Lisbon\n\n- Session: `3f2b8c1e-…`\n- Created: 2026-11-25T16:02:10.004Z\n' +
  '- Updated: 2026-11-25T16:20:31.412Z\n- Messages: 2\n\n---\n\n' +
  '### User · 2026-11-25T16:02:10.004Z\n\nPlan two days in Lisbon\n\n---\n\n' +
  '### Assistant (local/echo) · 2026-11-25T16:02:11.210Z\n\nDay 1: …\n';

@ApiTags('history')
@BearerAuth()
@ApiErrorResponse(429, 'Rate limit; see Retry-After')
@Controller('api/history')
export class HistoryController {
  constructor(private readonly history: HistoryService) {}

  @Get()
  @ApiKeyScope('history:read')
  @ApiOperation({
    summary: "List the caller's chat sessions, newest activity first",
    description:
      'Sorted by `updated_at` (last message activity; renaming does not count), then id. ' +
      '`q` keeps only sessions with a message containing the text (case-insensitive).',
  })
  @ApiOkResponse({ type: SessionListDto })
  @ApiErrorResponse(400, 'Bad page, per_page (over 100) or q, or an unknown query parameter', {
    detail: 'per_page must not be greater than 100',
    errors: [{ field: 'per_page', message: 'per_page must not be greater than 100' }],
  })
  list(
    @CurrentUser() user: AuthUser,
    @Query() query: ListHistoryQueryDto,
  ): Promise<SessionListDto> {
    return this.history.listSessions(
      user.id,
      { page: query.page, perPage: query.per_page },
      query.q,
    );
  }

  @Post('import')
  @ApiKeyScope('history:write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Import conversations: an export of this service or a ChatGPT conversations.json',
    description:
      "Send the file's JSON as `data`. Each conversation becomes a new session with all of its " +
      "branches (ChatGPT's `mapping` tree; `current_node` or the export's `active_message_id` is " +
      'the active branch) and keeps its timestamps; system and tool messages are left out. Each ' +
      'conversation is stored all or nothing; the answer lists what was imported and, per ' +
      'conversation, why one was not.',
  })
  @ApiOkResponse({ type: ImportResultDto })
  @ApiErrorResponse(400, 'data missing, not an object or list, or more than 100 conversations', {
    detail: 'data is required',
    errors: [{ field: 'data', message: 'data is required' }],
  })
  @ApiErrorResponse(413, 'Body larger than BODY_LIMIT', { detail: 'Request body too large' })
  importConversations(
    @CurrentUser() user: AuthUser,
    @Body() body: ImportHistoryDto,
  ): Promise<ImportResultDto> {
    return this.history.importConversations(user.id, body.data);
  }

  @Get(':session_id')
  @ApiKeyScope('history:read')
  @ApiOperation({
    summary: 'One session with a page of its messages, oldest first',
    description:
      'By default the active branch (`tree=path`): the conversation from the first message to ' +
      '`active_message_id`, which the next chat turn continues. `tree=full` lists every message of ' +
      'every branch. Each message has `parent_id`, `sibling_index`, `sibling_count` and `sibling_ids` ' +
      '(regenerated replies and edited messages are siblings) for "< 2/3 >" controls.',
  })
  @ApiParam(SESSION_PARAM)
  @ApiOkResponse({ type: SessionDetailDto })
  @ApiErrorResponse(400, 'Bad page, per_page or tree', {
    detail: 'page must be at least 1',
    errors: [{ field: 'page', message: 'page must be at least 1' }],
  })
  @SessionNotFound()
  get(
    @CurrentUser() user: AuthUser,
    @Param('session_id') sessionId: string,
    @Query() query: SessionQueryDto,
  ): Promise<SessionDetailDto> {
    return this.history.getSession(
      user.id,
      sessionId,
      { page: query.page, perPage: query.per_page },
      query.tree,
    );
  }

  @Patch(':session_id')
  @ApiKeyScope('history:write')
  @ApiOperation({
    summary: 'Rename a session, switch its active branch and/or change its settings',
    description:
      "`title` renames; `active_message_id` makes that message's branch the active one (its leaf " +
      'is found by following the newest reply down). Returns the session summary. Does not change ' +
      '`updated_at` or the list order. `system_prompt`, `model`, `temperature`, `max_tokens` ' +
      "are the conversation's own settings, used by every turn that does not send its own " +
      '(null clears one); validated like a chat request (an unknown model → 400).',
  })
  @ApiParam(SESSION_PARAM)
  @ApiOkResponse({ type: SessionSummaryDto })
  @ApiErrorResponse(
    400,
    'Neither field, an empty, too long or multi-line title, or an unknown field',
    {
      detail: 'title must be 1 to 200 characters',
      errors: [{ field: 'title', message: 'title must be 1 to 200 characters' }],
    },
  )
  @ApiErrorResponse(
    404,
    "Unknown or malformed session id, a session of another user, or an active_message_id that is not one of the session's messages",
    { detail: 'Session not found' },
  )
  update(
    @CurrentUser() user: AuthUser,
    @Param('session_id') sessionId: string,
    @Body() body: UpdateSessionDto,
  ): Promise<SessionSummaryDto> {
    return this.history.updateSession(user.id, sessionId, {
      title: body.title,
      activeMessageId: body.active_message_id,
      settings: settingsOfBody(body),
      presetId: body.preset_id,
    });
  }

  @Delete(':session_id')
  @ApiKeyScope('history:write')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a session and all of its messages' })
  @ApiParam(SESSION_PARAM)
  @ApiNoContentResponse({ description: 'Deleted' })
  @SessionNotFound()
  async remove(
    @CurrentUser() user: AuthUser,
    @Param('session_id') sessionId: string,
  ): Promise<void> {
    await this.history.deleteSession(user.id, sessionId);
  }

  @Put(':session_id/messages/:message_id/feedback')
  @ApiKeyScope('history:write')
  @ApiOperation({
    summary: 'Rate an assistant reply (thumbs up or down, optional comment)',
    description:
      'Replaces any earlier rating of the message; shown as `feedback` on the message in history ' +
      'reads and counted per model in /metrics (`chatbot_message_feedback_total`).',
  })
  @ApiParam(SESSION_PARAM)
  @ApiParam(MESSAGE_PARAM)
  @ApiOkResponse({ type: FeedbackDto })
  @ApiErrorResponse(400, 'Bad rating or comment, an unknown field, or a user message', {
    detail: 'rating must be one of: up, down',
    errors: [{ field: 'rating', message: 'rating must be one of: up, down' }],
  })
  @MessageNotFound()
  setFeedback(
    @CurrentUser() user: AuthUser,
    @Param('session_id') sessionId: string,
    @Param('message_id') messageId: string,
    @Body() body: SetFeedbackDto,
  ): Promise<FeedbackDto | null> {
    return this.history.setFeedback(user.id, sessionId, messageId, {
      rating: body.rating,
      comment: body.comment || null,
    });
  }

  @Delete(':session_id/messages/:message_id/feedback')
  @ApiKeyScope('history:write')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove the rating of a reply (204 also when it had none)' })
  @ApiParam(SESSION_PARAM)
  @ApiParam(MESSAGE_PARAM)
  @ApiNoContentResponse({ description: 'Removed' })
  @MessageNotFound()
  async removeFeedback(
    @CurrentUser() user: AuthUser,
    @Param('session_id') sessionId: string,
    @Param('message_id') messageId: string,
  ): Promise<void> {
    await this.history.setFeedback(user.id, sessionId, messageId, null);
  }

  @Get(':session_id/export')
  @ApiKeyScope('history:read')
  @ApiOperation({
    summary: 'Download a whole session as JSON or Markdown',
    description:
      'Sent as an attachment (`Content-Disposition: attachment; filename="chat-<session_id>.json|md"`). ' +
      '`json` is the session with every message; `markdown` a readable transcript.',
  })
  @ApiParam(SESSION_PARAM)
  @ApiExtraModels(SessionExportDto)
  @ApiOkResponse({
    description: 'The export',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(SessionExportDto) } },
      'text/markdown': { schema: { type: 'string', example: MARKDOWN_EXAMPLE } },
    },
  })
  @ApiErrorResponse(400, 'Unknown format', {
    detail: 'format must be one of: json, markdown',
    errors: [{ field: 'format', message: 'format must be one of: json, markdown' }],
  })
  @SessionNotFound()
  async export(
    @CurrentUser() user: AuthUser,
    @Param('session_id') sessionId: string,
    @Query() query: ExportQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SessionExportDto | string> {
    const exported = await this.history.exportSession(user.id, sessionId, query.format);
    res.setHeader('Content-Type', exported.contentType);
    res.setHeader('Content-Disposition', `attachment; filename="${exported.filename}"`);
    return exported.body;
  }
}
