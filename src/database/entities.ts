import { User } from '../users/entities/user.entity';
import { RefreshToken } from '../auth/entities/refresh-token.entity';
import { EmailToken } from '../auth/entities/email-token.entity';
import { ChatSession } from '../history/entities/chat-session.entity';
import { ChatMessage } from '../history/entities/chat-message.entity';
import { ApiKey } from '../api-keys/entities/api-key.entity';
import { Preset } from '../presets/entities/preset.entity';
import { BudgetOverride } from '../usage/entities/budget-override.entity';
import { UsageDaily } from '../usage/entities/usage-daily.entity';
import { UsageRecord } from '../usage/entities/usage-record.entity';
import { StoredFile } from '../files/entities/stored-file.entity';
import { FileUse } from '../files/entities/file-use.entity';
import { AuditLogEntry } from '../audit/entities/audit-log-entry.entity';
import { PendingReplyKey } from '../chat/generations/pending-reply-key.entity';

/** Every TypeORM entity; the app, the CLI data source and tests load this one list. */
export const ENTITIES = [
  User,
  RefreshToken,
  EmailToken,
  ChatSession,
  ChatMessage,
  ApiKey,
  Preset,
  UsageRecord,
  UsageDaily,
  BudgetOverride,
  StoredFile,
  FileUse,
  AuditLogEntry,
  PendingReplyKey,
];
