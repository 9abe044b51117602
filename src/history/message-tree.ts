import type { TreeNode } from './history-store.interface';

/** Where a message sits among the children of its parent (the "< 2/3 >" of a chat page). */
export interface SiblingInfo {
  /** 0-based position among its siblings, oldest first. */
  index: number;
  /** Ids of the parent's children (the message itself included), oldest first. */
  ids: string[];
}

/**
 * A session's messages as a tree, built from its nodes in seq order (a parent always has a lower
 * seq than its children). Paths, siblings and "follow the newest child" are answered in memory.
 */
export class MessageTree {
  private readonly byId = new Map<string, TreeNode>();
  /** Children per parent id ('' for the roots), oldest first. */
  private readonly children = new Map<string, string[]>();

  constructor(nodes: TreeNode[]) {
    for (const node of nodes) {
      this.byId.set(node.id, node);
      const key = node.parentId ?? '';
      const list = this.children.get(key);
      if (list) list.push(node.id);
      else this.children.set(key, [node.id]);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Ids from the root down to `id` (inclusive); empty for an unknown id or null. */
  pathTo(id: string | null): string[] {
    const path: string[] = [];
    const seen = new Set<string>();
    for (let node = id ? this.byId.get(id) : undefined; node;) {
      // A cycle can only come from corrupt data; stop instead of looping forever.
      if (seen.has(node.id)) break;
      seen.add(node.id);
      path.push(node.id);
      node = node.parentId ? this.byId.get(node.parentId) : undefined;
    }
    return path.reverse();
  }

  /** The leaf reached from `id` by always following the newest child; `id` itself if it has none. */
  leafFrom(id: string): string {
    let current = id;
    const seen = new Set<string>();
    for (;;) {
      const next = this.children.get(current)?.at(-1);
      if (!next || seen.has(next)) return current;
      seen.add(next);
      current = next;
    }
  }

  /** The leaf to show when none is recorded: the one under the newest root, else null. */
  defaultLeaf(): string | null {
    const newestRoot = this.children.get('')?.at(-1);
    return newestRoot ? this.leafFrom(newestRoot) : null;
  }

  siblingsOf(id: string): SiblingInfo {
    const node = this.byId.get(id);
    const ids = node ? (this.children.get(node.parentId ?? '') ?? [id]) : [id];
    return { index: Math.max(ids.indexOf(id), 0), ids };
  }
}
