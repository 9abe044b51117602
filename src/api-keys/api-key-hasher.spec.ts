import { AppConfig } from '@app/config';
import { ApiKeyHasher, API_KEY_PREFIX_LENGTH, isApiKeyToken } from './api-key-hasher';

const hasherWith = (secret: string) =>
  new ApiKeyHasher(AppConfig.fromEnv({ SECRET_KEY: secret, DATABASE_URL: 'sqlite://:memory:' }));

describe(ApiKeyHasher.name, () => {
  const sut = hasherWith('k3Jq9vX2mW8pL5tR7yB4nC6dF1gH0sZa');

  it('generates sk-cb- keys of 256 random bits with their prefix and HMAC', () => {
    const generated = sut.generate();
    expect(generated.key).toMatch(/^sk-cb-[A-Za-z0-9_-]{43}$/);
    expect(generated.prefix).toBe(generated.key.slice(0, API_KEY_PREFIX_LENGTH));
    expect(generated.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(sut.generate().key).not.toBe(generated.key);
    expect(isApiKeyToken(generated.key)).toBe(true);
    expect(isApiKeyToken('eyJhbGciOiJIUzI1NiJ9.e30.x')).toBe(false);
  });

  it('matches only the key it hashed, and only under the same server secret', () => {
    const { key, hash } = sut.generate();
    expect(sut.matches(key, hash)).toBe(true);
    expect(sut.matches(`${key.slice(0, -1)}${key.endsWith('a') ? 'b' : 'a'}`, hash)).toBe(false);
    expect(sut.matches(key, 'not-hex')).toBe(false);
    expect(hasherWith('another-secret-of-at-least-32-chars!!').matches(key, hash)).toBe(false);
  });

  it('gives a lookup prefix only for well-formed keys', () => {
    const { key, prefix } = sut.generate();
    expect(sut.prefixOf(key)).toBe(prefix);
    expect(sut.prefixOf('sk-cb-short')).toBeUndefined();
    expect(sut.prefixOf(`${key}x`)).toBeUndefined();
  });
});
