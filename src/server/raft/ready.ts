/**
 * @module raft/ready
 *
 * {@link Ready}: the only output of the Raft core (node.go Ready). The simplest correct
 * driver handles one Ready at a time, synchronously:
 *
 * ```
 * while (node.hasReady()) {
 *   const rd = node.ready();
 *   if (rd.softState) noteLeader(rd.softState);     // leader/role changes; not persisted
 *   serveReads(rd.readStates);                     // each usable once applied ≥ its index
 *   if (isLeader) send(rd.messages);              // a leader may send before persisting (thesis §10.2.1)
 *   if (rd.snapshot) persistSnapshot(rd.snapshot); storage.applySnapshot(rd.snapshot);
 *   persist(rd.hardState, rd.entries, { fsync: rd.mustSync }); storage.append(rd.entries);
 *   if (!isLeader) send(rd.messages);             // followers only after the data is durable
 *   if (rd.snapshot) installInStateMachine(rd.snapshot);
 *   apply(rd.committedEntries);                   // conf changes: node.applyConfChange(cc)
 *   node.advance(rd);
 * }
 * ```
 *
 * A pipelined driver may instead queue the writes and call `advance(rd)` at once,
 * before they are durable and before anything is applied — as etcd's raftNode.start
 * hands committed entries to its apply goroutine and calls Advance without waiting for
 * it, and as etcdserver/raft-node.ts does (it queues the snapshot marker, hard state
 * and entries to the WAL, makes them visible in the MemoryStorage right away, calls
 * `advance`, and does the rest on a promise chain). Such a driver must still keep
 * these guarantees, which are the actual contract:
 *
 * - a follower's or candidate's `messages` leave only once every write queued so far,
 *   including this Ready's, is durable (a vote or an append acknowledgement promises
 *   that term, vote and entries are on disk);
 * - a received `snapshot` is installed in the state machine, and `committedEntries`
 *   are applied, only once durable, in Ready order, and the snapshot before the
 *   entries of the same Ready;
 * - Readys are handed to `advance` in the order `ready()` returned them.
 *
 * `advance` records the last committed entry as applied and the persisted entries as
 * stable; the core only uses these to choose what the next Ready carries, so moving
 * them before the work is done is safe as long as the work is done in order.
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
 * not touch them after `ready()` returns. In a synchronous driver, act on them in this
 * order, then call `advance(rd)` (a pipelined driver may call `advance` first; see the
 * module comment for what it must still guarantee):
 *
 * 1. Report `softState` and `readStates` (nothing to persist).
 * 2. **Leader only, optionally:** send `messages` right away (a leader's own log write
 *    may happen in parallel with replication; its self-acknowledgement is implicit).
 * 3. Persist `snapshot` (if any), then `hardState` and `entries`, fsyncing when
 *    `mustSync`, and make them visible in the RaftStorage
 *    (`MemoryStorage.applySnapshot/setHardState/append`).
 * 4. **Followers and candidates:** send `messages` only once step 3 is durable: a vote
 *    or an append acknowledgement promises that term, vote and entries are durable.
 *    A MsgSnap in `messages` obliges the driver to call `reportSnapshot` later.
 * 5. Once step 3 is durable: install `snapshot` (if any) in the state machine, then
 *    apply `committedEntries` in order; for EntryConfChange entries call
 *    `applyConfChange`.
 * 6. Call `advance(rd)`; the applied index and the persisted entries are acknowledged
 *    through it.
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
