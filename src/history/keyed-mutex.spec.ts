import { KeyedMutex } from './keyed-mutex';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe(KeyedMutex.name, () => {
  it('runs tasks of one key one at a time, in call order', async () => {
    const sut = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([sut.run('k', task('a')), sut.run('k', task('b'))]);
    expect(results).toEqual(['a', 'b']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('runs different keys concurrently', async () => {
    const sut = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
    };
    await Promise.all([sut.run('x', task('x')), sut.run('y', task('y'))]);
    expect(log.slice(0, 2)).toEqual(['start x', 'start y']);
  });

  it('keeps going after a failed task and passes its error to that caller only', async () => {
    const sut = new KeyedMutex();
    const failed = sut.run('k', () => Promise.reject(new Error('boom')));
    const next = sut.run('k', async () => 'still runs');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('still runs');
  });
});
