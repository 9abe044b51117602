import { basename } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { codePointLength, InvalidInputError, PayloadTooLargeError } from '@app/common';
import { AppConfig } from '@app/config';
import { newHistoryId, parseSessionId } from '../history/session-id';
import { FileListDto, mapFile, type FileDto } from './dto/file.dto';
import { FileUse } from './entities/file-use.entity';
import { StoredFile } from './entities/stored-file.entity';
import { kindOf, type FileKind } from './file-kinds';
import { sniffMediaType } from './file-sniffer';
import { FileNotFoundError } from './files.errors';
import {
  FILE_STORAGE,
  FileContentMissingError,
  type FileStorage,
  type OpenedContent,
} from './storage/file-storage';

/** Longest accepted file name, in code points. */
export const MAX_FILE_NAME_CHARS = 255;

/** An upload as the controller received it. */
export interface Upload {
  /** The name the client gave (directories are dropped). */
  name: string;
  bytes: Buffer;
}

/** A stored file with its content, ready to be put into a prompt. */
export interface LoadedFile {
  id: string;
  name: string;
  mediaType: string;
  kind: FileKind;
  bytes: Buffer;
}

/** A stored file with its content as a stream, ready to be sent to its owner. */
export interface OpenedFile extends Omit<LoadedFile, 'bytes'>, OpenedContent {}

/**
 * Users' uploaded files: metadata in the `files` table, bytes in the FileStorage. Every method
 * taking a userId scopes to that user: another user's file behaves exactly like a missing one.
 */
@Injectable()
export class FilesService {
  private readonly logger = new Logger(FilesService.name);

  constructor(
    @InjectRepository(StoredFile) private readonly files: Repository<StoredFile>,
    @InjectRepository(FileUse) private readonly uses: Repository<FileUse>,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
    private readonly config: AppConfig,
  ) {}

  /** Stores an upload after checking its name, type (sniffed; 415) and the user's quota (413). */
  async upload(userId: string, upload: Upload): Promise<FileDto> {
    const name = fileName(upload.name);
    const mediaType = await sniffMediaType(name, upload.bytes);
    const size = upload.bytes.length;
    const used = await this.usedBytes(userId);
    const quota = this.config.files.userQuotaBytes;
    if (used + size > quota) {
      throw new PayloadTooLargeError(
        `Storage quota exceeded: ${used} of ${quota} bytes used, this file needs ${size}; delete files to make room`,
      );
    }
    const id = newHistoryId();
    const storageKey = `${userId}/${id}`;
    await this.storage.put(storageKey, upload.bytes);
    try {
      const file = await this.files.save(
        this.files.create({ id, userId, name, mediaType, sizeBytes: size, storageKey }),
      );
      return mapFile(file);
    } catch (error) {
      await this.storage.delete(storageKey).catch(() => undefined);
      throw error;
    }
  }

  async list(userId: string): Promise<FileListDto> {
    const files = await this.files.find({
      where: { userId },
      order: { createdAt: 'DESC', id: 'DESC' },
    });
    return {
      items: files.map(mapFile),
      used_bytes: files.reduce((sum, file) => sum + file.sizeBytes, 0),
      quota_bytes: this.config.files.userQuotaBytes,
    };
  }

  /** The caller's file with its content as a stream, for a download (404 otherwise). */
  async open(userId: string, fileId: string): Promise<OpenedFile> {
    const file = await this.owned(userId, fileId);
    try {
      return { ...described(file), ...(await this.storage.open(file.storageKey)) };
    } catch (error) {
      if (!(error instanceof FileContentMissingError)) throw error;
      this.logMissing(file);
      throw new FileNotFoundError();
    }
  }

  async remove(userId: string, fileId: string): Promise<void> {
    await this.erase([await this.owned(userId, fileId)]);
  }

  /**
   * The caller's files with these ids, in the order given: 404 when any is unknown or not theirs.
   * Attaching them to a chat message starts here.
   */
  async requireOwned(userId: string, fileIds: readonly string[]): Promise<StoredFile[]> {
    const ids = fileIds.map((id) => parseSessionId(id));
    if (ids.some((id) => id === null)) throw new FileNotFoundError();
    const found = await this.files.findBy({ id: In(ids as string[]), userId });
    const byId = new Map(found.map((file) => [file.id, file]));
    return (ids as string[]).map((id) => {
      const file = byId.get(id);
      if (!file) throw new FileNotFoundError();
      return file;
    });
  }

  /**
   * The content of the caller's files with these ids, for a prompt. Files deleted since they were
   * attached are left out (their message keeps the reference).
   */
  async load(userId: string, fileIds: readonly string[]): Promise<Map<string, LoadedFile>> {
    const ids = [...new Set(fileIds)];
    const result = new Map<string, LoadedFile>();
    if (ids.length === 0) return result;
    for (const file of await this.files.findBy({ id: In(ids), userId })) {
      const bytes = await this.content(file);
      if (bytes) result.set(file.id, loaded(file, bytes));
    }
    return result;
  }

  /** Records that a session's messages attach these files (see releaseSession). */
  async recordUse(sessionId: string, fileIds: readonly string[]): Promise<void> {
    const ids = [...new Set(fileIds)];
    if (ids.length === 0) return;
    await this.uses
      .createQueryBuilder()
      .insert()
      .values(ids.map((fileId) => ({ fileId, sessionId })))
      .orIgnore()
      .execute();
  }

  /**
   * A session was deleted: the files its messages attached are deleted too, unless a message of
   * another session attaches them as well.
   */
  async releaseSession(userId: string, sessionId: string): Promise<void> {
    const used = await this.uses.findBy({ sessionId });
    if (used.length === 0) return;
    await this.uses.delete({ sessionId });
    const fileIds = used.map((use) => use.fileId);
    const stillUsed = new Set(
      (await this.uses.findBy({ fileId: In(fileIds) })).map((use) => use.fileId),
    );
    const orphans = fileIds.filter((id) => !stillUsed.has(id));
    if (orphans.length === 0) return;
    await this.erase(await this.files.findBy({ id: In(orphans), userId }));
  }

  /** Deletes every file of a user, bytes first (account deletion). */
  async deleteAllForUser(userId: string): Promise<void> {
    await this.erase(await this.files.findBy({ userId }));
  }

  private async erase(files: StoredFile[]): Promise<void> {
    for (const file of files) await this.storage.delete(file.storageKey);
    if (files.length > 0) await this.files.delete({ id: In(files.map((file) => file.id)) });
  }

  private async usedBytes(userId: string): Promise<number> {
    const row = await this.files
      .createQueryBuilder('file')
      .select('COALESCE(SUM(file.size_bytes), 0)', 'used')
      .where('file.user_id = :userId', { userId })
      .getRawOne<{ used: string | number }>();
    return Number(row?.used ?? 0);
  }

  private async owned(userId: string, fileId: string): Promise<StoredFile> {
    const id = parseSessionId(fileId);
    const file = id ? await this.files.findOneBy({ id, userId }) : null;
    if (!file) throw new FileNotFoundError();
    return file;
  }

  /** The stored bytes, or undefined (logged) when the storage lost them. */
  private async content(file: StoredFile): Promise<Buffer | undefined> {
    try {
      return await this.storage.get(file.storageKey);
    } catch (error) {
      if (!(error instanceof FileContentMissingError)) throw error;
      this.logMissing(file);
      return undefined;
    }
  }

  private logMissing(file: StoredFile): void {
    this.logger.warn(`File ${file.id} is listed but its content is missing from the storage`);
  }
}

function loaded(file: StoredFile, bytes: Buffer): LoadedFile {
  return { ...described(file), bytes };
}

function described(file: StoredFile): Omit<LoadedFile, 'bytes'> {
  return { id: file.id, name: file.name, mediaType: file.mediaType, kind: kindOf(file.mediaType) };
}

/** The client's name without directories, trimmed: 1 to 255 characters, no control characters. */
function fileName(raw: string): string {
  const name = basename(raw.replace(/\\/g, '/')).trim();
  const fail = (message: string) => {
    throw new InvalidInputError(`file name ${message}`, [
      { field: 'file', message: `name ${message}` },
    ]);
  };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) fail('must not contain control characters');
  if (codePointLength(name) < 1 || codePointLength(name) > MAX_FILE_NAME_CHARS) {
    fail(`must be 1 to ${MAX_FILE_NAME_CHARS} characters`);
  }
  if (name === '.' || name === '..') fail('is not a file name');
  return name;
}
