/**
 * @module raft/ready
 *
 * {@link Ready}: the only output of the Raft core (node.go Ready). A driver loop looks
 * like this (the order is the contract; etcd's raftNode.start does the same):
 *
 * ```
 * while (node.hasReady()) {
 *   const rd = node.ready();
 *   if (isLeader) send(rd.messages);              // a leader may send before persisting (thesis §10.2.1)
 *   if (rd.snapshot) persistSnapshot(rd.snapshot); storage.applySnapshot(rd.snapshot);
 *   persist(rd.hardState, rd.entries, { fsync: rd.mustSync }); storage.append(rd.entries);
 *   if (!isLeader) send(rd.messages);             // followers only after the data is durable
 *   apply(rd.committedEntries);                   // conf changes: node.applyConfChange(cc)
 *   node.advance(rd);
 * }
 * ```
 */

import type { Entry, HardState, Message, Snapshot } from './types.js';

/** The role of a node. Values as raft.go StateType. */
export enum StateType {
  StateFollower = 0,
  StateCandidate = 1,
  StateLeader = 2,
  StatePreCandidate = 3,
}

/** Volatile state: not persisted, useful for logging and routing (raft.go SoftState). */
export interface SoftState {
  /** The current leader, or 0n if unknown. */
  readonly lead: bigint;
  readonly raftState: StateType;
}

/**
 * The answer to a `readIndex(ctx)` request (read_only.go ReadState): once the
 * application has applied up to `index`, a read that started before the request may
 * be served locally and is linearizable.
 */
export interface ReadState {
  readonly index: number;
  readonly requestCtx: Uint8Array;
}

/**
 * A batch of work for the driver. All fields are read-only snapshots; the core does
 * not touch them after `ready()` returns. Act on them in this order, then call
 * `advance(rd)`:
 *
 * 1. **Leader only, optionally:** send `messages` right away (a leader's own log write
 *    may happen in parallel with replication; its self-acknowledgement is implicit).
 * 2. Persist `snapshot` (if any), then `hardState` and `entries`, fsyncing when
 *    `mustSync`. Only then make them visible in the RaftStorage
 *    (`MemoryStorage.applySnapshot/append/setHardState`).
 * 3. **Followers and candidates:** send `messages` only AFTER step 2: a vote or an
 *    append acknowledgement promises that term, vote and entries are durable.
 *    A MsgSnap in `messages` obliges the driver to call `reportSnapshot` later.
 * 4. Apply `committedEntries` in order (they are committed, and durable once step 2
 *    is done); for EntryConfChange entries call `applyConfChange`.
 * 5. Call `advance(rd)`; entries and applied index are acknowledged through it.
 */
export interface Ready {
  /** Changed volatile state (leader, role); absent if unchanged. Need not be persisted. */
  readonly softState?: SoftState;
  /** Changed term/vote/commit to persist BEFORE messages are sent; absent if unchanged. */
  readonly hardState?: HardState;
  /** Answers to readIndex requests, usable once applied ≥ index. */
  readonly readStates: readonly ReadState[];
  /** New log entries to persist BEFORE messages are sent (they may overwrite a suffix). */
  readonly entries: readonly Entry[];
  /** An incoming snapshot to persist and install; absent if none. */
  readonly snapshot?: Snapshot;
  /** Committed entries to apply to the state machine, in order. */
  readonly committedEntries: readonly Entry[];
  /** Outgoing messages; see the ordering rules above. */
  readonly messages: readonly Message[];
  /** True if hardState/entries must be fsynced (term, vote or entries changed). */
  readonly mustSync: boolean;
}
