import { StopSequenceScanner } from './stop-sequence-scanner';

function run(stops: string[], chunks: string[]): { text: string; stopped: boolean } {
  const sut = new StopSequenceScanner(stops);
  let text = '';
  for (const chunk of chunks) {
    text += sut.push(chunk);
    if (sut.stopped) break;
  }
  return { text: text + sut.flush(), stopped: sut.stopped };
}

describe(StopSequenceScanner.name, () => {
  it('passes everything through without stop sequences', () => {
    expect(run([], ['Hello', ' world'])).toEqual({ text: 'Hello world', stopped: false });
  });

  it('cuts before a stop sequence inside one chunk', () => {
    expect(run(['END'], ['one two END three'])).toEqual({ text: 'one two ', stopped: true });
  });

  it('finds a stop sequence split across chunks and never sends its first part', () => {
    const sut = new StopSequenceScanner(['\n\n']);
    expect(sut.push('line one\n')).toBe('line one');
    expect(sut.push('\nline two')).toBe('');
    expect(sut.stopped).toBe(true);
  });

  it('releases held text that turned out not to be a stop sequence', () => {
    expect(run(['STOP'], ['a ST', 'ART b'])).toEqual({ text: 'a START b', stopped: false });
  });

  it('flushes a held tail at the end of the reply', () => {
    expect(run(['STOP'], ['ends with ST'])).toEqual({ text: 'ends with ST', stopped: false });
  });

  it('stops at the earliest of several sequences', () => {
    expect(run(['world', 'lo'], ['Hello world'])).toEqual({ text: 'Hel', stopped: true });
  });
});
