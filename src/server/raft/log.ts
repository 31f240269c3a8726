/**
 * @module raft/log
 *
 * The Raft log as the core sees it (log.go): the driver's stable {@link RaftStorage}
 * followed by the {@link Unstable} tail. Tracks the commit and applied indexes.
 *
 * ```
 *  firstIndex        applied     committed        unstable.offset     lastIndex
 *      |  stable (storage) ...  |  ...           |  unstable entries  ...  |
 * ```
 */

import { ErrCompacted, ErrUnavailable, RaftInvariantError } from './errors.js';
import { Unstable } from './log-unstable.js';
import type { Logger } from './logger.js';
import type { RaftStorage } from './storage.js';
import { limitSize, type Entry, type Snapshot } from './types.js';

/** Stable storage plus unstable entries. Internal to the core. */
export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be committed. Invariant: applied ≤ committed ≤ lastIndex(). */
  committed: number;
  /** Highest index the application reported as applied. Invariant: applied ≤ committed. */
  applied: number;

  /**
   * @param maxNextEntsSize byte limit of committed entries handed out per Ready (Infinity = none)
   */
  constructor(
    readonly storage: RaftStorage,
    private readonly logger: Logger,
    private readonly maxNextEntsSize: number,
  ) {
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(lastIndex + 1, logger);
    this.committed = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  /** Short state description for logs. */
  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.Entries)=${this.unstable.entries.length}`;
  }

  /**
   * Follower side of AppendEntries: if the entry at `index` has `logTerm`, appends
   * `ents` (truncating a conflicting suffix) and advances commit to
   * min(committed, last new index). Returns the last new index, or undefined on
   * mismatch. Throws RaftInvariantError if a committed entry would be overwritten.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new RaftInvariantError(`entry ${ci} conflict with committed entry [committed(${this.committed})]`);
      }
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends entries to the unstable tail (truncating from `ents[0].index`); returns the new last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) {
      throw new RaftInvariantError(`after(${after}) is out of range [committed(${this.committed})]`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry in `ents` whose term differs from the log's (or that
   * is new), or 0 if all of them are already present (log.go findConflict).
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) {
        if (e.index <= this.lastIndex()) {
          this.logger.info(
            `found conflict at index ${e.index} [existing term: ${this.termOrZero(e.index)}, conflicting term: ${e.term}]`,
          );
        }
        return e.index;
      }
    }
    return 0;
  }

  /** Entries not yet persisted. */
  unstableEntries(): readonly Entry[] {
    return this.unstable.entries;
  }

  /** Committed entries not yet applied, limited to maxNextEntsSize bytes (log.go nextEnts). */
  nextEnts(): readonly Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 > off) return this.slice(off, this.committed + 1, this.maxNextEntsSize);
    return [];
  }

  /** True if there are committed entries not yet applied. */
  hasNextEnts(): boolean {
    return this.committed + 1 > Math.max(this.applied + 1, this.firstIndex());
  }

  /** The newest snapshot: the unstable one if any, else storage's (may throw ErrSnapshotTemporarilyUnavailable). */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** First available index. */
  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  /** Last index, unstable entries included. */
  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Raises the commit index; throws RaftInvariantError beyond lastIndex (lost or truncated log). */
  commitTo(toCommit: number): void {
    if (this.committed < toCommit) {
      if (this.lastIndex() < toCommit) {
        throw new RaftInvariantError(
          `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`,
        );
      }
      this.committed = toCommit;
    }
  }

  /** Records the applied index; throws RaftInvariantError unless applied ≤ i ≤ committed. */
  appliedTo(i: number): void {
    if (i === 0) return;
    if (this.committed < i || i < this.applied) {
      throw new RaftInvariantError(`applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    }
    this.applied = i;
  }

  /** The driver persisted entries up to `i` (with term `t`). */
  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  /** The driver persisted the snapshot at `i`. */
  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** Term of the last entry. */
  lastTerm(): number {
    try {
      return this.term(this.lastIndex());
    } catch (e) {
      throw new RaftInvariantError(`unexpected error when getting the last term (${String(e)})`);
    }
  }

  /**
   * Term of entry `i`; 0 if `i` is outside [firstIndex − 1, lastIndex]. Throws
   * ErrCompacted or ErrUnavailable from storage.
   */
  term(i: number): number {
    const dummyIndex = this.firstIndex() - 1;
    if (i < dummyIndex || i > this.lastIndex()) return 0;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    return this.storage.term(i);
  }

  /** {@link term}, with 0 for a compacted index (log.go zeroTermOnErrCompacted). */
  termOrZero(i: number): number {
    try {
      return this.term(i);
    } catch (e) {
      if (e instanceof ErrCompacted) return 0;
      throw e;
    }
  }

  /** Entries from `i` to the end, limited to `maxSize` bytes. Throws ErrCompacted. */
  entries(i: number, maxSize: number): readonly Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  /** Every entry from firstIndex on (tests and debugging). */
  allEntries(): readonly Entry[] {
    return this.entries(this.firstIndex(), Infinity);
  }

  /** Raft §5.4.1: is a log ending at (`lastIndex`, `term`) at least as up-to-date as ours? */
  isUpToDate(lastIndex: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && lastIndex >= this.lastIndex());
  }

  /** True if entry `i` exists with term `term` (false when compacted or unavailable). */
  matchTerm(i: number, term: number): boolean {
    try {
      return this.term(i) === term;
    } catch (e) {
      if (e instanceof ErrCompacted || e instanceof ErrUnavailable) return false;
      throw e;
    }
  }

  /**
   * Leader commit rule (Raft §5.4.2): commits `maxIndex` only if that entry is from
   * the current `term`. Returns true if the commit index moved.
   */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  /** Resets the log to an incoming snapshot (commit jumps to its index). */
  restore(s: Snapshot): void {
    this.logger.info(`log [${this.toString()}] starts to restore snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`);
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Entries in `[lo, hi)` from storage and the unstable tail, limited to `maxSize` bytes. Throws ErrCompacted. */
  slice(lo: number, hi: number, maxSize: number): readonly Entry[] {
    this.checkOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let ents: readonly Entry[] = [];
    const offset = this.unstable.offset;
    if (lo < offset) {
      let stored: readonly Entry[];
      try {
        stored = this.storage.entries(lo, Math.min(hi, offset), maxSize);
      } catch (e) {
        if (e instanceof ErrUnavailable) {
          throw new RaftInvariantError(`entries[${lo}:${Math.min(hi, offset)}) is unavailable from storage`);
        }
        throw e;
      }
      // storage applied the size limit and stopped early: no room for unstable entries
      if (stored.length < Math.min(hi, offset) - lo) return stored;
      ents = stored;
    }
    if (hi > offset) {
      const unstable = this.unstable.slice(Math.max(lo, offset), hi);
      ents = ents.length > 0 ? ents.concat(unstable) : unstable;
    }
    return limitSize(ents, maxSize);
  }

  private checkOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) throw new RaftInvariantError(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new ErrCompacted();
    if (hi > this.lastIndex() + 1) {
      throw new RaftInvariantError(`slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
    }
  }
}
