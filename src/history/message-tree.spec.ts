import { MessageTree } from './message-tree';

describe(MessageTree.name, () => {
  // q1 → a1 → q2 → {a2, a2b}; a second root r → ra.
  const sut = new MessageTree([
    { id: 'q1', parentId: null, seq: 1 },
    { id: 'a1', parentId: 'q1', seq: 2 },
    { id: 'q2', parentId: 'a1', seq: 3 },
    { id: 'a2', parentId: 'q2', seq: 4 },
    { id: 'a2b', parentId: 'q2', seq: 5 },
    { id: 'r', parentId: null, seq: 6 },
    { id: 'ra', parentId: 'r', seq: 7 },
  ]);

  it('walks from the root down to a message', () => {
    expect(sut.pathTo('a2')).toEqual(['q1', 'a1', 'q2', 'a2']);
    expect(sut.pathTo('q1')).toEqual(['q1']);
    expect(sut.pathTo('unknown')).toEqual([]);
    expect(sut.pathTo(null)).toEqual([]);
  });

  it('follows the newest child down to a leaf', () => {
    expect(sut.leafFrom('q1')).toBe('a2b');
    expect(sut.leafFrom('a2')).toBe('a2');
    expect(sut.defaultLeaf()).toBe('ra');
    expect(new MessageTree([]).defaultLeaf()).toBeNull();
  });

  it('places a message among its siblings, roots included', () => {
    expect(sut.siblingsOf('a2b')).toEqual({ index: 1, ids: ['a2', 'a2b'] });
    expect(sut.siblingsOf('q1')).toEqual({ index: 0, ids: ['q1', 'r'] });
    expect(sut.siblingsOf('unknown')).toEqual({ index: 0, ids: ['unknown'] });
    expect(sut.size).toBe(7);
    expect(sut.has('ra')).toBe(true);
  });

  it('stops on a cycle instead of looping (corrupt data)', () => {
    const cyclic = new MessageTree([
      { id: 'x', parentId: 'y', seq: 1 },
      { id: 'y', parentId: 'x', seq: 2 },
    ]);
    expect(cyclic.pathTo('x')).toEqual(['y', 'x']);
    expect(cyclic.leafFrom('x')).toBeDefined();
  });
});
