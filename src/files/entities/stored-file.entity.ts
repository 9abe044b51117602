import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import { User } from '../../users/entities/user.entity';

/** An uploaded file of a user: its metadata; the bytes are in the file storage under `storageKey`. */
@Entity('files')
@Index('idx_files_user', ['userId', 'createdAt'])
export class StoredFile {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

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
