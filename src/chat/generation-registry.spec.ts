import { randomBytes } from 'node:crypto';
import { AppConfig } from '@app/config';
import { GenerationRegistry } from './generation-registry';

const configWithWindow = (ms: number) =>
  AppConfig.fromEnv({
    SECRET_KEY: randomBytes(32).toString('hex'),
    CHAT__RESUME_WINDOW_MS: String(ms),
  });

describe(GenerationRegistry.name, () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('aborts at once when the last client leaves and the window is 0', () => {
    const sut = new GenerationRegistry(configWithWindow(0));
    const controller = sut.register('s1', 'alice', 'm1');
    sut.leave(controller);
    expect(controller.signal.reason).toBe('client_disconnected');
  });

  it('keeps a left generation running for the window, then aborts it', () => {
    const sut = new GenerationRegistry(configWithWindow(30_000));
    const controller = sut.register('s1', 'alice', 'm1');
    sut.leave(controller);
    jest.advanceTimersByTime(29_999);
    expect(controller.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(controller.signal.reason).toBe('client_disconnected');
  });

  it('a resume within the window keeps it running until that client leaves too', async () => {
    const sut = new GenerationRegistry(configWithWindow(1_000));
    const controller = sut.register('s1', 'alice', 'm1');
    sut.leave(controller);
    jest.advanceTimersByTime(500);
    await sut.attach('m1');
    jest.advanceTimersByTime(5_000);
    expect(controller.signal.aborted).toBe(false);
    await sut.detach('m1');
    jest.advanceTimersByTime(1_000);
    expect(controller.signal.aborted).toBe(true);
  });

  it('the abort endpoint still stops a generation at once', async () => {
    const sut = new GenerationRegistry(configWithWindow(30_000));
    const controller = sut.register('s1', 'alice', 'm1');
    expect(await sut.abort('s1', 'user_request')).toBe(true);
    expect(controller.signal.reason).toBe('user_request');
  });

  it('forgets a finished generation: its window no longer fires', () => {
    const sut = new GenerationRegistry(configWithWindow(1_000));
    const controller = sut.register('s1', 'alice', 'm1');
    sut.leave(controller);
    sut.unregister('s1', controller);
    jest.advanceTimersByTime(2_000);
    expect(controller.signal.aborted).toBe(false);
  });
});
