/**
 * @module raft/raw-node
 *
 * {@link RawNode}: the synchronous, single-threaded API of the Raft core (rawnode.go).
 * Every input is a method call; the only output is {@link Ready}, collected with
 * `ready()` and acknowledged with `advance(rd)`. The owner (etcdserver's raft loop,
 * or a test harness) supplies time with `tick()`, persists and sends what each Ready
 * asks for, and never calls the node from two places at once.
 *
 * ```
 * const node = new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage, rand });
 * node.campaign();
 * const rd = node.ready();   // persist rd.hardState/entries, send rd.messages, apply ...
 * node.advance(rd);
 * ```
 */

import { encodeConfChange } from './confchange/codec.js';
import { ErrStepLocalMsg, ErrStepPeerNotFound } from './errors.js';
import { Raft, type RaftConfig } from './raft.js';
import { StateType, type Ready, type SoftState } from './ready.js';
import { getStatus, type Status } from './status.js';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  assertSafeMessage,
  hardStateEqual,
  isEmptyHardState,
  isEmptySnap,
  isLocalMsg,
  isResponseMsg,
  makeMessage,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
} from './types.js';

/** Outcome of sending a snapshot, reported with `reportSnapshot`. */
export enum SnapshotStatus {
  SnapshotFinish = 1,
  SnapshotFailure = 2,
}

/** A member to bootstrap a new cluster with (bootstrap.go Peer). */
export interface Peer {
  readonly id: bigint;
  /** Opaque context stored in the bootstrap conf-change entry (etcd: member JSON). */
  readonly context?: Uint8Array;
}

/**
 * A Raft node driven by explicit calls (rawnode.go RawNode). Not reentrant: do not
 * call it from inside a Logger callback.
 */
export class RawNode {
  /** The protocol state; internal, exposed read-only for tests and invariant checks. */
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;

  /**
   * Creates a node from `config.storage` (empty storage with an initial ConfState for a
   * new node, or a restarted one). Throws ErrInvalidConfig for a bad config.
   */
  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /**
   * Bootstraps a brand-new cluster member (bootstrap.go): appends one committed
   * ConfChangeAddNode entry per peer at term 1 and applies them, so the first Ready
   * contains them as entries to persist and committed entries to apply (the driver
   * applies them again with applyConfChange, which is idempotent). Throws Error if
   * `peers` is empty or the storage is not empty.
   */
  bootstrap(peers: readonly Peer[]): void {
    if (peers.length === 0) throw new Error('must provide at least one peer to Bootstrap');
    if (this.raft.raftLog.storage.lastIndex() !== 0) throw new Error("can't bootstrap a nonempty Storage");
    this.prevHardState = { term: 0, vote: NONE, commit: 0 };
    const ccs: ConfChange[] = peers.map((p) =>
      p.context === undefined
        ? { id: 0n, type: ConfChangeType.ConfChangeAddNode, nodeId: p.id }
        : { id: 0n, type: ConfChangeType.ConfChangeAddNode, nodeId: p.id, context: p.context },
    );
    const ents: Entry[] = ccs.map((cc, i) => ({ term: 1, index: i + 1, type: EntryType.EntryConfChange, data: encodeConfChange(cc) }));
    this.raft.bootstrapEntries(ents, ccs);
  }

  /** Advances logical time by one tick (election and heartbeat timeouts are counted in ticks). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (as a pre-candidate if PreVote is on); ignored by leaders and learners. */
  campaign(): void {
    this.raft.step(makeMessage({ type: MessageType.MsgHup }));
  }

  /**
   * Proposes `data` for the log. Throws ErrProposalDropped if there is no leader,
   * forwarding is disabled, a leader transfer is in progress, or the uncommitted-size
   * limit is reached; the proposal may still be lost later (retry on timeout).
   */
  propose(data: Uint8Array): void {
    this.raft.step(
      makeMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.EntryNormal, data }] }),
    );
  }

  /**
   * Proposes a single-node configuration change; it takes effect when the driver
   * applies the committed entry with {@link applyConfChange}. While another change
   * is pending (proposed but not applied), the leader turns this one into an empty
   * normal entry. Throws ErrProposalDropped like {@link propose}.
   */
  proposeConfChange(cc: ConfChange): void {
    this.raft.step(
      makeMessage({
        type: MessageType.MsgProp,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.EntryConfChange, data: encodeConfChange(cc) }],
      }),
    );
  }

  /**
   * Applies a committed configuration change (call it for every committed
   * EntryConfChange, in log order) and returns the resulting membership, which the
   * driver stores with its next snapshot. Throws ConfChangeError if invalid.
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Delivers a message received from a peer. Throws ErrStepLocalMsg for local message
   * types, ErrStepPeerNotFound for a response from a node outside the configuration,
   * RangeError for out-of-bound terms/indexes, ErrProposalDropped for a forwarded
   * proposal that cannot be accepted.
   */
  step(m: Message): void {
    if (isLocalMsg(m.type)) throw new ErrStepLocalMsg();
    assertSafeMessage(m);
    if (this.raft.prs.progress.has(m.from) || !isResponseMsg(m.type)) {
      this.raft.step(m);
      return;
    }
    throw new ErrStepPeerNotFound();
  }

  /**
   * Requests a linearizable read point. The answer arrives as a ReadState with the same
   * `ctx` in a later Ready (on a follower, after a round trip to the leader); it is
   * silently dropped if there is no leader, so callers retry with a fresh ctx on
   * timeout. `ctx` must be unique per request.
   */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(makeMessage({ type: MessageType.MsgReadIndex, entries: [{ term: 0, index: 0, type: EntryType.EntryNormal, data: ctx }] }));
  }

  /**
   * Asks the leader to transfer leadership to `transferee` (Raft thesis §3.10): the
   * leader stops accepting proposals, catches the transferee up and sends it
   * MsgTimeoutNow. Aborted after an election timeout. On a follower the request is
   * forwarded to the leader.
   */
  transferLeader(transferee: bigint): void {
    this.raft.step(makeMessage({ type: MessageType.MsgTransferLeader, from: transferee }));
  }

  /** Tells the leader that the last message to `id` could not be delivered (it stops streaming to it). */
  reportUnreachable(id: bigint): void {
    this.raft.step(makeMessage({ type: MessageType.MsgUnreachable, from: id }));
  }

  /** Reports whether the MsgSnap sent to `id` was delivered; required after every MsgSnap. */
  reportSnapshot(id: bigint, status: SnapshotStatus): void {
    this.raft.step(makeMessage({ type: MessageType.MsgSnapStatus, from: id, reject: status === SnapshotStatus.SnapshotFailure }));
  }

  /** True if `ready()` would return something to do (rawnode.go HasReady). */
  hasReady(): boolean {
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardState)) return true;
    if (r.raftLog.unstable.snapshot !== undefined && !isEmptySnap(r.raftLog.unstable.snapshot)) return true;
    if (r.msgs.length > 0 || r.hasPendingAppends() || r.raftLog.unstableEntries().length > 0 || r.raftLog.hasNextEnts()) return true;
    return r.readStates.length > 0;
  }

  /**
   * Returns the pending work (see {@link Ready} for the order to act on it) and
   * considers messages and read states delivered. A leader's appends deferred since
   * the last Ready (new proposals, a moved commit index) are sent into it first. Call {@link advance} with the same
   * object when done.
   */
  ready(): Ready {
    const r = this.raft;
    r.flushPendingAppends();
    const entries = r.raftLog.unstableEntries().slice();
    const hs = r.hardState();
    const ss = r.softState();
    const rd: { -readonly [K in keyof Ready]: Ready[K] } = {
      readStates: r.readStates,
      entries,
      committedEntries: r.raftLog.nextEnts(),
      messages: r.msgs,
      mustSync: entries.length !== 0 || hs.vote !== this.prevHardState.vote || hs.term !== this.prevHardState.term,
    };
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) {
      rd.softState = ss;
      this.prevSoftState = ss;
    }
    if (!hardStateEqual(hs, this.prevHardState)) rd.hardState = hs;
    const snap = r.raftLog.unstable.snapshot;
    if (snap !== undefined) rd.snapshot = snap;
    r.readStates = [];
    r.msgs = [];
    return rd;
  }

  /**
   * Acknowledges a Ready after its entries/hard state were persisted and its committed
   * entries applied: records the applied index and drops persisted entries from the
   * unstable buffer. Throws RaftInvariantError if called out of order.
   */
  advance(rd: Ready): void {
    if (rd.hardState !== undefined && !isEmptyHardState(rd.hardState)) this.prevHardState = rd.hardState;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    const applied = lastCommitted !== undefined ? lastCommitted.index : rd.snapshot !== undefined ? rd.snapshot.metadata.index : 0;
    this.raft.advance(applied, rd.committedEntries, rd.entries[rd.entries.length - 1], rd.snapshot);
  }

  /** A copy of the node's state; progress only on the leader. */
  status(): Status {
    return getStatus(this.raft);
  }

  /** Shortcut for status().softState.raftState === StateLeader. */
  isLeader(): boolean {
    return this.raft.state === StateType.StateLeader;
  }
}
