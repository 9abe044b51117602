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

/** Text on one line, in a code span (tool arguments and results are data, not Markdown). */
function inline(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const fence = '`'.repeat(Math.max(0, ...(flat.match(/`+/g) ?? []).map((m) => m.length)) + 1);
  return `${fence} ${flat} ${fence}`;
}

/**
 * A readable Markdown transcript of a session: a title, a metadata list, then each message
 * under a heading naming its role (and model), oldest first, a reply's tool calls as quoted
 * lines with their results before its text. Message text is copied verbatim — replies are
 * usually Markdown already.
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
    for (const call of message.toolCalls) {
      const result = call.result
        ? `${call.result.isError ? 'error: ' : ''}${inline(call.result.content)}`
        : '_(waiting for the result)_';
      lines.push('', `> Tool call \`${call.name}\` ${inline(call.arguments)} → ${result}`);
    }
    if (message.content.trim() || !message.toolCalls.length) {
      lines.push('', message.content.trim() || '_(no text)_');
    }
    const note = STATUS_NOTE[message.status];
    if (note) lines.push('', note);
  }
  return `${lines.join('\n')}\n`;
}
