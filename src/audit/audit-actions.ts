/** Every action the audit log records: admin actions and security events. */
export const AUDIT_ACTIONS = [
  /** ADMIN_EMAILS made an existing account an admin at start-up (actor: the system). */
  'admin.bootstrap',
  'user.disabled',
  'user.enabled',
  'user.role_changed',
  'user.quota_changed',
  'user.deleted',
  /** RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT failed logins locked an account (actor: unknown). */
  'auth.login_locked',
  /** A spent refresh token was presented again; its whole family was revoked. */
  'auth.refresh_token_reused',
  'api_key.revoked',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
