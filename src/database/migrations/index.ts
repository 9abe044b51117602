import { InitialSchema1764086400000 } from './1764086400000-initial-schema';
import { ApiKeys1764950400000 } from './1764950400000-api-keys';
import { PendingRepliesIndex1765036800000 } from './1765036800000-pending-replies-index';
import { MessageTree1765382400000 } from './1765382400000-message-tree';
import { MessageFeedback1765468800000 } from './1765468800000-message-feedback';
import { SessionSettings1765555200000 } from './1765555200000-session-settings';
import { Presets1765641600000 } from './1765641600000-presets';
import { UsageLedger1766000000000 } from './1766000000000-usage-ledger';
import { UserRoles1766100000000 } from './1766100000000-user-roles';
import { AuditLog1766100100000 } from './1766100100000-audit-log';
import { Files1766200000000 } from './1766200000000-files';
import { ApiKeyTokenQuota1766300000000 } from './1766300000000-api-key-token-quota';
import { MessageToolCalls1766400000000 } from './1766400000000-message-tool-calls';
import { UsageRollupsCurrent1766500000000 } from './1766500000000-usage-rollups-current';
import { PendingReplyKeys1766600000000 } from './1766600000000-pending-reply-keys';
import { UserChangeNotifications1766700000000 } from './1766700000000-user-change-notifications';

/** Every migration in order. Add new ones at the end (they run on SQLite and Postgres alike). */
export const MIGRATIONS = [
  InitialSchema1764086400000,
  ApiKeys1764950400000,
  PendingRepliesIndex1765036800000,
  MessageTree1765382400000,
  MessageFeedback1765468800000,
  SessionSettings1765555200000,
  Presets1765641600000,
  UsageLedger1766000000000,
  UserRoles1766100000000,
  AuditLog1766100100000,
  Files1766200000000,
  ApiKeyTokenQuota1766300000000,
  MessageToolCalls1766400000000,
  UsageRollupsCurrent1766500000000,
  PendingReplyKeys1766600000000,
  UserChangeNotifications1766700000000,
];
