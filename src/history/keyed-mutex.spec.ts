import { KeyedMutex } from './keyed-mutex';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/** A task that logs its start and end around a tick and returns its name. */
const loggedTask = (log: string[], name: string) => async () => {
  log.push(`start ${name}`);
  await tick();
  log.push(`end ${name}`);
  return name;
};

describe(KeyedMutex.name, () => {
  it('runs tasks of one key one at a time, in call order', async () => {
    const sut = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string) => loggedTask(log, name);
    const results = await Promise.all([sut.run('k', task('a')), sut.run('k', task('b'))]);
    expect(results).toEqual(['a', 'b']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('runs different keys concurrently', async () => {
    const sut = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string) => loggedTask(log, name);
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

  it('runs a task holding several keys after the tasks of each, and before later ones', async () => {
    const sut = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string) => loggedTask(log, name);
    const earlier = [sut.run('a', task('a')), sut.run('b', task('b'))];
    const both = sut.runAll(['b', 'a', 'b'], task('ab'));
    const later = [sut.run('a', task('a2')), sut.run('b', task('b2'))];

    expect(await Promise.all([...earlier, both, ...later])).toEqual(['a', 'b', 'ab', 'a2', 'b2']);
    const at = (entry: string) => log.indexOf(entry);
    expect(at('start ab')).toBeGreaterThan(Math.max(at('end a'), at('end b')));
    expect(at('end ab')).toBe(at('start ab') + 1);
    expect(Math.min(at('start a2'), at('start b2'))).toBeGreaterThan(at('end ab'));
  });
});
