import { ThrottlerStorageService } from '@nestjs/throttler';
import { AppConfig } from '@app/config';
import { RateLimitedError } from '@app/common';
import { LoginFailureLimiter } from './login-failure-limiter';

describe(LoginFailureLimiter.name, () => {
  let storage: ThrottlerStorageService;
  let sut: LoginFailureLimiter;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    // The throttler's real in-memory storage (the Redis one is exercised by the e2e suite).
    storage = new ThrottlerStorageService();
    const config = AppConfig.fromEnv({
      SECRET_KEY: 'k3Jq9vX2mW8pL5tR7yB4nC6dF1gH0sZa',
      RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT: '3',
    });
    sut = new LoginFailureLimiter(storage, config);
  });
  afterEach(() => {
    storage.onApplicationShutdown();
    jest.useRealTimers();
  });

  const lockError = async (email: string) =>
    sut.assertNotLocked(email).then(
      () => undefined,
      (error: unknown) => error,
    );

  it('locks after N failures for 15 minutes, then unlocks', async () => {
    for (let i = 0; i < 2; i++) {
      await sut.assertNotLocked('a@example.com');
      await sut.recordFailure('a@example.com');
    }
    await expect(sut.assertNotLocked('a@example.com')).resolves.toBeUndefined();
    await sut.recordFailure('a@example.com');

    const error = await lockError('a@example.com');
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBe(15 * 60);

    jest.advanceTimersByTime(10 * 60_000);
    expect(((await lockError('a@example.com')) as RateLimitedError).retryAfterSeconds).toBe(5 * 60);

    jest.advanceTimersByTime(5 * 60_000 + 1_000);
    await expect(sut.assertNotLocked('a@example.com')).resolves.toBeUndefined();
  });

  it('counts accounts separately', async () => {
    for (let i = 0; i < 3; i++) await sut.recordFailure('a@example.com');
    expect(await lockError('a@example.com')).toBeInstanceOf(RateLimitedError);
    await expect(sut.assertNotLocked('b@example.com')).resolves.toBeUndefined();
  });

  it('forgets failures older than the 15-minute window', async () => {
    await sut.recordFailure('a@example.com');
    await sut.recordFailure('a@example.com');
    jest.advanceTimersByTime(15 * 60_000 + 1_000);
    await sut.recordFailure('a@example.com');
    await expect(sut.assertNotLocked('a@example.com')).resolves.toBeUndefined();
  });

  it('does not count lock checks (successful logins) as failures', async () => {
    for (let i = 0; i < 20; i++) await sut.assertNotLocked('a@example.com');
    await sut.recordFailure('a@example.com');
    await expect(sut.assertNotLocked('a@example.com')).resolves.toBeUndefined();
  });
});
