import { InvalidInputError, UnsupportedMediaTypeError } from '@app/common';
import { PDF_BYTES, PNG_1X1 } from '../../test/factories/file.factory';
import { sniffMediaType } from './file-sniffer';

const GIF = Buffer.from('R0lGODlhAQABAAAAACwAAAAAAQABAAA=', 'base64');
const JPEG = Buffer.from('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA==', 'base64');

describe('sniffMediaType', () => {
  it.each([
    ['a.png', PNG_1X1, 'image/png'],
    ['A.PNG', PNG_1X1, 'image/png'],
    ['no-extension', PNG_1X1, 'image/png'],
    ['a.gif', GIF, 'image/gif'],
    ['a.jpeg', JPEG, 'image/jpeg'],
    ['a.jpg', JPEG, 'image/jpeg'],
    ['a.pdf', PDF_BYTES, 'application/pdf'],
    ['a.txt', Buffer.from('tab\tand\r\nlines'), 'text/plain'],
    ['README', Buffer.from('plain'), 'text/plain'],
    ['a.md', Buffer.from('# ✓'), 'text/markdown'],
    ['a.csv', Buffer.from('a,b'), 'text/csv'],
    ['a.json', Buffer.from('[1, 2]'), 'application/json'],
  ])('%s → %s', async (name, bytes, mediaType) => {
    await expect(sniffMediaType(name, bytes)).resolves.toBe(mediaType);
  });

  it.each([
    ['a.png', PDF_BYTES],
    ['a.jpg', PNG_1X1],
    ['a.txt', PNG_1X1],
    ['a.pdf', Buffer.from('not a pdf')],
    ['a.svg', Buffer.from('<svg/>')],
    ['a.txt', Buffer.from([0x00, 0x01, 0x02])],
    ['a.txt', Buffer.from([0xc3, 0x28])],
  ])('refuses %s with these bytes (415)', async (name, bytes) => {
    await expect(sniffMediaType(name, bytes)).rejects.toBeInstanceOf(UnsupportedMediaTypeError);
  });

  it('refuses an empty file and invalid JSON with 400', async () => {
    await expect(sniffMediaType('a.txt', Buffer.alloc(0))).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(sniffMediaType('a.json', Buffer.from('{'))).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });
});
