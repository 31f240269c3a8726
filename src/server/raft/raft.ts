/**
 * @module raft/raft
 *
 * The Raft state machine (raft.go). Inputs are `step(msg)` and `tick()`; outputs are
 * accumulated in `msgs`, `readStates` and the log, and collected by {@link RawNode} into
 * a Ready. Nothing here performs I/O, reads a clock or draws random numbers except
 * through `config.rand`.
 *
 * Roles are strategies: each `becomeX()` swaps `stepRole` (how to handle messages) and
 * `tickRole` (what a tick means: election timer or heartbeat timer), so handlers never
 * switch on the current role.
 *
 * Features follow etcd-io/raft 3.4/3.5: leader election with randomized timeouts,
 * PreVote, CheckQuorum (with leader lease on votes), log replication with
 * probe/replicate/snapshot flow control, leader transfer, ReadIndex (safe and
 * lease-based), snapshots, single-node configuration changes and learners. Joint
 * consensus (ConfChangeV2) and asynchronous storage writes are not implemented.
 */

import { applySimpleChange, restoreConfig, type TrackerConfig } from './confchange/changer.js';
import { decodeConfChange } from './confchange/codec.js';
import { describeConfChangeShort } from './describe.js';
import {
  ErrCompacted,
  ErrInvalidConfig,
  ErrProposalDropped,
  ErrSnapshotTemporarilyUnavailable,
  ErrUnavailable,
  RaftInvariantError,
} from './errors.js';
import { RaftLog } from './log.js';
import { discardLogger, hex, type Logger } from './logger.js';
import { VoteResult, voteResult } from './quorum/majority.js';
import { ReadOnly, ReadOnlyOption, ctxKey } from './read-only.js';
import { StateType, type ReadState, type SoftState } from './ready.js';
import type { RaftStorage } from './storage.js';
import { ProgressState } from './tracker/progress.js';
import { ProgressTracker } from './tracker/tracker.js';
import {
  EntryType,
  EMPTY_BYTES,
  MessageType,
  NONE,
  isEmptySnap,
  makeMessage,
  payloadSize,
  voteRespMsgType,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageInit,
  type Snapshot,
} from './types.js';

/** Configuration of one Raft node (raft.go Config). Tick counts are in ticks of `tick()`. */
export interface RaftConfig {
  /** This node's id; must not be 0n. */
  readonly id: bigint;
  /**
   * Ticks without hearing from a leader before a follower campaigns. The actual
   * timeout is randomized in [electionTick, 2·electionTick) on every reset. Must be
   * greater than heartbeatTick; etcd recommends 10 × heartbeatTick.
   */
  readonly electionTick: number;
  /** Ticks between leader heartbeats. Must be > 0. */
  readonly heartbeatTick: number;
  /** The stable log; read-only for the core. */
  readonly storage: RaftStorage;
  /**
   * Random integer source: `rand(n)` must return an integer in [0, n). Injected so that
   * runs are reproducible (etcd uses a package-global generator).
   */
  readonly rand: (n: number) => number;
  /** The last applied index when restarting (entries up to it are not handed out again). Default 0. */
  readonly applied?: number;
  /** Byte limit of entries in one MsgApp (at least one entry is always sent). Default 1 MiB. */
  readonly maxSizePerMsg?: number;
  /** Byte limit of committedEntries per Ready. Default maxSizePerMsg. */
  readonly maxCommittedSizePerReady?: number;
  /** Byte limit of uncommitted payload on the leader; proposals beyond it are dropped. Default unlimited. */
  readonly maxUncommittedEntriesSize?: number;
  /** Inflights window for a follower in StateReplicate. Default 256. */
  readonly maxInflightMsgs?: number;
  /**
   * Bytes of entry data in flight to one follower in StateReplicate at which the leader
   * stops sending until acknowledgements arrive (etcd-io/raft MaxInflightBytes; bounds the
   * memory queued for a stalled follower when proposals are batched). Default 0: no limit.
   */
  readonly maxInflightBytes?: number;
  /** Leader steps down without a quorum of recent contact within an election timeout; followers honour a leader lease. */
  readonly checkQuorum?: boolean;
  /** Run a pre-vote round before incrementing the term (thesis §9.6). */
  readonly preVote?: boolean;
  /** ReadIndex mode. LeaseBased requires checkQuorum. Default ReadOnlySafe. */
  readonly readOnlyOption?: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. */
  readonly disableProposalForwarding?: boolean;
  /** Where log lines go; default discards. */
  readonly logger?: Logger;
}

/** Why an election is run (raft.go CampaignType). */
export enum CampaignType {
  PreElection = 'CampaignPreElection',
  Election = 'CampaignElection',
  /** Started by MsgTimeoutNow: ignores leader leases on the voters. */
  Transfer = 'CampaignTransfer',
}

const CAMPAIGN_TRANSFER_CTX = Uint8Array.from([...CampaignType.Transfer].map((c) => c.charCodeAt(0)));

function isTransferCtx(ctx: Uint8Array | undefined): boolean {
  return ctx !== undefined && ctxKey(ctx) === CampaignType.Transfer;
}

/** Checks a config and fills defaults; throws ErrInvalidConfig (raft.go Config.validate). */
function validate(c: RaftConfig): Required<Omit<RaftConfig, 'applied'>> & { applied: number } {
  if (c.id === NONE) throw new ErrInvalidConfig('cannot use none as id');
  if (!Number.isInteger(c.heartbeatTick) || c.heartbeatTick <= 0) throw new ErrInvalidConfig('heartbeat tick must be greater than 0');
  if (!Number.isInteger(c.electionTick) || c.electionTick <= c.heartbeatTick) {
    throw new ErrInvalidConfig('election tick must be greater than heartbeat tick');
  }
  const maxInflightMsgs = c.maxInflightMsgs ?? 256;
  if (maxInflightMsgs <= 0) throw new ErrInvalidConfig('max inflight messages must be greater than 0');
  const maxInflightBytes = c.maxInflightBytes ?? 0;
  if (!(maxInflightBytes >= 0)) throw new ErrInvalidConfig('max inflight bytes must not be negative');
  const readOnlyOption = c.readOnlyOption ?? ReadOnlyOption.ReadOnlySafe;
  if (readOnlyOption === ReadOnlyOption.ReadOnlyLeaseBased && !c.checkQuorum) {
    throw new ErrInvalidConfig('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  }
  const maxSizePerMsg = c.maxSizePerMsg ?? 1024 * 1024;
  return {
    id: c.id,
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    storage: c.storage,
    rand: c.rand,
    applied: c.applied ?? 0,
    maxSizePerMsg,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? maxSizePerMsg,
    maxUncommittedEntriesSize: c.maxUncommittedEntriesSize ?? Infinity,
    maxInflightMsgs,
    maxInflightBytes,
    checkQuorum: c.checkQuorum ?? false,
    preVote: c.preVote ?? false,
    readOnlyOption,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    logger: c.logger ?? discardLogger,
  };
}

type StepFn = (m: Message) => void;

/**
 * One Raft peer's protocol state. Internal to the core: drive it through
 * {@link RawNode}. Fields are public so that RawNode, Status and tests can read them;
 * only this class writes them.
 */
export class Raft {
  readonly id: bigint;
  term = 0;
  /** Vote in the current term, or NONE. */
  vote: bigint = NONE;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  prs: ProgressTracker;
  state: StateType = StateType.StateFollower;
  /** True if this node is a learner in the current configuration. */
  isLearner = false;
  /** Outgoing messages not yet collected by a Ready. */
  msgs: Message[] = [];
  /** The leader of the current term, or NONE. */
  lead: bigint = NONE;
  /** Target of an ongoing leader transfer, or NONE. */
  leadTransferee: bigint = NONE;
  /** Index of the last conf-change entry proposed; no new one is accepted until it is applied. */
  pendingConfIndex = 0;
  /** Payload bytes of uncommitted entries appended by this leader. */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  /** Ticks since the last election timeout reset (followers/candidates) or check-quorum round (leader). */
  electionElapsed = 0;
  /** Ticks since the last heartbeat (leader only). */
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  /** Current election timeout in [electionTimeout, 2·electionTimeout). */
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  /** ReadIndex requests received before this leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  readonly logger: Logger;
  private readonly maxMsgSize: number;
  private readonly maxUncommittedSize: number;
  private readonly rand: (n: number) => number;

  /** The role's message handler (stepLeader / stepCandidate / stepFollower). */
  private stepRole: StepFn;
  /** The role's tick handler (tickElection / tickHeartbeat). */
  private tickRole: () => void;

  /**
   * Builds a node from its storage (restart) or an empty storage with an initial
   * ConfState. Throws ErrInvalidConfig for a bad config and RaftInvariantError if the
   * stored hard state is inconsistent with the log.
   */
  constructor(config: RaftConfig) {
    const c = validate(config);
    this.id = c.id;
    this.logger = c.logger;
    this.rand = c.rand;
    this.raftLog = new RaftLog(c.storage, c.logger, c.maxCommittedSizePerReady);
    const { hardState, confState } = c.storage.initialState();
    this.maxMsgSize = c.maxSizePerMsg;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize;
    this.prs = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.readOnly = new ReadOnly(c.readOnlyOption);
    this.disableProposalForwarding = c.disableProposalForwarding;
    this.stepRole = this.stepFollower;
    this.tickRole = this.tickElection;

    this.switchToConfig(restoreConfig(confState, this.raftLog.lastIndex(), c.maxInflightMsgs, c.maxInflightBytes));
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
    this.logger.info(
      `newRaft ${hex(this.id)} [peers: [${this.prs.voterNodes().map(hex).join(',')}], term: ${this.term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  /** Advances logical time by one tick. */
  tick(): void {
    this.tickRole();
  }

  /** True if this node knows the leader of its current term. */
  hasLeader(): boolean {
    return this.lead !== NONE;
  }

  /** The volatile state (leader, role) as reported in Ready.softState. */
  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  /** The persistent state (term, vote, commit) as reported in Ready.hardState. */
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  // ---------------------------------------------------------------------------------
  // Sending

  /**
   * Queues a message from this node. Vote messages carry an explicit term; other
   * messages get the current term, except proposals and read-index requests, which
   * are forwarded with term 0 (raft.go send).
   */
  private send(init: MessageInit): void {
    const t = init.type;
    let term = init.term ?? 0;
    if (t === MessageType.MsgVote || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVote || t === MessageType.MsgPreVoteResp) {
      if (term === 0) throw new RaftInvariantError(`term should be set when sending ${MessageType[t]}`);
    } else {
      if (term !== 0) throw new RaftInvariantError(`term should not be set when sending ${MessageType[t]} (was ${term})`);
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) term = this.term;
    }
    this.msgs.push(makeMessage({ ...init, from: this.id, term }));
  }

  /** Sends MsgApp (or MsgSnap) to `to` even if there are no new entries. */
  sendAppend(to: bigint): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends MsgApp with new entries to `to`, or a MsgSnap if the entries it needs were
   * compacted. Returns false if nothing was sent (paused, nothing new and
   * `sendIfEmpty` false, or no snapshot available).
   */
  maybeSendAppend(to: bigint, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    let term: number | undefined;
    let ents: readonly Entry[] | undefined;
    try {
      term = this.raftLog.term(pr.next - 1);
      ents = this.raftLog.entries(pr.next, this.maxMsgSize);
    } catch (e) {
      if (!(e instanceof ErrCompacted) && !(e instanceof ErrUnavailable)) throw e;
      term = undefined;
    }
    if (term !== undefined && ents !== undefined && ents.length === 0 && !sendIfEmpty) return false;

    if (term === undefined || ents === undefined) {
      // the entries the follower needs are gone: send a snapshot
      if (!pr.recentActive) {
        this.logger.debug(`ignore sending snapshot to ${hex(to)} since it is not recently active`);
        return false;
      }
      let snapshot: Snapshot;
      try {
        snapshot = this.raftLog.snapshot();
      } catch (e) {
        if (e instanceof ErrSnapshotTemporarilyUnavailable) {
          this.logger.debug(`${hex(this.id)} failed to send snapshot to ${hex(to)} because snapshot is temporarily unavailable`);
          return false;
        }
        throw e;
      }
      if (isEmptySnap(snapshot)) throw new RaftInvariantError('need non-empty snapshot');
      const { index: sindex, term: sterm } = snapshot.metadata;
      this.logger.debug(
        `${hex(this.id)} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] sent snapshot[index: ${sindex}, term: ${sterm}] to ${hex(to)} [${pr.toString()}]`,
      );
      pr.becomeSnapshot(sindex);
      this.logger.debug(`${hex(this.id)} paused sending replication messages to ${hex(to)} [${pr.toString()}]`);
      this.send({ type: MessageType.MsgSnap, to, snapshot });
      return true;
    }

    const prevIndex = pr.next - 1;
    if (ents.length > 0) {
      switch (pr.state) {
        case ProgressState.StateReplicate: {
          const last = ents[ents.length - 1]!.index;
          pr.optimisticUpdate(last);
          pr.inflights.add(last, ents.reduce((n, e) => n + payloadSize(e), 0));
          break;
        }
        case ProgressState.StateProbe:
          pr.probeSent = true;
          break;
        default:
          throw new RaftInvariantError(`${hex(this.id)} is sending append in unhandled state ${ProgressState[pr.state]}`);
      }
    }
    this.send({ type: MessageType.MsgApp, to, index: prevIndex, logTerm: term, entries: ents, commit: this.raftLog.committed });
    return true;
  }

  /** Sends a heartbeat carrying commit = min(follower match, committed) and a read-index context. */
  private sendHeartbeat(to: bigint, ctx: Uint8Array | undefined): void {
    const pr = this.prs.progress.get(to)!;
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send(ctx === undefined ? { type: MessageType.MsgHeartbeat, to, commit } : { type: MessageType.MsgHeartbeat, to, commit, context: ctx });
  }

  /**
   * Leader: new entries (`entries`) or a new commit index (`commit`) still to be
   * broadcast at the next {@link flushPendingAppends} (called by RawNode.ready()).
   * Proposals and acknowledgements that arrive between two Readys then share one
   * MsgApp per follower instead of one each — delaying a message is always safe
   * in Raft, and the driver asks for a Ready after every step.
   */
  private pendingAppends = { entries: false, commit: false };

  /** Whether a deferred broadcast is waiting for {@link flushPendingAppends}. */
  hasPendingAppends(): boolean {
    return this.pendingAppends.entries || this.pendingAppends.commit;
  }

  /**
   * Sends the deferred broadcast: to every peer, the entries it does not have yet
   * (window permitting), and an empty MsgApp carrying the new commit index when the
   * commit index moved and nothing else was sent to that peer.
   */
  flushPendingAppends(): void {
    const { entries, commit } = this.pendingAppends;
    this.pendingAppends = { entries: false, commit: false };
    if ((!entries && !commit) || this.state !== StateType.StateLeader) return;
    // peers already sent an append carrying the current commit index since the last Ready
    const told = new Set<bigint>();
    const committed = this.raftLog.committed;
    for (const m of this.msgs) if (m.type === MessageType.MsgApp && m.commit >= committed) told.add(m.to);
    this.prs.visit((id) => {
      if (id === this.id) return;
      let sent = false;
      while (this.maybeSendAppend(id, false)) sent = true;
      if (commit && !sent && !told.has(id)) this.sendAppend(id);
    });
  }

  /**
   * The MsgProp this follower is forwarding in the current batch of messages, whose
   * `entries` array it owns, so proposals stepped before the next Ready travel to
   * the leader as one message.
   */
  private forwarding: { msg: Message; entries: Entry[]; bytes: number } | undefined;

  /**
   * Follower: forwards a proposal to the leader, joining one still queued for it
   * while that one holds less than the max message size (bytes of entry data).
   */
  private forwardProposal(m: Message): void {
    const bytes = m.entries.reduce((n, e) => n + e.data.length, 0);
    const f = this.forwarding;
    if (f !== undefined && f.msg.to === this.lead && f.bytes + bytes <= this.maxMsgSize && this.msgs.includes(f.msg)) {
      f.entries.push(...m.entries);
      f.bytes += bytes;
      return;
    }
    const entries = m.entries.slice();
    this.send({ ...m, to: this.lead, term: 0, entries });
    this.forwarding = { msg: this.msgs[this.msgs.length - 1]!, entries, bytes };
  }

  /** Sends MsgApp to every peer (ascending id order). */
  bcastAppend(): void {
    this.prs.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  /** Sends heartbeats to every peer, carrying the newest pending read-index context. */
  private bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array | undefined): void {
    this.prs.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    });
  }

  // ---------------------------------------------------------------------------------
  // Ready acknowledgement

  /**
   * Acknowledges a Ready: `appliedIndex` (last committed entry handed out, or the
   * snapshot index), the last persisted entry and the persisted snapshot.
   */
  advance(appliedIndex: number, committedEntries: readonly Entry[], lastStable: Entry | undefined, snapshot: Snapshot | undefined): void {
    if (appliedIndex > 0) this.raftLog.appliedTo(appliedIndex);
    this.reduceUncommittedSize(committedEntries);
    if (lastStable !== undefined) this.raftLog.stableTo(lastStable.index, lastStable.term);
    if (snapshot !== undefined && !isEmptySnap(snapshot)) this.raftLog.stableSnapTo(snapshot.metadata.index);
  }

  // ---------------------------------------------------------------------------------
  // Log and role changes

  /** Leader: commits the highest index replicated on a quorum if it is from this term. */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.prs.committed(), this.term);
  }

  /** Resets per-term state; clears the vote if the term changes. */
  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.prs.resetVotes();
    const lastIndex = this.raftLog.lastIndex();
    this.prs.visit((id, pr) => {
      pr.match = 0;
      pr.next = lastIndex + 1;
      pr.state = ProgressState.StateProbe;
      pr.pendingSnapshot = 0;
      pr.recentActive = false;
      pr.probeSent = false;
      pr.inflights.reset();
      if (id === this.id) pr.match = lastIndex;
    });
    this.pendingConfIndex = 0;
    this.pendingAppends = { entries: false, commit: false };
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
  }

  /**
   * Leader: appends entries with this term and consecutive indexes. Returns false
   * (nothing appended) if the uncommitted-size limit would be exceeded.
   */
  appendEntry(es: readonly Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    const stamped = es.map((e, i) => ({ term: this.term, index: li + 1 + i, type: e.type, data: e.data }));
    if (!this.increaseUncommittedSize(stamped)) {
      this.logger.debug(`${hex(this.id)} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`);
      return false;
    }
    const newLast = this.raftLog.append(stamped);
    this.prs.progress.get(this.id)?.maybeUpdate(newLast);
    this.maybeCommit();
    return true;
  }

  /** Follower/candidate tick: campaign after the randomized election timeout. */
  private tickElection = (): void => {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(makeMessage({ type: MessageType.MsgHup, from: this.id }));
    }
  };

  /** Leader tick: heartbeats every heartbeatTimeout; check quorum and abort stuck transfers every electionTimeout. */
  private tickHeartbeat = (): void => {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(makeMessage({ type: MessageType.MsgCheckQuorum, from: this.id }));
      // a transfer that did not finish within an election timeout is abandoned
      if (this.state === StateType.StateLeader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.StateLeader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(makeMessage({ type: MessageType.MsgBeat, from: this.id }));
    }
  };

  /** Becomes a follower of `lead` (or of nobody) at `term`. */
  becomeFollower(term: number, lead: bigint): void {
    this.stepRole = this.stepFollower;
    this.reset(term);
    this.tickRole = this.tickElection;
    this.lead = lead;
    this.state = StateType.StateFollower;
    this.logger.info(`${hex(this.id)} became follower at term ${this.term}`);
  }

  /** Becomes a candidate: increments the term and votes for itself. Throws from leader. */
  becomeCandidate(): void {
    if (this.state === StateType.StateLeader) throw new RaftInvariantError('invalid transition [leader -> candidate]');
    this.stepRole = this.stepCandidate;
    this.reset(this.term + 1);
    this.tickRole = this.tickElection;
    this.vote = this.id;
    this.state = StateType.StateCandidate;
    this.logger.info(`${hex(this.id)} became candidate at term ${this.term}`);
  }

  /** Becomes a pre-candidate: same term, no vote change; forgets the leader. Throws from leader. */
  becomePreCandidate(): void {
    if (this.state === StateType.StateLeader) throw new RaftInvariantError('invalid transition [leader -> pre-candidate]');
    this.stepRole = this.stepCandidate;
    this.prs.resetVotes();
    this.tickRole = this.tickElection;
    this.lead = NONE;
    this.state = StateType.StatePreCandidate;
    this.logger.info(`${hex(this.id)} became pre-candidate at term ${this.term}`);
  }

  /** Becomes leader and appends the empty entry of its term (Raft §5.4.2, §8). Throws from follower. */
  becomeLeader(): void {
    if (this.state === StateType.StateFollower) throw new RaftInvariantError('invalid transition [follower -> leader]');
    this.stepRole = this.stepLeader;
    this.reset(this.term);
    this.tickRole = this.tickHeartbeat;
    this.lead = this.id;
    this.state = StateType.StateLeader;
    // the leader's own progress is always up to date
    this.prs.progress.get(this.id)?.becomeReplicate();
    // conservatively, any unapplied entry may be a conf change
    this.pendingConfIndex = this.raftLog.lastIndex();
    const empty: Entry = { term: 0, index: 0, type: EntryType.EntryNormal, data: EMPTY_BYTES };
    if (!this.appendEntry([empty])) throw new RaftInvariantError('empty entry was dropped');
    // the empty entry does not count against the uncommitted limit
    this.reduceUncommittedSize([empty]);
    this.logger.info(`${hex(this.id)} became leader at term ${this.term}`);
  }

  /** Starts a (pre-)election: sends vote requests to all voters, in ascending id order. */
  campaign(t: CampaignType): void {
    if (!this.promotable()) {
      this.logger.warn(`${hex(this.id)} is unpromotable; campaign() should have been called`);
    }
    let term: number;
    let voteMsg: MessageType;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // the pre-vote asks about the next term without moving to it
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    if (this.poll(this.id, voteRespMsgType(voteMsg), true).result === VoteResult.VoteWon) {
      // a single-voter configuration wins at once
      if (t === CampaignType.PreElection) this.campaign(CampaignType.Election);
      else this.becomeLeader();
      return;
    }
    for (const id of this.prs.voterNodes()) {
      if (id === this.id) continue;
      this.logger.info(
        `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}] sent ${MessageType[voteMsg]} request to ${hex(id)} at term ${this.term}`,
      );
      const init: MessageInit = { type: voteMsg, to: id, term, index: this.raftLog.lastIndex(), logTerm: this.raftLog.lastTerm() };
      this.send(t === CampaignType.Transfer ? { ...init, context: CAMPAIGN_TRANSFER_CTX } : init);
    }
  }

  /** Records a vote and returns the tally. */
  private poll(id: bigint, t: MessageType, granted: boolean): { granted: number; rejected: number; result: VoteResult } {
    if (granted) this.logger.info(`${hex(this.id)} received ${MessageType[t]} from ${hex(id)} at term ${this.term}`);
    else this.logger.info(`${hex(this.id)} received ${MessageType[t]} rejection from ${hex(id)} at term ${this.term}`);
    this.prs.recordVote(id, granted);
    return this.prs.tallyVotes();
  }

  // ---------------------------------------------------------------------------------
  // Step

  /**
   * Handles one message (raft.go Step): term checks common to all roles first, then
   * elections and votes, then the role's handler. Throws ErrProposalDropped for a
   * proposal that cannot be accepted, RaftInvariantError on broken invariants.
   */
  step(m: Message): void {
    if (m.term === 0) {
      // local message, or a forwarded proposal / read-index request
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = isTransferCtx(m.context);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // a leader was heard from within the minimum election timeout: do not let a
          // disruptive node depose it (thesis §4.2.3)
          this.logger.info(
            `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] ignored ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // never change term in response to a pre-vote
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // the higher term of a granted pre-vote is the one we will campaign at, not someone else's
      } else {
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] received a ${MessageType[m.type]} message with higher term from ${hex(m.from)} [term: ${m.term}]`,
        );
        if (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap) {
          this.becomeFollower(m.term, m.from);
        } else {
          this.becomeFollower(m.term, NONE);
        }
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)) {
        // a leader partitioned away (whose term we passed) learns of the newer term
        // from this response; without it, with check-quorum or pre-vote it could never
        // learn it because we never send it a vote request with our higher term
        this.send({ type: MessageType.MsgAppResp, to: m.from });
      } else if (m.type === MessageType.MsgPreVote) {
        // reject so that a pre-candidate with a stale term learns the current one
        this.logger.info(
          `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] rejected ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
        );
        this.send({ type: MessageType.MsgPreVoteResp, to: m.from, term: this.term, reject: true });
      } else {
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] ignored a ${MessageType[m.type]} message with lower term from ${hex(m.from)} [term: ${m.term}]`,
        );
      }
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
        return;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        // we can vote for the node we already voted for (a repeated request), for anyone
        // if we have not voted and know no leader in this term, and pre-vote for a
        // future term
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.MsgPreVote && m.term > this.term);
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.logger.info(
            `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] cast ${MessageType[m.type]} for ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
          );
          // the response carries the request's term: for a pre-vote it is the future term
          this.send({ type: voteRespMsgType(m.type), to: m.from, term: m.term });
          if (m.type === MessageType.MsgVote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.logger.info(
            `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] rejected ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
          );
          this.send({ type: voteRespMsgType(m.type), to: m.from, term: this.term, reject: true });
        }
        return;
      }
      default:
        this.stepRole(m);
    }
  }

  /**
   * Starts an election of type `t` unless this node is the leader, is not a voter,
   * or has committed but unapplied conf changes: it would campaign with an outdated
   * configuration and could count the wrong majority (etcd-io/raft hup; etcd 3.4
   * skipped this check for MsgTimeoutNow, later versions apply it to transfers too).
   */
  private hup(t: CampaignType): void {
    if (this.state === StateType.StateLeader) {
      this.logger.debug(`${hex(this.id)} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warn(`${hex(this.id)} is unpromotable and can not campaign; ignoring MsgHup`);
      return;
    }
    if (this.raftLog.committed > this.raftLog.applied) {
      // entries below firstIndex are covered by a snapshot not yet handed to the driver,
      // whose configuration restore() already installed
      const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
      const ents = lo <= this.raftLog.committed ? this.raftLog.slice(lo, this.raftLog.committed + 1, Infinity) : [];
      const n = ents.filter((e) => e.type === EntryType.EntryConfChange).length;
      if (n !== 0) {
        this.logger.warn(`${hex(this.id)} cannot campaign at term ${this.term} since there are still ${n} pending configuration changes to apply`);
        return;
      }
    }
    this.logger.info(`${hex(this.id)} is starting a new election at term ${this.term}`);
    this.campaign(t);
  }

  /** Leader message handling (raft.go stepLeader). */
  private stepLeader = (m: Message): void => {
    // messages that need no progress entry for the sender
    switch (m.type) {
      case MessageType.MsgBeat:
        this.bcastHeartbeat();
        return;
      case MessageType.MsgCheckQuorum: {
        // the leader always counts itself as active
        const self = this.prs.progress.get(this.id);
        if (self) self.recentActive = true;
        if (!this.prs.quorumActive()) {
          this.logger.warn(`${hex(this.id)} stepped down to follower since quorum is not active`);
          this.becomeFollower(this.term, NONE);
        }
        // start a new round of activity tracking
        this.prs.visit((id, pr) => {
          if (id !== this.id) pr.recentActive = false;
        });
        return;
      }
      case MessageType.MsgProp:
        this.leaderPropose(m);
        return;
      case MessageType.MsgReadIndex:
        if (this.prs.isSingleton()) {
          // a single voter is its own quorum
          this.respondToReadIndexReq(m, this.raftLog.committed);
          return;
        }
        // a fresh leader does not know the commit index until an entry of its term is
        // committed (thesis §6.4): postpone the request until then
        if (!this.committedEntryInCurrentTerm()) {
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.sendReadIndexResponse(m);
        return;
      default:
        break;
    }

    const pr = this.prs.progress.get(m.from);
    if (pr === undefined) {
      this.logger.debug(`${hex(this.id)} no progress available for ${hex(m.from)}`);
      return;
    }
    switch (m.type) {
      case MessageType.MsgAppResp:
        pr.recentActive = true;
        if (m.reject) {
          this.logger.debug(
            `${hex(this.id)} received MsgAppResp(MsgApp was rejected, lastindex: ${m.rejectHint}) from ${hex(m.from)} for index ${m.index}`,
          );
          if (pr.maybeDecrTo(m.index, m.rejectHint)) {
            this.logger.debug(`${hex(this.id)} decreased progress of ${hex(m.from)} to [${pr.toString()}]`);
            if (pr.state === ProgressState.StateReplicate) pr.becomeProbe();
            this.sendAppend(m.from);
          }
        } else {
          const oldPaused = pr.isPaused();
          if (pr.maybeUpdate(m.index)) {
            if (pr.state === ProgressState.StateProbe) {
              pr.becomeReplicate();
            } else if (pr.state === ProgressState.StateSnapshot && pr.match >= pr.pendingSnapshot) {
              this.logger.debug(
                `${hex(this.id)} recovered from needing snapshot, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`,
              );
              // move through probe to reset the snapshot state, then stream
              pr.becomeProbe();
              pr.becomeReplicate();
            } else if (pr.state === ProgressState.StateReplicate) {
              pr.inflights.freeLE(m.index);
            }
            if (this.maybeCommit()) {
              this.releasePendingReadIndexMessages();
              this.pendingAppends.commit = true;
            } else if (oldPaused) {
              // the follower was paused and may now receive more: update its commit too
              this.sendAppend(m.from);
            }
            // send whatever is left, window permitting
            while (this.maybeSendAppend(m.from, false)) {
              /* keep sending */
            }
            if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
              this.logger.info(`${hex(this.id)} sent MsgTimeoutNow to ${hex(m.from)} after received MsgAppResp`);
              this.sendTimeoutNow(m.from);
            }
          }
        }
        return;
      case MessageType.MsgHeartbeatResp: {
        pr.recentActive = true;
        pr.probeSent = false;
        // the follower is alive: free one slot so a full window cannot stall forever
        if (pr.state === ProgressState.StateReplicate && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
        if (this.readOnly.option !== ReadOnlyOption.ReadOnlySafe || m.context === undefined || m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (acks === undefined || voteResult(this.prs.voters, acks) !== VoteResult.VoteWon) return;
        for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndexReq(rs.req, rs.index);
        return;
      }
      case MessageType.MsgSnapStatus:
        if (pr.state !== ProgressState.StateSnapshot) return;
        if (!m.reject) {
          pr.becomeProbe();
          this.logger.debug(`${hex(this.id)} snapshot succeeded, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`);
        } else {
          // a failed snapshot is forgotten; probe again from match
          pr.pendingSnapshot = 0;
          pr.becomeProbe();
          this.logger.debug(`${hex(this.id)} snapshot failed, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`);
        }
        // wait for the follower's MsgAppResp (or the next heartbeat) before probing
        pr.probeSent = true;
        return;
      case MessageType.MsgUnreachable:
        // optimistic streaming to an unreachable peer is pointless: probe instead
        if (pr.state === ProgressState.StateReplicate) pr.becomeProbe();
        this.logger.debug(`${hex(this.id)} failed to send message to ${hex(m.from)} because it is unreachable [${pr.toString()}]`);
        return;
      case MessageType.MsgTransferLeader: {
        if (pr.isLearner) {
          this.logger.debug(`${hex(this.id)} is learner. Ignored transferring leadership`);
          return;
        }
        const transferee = m.from;
        const last = this.leadTransferee;
        if (last !== NONE) {
          if (last === transferee) {
            this.logger.info(
              `${hex(this.id)} [term ${this.term}] transfer leadership to ${hex(transferee)} is in progress, ignores request to same node ${hex(transferee)}`,
            );
            return;
          }
          this.abortLeaderTransfer();
          this.logger.info(`${hex(this.id)} [term ${this.term}] abort previous transferring leadership to ${hex(last)}`);
        }
        if (transferee === this.id) {
          this.logger.debug(`${hex(this.id)} is already leader. Ignored transferring leadership to self`);
          return;
        }
        this.logger.info(`${hex(this.id)} [term ${this.term}] starts to transfer leadership to ${hex(transferee)}`);
        // the transfer must finish within one election timeout
        this.electionElapsed = 0;
        this.leadTransferee = transferee;
        if (pr.match === this.raftLog.lastIndex()) {
          this.sendTimeoutNow(transferee);
          this.logger.info(
            `${hex(this.id)} sends MsgTimeoutNow to ${hex(transferee)} immediately as ${hex(transferee)} already has up-to-date log`,
          );
        } else {
          this.sendAppend(transferee);
        }
        return;
      }
      default:
        return;
    }
  };

  /** Leader: append a proposal (refusing a second pending conf change) and replicate it. */
  private leaderPropose(m: Message): void {
    if (m.entries.length === 0) throw new RaftInvariantError(`${hex(this.id)} stepped empty MsgProp`);
    if (!this.prs.progress.has(this.id)) {
      // removed from the configuration while still leader: step aside quietly
      throw new ErrProposalDropped();
    }
    if (this.leadTransferee !== NONE) {
      this.logger.debug(
        `${hex(this.id)} [term ${this.term}] transfer leadership to ${hex(this.leadTransferee)} is in progress; dropping proposal`,
      );
      throw new ErrProposalDropped();
    }
    const entries = m.entries.map((e, i) => {
      if (e.type !== EntryType.EntryConfChange) return e;
      if (this.pendingConfIndex > this.raftLog.applied) {
        this.logger.info(
          `${hex(this.id)} ignoring conf change ${describeCc(e.data)} at config ${this.prs.describeConfig()}: possible unapplied conf change at index ${this.pendingConfIndex} (applied to ${this.raftLog.applied})`,
        );
        // keep the slot so indexes stay as the proposer expects, but make it a no-op
        return { ...e, type: EntryType.EntryNormal, data: EMPTY_BYTES };
      }
      this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
      return e;
    });
    if (!this.appendEntry(entries)) throw new ErrProposalDropped();
    this.pendingAppends.entries = true;
  }

  /** Candidate and pre-candidate message handling (raft.go stepCandidate). */
  private stepCandidate = (m: Message): void => {
    // only responses of the kind this round asked for are counted
    const myVoteRespType = this.state === StateType.StatePreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
    switch (m.type) {
      case MessageType.MsgProp:
        this.logger.info(`${hex(this.id)} no leader at term ${this.term}; dropping proposal`);
        throw new ErrProposalDropped();
      case MessageType.MsgApp:
        // a leader of this term exists (m.term === this.term here)
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myVoteRespType: {
        const { granted, rejected, result } = this.poll(m.from, m.type, !m.reject);
        this.logger.info(`${hex(this.id)} has received ${granted} ${MessageType[m.type]} votes and ${rejected} vote rejections`);
        if (result === VoteResult.VoteWon) {
          if (this.state === StateType.StatePreCandidate) {
            this.campaign(CampaignType.Election);
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === VoteResult.VoteLost) {
          // a pre-candidate's rejection may carry a higher term; becomeFollower keeps ours
          // (already raised in step() if the rejection had a higher term)
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      case MessageType.MsgTimeoutNow:
        this.logger.debug(`${hex(this.id)} [term ${this.term} state ${StateType[this.state]}] ignored MsgTimeoutNow from ${hex(m.from)}`);
        return;
      default:
        return;
    }
  };

  /** Follower message handling (raft.go stepFollower). */
  private stepFollower = (m: Message): void => {
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === NONE) {
          this.logger.info(`${hex(this.id)} no leader at term ${this.term}; dropping proposal`);
          throw new ErrProposalDropped();
        }
        if (this.disableProposalForwarding) {
          this.logger.info(`${hex(this.id)} not forwarding to leader ${hex(this.lead)} at term ${this.term}; dropping proposal`);
          throw new ErrProposalDropped();
        }
        this.forwardProposal(m);
        return;
      case MessageType.MsgApp:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.MsgTransferLeader:
        if (this.lead === NONE) {
          this.logger.info(`${hex(this.id)} no leader at term ${this.term}; dropping leader transfer msg`);
          return;
        }
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.MsgTimeoutNow:
        if (this.promotable()) {
          this.logger.info(
            `${hex(this.id)} [term ${this.term}] received MsgTimeoutNow from ${hex(m.from)} and starts an election to get leadership.`,
          );
          // leadership transfer skips pre-vote: the current leader asked for it; hup
          // still refuses while conf changes are committed but not applied
          this.hup(CampaignType.Transfer);
        } else {
          this.logger.info(`${hex(this.id)} received MsgTimeoutNow from ${hex(m.from)} but is not promotable`);
        }
        return;
      case MessageType.MsgReadIndex:
        if (this.lead === NONE) {
          this.logger.info(`${hex(this.id)} no leader at term ${this.term}; dropping index reading msg`);
          return;
        }
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.MsgReadIndexResp:
        if (m.entries.length !== 1) {
          this.logger.error(`${hex(this.id)} invalid format of MsgReadIndexResp from ${hex(m.from)}, entries count: ${m.entries.length}`);
          return;
        }
        this.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
        return;
      default:
        return;
    }
  };

  /** Follower side of AppendEntries (Raft Figure 2, receiver rules 1–5). */
  handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      // everything up to our commit index is known to match
      this.send({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed });
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send({ type: MessageType.MsgAppResp, to: m.from, index: lastNew });
    } else {
      this.logger.debug(
        `${hex(this.id)} [logterm: ${this.raftLog.termOrZero(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${hex(m.from)}`,
      );
      this.send({ type: MessageType.MsgAppResp, to: m.from, index: m.index, reject: true, rejectHint: this.raftLog.lastIndex() });
    }
  }

  /** Follower side of a heartbeat: advance commit (never past the known-matching prefix; the leader sends min(match, commit)). */
  handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    this.send(
      m.context === undefined
        ? { type: MessageType.MsgHeartbeatResp, to: m.from }
        : { type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context },
    );
  }

  /** Follower side of InstallSnapshot; replies with the resulting last index (or commit if ignored). */
  handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s === undefined) {
      this.logger.error(`${hex(this.id)} received MsgSnap without a snapshot from ${hex(m.from)}`);
      return;
    }
    const { index: sindex, term: sterm } = s.metadata;
    if (this.restore(s)) {
      this.logger.info(`${hex(this.id)} [commit: ${this.raftLog.committed}] restored snapshot [index: ${sindex}, term: ${sterm}]`);
      this.send({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.lastIndex() });
    } else {
      this.logger.info(`${hex(this.id)} [commit: ${this.raftLog.committed}] ignored snapshot [index: ${sindex}, term: ${sterm}]`);
      this.send({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed });
    }
  }

  /**
   * Installs a snapshot if it is newer than the commit index and does not merely
   * match the existing log (then commit just fast-forwards). Returns true if the log
   * was replaced (raft.go restore).
   */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.StateFollower) {
      // a leader or candidate never receives a snapshot of its own term; be defensive
      this.logger.warn(`${hex(this.id)} attempted to restore snapshot as leader; should never happen`);
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.metadata.confState;
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) {
      this.logger.warn(`${hex(this.id)} attempted to restore snapshot but it is not in the ConfState ${describeCs(cs)}; should never happen`);
      return false;
    }
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      this.logger.info(
        `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] fast-forwarded commit to snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
      );
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    this.prs = new ProgressTracker(this.prs.maxInflight, this.prs.maxInflightBytes);
    this.switchToConfig(restoreConfig(cs, this.raftLog.lastIndex(), this.prs.maxInflight, this.prs.maxInflightBytes));
    const pr = this.prs.progress.get(this.id);
    pr?.maybeUpdate(pr.next - 1);
    this.logger.info(
      `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] restored snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
    );
    return true;
  }

  /** True if this node may campaign: it is a voter in the current configuration. */
  promotable(): boolean {
    const pr = this.prs.progress.get(this.id);
    return pr !== undefined && !pr.isLearner;
  }

  /**
   * Applies a committed configuration change and returns the new ConfState. Throws
   * ConfChangeError if the change is invalid (e.g. removes the last voter).
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.switchToConfig(applySimpleChange(this.prs, this.raftLog.lastIndex(), cc));
  }

  /**
   * Installs a configuration. A leader that is still a voter re-evaluates the commit
   * index (the quorum changed) and probes new peers; a transfer to a node that is no
   * longer a voter is aborted (raft.go switchToConfig).
   */
  private switchToConfig(cfg: TrackerConfig): ConfState {
    this.prs.voters = cfg.voters;
    this.prs.learners = cfg.learners;
    this.prs.progress = cfg.progress;
    this.logger.info(`${hex(this.id)} switched to configuration ${this.prs.describeConfig()}`);
    const cs = this.prs.confState();
    const pr = this.prs.progress.get(this.id);
    this.isLearner = pr !== undefined && pr.isLearner;
    if ((pr === undefined || this.isLearner) && this.state === StateType.StateLeader) {
      // removed or demoted leader: keep leading until it steps down or is replaced
      // (it can no longer propose; CheckQuorum or a new election ends its term)
      return cs;
    }
    if (this.state !== StateType.StateLeader || cs.voters.length === 0) return cs;
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      this.prs.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    // a transferee that was removed or demoted to learner can no longer take over
    // (etcd-io/raft checks the voters; etcd 3.4 only aborted on removal)
    if (this.leadTransferee !== NONE && !this.prs.voters.has(this.leadTransferee)) this.abortLeaderTransfer();
    return cs;
  }

  /** Loads a persisted hard state; throws RaftInvariantError if commit is outside the log. */
  private loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new RaftInvariantError(
        `${hex(this.id)} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** True once electionElapsed reached the randomized timeout. */
  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private resetRandomizedElectionTimeout(): void {
    const r = this.rand(this.electionTimeout);
    if (!Number.isInteger(r) || r < 0 || r >= this.electionTimeout) {
      throw new RaftInvariantError(`config.rand(${this.electionTimeout}) returned ${r}, want an integer in [0, ${this.electionTimeout})`);
    }
    this.randomizedElectionTimeout = this.electionTimeout + r;
  }

  private sendTimeoutNow(to: bigint): void {
    this.send({ type: MessageType.MsgTimeoutNow, to });
  }

  /** Forgets an ongoing leader transfer (proposals are accepted again). */
  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /** True if the commit index points at an entry of the current term. */
  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrZero(this.raftLog.committed) === this.term;
  }

  /** Answers a read-index request locally (ReadState) or with MsgReadIndexResp to the follower that asked. */
  private respondToReadIndexReq(req: Message, readIndex: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: req.entries[0]?.data ?? EMPTY_BYTES });
      return;
    }
    this.send({ type: MessageType.MsgReadIndexResp, to: req.from, index: readIndex, entries: req.entries });
  }

  /** Safe mode: record the request and confirm leadership with a heartbeat round; lease mode: answer now. */
  private sendReadIndexResponse(m: Message): void {
    if (this.readOnly.option === ReadOnlyOption.ReadOnlySafe) {
      const ctx = m.entries[0]?.data;
      this.readOnly.addRequest(this.raftLog.committed, m);
      // the leader's own acknowledgement
      this.readOnly.recvAck(this.id, ctx);
      this.bcastHeartbeatWithCtx(ctx);
    } else {
      this.respondToReadIndexReq(m, this.raftLog.committed);
    }
  }

  /** Serves the read-index requests held back until this term's first commit. */
  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    if (!this.committedEntryInCurrentTerm()) {
      this.logger.error('pending MsgReadIndex should be released only after first commit in current term');
      return;
    }
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.sendReadIndexResponse(m);
  }

  private increaseUncommittedSize(ents: readonly Entry[]): boolean {
    let s = 0;
    for (const e of ents) s += payloadSize(e);
    // an empty uncommitted log always accepts one proposal, however large
    if (this.uncommittedSize > 0 && this.uncommittedSize + s > this.maxUncommittedSize) return false;
    this.uncommittedSize += s;
    return true;
  }

  private reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.uncommittedSize === 0) return;
    let s = 0;
    for (const e of ents) s += payloadSize(e);
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  /** Bootstrap support (bootstrap.go): appends committed conf-change entries at term 1. */
  bootstrapEntries(ents: readonly Entry[], ccs: readonly ConfChange[]): void {
    this.becomeFollower(1, NONE);
    this.raftLog.append(ents);
    this.raftLog.committed = ents.length;
    for (const cc of ccs) this.applyConfChange(cc);
  }
}

function describeCs(cs: ConfState): string {
  return `Voters:[${cs.voters.join(' ')}] Learners:[${cs.learners.join(' ')}]`;
}

function describeCc(data: Uint8Array): string {
  try {
    const cc = decodeConfChange(data);
    return describeConfChangeShort(cc.type, cc.nodeId);
  } catch {
    return '<undecodable>';
  }
}
