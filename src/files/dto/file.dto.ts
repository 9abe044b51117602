import { ApiProperty } from '@nestjs/swagger';
import type { StoredFile } from '../entities/stored-file.entity';

/** An uploaded file as the API shows it. */
export class FileDto {
  @ApiProperty({ example: '7a1c9e2b-4d3f-4e5a-8b6c-0d1e2f3a4b5c', format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'diagram.png', description: 'The uploaded name, without directories.' })
  name: string;

  @ApiProperty({
    example: 'image/png',
    description:
      'Sniffed from the content: image/png, image/jpeg, image/webp, image/gif, application/pdf, ' +
      'text/plain, text/markdown, text/csv or application/json.',
  })
  media_type: string;

  @ApiProperty({ example: 48213, description: 'Size in bytes.' })
  size_bytes: number;

  @ApiProperty({ example: '2026-11-25T16:02:10.004Z', format: 'date-time' })
  created_at: string;
}

/** `GET /api/files`: the caller's files, newest first, and the storage they use. */
export class FileListDto {
  @ApiProperty({ type: [FileDto] })
  items: FileDto[];

  @ApiProperty({ example: 48213, description: 'Bytes used by all of the caller’s files.' })
  used_bytes: number;

  @ApiProperty({ example: 209715200, description: 'The caller’s storage quota in bytes.' })
  quota_bytes: number;
}

/** Multipart body of `POST /api/files` (documentation only; multer parses it). */
export class UploadFileDto {
  @ApiProperty({ type: 'string', format: 'binary', description: 'The file (one).' })
  file: unknown;
}

export function mapFile(file: StoredFile): FileDto {
  return {
    id: file.id,
    name: file.name,
    media_type: file.mediaType,
    size_bytes: file.sizeBytes,
    created_at: file.createdAt.toISOString(),
  };
}
