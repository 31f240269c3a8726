/**
 * @module raft/log-unstable
 *
 * The part of the log not yet persisted by the driver (log_unstable.go): an optional
 * incoming snapshot plus entries starting at `offset`. Entries leave this buffer when
 * the driver acknowledges them in `advance()` (`stableTo`).
 *
 * ```
 * storage: ... 4 5 6 | unstable (offset 7): 7 8 9
 * after stableTo(8, term): offset 9, entries [9]
 * ```
 */

import { RaftInvariantError } from './errors.js';
import type { Logger } from './logger.js';
import type { Entry, Snapshot } from './types.js';

/** Entries and snapshot waiting to be persisted. Internal to the core. */
export class Unstable {
  /** An incoming snapshot not yet persisted. */
  snapshot: Snapshot | undefined;
  /** Entries from `offset` on. Invariant: `entries[i].index === offset + i`. */
  entries: Entry[] = [];
  offset: number;

  /** @param offset index of the first entry this buffer will hold (storage lastIndex + 1) */
  constructor(
    offset: number,
    private readonly logger: Logger,
  ) {
    this.offset = offset;
  }

  /** The first index if there is an unstable snapshot (everything before it is gone). */
  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  /** The last index if there are unstable entries or an unstable snapshot. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.metadata.index : undefined;
  }

  /** The term of entry `i` if this buffer knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** Drops entries up to `i` once persisted, if entry `i` still has term `t` (not overwritten meanwhile). */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined) return;
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }

  /** Drops the snapshot once persisted. */
  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  /** Replaces everything with an incoming snapshot. */
  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends `ents`, first truncating any unstable entries at or after `ents[0].index`. */
  truncateAndAppend(ents: readonly Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      this.logger.info(`replace the unstable entries from index ${after}`);
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.logger.info(`truncate the unstable entries before index ${after}`);
      this.entries = this.slice(this.offset, after).concat(ents);
    }
  }

  /** Entries in `[lo, hi)`; throws RaftInvariantError when out of bounds. */
  slice(lo: number, hi: number): Entry[] {
    const upper = this.offset + this.entries.length;
    if (lo > hi) throw new RaftInvariantError(`invalid unstable.slice ${lo} > ${hi}`);
    if (lo < this.offset || hi > upper) {
      throw new RaftInvariantError(`unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
