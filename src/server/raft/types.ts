/**
 * @module raft/types
 *
 * The data the Raft core consumes and produces: messages, log entries, hard state,
 * snapshots and configuration changes. They mirror etcd's `raftpb` (raft.proto, 3.4)
 * field for field, minus joint consensus (ConfChangeV2), which this core does not
 * implement. Enum values equal raftpb's wire numbers so a protobuf codec outside the
 * core can map them one to one.
 *
 * Number representation (one rule, applied everywhere in `src/server/raft`):
 * - **Node ids are `bigint`.** etcd member ids are random uint64 values, usually above
 *   2^53, so they cannot be JS numbers. `0n` means "none" ({@link NONE}).
 * - **Terms and log indexes are `number`**, always non-negative safe integers
 *   (≤ `Number.MAX_SAFE_INTEGER` = 2^53 − 1 ≈ 9.007e15). etcd stores them as uint64, but
 *   an index grows by one per committed entry: at one million entries per second the
 *   bound is reached after ~285 years, and a term grows by at most one per election
 *   timeout. Plain numbers keep the hot paths (comparisons, slicing, quorum sorting)
 *   cheap. The proto codec at the driver boundary must reject values above the bound;
 *   {@link assertSafeMessage} is the core's own check on every stepped message.
 *
 * All types are `readonly`: the core never mutates what it was given and never hands
 * out objects it will mutate later.
 */

import { RaftInvariantError } from './errors.js';

/** The node id meaning "no node" (raft.go `None`): no vote, no leader. */
export const NONE = 0n;

/** Message types, numbered as raftpb.MessageType. */
export enum MessageType {
  /** Local: start an election (from `campaign()` or the election timer). */
  MsgHup = 0,
  /** Local: the leader's heartbeat timer fired. */
  MsgBeat = 1,
  /** A proposal (local, or forwarded from a follower to the leader). */
  MsgProp = 2,
  /** AppendEntries: `index`/`logTerm` name the entry preceding `entries`. */
  MsgApp = 3,
  /** AppendEntries response; `reject` with `rejectHint` = the follower's last index. */
  MsgAppResp = 4,
  /** RequestVote: `index`/`logTerm` are the candidate's last entry. */
  MsgVote = 5,
  MsgVoteResp = 6,
  /** InstallSnapshot. */
  MsgSnap = 7,
  /** Heartbeat: carries `commit` = min(follower match, leader commit) and a read context. */
  MsgHeartbeat = 8,
  MsgHeartbeatResp = 9,
  /** Local: the driver could not deliver a message to `from`. */
  MsgUnreachable = 10,
  /** Local: the driver reports the outcome of sending a snapshot to `from`. */
  MsgSnapStatus = 11,
  /** Local: the leader's check-quorum timer fired. */
  MsgCheckQuorum = 12,
  /** Ask the leader to hand leadership to `from`. */
  MsgTransferLeader = 13,
  /** Leader → transferee: campaign now, ignoring the election timeout and leases. */
  MsgTimeoutNow = 14,
  /** ReadIndex request; the context is `entries[0].data`. */
  MsgReadIndex = 15,
  MsgReadIndexResp = 16,
  /** Pre-vote (Raft thesis §9.6): would you vote for me at `term`? No state changes. */
  MsgPreVote = 17,
  MsgPreVoteResp = 18,
}

/** Entry types, numbered as raftpb.EntryType (EntryConfChangeV2 = 2 is not supported). */
export enum EntryType {
  EntryNormal = 0,
  /** `data` is a ConfChange encoded by {@link encodeConfChange} (raftpb wire format). */
  EntryConfChange = 1,
}

/** Single-node configuration change types, numbered as raftpb.ConfChangeType. */
export enum ConfChangeType {
  /** Add a voter, or promote a learner to voter. */
  ConfChangeAddNode = 0,
  ConfChangeRemoveNode = 1,
  /** No effect on the configuration (etcd uses it to update member attributes). */
  ConfChangeUpdateNode = 2,
  /** Add a learner, or demote a voter to learner. */
  ConfChangeAddLearnerNode = 3,
}

/** One log entry. `data` is opaque to the core except for conf-change entries. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** The state that must be durable before messages are sent (Raft paper Figure 2). */
export interface HardState {
  readonly term: number;
  /** The candidate this node voted for in `term`, or {@link NONE}. */
  readonly vote: bigint;
  readonly commit: number;
}

/** The membership as of a log index: voters and learners, each sorted ascending. */
export interface ConfState {
  readonly voters: readonly bigint[];
  readonly learners: readonly bigint[];
}

/** Snapshot metadata: the snapshot covers the log up to and including `index`. */
export interface SnapshotMetadata {
  readonly confState: ConfState;
  readonly index: number;
  readonly term: number;
}

/** An application snapshot; `data` is opaque to the core. `metadata.index === 0` means empty. */
export interface Snapshot {
  readonly data: Uint8Array;
  readonly metadata: SnapshotMetadata;
}

/** A single-node configuration change (raftpb.ConfChange). */
export interface ConfChange {
  /** An id chosen by the proposer (etcd: the request id); opaque to the core. */
  readonly id: bigint;
  readonly type: ConfChangeType;
  readonly nodeId: bigint;
  /** Opaque to the core (etcd: the JSON member being added). */
  readonly context?: Uint8Array;
}

/**
 * A Raft message. Which fields are meaningful depends on `type` (see
 * {@link MessageType}); unused fields are zero / empty, as in raftpb. `term` is 0 for
 * local messages and for proposals / read-index requests forwarded between nodes.
 */
export interface Message {
  readonly type: MessageType;
  readonly to: bigint;
  readonly from: bigint;
  readonly term: number;
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /** Only on MsgSnap. */
  readonly snapshot?: Snapshot;
  readonly reject: boolean;
  readonly rejectHint: number;
  /** Heartbeat read-index context; campaign type for transfer elections. */
  readonly context?: Uint8Array;
}

/** Fields for {@link makeMessage}: `type` is required, everything else defaults to zero/empty. */
export type MessageInit = { readonly type: MessageType } & Partial<Omit<Message, 'type'>>;

/** Builds a {@link Message} with raftpb's zero defaults for omitted fields. */
export function makeMessage(init: MessageInit): Message {
  const m: {
    -readonly [K in keyof Message]: Message[K];
  } = {
    type: init.type,
    to: init.to ?? NONE,
    from: init.from ?? NONE,
    term: init.term ?? 0,
    logTerm: init.logTerm ?? 0,
    index: init.index ?? 0,
    entries: init.entries ?? [],
    commit: init.commit ?? 0,
    reject: init.reject ?? false,
    rejectHint: init.rejectHint ?? 0,
  };
  if (init.snapshot !== undefined) m.snapshot = init.snapshot;
  if (init.context !== undefined) m.context = init.context;
  return m;
}

/** Builds an entry; `data` defaults to empty and `type` to EntryNormal. */
export function makeEntry(term: number, index: number, data: Uint8Array = EMPTY_BYTES, type: EntryType = EntryType.EntryNormal): Entry {
  return { term, index, type, data };
}

/** A shared empty byte array (never written to). */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** The empty hard state (term 0, no vote, commit 0). */
export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };

/** The empty snapshot (index 0). */
export const EMPTY_SNAPSHOT: Snapshot = {
  data: EMPTY_BYTES,
  metadata: { confState: { voters: [], learners: [] }, index: 0, term: 0 },
};

/** True for the empty hard state (raft.go IsEmptyHardState). */
export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NONE && hs.commit === 0;
}

/** True when two hard states are equal field by field. */
export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** True for a snapshot at index 0 (raft.go IsEmptySnap). */
export function isEmptySnap(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

/** Messages the core generates for itself; never sent over the network (util.go IsLocalMsg). */
export function isLocalMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgHup ||
    t === MessageType.MsgBeat ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus ||
    t === MessageType.MsgCheckQuorum
  );
}

/** Responses, which are only accepted from known peers (util.go IsResponseMsg). */
export function isResponseMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgAppResp ||
    t === MessageType.MsgVoteResp ||
    t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgPreVoteResp
  );
}

/** The response type for a vote request type. Throws RaftInvariantError for other types. */
export function voteRespMsgType(t: MessageType): MessageType {
  if (t === MessageType.MsgVote) return MessageType.MsgVoteResp;
  if (t === MessageType.MsgPreVote) return MessageType.MsgPreVoteResp;
  throw new RaftInvariantError(`not a vote message: ${MessageType[t]}`);
}

/** Throws RangeError unless `n` is a non-negative safe integer (the term/index bound). */
export function assertIndex(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`raft: ${what} ${n} is not a non-negative safe integer`);
}

/** Checks the numeric fields of an incoming message against the term/index bound; throws RangeError. */
export function assertSafeMessage(m: Message): void {
  assertIndex(m.term, 'term');
  assertIndex(m.logTerm, 'logTerm');
  assertIndex(m.index, 'index');
  assertIndex(m.commit, 'commit');
  assertIndex(m.rejectHint, 'rejectHint');
  for (const e of m.entries) {
    assertIndex(e.term, 'entry term');
    assertIndex(e.index, 'entry index');
  }
}

/** Payload size of an entry for flow control (bytes of `data`; raft util.go PayloadSize). */
export function payloadSize(e: Entry): number {
  return e.data.length;
}

/**
 * Approximate encoded size of an entry, used for `maxSizePerMsg` and
 * `maxCommittedSizePerReady` limits: payload plus a fixed 16-byte header estimate
 * (raftpb encodes term, index and type as varints).
 */
export function entrySize(e: Entry): number {
  return e.data.length + 16;
}

/**
 * Returns the longest prefix of `ents` whose total {@link entrySize} is ≤ `maxSize`,
 * but always at least one entry (util.go limitSize). `maxSize` in bytes; Infinity = no limit.
 */
export function limitSize<T extends Entry>(ents: readonly T[], maxSize: number): readonly T[] {
  if (ents.length === 0 || maxSize === Infinity) return ents;
  let size = entrySize(ents[0]!);
  let limit = 1;
  for (; limit < ents.length; limit++) {
    size += entrySize(ents[limit]!);
    if (size > maxSize) break;
  }
  return limit === ents.length ? ents : ents.slice(0, limit);
}
