import { type MessageRecord, NO_SETTINGS, type SessionRecord } from './history-store.interface';
import { renderSessionMarkdown } from './session-markdown';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 25, 16, minute, 0));

function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: '3f2b8c1e-9a4d-4e7b-8f10-2c5d6e7f8a9b',
    userId: 'u1',
    title: 'Trip to Lisbon',
    messageCount: 0,
    lastMessage: null,
    activeLeafId: null,
    settings: { ...NO_SETTINGS },
    createdAt: at(0),
    updatedAt: at(5),
    ...overrides,
  };
}

function message(seq: number, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id: `m${seq}`,
    sessionId: 's',
    seq,
    parentId: null,
    role: 'user',
    content: `text ${seq}`,
    status: 'complete',
    model: null,
    promptTokens: null,
    completionTokens: null,
    error: null,
    feedback: null,
    attachments: [],
    toolCalls: [],
    createdAt: at(seq),
    ...overrides,
  };
}

describe(renderSessionMarkdown.name, () => {
  it('renders a heading, metadata and each message under its role', () => {
    const sut = renderSessionMarkdown(session(), [
      message(1, { content: 'Plan two days' }),
      message(2, { role: 'assistant', model: 'local/echo', content: '**Day 1**: Alfama' }),
    ]);
    expect(sut).toBe(
      [
        '# Trip to Lisbon',
        '',
        '- Session: `3f2b8c1e-9a4d-4e7b-8f10-2c5d6e7f8a9b`',
        '- Created: 2026-11-25T16:00:00.000Z',
        '- Updated: 2026-11-25T16:05:00.000Z',
        '- Messages: 2',
        '',
        '---',
        '',
        '### User · 2026-11-25T16:01:00.000Z',
        '',
        'Plan two days',
        '',
        '---',
        '',
        '### Assistant (local/echo) · 2026-11-25T16:02:00.000Z',
        '',
        '**Day 1**: Alfama',
        '',
      ].join('\n'),
    );
  });

  it("lists a reply's tool calls with their results before its text", () => {
    const call = (id: string, result: { content: string; isError: boolean } | null) => ({
      id,
      name: 'get_weather',
      arguments: '{"city":\n"Lisbon"}',
      executedBy: 'client' as const,
      round: 0,
      result,
    });
    const sut = renderSessionMarkdown(session(), [
      message(1, {
        role: 'assistant',
        content: 'Sunny.',
        toolCalls: [call('a', { content: 'sunny `21`', isError: false })],
      }),
      message(2, {
        role: 'assistant',
        content: '',
        toolCalls: [call('b', { content: 'timeout', isError: true }), call('c', null)],
      }),
    ]);
    expect(sut).toContain(
      '> Tool call `get_weather` ` {"city": "Lisbon"} ` → `` sunny `21` ``\n\nSunny.',
    );
    expect(sut).toContain('> Tool call `get_weather` ` {"city": "Lisbon"} ` → error: ` timeout `');
    expect(sut).toContain(
      '> Tool call `get_weather` ` {"city": "Lisbon"} ` → _(waiting for the result)_\n',
    );
    expect(sut).not.toContain('_(no text)_');
  });

  it('names an untitled session and flattens a multi-line title', () => {
    expect(renderSessionMarkdown(session({ title: null }), [])).toMatch(/^# Untitled chat\n/);
    expect(renderSessionMarkdown(session({ title: 'a\n# b' }), [])).toMatch(/^# a # b\n/);
  });

  it('marks unfinished replies and empty text', () => {
    const sut = renderSessionMarkdown(session(), [
      message(1, { role: 'assistant', content: 'Partial', status: 'error' }),
      message(2, { role: 'assistant', content: '', status: 'aborted' }),
      message(3, { role: 'system', content: 'Be brief', status: 'pending' }),
    ]);
    expect(sut).toContain('Partial\n\n_The reply failed; any text above is partial._');
    expect(sut).toContain('_(no text)_\n\n_The reply was stopped; any text above is partial._');
    expect(sut).toContain('### System · ');
    expect(sut).toContain('_The reply was still being generated when this was exported._');
  });
});
