/**
 * @module server/mvcc/tree-index
 * The in-memory index from user key to {@link KeyIndex} (etcd mvcc/index.go): a
 * B+ tree ordered by key bytes. It answers "which revision holds key K at
 * revision R" for point and range reads; the values themselves are in the
 * backend's `key` bucket under those revisions.
 *
 * Range arguments follow etcd's conventions: `end` undefined means the single key
 * `key`; an empty `end` means every key >= `key`; otherwise `[key, end)`.
 */

import btree from 'sorted-btree';
import { bytesEqual, compareBytes } from '../backend/backend.js';
import { ErrRevisionNotFound } from './errors.js';
import { KeyIndex, type KeyIndexGet } from './key-index.js';
import { compareRevisions, RevisionSet, type Revision } from './revision.js';

const BTree = btree.default;
type BTree<K, V> = btree.default<K, V>;

/** Result of {@link TreeIndex.revisions}: revisions of up to `limit` keys, and how many keys matched in all. */
export interface IndexRevisions {
  /** One revision per live key, in key order. */
  readonly revs: Revision[];
  /** Number of keys live at the revision in the range (not limited). */
  readonly total: number;
}

/** The index interface the store uses (etcd's `index`). */
export interface Index {
  /** The state of `key` at main revision `atRev`, or undefined if it did not exist then. */
  get(key: Uint8Array, atRev: number): KeyIndexGet | undefined;
  /** The keys live at `atRev` in the range, and the revision holding each one's value. */
  range(key: Uint8Array, end: Uint8Array | undefined, atRev: number): { keys: Uint8Array[]; revs: Revision[] };
  /** Revisions of the first `limit` keys live at `atRev` (`limit <= 0`: all), plus the total count. */
  revisions(key: Uint8Array, end: Uint8Array | undefined, atRev: number, limit?: number): IndexRevisions;
  /** Number of keys live at `atRev` in the range. */
  countRevisions(key: Uint8Array, end: Uint8Array | undefined, atRev: number): number;
  /** Records a put of `key` at `rev`. */
  put(key: Uint8Array, rev: Revision): void;
  /** Records a delete of `key` at `rev`; throws {@link ErrRevisionNotFound} if the key is not live. */
  tombstone(key: Uint8Array, rev: Revision): void;
  /** All revisions of the keys in the range with main revision >= `rev`, in revision order. */
  rangeSince(key: Uint8Array, end: Uint8Array | undefined, rev: number): Revision[];
  /** Compacts every key at `rev`, dropping keys left empty; returns the revisions the backend must keep. */
  compact(rev: number): RevisionSet;
  /** The revisions a compaction at `rev` would keep, without changing anything. */
  keep(rev: number): RevisionSet;
  /** Adds a prepared key index (restore), replacing any index of the same key. */
  insert(ki: KeyIndex): void;
  /** The key index of `key`, if any. */
  keyIndex(key: Uint8Array): KeyIndex | undefined;
  /** Number of keys with an index (live or with history not yet compacted). */
  size(): number;
  /** True if both indexes hold equal key indexes. */
  equal(other: Index): boolean;
}

/** {@link Index} on a sorted-btree keyed by user key bytes. */
export class TreeIndex implements Index {
  private readonly tree: BTree<Uint8Array, KeyIndex> = new BTree<Uint8Array, KeyIndex>(undefined, compareBytes);

  get(key: Uint8Array, atRev: number): KeyIndexGet | undefined {
    return this.tree.get(key)?.get(atRev);
  }

  keyIndex(key: Uint8Array): KeyIndex | undefined {
    return this.tree.get(key);
  }

  /** Calls `f` for each key index in the range (not for a single-key range) until it returns false. */
  private visit(key: Uint8Array, end: Uint8Array, f: (ki: KeyIndex) => boolean | void): void {
    const bounded = end.length > 0;
    for (const [k, ki] of this.tree.entries(key)) {
      if (bounded && compareBytes(k, end) >= 0) return;
      if (f(ki) === false) return;
    }
  }

  range(key: Uint8Array, end: Uint8Array | undefined, atRev: number): { keys: Uint8Array[]; revs: Revision[] } {
    const keys: Uint8Array[] = [];
    const revs: Revision[] = [];
    if (end === undefined) {
      const ki = this.tree.get(key);
      const g = ki?.get(atRev);
      if (ki && g) {
        keys.push(ki.key);
        revs.push(g.modified);
      }
      return { keys, revs };
    }
    this.visit(key, end, (ki) => {
      const g = ki.get(atRev);
      if (g) {
        keys.push(ki.key);
        revs.push(g.modified);
      }
    });
    return { keys, revs };
  }

  revisions(key: Uint8Array, end: Uint8Array | undefined, atRev: number, limit = 0): IndexRevisions {
    if (end === undefined) {
      const g = this.get(key, atRev);
      return g ? { revs: [g.modified], total: 1 } : { revs: [], total: 0 };
    }
    const revs: Revision[] = [];
    let total = 0;
    this.visit(key, end, (ki) => {
      const g = ki.get(atRev);
      if (!g) return;
      if (limit <= 0 || revs.length < limit) revs.push(g.modified);
      total++;
    });
    return { revs, total };
  }

  countRevisions(key: Uint8Array, end: Uint8Array | undefined, atRev: number): number {
    if (end === undefined) return this.get(key, atRev) ? 1 : 0;
    let n = 0;
    this.visit(key, end, (ki) => {
      if (ki.get(atRev)) n++;
    });
    return n;
  }

  put(key: Uint8Array, rev: Revision): void {
    let ki = this.tree.get(key);
    if (!ki) {
      ki = new KeyIndex(key.slice());
      this.tree.set(ki.key, ki);
    }
    ki.put(rev.main, rev.sub);
  }

  tombstone(key: Uint8Array, rev: Revision): void {
    const ki = this.tree.get(key);
    if (!ki) throw new ErrRevisionNotFound();
    ki.tombstone(rev.main, rev.sub);
  }

  rangeSince(key: Uint8Array, end: Uint8Array | undefined, rev: number): Revision[] {
    if (end === undefined) return this.tree.get(key)?.since(rev) ?? [];
    const out: Revision[] = [];
    this.visit(key, end, (ki) => {
      for (const r of ki.since(rev)) out.push(r);
    });
    return out.sort(compareRevisions);
  }

  compact(rev: number): RevisionSet {
    const available = new RevisionSet();
    const emptied: Uint8Array[] = [];
    for (const [k, ki] of this.tree.entries()) {
      ki.compact(rev, available);
      if (ki.isEmpty()) emptied.push(k);
    }
    for (const k of emptied) this.tree.delete(k);
    return available;
  }

  keep(rev: number): RevisionSet {
    const available = new RevisionSet();
    for (const ki of this.tree.values()) ki.keep(rev, available);
    return available;
  }

  insert(ki: KeyIndex): void {
    this.tree.set(ki.key, ki, true);
  }

  size(): number {
    return this.tree.size;
  }

  equal(other: Index): boolean {
    if (this.size() !== other.size()) return false;
    for (const [k, ki] of this.tree.entries()) {
      const o = other.keyIndex(k);
      if (!o || !bytesEqual(o.key, k) || !ki.equal(o)) return false;
    }
    return true;
  }
}
