import {
  InvalidInputError,
  JSON_TOO_DEEP_DETAIL,
  MAX_JSON_DEPTH,
  RateLimitedError,
} from '@app/common';
import { SocketChatRequestDto } from './dto/chat-request.dto';
import { ConnectionRateLimiter, validatePayload } from './socket-payload';

describe('validatePayload', () => {
  it('returns the DTO for a valid payload', async () => {
    const dto = await validatePayload(SocketChatRequestDto, {
      message: 'hi',
      session_id: null,
      temperature: 0.5,
      client_id: 'c1',
    });
    expect(dto).toBeInstanceOf(SocketChatRequestDto);
    expect(dto.message).toBe('hi');
  });

  it.each([
    ['a string', 'hello', 'Payload must be a JSON object'],
    ['an array', [{ message: 'hi' }], 'Payload must be a JSON object'],
    ['null', null, 'Payload must be a JSON object'],
    ['an unknown field', { message: 'hi', extra: true }, 'extra is not an allowed field'],
    ['a string number', { message: 'hi', max_tokens: '5' }, 'max_tokens must be'],
  ])('rejects %s with a 400 domain error', async (_case, payload, detail) => {
    const error = await validatePayload(SocketChatRequestDto, payload).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toContain(detail);
  });

  it('rejects a payload nested deeper than the JSON depth limit before validating it', async () => {
    const payload = { message: 'hi', client_id: nested(MAX_JSON_DEPTH) };
    const error = await validatePayload(SocketChatRequestDto, payload).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe(JSON_TOO_DEEP_DETAIL);

    const deepest = { message: 'hi', client_id: nested(MAX_JSON_DEPTH - 1) };
    const validated = await validatePayload(SocketChatRequestDto, deepest).catch((e: unknown) => e);
    expect((validated as InvalidInputError).message).toContain('client_id must be a string');
  });
});

/** Arrays nested `levels` deep: `[[...]]`. */
function nested(levels: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < levels; i++) value = [value];
  return value;
}

describe(ConnectionRateLimiter.name, () => {
  it('allows `limit` events per window, then throws 429 with a retry hint', () => {
    const sut = new ConnectionRateLimiter(3, 60_000);
    sut.hit();
    sut.hit();
    sut.hit();
    let error: unknown;
    try {
      sut.hit();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBeGreaterThan(0);
  });

  it('starts a fresh budget in the next window', async () => {
    const sut = new ConnectionRateLimiter(1, 50);
    sut.hit();
    expect(() => sut.hit()).toThrow(RateLimitedError);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(() => sut.hit()).not.toThrow();
  });
});
