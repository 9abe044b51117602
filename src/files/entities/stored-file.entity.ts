import { Column, CreateDateColumn, Entity, Index } from 'typeorm';
import { UserOwnedEntity } from '../../users/entities/user-owned.entity';

/** An uploaded file of a user: its metadata; the bytes are in the file storage under `storageKey`. */
@Entity('files')
@Index('idx_files_user', ['userId', 'createdAt'])
export class StoredFile extends UserOwnedEntity {
  /** The name it was uploaded with (no directories), shown to the user and to the model. */
  @Column({ type: 'varchar', length: 255 })
  name: string;

  /** Sniffed from the content, never taken from the client. */
  @Column({ name: 'media_type', type: 'varchar', length: 100 })
  mediaType: string;

  @Column({ name: 'size_bytes', type: 'integer' })
  sizeBytes: number;

  @Column({ name: 'storage_key', type: 'varchar', length: 200 })
  storageKey: string;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;
}
