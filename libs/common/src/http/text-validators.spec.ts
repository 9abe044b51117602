import { codePointLength, hasCodePointLength, isWellFormedText } from './text-validators';

describe(codePointLength.name, () => {
  it('counts an astral character (a surrogate pair) as one', () => {
    expect(codePointLength('')).toBe(0);
    expect(codePointLength('abc')).toBe(3);
    expect(codePointLength('😀')).toBe(1);
    expect(codePointLength('a😀b😀')).toBe(4);
  });

  it('counts a variation selector and a lone surrogate as one each', () => {
    expect(codePointLength('❤\uFE0F')).toBe(2);
    expect(codePointLength('\ud800')).toBe(1);
    expect(codePointLength('\ude00\ud83d')).toBe(2);
  });
});

describe(hasCodePointLength.name, () => {
  it('bounds strings by code points and refuses non-strings', () => {
    expect(hasCodePointLength('😀'.repeat(3), 1, 3)).toBe(true);
    expect(hasCodePointLength('😀'.repeat(4), 1, 3)).toBe(false);
    expect(hasCodePointLength('', 1, 3)).toBe(false);
    expect(hasCodePointLength(3, 0, 3)).toBe(false);
  });
});

describe(isWellFormedText.name, () => {
  it('refuses unpaired surrogates', () => {
    expect(isWellFormedText('plain, ünïcödé and 😀')).toBe(true);
    expect(isWellFormedText('\ud83d')).toBe(false);
    expect(isWellFormedText('x\ude00')).toBe(false);
    expect(isWellFormedText('\ude00\ud83d')).toBe(false);
  });

  it('refuses NUL, which PostgreSQL cannot store', () => {
    expect(isWellFormedText('a\u0000b')).toBe(false);
    expect(isWellFormedText('bell\u0007 and tab\t')).toBe(true);
  });
});
