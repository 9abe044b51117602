import { InvalidInputError } from '@app/common';
import type { LoadedFile } from '../files/files.service';
import type { ListedModel, ResolvedModel } from '../providers/generation.types';
import { checkModelTakes, promptMessage } from './attachment-prompt';

const file = (
  id: string,
  name: string,
  mediaType: string,
  kind: LoadedFile['kind'],
  text = '',
) => ({
  id,
  name,
  mediaType,
  kind,
  bytes: Buffer.from(text || `bytes of ${name}`),
});
const FILES = new Map<string, LoadedFile>([
  ['img', file('img', 'cat.png', 'image/png', 'image')],
  ['doc', file('doc', 'paper.pdf', 'application/pdf', 'pdf')],
  ['txt', file('txt', 'notes "v2".md', 'text/markdown', 'text', '# Notes')],
]);
const ref = (id: string) => {
  const f = FILES.get(id);
  return { id, name: f?.name ?? 'gone.png', mediaType: f?.mediaType ?? 'image/png' };
};

describe('promptMessage', () => {
  it('inlines text files, passes images and PDFs the model takes as inputs, in order', () => {
    expect(
      promptMessage('user', 'Look', ['txt', 'img', 'doc'].map(ref), FILES, ['image', 'pdf']),
    ).toEqual({
      role: 'user',
      content: `Look\n\n<file name="notes 'v2'.md" type="text/markdown">\n# Notes\n</file>`,
      inputs: [
        {
          kind: 'image',
          mediaType: 'image/png',
          name: 'cat.png',
          data: Buffer.from('bytes of cat.png').toString('base64'),
        },
        {
          kind: 'pdf',
          mediaType: 'application/pdf',
          name: 'paper.pdf',
          data: Buffer.from('bytes of paper.pdf').toString('base64'),
        },
      ],
    });
  });

  it('notes what the model cannot read and what is gone, instead of sending it', () => {
    expect(
      promptMessage('user', 'Q', [ref('img'), ref('doc'), ref('gone')], FILES, ['image']),
    ).toEqual({
      role: 'user',
      content:
        'Q\n\n[Attached PDF "paper.pdf" omitted: this model cannot read it]' +
        '\n\n[Attached file "gone.png" is no longer available]',
      inputs: [expect.objectContaining({ name: 'cat.png' })],
    });
    expect(promptMessage('assistant', 'A', [], FILES, [])).toEqual({
      role: 'assistant',
      content: 'A',
    });
  });
});

describe('checkModelTakes', () => {
  const model = (id: string, inputs: ListedModel['inputs']): ResolvedModel => ({
    id,
    provider: id.split('/')[0],
    model: id.split('/')[1],
    contextWindow: 1000,
    inputs,
  });
  const listed = (id: string, inputs: ListedModel['inputs']): ListedModel => ({
    id,
    provider: id.split('/')[0],
    inputs,
    tools: true,
    default: false,
  });
  const catalog = [listed('groq/text', []), listed('gemini/vision', ['image', 'pdf'])];

  it('passes text files anywhere and binaries to a model that reads them', () => {
    expect(() =>
      checkModelTakes(
        model('groq/text', []),
        [{ name: 'a.md', mediaType: 'text/markdown', kind: 'text' }],
        catalog,
      ),
    ).not.toThrow();
    expect(() =>
      checkModelTakes(
        model('gemini/vision', ['image', 'pdf']),
        [{ name: 'a.png', mediaType: 'image/png', kind: 'image' }],
        catalog,
      ),
    ).not.toThrow();
  });

  it('refuses with 400 naming the models that can, or saying none can', () => {
    const attempt = (models: ListedModel[]) => () =>
      checkModelTakes(
        model('groq/text', []),
        [{ name: 'p.pdf', mediaType: 'application/pdf', kind: 'pdf' }],
        models,
      );
    expect(attempt(catalog)).toThrow(
      new InvalidInputError(
        'Model groq/text cannot read PDF files (p.pdf); models that can: gemini/vision',
      ),
    );
    expect(attempt([catalog[0]])).toThrow(/no configured model can$/);
  });
});
