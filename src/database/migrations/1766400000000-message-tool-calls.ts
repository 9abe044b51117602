import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/** Tool calls: an assistant reply's calls and their results (`chat_messages.tool_calls`, JSON text). */
export class MessageToolCalls1766400000000 implements MigrationInterface {
  name = 'MessageToolCalls1766400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn(
      'chat_messages',
      new TableColumn({ name: 'tool_calls', type: 'text', isNullable: true }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('chat_messages', 'tool_calls');
  }
}
