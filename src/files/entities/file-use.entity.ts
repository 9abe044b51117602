import { Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { StoredFile } from './stored-file.entity';

/**
 * A session whose messages attach a file. Deleting a session deletes the files it used unless
 * another session uses them too. Sessions may live in MongoDB, so there is no foreign key to them.
 */
@Entity('file_uses')
@Index('idx_file_uses_session', ['sessionId'])
export class FileUse {
  @PrimaryColumn({ name: 'file_id', type: 'varchar', length: 36 })
  fileId: string;

  @PrimaryColumn({ name: 'session_id', type: 'varchar', length: 36 })
  sessionId: string;

  @ManyToOne(() => StoredFile, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'file_id' })
  file?: StoredFile;
}
