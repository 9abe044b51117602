import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One line of the audit log (table `audit_log`). Rows are only ever inserted: the code has no
 * update or delete path, and database triggers refuse both (migration AuditLog1766100100000).
 */
@Entity('audit_log')
export class AuditLogEntry {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ type: Date })
  at: Date;

  /** Who acted; null for the system (start-up) or an unauthenticated client (failed logins). */
  @Column({ name: 'actor_id', type: 'varchar', length: 36, nullable: true })
  actorId: string | null;

  /** The actor's e-mail at the time, kept so the entry reads the same after the account is gone. */
  @Column({ name: 'actor_email', type: 'varchar', length: 254, nullable: true })
  actorEmail: string | null;

  @Column({ type: 'varchar', length: 64 })
  action: string;

  /** What was acted on, as `kind:id` (`user:…`, `api_key:…`, `email:…`). */
  @Column({ type: 'varchar', length: 300, nullable: true })
  target: string | null;

  /** JSON object with the specifics (the fields changed, a reason); never a secret. */
  @Column({ type: 'text', nullable: true })
  details: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;
}
