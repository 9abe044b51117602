import {
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Req,
  Res,
  StreamableFile,
  UploadedFile,
  UseInterceptors,
} from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import {
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiErrorResponse, InvalidInputError, UnsupportedMediaTypeError } from '@app/common';
import { ApiKeyScope } from '../api-keys/api-key-scopes';
import type { AuthUser } from '../auth/auth-user';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator';
import { CurrentUser } from '../auth/decorators/current-user.decorator';
import { FileDto, FileListDto, UploadFileDto } from './dto/file.dto';
import { ACCEPTED_TYPES, ACCEPTED_NAMES } from './file-kinds';
import { FilesService } from './files.service';
import { FILE_STORAGE_UNAVAILABLE_DETAIL } from './storage/file-storage';

/** The part of the upload multer hands over (memory storage). */
interface UploadedPart {
  originalname: string;
  buffer: Buffer;
}

/** The 415 detail of an upload that is not a multipart form. */
export const MULTIPART_ONLY_DETAIL = 'Content-Type must be multipart/form-data';

const FILE_PARAM = {
  name: 'file_id',
  format: 'uuid',
  description: "A file of the caller; malformed, unknown and other users' ids all answer 404.",
  example: '7a1c9e2b-4d3f-4e5a-8b6c-0d1e2f3a4b5c',
};
const StorageUnavailable = () =>
  ApiErrorResponse(503, 'The file storage (an S3 bucket) cannot be reached; see Retry-After', {
    detail: FILE_STORAGE_UNAVAILABLE_DETAIL,
  });
const FileNotFound = () =>
  ApiErrorResponse(404, 'Unknown or malformed file id, or a file of another user', {
    detail: 'File not found',
  });

/** The caller's uploaded files, attached to chat messages by id (`attachments`). */
@ApiTags('files')
@BearerAuth()
@ApiErrorResponse(429, 'Rate limit; see Retry-After')
@ApiKeyScope('chat')
@Controller('api/files')
export class FilesController {
  constructor(private readonly files: FilesService) {}

  @Post()
  @UseInterceptors(FileInterceptor('file'))
  @ApiOperation({
    summary: 'Upload a file (multipart field `file`)',
    description:
      `Accepted: ${ACCEPTED_NAMES}. The type is sniffed from the content, never taken from the ` +
      "client's Content-Type; a name whose extension contradicts the content is refused (415). " +
      'Text files must be UTF-8; .json files must parse. At most FILES__MAX_BYTES per file and ' +
      'FILES__USER_QUOTA_BYTES for all of a user’s files (413).',
  })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadFileDto })
  @ApiCreatedResponse({ type: FileDto })
  @ApiErrorResponse(400, 'No `file` part, an empty file, a bad name, or invalid JSON', {
    detail: 'file is required',
    errors: [{ field: 'file', message: 'is required' }],
  })
  @ApiErrorResponse(413, 'Larger than FILES__MAX_BYTES, or beyond the storage quota', {
    detail: 'File too large',
  })
  @ApiErrorResponse(415, 'Not multipart, a type not accepted, or an extension that lies', {
    detail: "The file name's extension .png does not match its content (application/pdf)",
  })
  @StorageUnavailable()
  upload(
    @CurrentUser() user: AuthUser,
    @Req() request: Request,
    @UploadedFile() file: UploadedPart | undefined,
  ): Promise<FileDto> {
    if (!file) {
      if (request.is('multipart/form-data') !== 'multipart/form-data') {
        throw new UnsupportedMediaTypeError(MULTIPART_ONLY_DETAIL);
      }
      throw new InvalidInputError('file is required', [{ field: 'file', message: 'is required' }]);
    }
    return this.files.upload(user.id, { name: file.originalname, bytes: file.buffer });
  }

  @Get()
  @ApiOperation({ summary: "List the caller's files, newest first, with the storage used" })
  @ApiOkResponse({ type: FileListDto })
  list(@CurrentUser() user: AuthUser): Promise<FileListDto> {
    return this.files.list(user.id);
  }

  @Get(':file_id')
  @ApiOperation({
    summary: "Download one of the caller's files",
    description:
      'Served with its sniffed Content-Type, `X-Content-Type-Options: nosniff`, a sandboxing ' +
      'Content-Security-Policy, and `Content-Disposition` inline for images, attachment otherwise.',
  })
  @ApiParam(FILE_PARAM)
  @ApiOkResponse({
    description: 'The file’s bytes, with the media type sniffed at upload',
    // Per success type: errors stay JSON (a global `produces` would claim them too).
    content: Object.fromEntries(
      ACCEPTED_TYPES.map(({ mediaType }) => [
        mediaType,
        { schema: { type: 'string', format: 'binary' } },
      ]),
    ),
  })
  @FileNotFound()
  @StorageUnavailable()
  async download(
    @CurrentUser() user: AuthUser,
    @Param('file_id') fileId: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<StreamableFile> {
    const file = await this.files.open(user.id, fileId);
    // A client that leaves mid-download releases the file (or the S3 connection) at once.
    response.once('close', () => file.stream.destroy());
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    response.setHeader('Cache-Control', 'private, max-age=3600');
    return new StreamableFile(file.stream, {
      type: file.kind === 'text' ? `${file.mediaType}; charset=utf-8` : file.mediaType,
      length: file.sizeBytes,
      disposition: contentDisposition(file.kind === 'image' ? 'inline' : 'attachment', file.name),
    });
  }

  @Delete(':file_id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete a file',
    description: 'Messages that attached it keep the reference; the file itself answers 404 after.',
  })
  @ApiParam(FILE_PARAM)
  @ApiNoContentResponse({ description: 'Deleted' })
  @FileNotFound()
  @StorageUnavailable()
  async remove(@CurrentUser() user: AuthUser, @Param('file_id') fileId: string): Promise<void> {
    await this.files.remove(user.id, fileId);
  }
}

/** RFC 6266: an ASCII fallback name and the exact one in UTF-8 (RFC 8187). */
function contentDisposition(type: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
