import { Logger } from '@nestjs/common';

/**
 * For a failure a test provokes on purpose (a store that is down): keeps the Nest log lines at
 * `level` out of the test output while the test runs, and collects their messages so the test
 * can assert that the failure was reported. Other levels still print; call `restore()` (or
 * `jest.restoreAllMocks()`) when done.
 */
export function expectedLogs(level: 'error' | 'warn'): { messages: string[]; restore(): void } {
  const messages: string[] = [];
  const spy = jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => {
    messages.push(args.filter((arg): arg is string => typeof arg === 'string').join(' '));
  });
  return { messages, restore: () => spy.mockRestore() };
}
