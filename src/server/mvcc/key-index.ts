/**
 * @module server/mvcc/key-index
 * The revision history of one user key (etcd mvcc/key_index.go).
 *
 * A key's life is split into *generations*. A generation starts with the put that
 * creates the key and ends with the tombstone (delete) that removes it; the
 * tombstone is the generation's last revision. After a tombstone a new, empty
 * generation is opened, so the last generation is either live or empty.
 * `ver` is the key's version within the generation (1 after the creating put);
 * `created` is the generation's first revision (the key's create_revision).
 *
 * Worked example, on key "foo": put at 1, put at 2, delete at 3, put at 4,
 * delete at 5 (all sub revision 0) leave
 * ```
 *   generations (oldest first):
 *     [0] created 1.0, ver 3, revs 1.0 2.0 3.0(tombstone)
 *     [1] created 4.0, ver 2, revs 4.0 5.0(tombstone)
 *     [2] empty
 *   modified: 5.0
 * ```
 * get(2) finds 2.0 (created 1, version 2); get(3) and get(5) find nothing (the
 * key is deleted at those revisions); get(4) finds 4.0 (version 1).
 *
 * Compaction at revision R drops every revision <= R except the newest one,
 * which still describes the key at R; if that newest one is a tombstone, it is
 * dropped too (the key did not exist at R), and generations left empty go away:
 * ```
 *   compact(2):  [0] 2.0 3.0(t)   [1] 4.0 5.0(t)   [2] empty     (1.0 dropped)
 *   compact(4):  [0] 4.0 5.0(t)   [1] empty                      (generation 0 was all <= 4 and ended in a tombstone)
 *   compact(5):  [0] empty   -> the index is empty: the tree index removes the key
 *   compact(6):  [0] empty   -> same
 * ```
 * `available` (a {@link RevisionSet}) collects the revisions that must stay in
 * the backend: compact(2) keeps 2.0; compact(4) keeps 4.0; compact(5) keeps
 * nothing (5.0 is the tombstone).
 */

import { ErrRevisionNotFound, MvccInvariantError } from './errors.js';
import { revEqual, revGreaterThan, type Revision, type RevisionSet } from './revision.js';

const ZERO: Revision = { main: 0, sub: 0 };

/** One life of a key, from its creation to its tombstone (or to now). */
export class Generation {
  /** Version of the key at the generation's last revision (number of puts + the tombstone). */
  ver = 0;
  /** The first revision of the generation (the create revision). */
  created: Revision = ZERO;
  /** Revisions in ascending order; the last one is the tombstone unless this is the current generation. */
  revs: Revision[] = [];

  /** True if the generation has no revisions. */
  isEmpty(): boolean {
    return this.revs.length === 0;
  }

  /**
   * Visits the revisions newest first while `f` returns true; returns the index
   * where `f` returned false, or -1 if it never did.
   */
  walk(f: (r: Revision) => boolean): number {
    for (let i = this.revs.length - 1; i >= 0; i--) {
      if (!f(this.revs[i]!)) return i;
    }
    return -1;
  }

  /** True if both generations have the same version and revisions. */
  equal(o: Generation): boolean {
    if (this.ver !== o.ver || this.revs.length !== o.revs.length) return false;
    return this.revs.every((r, i) => revEqual(r, o.revs[i]!));
  }

  /** Debug form: `g: created[1.0] ver[3], revs [1.0 2.0 3.0]`. */
  toString(): string {
    const f = (r: Revision): string => `${r.main}.${r.sub}`;
    return `g: created[${f(this.created)}] ver[${this.ver}], revs [${this.revs.map(f).join(' ')}]`;
  }
}

/** What {@link KeyIndex.get} finds: the revision of the key's value at a revision. */
export interface KeyIndexGet {
  /** The revision that wrote the value visible at the asked revision (mod_revision). */
  readonly modified: Revision;
  /** The first revision of that generation (create_revision). */
  readonly created: Revision;
  /** The key's version at `modified`. */
  readonly ver: number;
}

/** The revision history of one key; see the module comment for the data layout. */
export class KeyIndex {
  /** The revision of the last put or tombstone. */
  modified: Revision = ZERO;
  /** Generations, oldest first; the last one is the current (possibly empty) one. */
  generations: Generation[] = [];

  /** An index for `key` with no history yet (call `put` or `restore` next). */
  constructor(readonly key: Uint8Array) {}

  /**
   * Records a put at `main.sub`, starting a generation if the current one is
   * empty. Throws {@link MvccInvariantError} unless the revision is after `modified`.
   */
  put(main: number, sub: number): void {
    const r: Revision = { main, sub };
    if (!revGreaterThan(r, this.modified)) {
      throw new MvccInvariantError(
        `mvcc: 'put' with an unexpected smaller revision ${main}.${sub} (modified ${this.modified.main}.${this.modified.sub})`,
      );
    }
    if (this.generations.length === 0) this.generations.push(new Generation());
    const g = this.generations[this.generations.length - 1]!;
    if (g.isEmpty()) g.created = r;
    g.revs.push(r);
    g.ver++;
    this.modified = r;
  }

  /**
   * Starts the history from one stored revision (backend restore): a generation
   * created at `created` whose only known revision is `modified`, at version `ver`.
   * Throws {@link MvccInvariantError} if the index already has generations.
   */
  restore(created: Revision, modified: Revision, ver: number): void {
    if (this.generations.length !== 0) throw new MvccInvariantError("mvcc: 'restore' got an unexpected non-empty generations");
    this.modified = modified;
    const g = new Generation();
    g.created = created;
    g.ver = ver;
    g.revs = [modified];
    this.generations.push(g);
  }

  /**
   * Records a delete at `main.sub`: appends it to the current generation and opens
   * a new empty one. Throws {@link ErrRevisionNotFound} if the key is already
   * deleted (the current generation is empty), {@link MvccInvariantError} on an
   * index with no history.
   */
  tombstone(main: number, sub: number): void {
    if (this.isEmpty()) throw new MvccInvariantError(`mvcc: 'tombstone' got an unexpected empty keyIndex`);
    if (this.generations[this.generations.length - 1]!.isEmpty()) throw new ErrRevisionNotFound();
    this.put(main, sub);
    this.generations.push(new Generation());
  }

  /**
   * The key's revision, creation and version as of main revision `atRev`, or
   * undefined if the key did not exist then (never created, deleted, or compacted
   * away). Throws {@link MvccInvariantError} on an index with no history.
   */
  get(atRev: number): KeyIndexGet | undefined {
    if (this.isEmpty()) throw new MvccInvariantError(`mvcc: 'get' got an unexpected empty keyIndex`);
    const g = this.findGeneration(atRev);
    if (!g || g.isEmpty()) return undefined;
    const n = g.walk((r) => r.main > atRev);
    if (n === -1) return undefined;
    return { modified: g.revs[n]!, created: g.created, ver: g.ver - (g.revs.length - n - 1) };
  }

  /**
   * The revisions with main revision >= `rev`, oldest first; when several share a
   * main revision only the one with the highest sub revision is returned (the
   * others are not visible outside their txn).
   */
  since(rev: number): Revision[] {
    if (this.isEmpty()) throw new MvccInvariantError(`mvcc: 'since' got an unexpected empty keyIndex`);
    const since: Revision = { main: rev, sub: 0 };
    let gi = this.generations.length - 1;
    // start from the newest generation created before `since` (or the first one)
    for (; gi > 0; gi--) {
      const g = this.generations[gi]!;
      if (g.isEmpty()) continue;
      if (revGreaterThan(since, g.created)) break;
    }
    const out: Revision[] = [];
    let last = 0;
    for (; gi < this.generations.length; gi++) {
      for (const r of this.generations[gi]!.revs) {
        if (revGreaterThan(since, r)) continue;
        if (out.length > 0 && r.main === last) {
          out[out.length - 1] = r;
          continue;
        }
        out.push(r);
        last = r.main;
      }
    }
    return out;
  }

  /**
   * Drops the revisions <= `atRev` except the newest (dropped as well when it is a
   * tombstone) and the generations left empty; adds to `available` the revisions
   * that the backend must keep. See the module comment. After this the index may
   * be empty ({@link isEmpty}): the caller removes it.
   */
  compact(atRev: number, available: RevisionSet): void {
    if (this.isEmpty()) throw new MvccInvariantError(`mvcc: 'compact' got an unexpected empty keyIndex`);
    let [genIdx, revIndex] = this.doCompact(atRev, available);
    const g = this.generations[genIdx]!;
    if (!g.isEmpty()) {
      if (revIndex !== -1) g.revs = g.revs.slice(revIndex);
      // a generation reduced to its tombstone is gone
      if (g.revs.length === 1 && genIdx !== this.generations.length - 1) {
        available.delete(g.revs[0]!);
        genIdx++;
      }
    }
    this.generations = this.generations.slice(genIdx);
  }

  /**
   * Adds to `available` the revisions a compaction at `atRev` would keep, without
   * changing the index (etcd `keep`, used by HashKV).
   */
  keep(atRev: number, available: RevisionSet): void {
    if (this.isEmpty()) return;
    const [genIdx, revIndex] = this.doCompact(atRev, available);
    const g = this.generations[genIdx]!;
    if (!g.isEmpty() && revIndex === g.revs.length - 1 && genIdx !== this.generations.length - 1) {
      // the newest revision <= atRev is a tombstone
      available.delete(g.revs[revIndex]!);
    }
  }

  /**
   * Finds the first generation whose tombstone is after `atRev` (or the last one),
   * and in it the newest revision <= `atRev`, which is added to `available`.
   * Returns `[generation index, revision index or -1]`.
   */
  private doCompact(atRev: number, available: RevisionSet): [number, number] {
    let genIdx = 0;
    let g = this.generations[0]!;
    while (genIdx < this.generations.length - 1) {
      if (g.revs[g.revs.length - 1]!.main > atRev) break;
      genIdx++;
      g = this.generations[genIdx]!;
    }
    const revIndex = g.walk((r) => {
      if (r.main <= atRev) {
        available.add(r);
        return false;
      }
      return true;
    });
    return [genIdx, revIndex];
  }

  /** True if the index holds no revision (a single empty generation, or none). */
  isEmpty(): boolean {
    return this.generations.length === 0 || (this.generations.length === 1 && this.generations[0]!.isEmpty());
  }

  /**
   * The generation that holds the key's state at main revision `rev`, or
   * undefined if the key did not exist then (before its first put, or between a
   * tombstone and the next put).
   */
  findGeneration(rev: number): Generation | undefined {
    const last = this.generations.length - 1;
    for (let cg = last; cg >= 0; cg--) {
      const g = this.generations[cg]!;
      if (g.revs.length === 0) continue;
      // a closed generation whose tombstone is at or before rev: deleted at rev
      if (cg !== last && g.revs[g.revs.length - 1]!.main <= rev) return undefined;
      if (g.revs[0]!.main <= rev) return g;
    }
    return undefined;
  }

  /** True if both indexes have the same key, last modification and generations. */
  equal(o: KeyIndex): boolean {
    if (Buffer.compare(this.key, o.key) !== 0 || !revEqual(this.modified, o.modified)) return false;
    if (this.generations.length !== o.generations.length) return false;
    return this.generations.every((g, i) => g.equal(o.generations[i]!));
  }

  /** Debug form: one line per generation. */
  toString(): string {
    return this.generations.map((g) => g.toString()).join('\n');
  }
}
