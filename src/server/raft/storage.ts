/**
 * @module raft/storage
 *
 * {@link RaftStorage} is how the core reads the stable part of the log (storage.go
 * `Storage`). It is synchronous and read-only: the core only reads; the driver writes
 * (after making the data durable) through the concrete implementation, e.g.
 * {@link MemoryStorage}.append / applySnapshot / setHardState.
 *
 * Layout of MemoryStorage: `ents[0]` is a dummy entry holding the index and term of the
 * last compacted entry (the snapshot point); real entries follow contiguously.
 *
 * ```
 * ents:   [ dummy(5/2) | 6/2 | 7/3 | 8/3 ]
 * firstIndex() = 6, lastIndex() = 8, term(5) = 2 (from the dummy), term(4) → ErrCompacted
 * ```
 */

import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable, RaftInvariantError } from './errors.js';
import {
  EMPTY_BYTES,
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  EntryType,
  limitSize,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from './types.js';

/** The hard state and membership the node restarts from. */
export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

/**
 * Read access to the persisted log (storage.go Storage). Every method is synchronous.
 * Errors are thrown: {@link ErrCompacted} / {@link ErrUnavailable} where documented,
 * and {@link ErrSnapshotTemporarilyUnavailable} from `snapshot()`. Any other thrown
 * error makes the Raft node inoperable, as in etcd.
 */
export interface RaftStorage {
  /** The saved hard state and the membership at the last snapshot (plus applied changes known to the storage). */
  initialState(): InitialState;
  /**
   * Entries in `[lo, hi)`, limited to `maxSize` bytes (at least one entry if any).
   * Throws ErrCompacted if `lo` ≤ the snapshot index, ErrUnavailable if nothing is stored.
   */
  entries(lo: number, hi: number, maxSize: number): readonly Entry[];
  /** Term of entry `i`; `i` may be the snapshot index. Throws ErrCompacted / ErrUnavailable. */
  term(i: number): number;
  /** Index of the last stored entry (the snapshot index when the log is empty). */
  lastIndex(): number;
  /** Index of the first entry still available (snapshot index + 1). */
  firstIndex(): number;
  /** The most recent snapshot. Throws ErrSnapshotTemporarilyUnavailable if not ready. */
  snapshot(): Snapshot;
}

/**
 * An in-memory {@link RaftStorage} (storage.go MemoryStorage). The driver appends
 * entries after persisting them elsewhere (or tests use it as the only storage).
 */
export class MemoryStorage implements RaftStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  /** `ents[0]` is the dummy entry at the snapshot point. Invariant: contiguous indexes. */
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.EntryNormal, data: EMPTY_BYTES }];

  /**
   * Creates an empty storage. `initialConfState` (a test and bootstrap convenience, like
   * raft's `newTestMemoryStorage(withPeers(...))`) seeds the membership returned by
   * `initialState()` without creating a snapshot.
   */
  constructor(initialConfState?: ConfState) {
    if (initialConfState) {
      this.snap = { ...EMPTY_SNAPSHOT, metadata: { ...EMPTY_SNAPSHOT.metadata, confState: initialConfState } };
    }
  }

  /** {@inheritDoc RaftStorage.initialState} */
  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  /** Records the hard state (after the driver made it durable). */
  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  /** {@inheritDoc RaftStorage.entries} Throws RaftInvariantError if `hi` > lastIndex + 1. */
  entries(lo: number, hi: number, maxSize: number): readonly Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new ErrCompacted();
    if (hi > this.lastIndex() + 1) {
      throw new RaftInvariantError(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    }
    if (this.ents.length === 1) throw new ErrUnavailable();
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  /** {@inheritDoc RaftStorage.term} */
  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new ErrCompacted();
    if (i - offset >= this.ents.length) throw new ErrUnavailable();
    return this.ents[i - offset]!.term;
  }

  /** {@inheritDoc RaftStorage.lastIndex} */
  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  /** {@inheritDoc RaftStorage.firstIndex} */
  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  /** {@inheritDoc RaftStorage.snapshot} */
  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Replaces the whole log with the snapshot (the log then starts after it).
   * Throws ErrSnapOutOfDate if `snap` is not newer than the current snapshot.
   */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw new ErrSnapOutOfDate();
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: EntryType.EntryNormal, data: EMPTY_BYTES }];
  }

  /**
   * Makes a snapshot at applied index `i` with the given membership (unchanged if
   * omitted) and application data, and returns it. Does not compact the log; call
   * {@link compact} for that. Throws ErrSnapOutOfDate if `i` ≤ the current snapshot
   * index, RaftInvariantError if `i` > lastIndex.
   */
  createSnapshot(i: number, confState: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new ErrSnapOutOfDate();
    if (i > this.lastIndex()) throw new RaftInvariantError(`snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    const offset = this.ents[0]!.index;
    this.snap = {
      data,
      metadata: { index: i, term: this.ents[i - offset]!.term, confState: confState ?? this.snap.metadata.confState },
    };
    return this.snap;
  }

  /**
   * Discards entries up to and including `compactIndex`; entry `compactIndex` becomes
   * the dummy. The application must not compact beyond its applied index. Throws
   * ErrCompacted if already compacted, RaftInvariantError if beyond lastIndex.
   */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new ErrCompacted();
    if (compactIndex > this.lastIndex()) {
      throw new RaftInvariantError(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    }
    const i = compactIndex - offset;
    const dummy = this.ents[i]!;
    this.ents = [{ term: dummy.term, index: dummy.index, type: EntryType.EntryNormal, data: EMPTY_BYTES }, ...this.ents.slice(i + 1)];
  }

  /**
   * Appends entries (which must be contiguous), replacing any stored suffix they
   * overlap; entries at or below the snapshot index are ignored. Throws
   * RaftInvariantError if the entries would leave a gap.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    let ents = entries;
    if (first > ents[0]!.index) ents = ents.slice(first - ents[0]!.index);
    const offset = ents[0]!.index - this.ents[0]!.index;
    if (this.ents.length > offset) {
      this.ents = this.ents.slice(0, offset).concat(ents);
    } else if (this.ents.length === offset) {
      for (const e of ents) this.ents.push(e);
    } else {
      throw new RaftInvariantError(`missing log entry [last: ${this.lastIndex()}, append at: ${ents[0]!.index}]`);
    }
  }
}
