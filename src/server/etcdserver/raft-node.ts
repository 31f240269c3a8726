/**
 * RaftNode: the only place that ties the pure Raft core to I/O and time
 * (etcd 3.4 etcdserver/raft.go raftNode.start, plus the apply ordering of
 * server.go). It owns the RawNode, the in-memory log raft reads from
 * (MemoryStorage) and the durable log (WAL + snapshot files).
 *
 * One Ready is handled at a time, in this order:
 * 1. soft state (leader changes) and read states are reported at once;
 * 2. a leader sends its messages at once (raft thesis 10.2.1);
 * 3. a snapshot received from the leader is saved (its .snap file written and
 *    fsynced at once, then its WAL marker queued) and applied to the
 *    MemoryStorage, then the hard state and new entries are queued to the WAL
 *    (concurrent Readys' writes are batched into one fsync by the WAL) and
 *    appended to the MemoryStorage without waiting for the fsync;
 * 4. `advance` is called at once (as etcd's raftNode calls Advance without
 *    waiting for its apply goroutine), so the next Ready can be taken while this
 *    one's writes are in flight;
 * 5. on a promise chain, once every WAL write queued so far is durable and the
 *    previous Ready's step 5 is done: a follower sends its messages, a received
 *    snapshot is installed (`applySnapshot`: the server replaces its backend),
 *    then committed entries are applied strictly in order — an entry is never
 *    applied (and so never acknowledged) before it is on disk, even on a single
 *    member, where raft commits an entry as soon as the leader appends it (the
 *    etcd 3.4.21 fix for single-node data loss, etcd issue 14370).
 * Because step 5 runs on a promise chain, new proposals keep entering raft while
 * an fsync is in flight and the next Ready's entries share the next fsync. This is
 * the pipelined driver described in raft/ready.ts.
 *
 * A WAL or apply failure is fatal: the node stops ticking and proposing, every
 * pending waiter is failed by the server, and the failure is reported through
 * `onFatal` — nothing written after it is acknowledged.
 */
import {
  MemoryStorage,
  RawNode,
  SnapshotStatus,
  StateType,
  isEmptySnap,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type ReadState,
  type Snapshot,
  type SoftState,
} from '../raft/index.js';
import type { Wal } from '../wal/wal.js';

/** Sends raft messages to peers (the peer transport; none for a single member). */
export interface Transport {
  send(msgs: readonly Message[]): void;
}

/** What the node reports to the server. All callbacks run synchronously on the event loop. */
export interface RaftNodeHandlers {
  /** Leader or role changed. */
  onSoftState(ss: SoftState): void;
  /** ReadIndex results: `requestCtx` is the context passed to {@link RaftNode.readIndex}. */
  onReadStates(rs: readonly ReadState[]): void;
  /**
   * Applies committed entries in order (normal entries and conf changes). Must be
   * synchronous; throwing is fatal. `applyConfChange` applies a conf change to
   * raft and returns the new ConfState.
   */
  apply(entries: readonly Entry[], applyConfChange: (cc: ConfChange) => ConfState): void;
  /** Called after the entries of one apply batch are applied (e.g. to trigger a snapshot). */
  afterApply(appliedIndex: number): void;
  /**
   * Installs a snapshot received from the leader (etcd applySnapshot): called once it
   * is durable, before any entry after it is applied. Must be synchronous; throwing is fatal.
   */
  applySnapshot(snap: Snapshot): void;
  /** The node cannot go on (WAL write/fsync failed, apply threw). */
  onFatal(err: unknown): void;
}

/** Configuration of a {@link RaftNode}. */
export interface RaftNodeConfig {
  readonly node: RawNode;
  readonly storage: MemoryStorage;
  readonly wal: Wal;
  /** ms between ticks (--heartbeat-interval). */
  readonly tickMs: number;
  readonly transport?: Transport;
  /** Writes a received snapshot's .snap file durably before its WAL marker (etcd SaveSnap). */
  readonly saveSnapshotFile?: (snap: Snapshot) => void;
  readonly handlers: RaftNodeHandlers;
}

/** The Ready loop around a RawNode; see the module comment. */
export class RaftNode {
  readonly node: RawNode;
  readonly storage: MemoryStorage;
  private readonly wal: Wal;
  private readonly tickMs: number;
  private readonly transport: Transport | undefined;
  private readonly saveSnapshotFile: ((snap: Snapshot) => void) | undefined;
  private readonly h: RaftNodeHandlers;
  private ticker: NodeJS.Timeout | undefined;
  private scheduled = false;
  private stopped = false;
  private fatal: unknown;
  /** Resolves when every WAL write queued so far is durable and everything before it applied. */
  private applyChain: Promise<void> = Promise.resolve();
  private lead = 0n;
  private raftState = StateType.StateFollower;

  constructor(cfg: RaftNodeConfig) {
    this.node = cfg.node;
    this.storage = cfg.storage;
    this.wal = cfg.wal;
    this.tickMs = cfg.tickMs;
    this.transport = cfg.transport;
    this.saveSnapshotFile = cfg.saveSnapshotFile;
    this.h = cfg.handlers;
  }

  /** Starts ticking every `tickMs` ms and handles any pending Ready. */
  start(): void {
    this.ticker = setInterval(() => {
      if (this.stopped) return;
      this.node.tick();
      this.schedule();
    }, this.tickMs);
    this.schedule();
  }

  /** The current leader's ID (0n: none known). */
  leader(): bigint {
    return this.lead;
  }

  isLeader(): boolean {
    return this.raftState === StateType.StateLeader;
  }

  /** The current term. */
  term(): number {
    return this.node.raft.term;
  }

  /** The highest log index known to be committed. */
  committedIndex(): number {
    return this.node.raft.raftLog.committed;
  }

  /** A message to `id` could not be delivered (etcd Raft.ReportUnreachable). */
  reportUnreachable(id: bigint): void {
    if (this.stopped) return;
    this.node.reportUnreachable(id);
    this.schedule();
  }

  /** The outcome of a MsgSnap sent to `id` (etcd Raft.ReportSnapshot). */
  reportSnapshot(id: bigint, ok: boolean): void {
    if (this.stopped) return;
    this.node.reportSnapshot(id, ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure);
    this.schedule();
  }

  /** The failure that stopped the node, if any. */
  failure(): unknown {
    return this.fatal;
  }

  /**
   * Proposes `data` (an encoded InternalRaftRequest). Throws the raft error
   * (e.g. ErrProposalDropped) synchronously when raft refuses it.
   */
  propose(data: Uint8Array): void {
    this.checkRunning();
    this.node.propose(data);
    this.schedule();
  }

  /** Proposes a conf change; throws as {@link propose}. */
  proposeConfChange(cc: ConfChange): void {
    this.checkRunning();
    this.node.proposeConfChange(cc);
    this.schedule();
  }

  /** Requests a read index; the answer comes through `onReadStates` with `ctx`. */
  readIndex(ctx: Uint8Array): void {
    this.checkRunning();
    this.node.readIndex(ctx);
    this.schedule();
  }

  /**
   * Ticks the Raft node `ticks` times at once (etcd raftNode.advanceTicks): used at boot
   * to bring the first election closer. Ticks are Raft ticks (--heartbeat-interval ms each).
   */
  advanceTicks(ticks: number): void {
    this.checkRunning();
    for (let i = 0; i < ticks; i++) this.node.tick();
    this.schedule();
  }

  /** Starts a campaign (used to elect a single member at once). */
  campaign(): void {
    this.checkRunning();
    this.node.campaign();
    this.schedule();
  }

  /** Asks the leader to transfer leadership to `transferee`. */
  transferLeader(transferee: bigint): void {
    this.checkRunning();
    this.node.transferLeader(transferee);
    this.schedule();
  }

  /** Steps a message received from a peer. */
  step(m: Message): void {
    if (this.stopped) return;
    this.node.step(m);
    this.schedule();
  }

  /** Resolves when everything queued so far is durable and applied. */
  async settled(): Promise<void> {
    await this.applyChain;
  }

  /** Stops ticking and handling Readys; waits for queued WAL writes and applies. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    await this.applyChain.catch(() => undefined);
  }

  private checkRunning(): void {
    if (this.fatal !== undefined) throw this.fatal;
    if (this.stopped) throw new Error('raft node stopped');
  }

  /** Handles Readys on a later turn of the event loop (coalescing many calls). */
  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.processReadys();
    });
  }

  private processReadys(): void {
    if (this.stopped || this.fatal !== undefined) return;
    try {
      while (this.node.hasReady()) this.handleReady();
    } catch (e) {
      this.fail(e);
    }
  }

  private handleReady(): void {
    const rd = this.node.ready();
    if (rd.softState) {
      this.lead = rd.softState.lead;
      this.raftState = rd.softState.raftState;
      this.h.onSoftState(rd.softState);
    }
    if (rd.readStates.length > 0) this.h.onReadStates(rd.readStates);

    const isLeader = this.raftState === StateType.StateLeader;
    if (isLeader && rd.messages.length > 0) this.transport?.send(rd.messages);

    let durable: Promise<void> = Promise.resolve();
    let installed: Snapshot | undefined;
    if (rd.snapshot && !isEmptySnap(rd.snapshot)) {
      // a snapshot from the leader: its file, then its WAL marker, before the entries after it
      installed = rd.snapshot;
      this.saveSnapshotFile?.(installed);
      const marker = this.wal.saveSnapshotMarker({ term: installed.metadata.term, index: installed.metadata.index });
      durable = marker;
      this.storage.applySnapshot(installed);
    }
    if (rd.hardState || rd.entries.length > 0) {
      const hs = rd.hardState ?? this.storage.initialState().hardState;
      const saved = this.wal.save(hs, rd.entries);
      durable = Promise.all([durable, saved]).then(() => undefined);
      if (rd.hardState) this.storage.setHardState(rd.hardState);
      this.storage.append(rd.entries);
    }
    const msgs = isLeader ? [] : rd.messages;
    const committed = rd.committedEntries;
    const prev = this.applyChain;
    this.applyChain = Promise.all([prev, durable]).then(() => {
      if (this.fatal !== undefined) return;
      if (msgs.length > 0) this.transport?.send(msgs);
      if (installed) {
        try {
          this.h.applySnapshot(installed);
        } catch (e) {
          this.fail(e);
          return;
        }
      }
      if (committed.length > 0) {
        try {
          this.h.apply(committed, (cc) => this.node.applyConfChange(cc));
          this.h.afterApply(committed[committed.length - 1]!.index);
        } catch (e) {
          this.fail(e);
          return;
        }
        // applying may have produced new work (e.g. conf changes, proposals from callbacks)
        this.schedule();
      }
    });
    this.applyChain.catch((e) => this.fail(e));
    this.node.advance(rd);
  }

  private fail(e: unknown): void {
    if (this.fatal !== undefined) return;
    this.fatal = e ?? new Error('raft node failed');
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.h.onFatal(this.fatal);
  }
}
