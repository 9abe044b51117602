import type { MessageRecord, MessageRole, SessionRecord } from './history-store.interface';

const ROLE_LABEL: Record<MessageRole, string> = {
  system: 'System',
  user: 'User',
  assistant: 'Assistant',
};

const STATUS_NOTE: Record<MessageRecord['status'], string | null> = {
  complete: null,
  pending: '_The reply was still being generated when this was exported._',
  error: '_The reply failed; any text above is partial._',
  aborted: '_The reply was stopped; any text above is partial._',
};

/**
 * A readable Markdown transcript of a session: a title, a metadata list, then each message
 * under a heading naming its role (and model), oldest first. Message text is copied verbatim —
 * replies are usually Markdown already.
 */
export function renderSessionMarkdown(session: SessionRecord, messages: MessageRecord[]): string {
  const title = session.title?.replace(/\s+/g, ' ').trim() || 'Untitled chat';
  const lines = [
    `# ${title}`,
    '',
    `- Session: \`${session.id}\``,
    `- Created: ${session.createdAt.toISOString()}`,
    `- Updated: ${session.updatedAt.toISOString()}`,
    `- Messages: ${messages.length}`,
  ];
  for (const message of messages) {
    const model = message.role === 'assistant' && message.model ? ` (${message.model})` : '';
    lines.push(
      '',
      '---',
      '',
      `### ${ROLE_LABEL[message.role]}${model} · ${message.createdAt.toISOString()}`,
    );
    lines.push('', message.content.trim() || '_(no text)_');
    const note = STATUS_NOTE[message.status];
    if (note) lines.push('', note);
  }
  return `${lines.join('\n')}\n`;
}
