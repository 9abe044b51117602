import { SseEvent, SseParser } from './sse-client';

describe(SseParser.name, () => {
  it('parses events split across chunks, comments, ids and multi-line data', () => {
    const events: SseEvent[] = [];
    const comments: string[] = [];
    const sut = new SseParser(
      (e) => events.push(e),
      (c) => comments.push(c),
    );
    sut.feed('id: 1\nevent: start\nda');
    sut.feed(
      'ta: {"a":1}\n\n: ping\n\r\nid: 2\r\nevent: delta\r\ndata: line1\r\ndata: line2\r\n\r\n',
    );
    sut.feed('data:no-space\n\n');
    expect(events).toEqual([
      { id: '1', event: 'start', data: { a: 1 } },
      { id: '2', event: 'delta', data: 'line1\nline2' },
      { id: '2', event: 'message', data: 'no-space' },
    ]);
    expect(comments).toEqual(['ping']);
  });
});
