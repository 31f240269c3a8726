/**
 * The apply loop of a member (etcd 3.4 etcdserver/server.go: applyAll,
 * applySnapshot, applyEntries, applyEntryNormal, applyConfChange, triggerSnapshot
 * and snapshot; etcd's consistent index is etcdserver/consistent_index.go).
 *
 * RaftNode (raft-node.ts) hands it, in order and only once they are durable, the
 * snapshots received from the leader ({@link ApplyLoop.applySnapshot}) and the
 * committed entries ({@link ApplyLoop.applyEntries}); after each batch it calls
 * {@link ApplyLoop.afterApply}, which saves a raft snapshot every --snapshot-count
 * entries. Normal entries go to the applier chain (./apply); the proposer's waiter
 * (Wait, keyed by request ID) gets the result. Conf changes are validated against
 * the membership as of the entry, applied to raft, to the RaftCluster and to the
 * peer transport.
 *
 * The consistent index (the index of the entry being applied) is saved in the
 * backend with every write, so a restart replays only entries after it; the backend
 * is committed ({@link ApplyLoop.commitBackend}) every 100 ms by the server and
 * before every raft snapshot — the WAL, fsynced before any entry is applied, is what
 * makes an acknowledged write durable.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InternalRaftRequestSchema } from '../../gen/etcdserverpb/raft_internal_pb.js';
import type { AuthStore } from '../auth/store.js';
import type { Backend } from '../backend/backend.js';
import { replaceWithBoltFile } from '../backend/bbolt-import.js';
import type { Lessor } from '../lease/lessor.js';
import type { WatchableStore } from '../mvcc/watchable-store.js';
import type { Transport as PeerTransport } from '../rafthttp/transport.js';
import { ConfChangeType, EntryType, decodeConfChange, type ConfChange, type ConfState, type Entry, type Snapshot } from '../raft/index.js';
import type { EmbedConfig } from '../embed/config-types.js';
import type { AlarmStore } from './api/v3alarm/alarms.js';
import type { ApplyResult } from './apply/applier.js';
import type { UberApplier } from './apply/uber-applier.js';
import { memberDirs, type BootstrappedRaft } from './bootstrap.js';
import { ErrMemberRemoved } from './errors.js';
import { readRequestId } from './internal-request.js';
import type { RaftCluster } from './membership/cluster.js';
import type { V2Server } from './v2-server.js';
import { decodeMember, idHex } from './membership/member.js';
import type { PendingProposals } from './proposals.js';
import type { RaftNode } from './raft-node.js';
import type { ServerLogger } from './server.js';
import type { Wait, WaitIndex } from './wait.js';

/** Entries kept in the in-memory log behind a snapshot for slow followers (etcd snapshotCatchUpEntries). */
const SNAPSHOT_CATCH_UP_ENTRIES = 5000;

/** What a proposal's waiter receives: the applier's response or error. */
export type ProposalResult = { resp?: unknown; err?: unknown };

/** A batch transaction of the backend (Backend.batchTx()). */
export type BatchTx = ReturnType<Backend['batchTx']>;

/** Runs `f` with the backend's batch transaction locked. */
export function withBatchTx(backend: Backend, f: (tx: BatchTx) => void): void {
  const tx = backend.batchTx();
  tx.lock();
  try {
    f(tx);
  } finally {
    tx.unlock();
  }
}

/** etcd's name of a received snapshot database in the snap dir: `%016x.snap.db` of the snapshot index. */
export function snapDbName(index: number): string {
  return `${index.toString(16).padStart(16, '0')}.snap.db`;
}

/**
 * The index of the entry being applied, or of the last one applied (etcd
 * consistentIndex, etcdserver/consistent_index.go). The mvcc store reads it through
 * {@link ConsistentIndex.consistentIndex} whenever it saves it in the backend.
 */
export class ConsistentIndex {
  private v = 0n;

  /** The current value (0n before anything is applied on a new member). */
  consistentIndex(): bigint {
    return this.v;
  }

  /** Sets the value (an entry is about to be applied, or the backend was replaced). */
  set(v: bigint): void {
    this.v = v;
  }
}

/** What the apply loop works on: the member's stores, its raft node, the waiters, and callbacks into the server. */
export interface ApplyLoopDeps {
  readonly memberId: bigint;
  /** Data and WAL dirs (snap dir), --election-timeout, --snapshot-count, --max-wals, --max-snapshots. */
  readonly cfg: Pick<EmbedConfig, 'dataDir' | 'walDir' | 'electionMs' | 'snapshotCount' | 'maxWalFiles' | 'maxSnapFiles'>;
  readonly log: ServerLogger;
  /** Leadership (lessor promotion) and the MemoryStorage a raft snapshot is cut from. */
  readonly raft: RaftNode;
  /** Where raft snapshots are saved (snapshotter, WAL snapshot marker and release/purge). */
  readonly durable: Pick<BootstrappedRaft, 'snapshotter' | 'wal'>;
  readonly backend: Backend;
  readonly kv: WatchableStore;
  readonly lessor: Lessor;
  readonly authStore: AuthStore;
  readonly alarmStore: AlarmStore;
  readonly cluster: RaftCluster;
  readonly transport: PeerTransport;
  /** The applier chain normal entries go through. */
  readonly applier: UberApplier;
  readonly consistIndex: ConsistentIndex;
  /** Proposers waiting for their entry (request ID, or conf change ID). */
  readonly wait: Wait<ProposalResult>;
  /** Waiters for the applied index (linearizable reads, lease calls). */
  readonly applyWait: WaitIndex;
  /** The request objects this member proposed, applied instead of decoding their entries. */
  readonly proposals: PendingProposals;
  /** The v2 store: v2 requests, the membership mirror in /0, and the raft snapshot's data. */
  readonly v2: V2Server;
  /** The newest snapshot at start (its index is the initial applied index, its ConfState the initial one). */
  readonly initialSnapshot: Snapshot | undefined;
  /** Adds a remote member to the transport (failures are logged by the server). */
  addPeer(id: bigint, peerUrls: readonly string[]): void;
  /**
   * The cluster version read back from a received snapshot's backend (etcd
   * RaftCluster.Recover(api.UpdateCapability): logged, capabilities enabled).
   */
  onClusterVersionRecovered(version: string): void;
  /** Stops the member (used a second after it applied its own removal). */
  stopWithError(err: Error): void;
  /** The backend commit failed: the member must stop. */
  onBackendFailure(err: unknown): void;
}

/** The apply side of a member; see the module comment. */
export class ApplyLoop {
  private readonly d: ApplyLoopDeps;
  /** Index of the last entry applied (or of the installed snapshot). */
  appliedIndex: number;
  /** Index of the newest raft snapshot (saved or installed). */
  private snapshotIndex: number;
  /** The ConfState as of the applied index (what a raft snapshot records). */
  private confState: ConfState = { voters: [], learners: [] };

  /** The configuration as of the applied index (etcd's ep.confState). */
  currentConfState(): ConfState {
    return this.confState;
  }
  /** A conf change removing this member was applied; it stops shortly. */
  private removedSelf = false;
  private snapshotting = false;
  /** The raft snapshot being saved, if any (stop waits for it). */
  snapshotInFlight: Promise<void> = Promise.resolve();

  constructor(d: ApplyLoopDeps) {
    this.d = d;
    this.snapshotIndex = d.initialSnapshot?.metadata.index ?? 0;
    this.appliedIndex = this.snapshotIndex;
    if (d.initialSnapshot) this.confState = d.initialSnapshot.metadata.confState;
  }

  /**
   * Applies committed entries in order (RaftNodeHandlers.apply; etcd applyEntries):
   * normal entries through the applier chain, conf changes through `applyCC` (raft)
   * and the membership, empty entries (a new leader's first entry) promote the
   * lessor on the leader. Entries at or below the applied index are skipped, except
   * conf changes, which raft must see again after a restart. Throws only on a broken
   * invariant (fatal, as etcd panics).
   */
  applyEntries(ents: readonly Entry[], applyCC: (cc: ConfChange) => ConfState): void {
    // one version of the backend's pending state for the whole batch (Backend.deferPublish)
    this.d.backend.deferPublish(() => this.applyBatch(ents, applyCC));
    this.d.applyWait.trigger(this.appliedIndex);
  }

  private applyBatch(ents: readonly Entry[], applyCC: (cc: ConfChange) => ConfState): void {
    const d = this.d;
    for (const e of ents) {
      if (e.index <= this.appliedIndex && e.type !== EntryType.EntryConfChange) continue;
      if (e.type === EntryType.EntryConfChange) {
        this.applyConfChangeEntry(e, applyCC);
      } else if (e.data.length > 0) {
        this.applyNormalEntry(e);
      } else {
        if (BigInt(e.index) > d.consistIndex.consistentIndex()) d.consistIndex.set(BigInt(e.index));
        // A leader appends an empty entry when its term starts: once it is applied, every
        // entry of earlier terms is applied too, and the lessor starts tracking expiries
        // (etcd applyEntryNormal: Promote(electionTimeout) on an empty entry while leader).
        // So leases granted or restored before it all restart at now + election timeout +
        // their remaining TTL.
        if (d.raft.isLeader()) d.lessor.promote(d.cfg.electionMs);
      }
      if (e.index > this.appliedIndex) this.appliedIndex = e.index;
    }
    // the consistent index of non-mvcc applies (lease, auth, alarms, members) goes in the same backend batch
    withBatchTx(d.backend, (tx) => d.kv.saveIndex(tx));
  }

  /** etcd applyEntryNormal: one InternalRaftRequest, its result to the proposer's waiter. */
  private applyNormalEntry(e: Entry): void {
    const d = this.d;
    const index = BigInt(e.index);
    const ownId = readRequestId(e.data);
    let req = ownId !== 0n ? d.proposals.take(ownId) : undefined;
    if (!req) {
      try {
        // no message-depth limit: a txn may nest as deep as the --max-txn-ops it was checked against allowed
        req = fromBinary(InternalRaftRequestSchema, e.data, { recursionLimit: Number.MAX_SAFE_INTEGER });
      } catch (err) {
        throw new Error(`entry ${e.index}: cannot decode InternalRaftRequest: ${String(err)}`);
      }
    }
    const id = req.header?.ID || req.ID;
    // The v2 store is rebuilt from the raft snapshot and the entries after it, so v2
    // requests and the membership it mirrors apply whatever the consistent index (etcd
    // applyEntryNormal applies raftReq.V2 before looking at it).
    if (req.v2) {
      if (index > d.consistIndex.consistentIndex()) d.consistIndex.set(index);
      const r = d.v2.applyRequest(req.v2);
      d.wait.trigger(id, r.err !== undefined ? { err: r.err } : { resp: r.resp });
      return;
    }
    if (req.clusterMemberAttrSet?.memberAttributes) {
      const a = req.clusterMemberAttrSet.memberAttributes;
      d.v2.memberAttributesSet(req.clusterMemberAttrSet.memberID, { name: a.name, clientUrls: a.clientUrls });
    } else if (req.clusterVersionSet) {
      d.v2.clusterVersionSet(req.clusterVersionSet.ver);
    }
    if (index <= d.consistIndex.consistentIndex()) {
      // already in the backend (replay after restart): nothing to do but wake a waiter
      return;
    }
    d.consistIndex.set(index);
    // only broken invariants throw here (backend failure, mvcc invariant): fatal, as etcd panics
    const res: ApplyResult = d.applier.apply(req, index);
    if (res.err && !d.wait.isRegistered(id)) {
      d.log.debug('apply request failed', { index: e.index, error: String((res.err as Error)?.message ?? res.err) });
    }
    if (res.respReady) {
      // a token signed after the apply (JWT): answer once it is in the response
      const result = res;
      res.respReady.then(
        () => d.wait.trigger(id, { resp: result.resp, err: result.err }),
        (err) => d.wait.trigger(id, { err }),
      );
      return;
    }
    if (res.physc) {
      const phys = res.physc;
      const result = res;
      phys.then(
        () => d.wait.trigger(id, { resp: result.resp, err: result.err }),
        (err) => d.wait.trigger(id, { err }),
      );
      if (req.compaction?.physical) return;
    }
    d.wait.trigger(id, { resp: res.resp, err: res.err });
  }

  /** etcd applyConfChange: validated, applied to raft (as a no-op when rejected), to the membership and the transport. */
  private applyConfChangeEntry(e: Entry, applyCC: (cc: ConfChange) => ConfState): void {
    const d = this.d;
    const cc = decodeConfChange(e.data);
    const index = BigInt(e.index);
    const fresh = index > d.consistIndex.consistentIndex();
    if (fresh) d.consistIndex.set(index);
    let err: unknown;
    // etcd's validation reads the members from the v2 store first (its statistics count that)
    d.v2.countMembershipReads();
    // validation against the membership as of this entry; a rejected change is applied to raft as a no-op
    try {
      if (fresh) this.validateConfChange(cc);
    } catch (x) {
      err = x;
    }
    if (err !== undefined) {
      this.confState = applyCC({ ...cc, nodeId: 0n });
      d.wait.trigger(cc.id, { err });
      return;
    }
    this.confState = applyCC(cc);
    if (e.index > this.appliedIndex) this.mirrorConfChange(cc);
    if (fresh || d.cluster.memberList().length === 0 || cc.type !== ConfChangeType.ConfChangeRemoveNode) {
      withBatchTx(d.backend, (tx) => {
        switch (cc.type) {
          case ConfChangeType.ConfChangeAddNode:
          case ConfChangeType.ConfChangeAddLearnerNode: {
            const m = decodeMember(cc.context ?? new Uint8Array(0));
            if (d.cluster.member(m.id) && cc.type === ConfChangeType.ConfChangeAddNode && !m.isLearner) {
              d.cluster.promoteMember(tx, m.id);
            } else {
              d.cluster.addMember(tx, { ...m, isLearner: cc.type === ConfChangeType.ConfChangeAddLearnerNode });
            }
            break;
          }
          case ConfChangeType.ConfChangeRemoveNode:
            d.cluster.removeMember(tx, cc.nodeId);
            break;
          case ConfChangeType.ConfChangeUpdateNode: {
            const m = decodeMember(cc.context ?? new Uint8Array(0));
            d.cluster.updateRaftAttributes(tx, m.id, m.peerUrls, m.isLearner);
            break;
          }
        }
      });
    }
    this.updatePeersForConfChange(cc);
    d.wait.trigger(cc.id, {});
  }

  /** An applied conf change in the v2 store's /0 (etcd's membership keeps members there). */
  private mirrorConfChange(cc: ConfChange): void {
    const v2 = this.d.v2;
    switch (cc.type) {
      case ConfChangeType.ConfChangeAddNode:
      case ConfChangeType.ConfChangeAddLearnerNode: {
        const m = decodeMember(cc.context ?? new Uint8Array(0));
        const learner = cc.type === ConfChangeType.ConfChangeAddLearnerNode;
        if (!learner && !m.isLearner && v2.hasMember(m.id)) v2.memberRaftAttributesUpdated({ ...m, isLearner: false });
        else v2.memberAdded({ ...m, isLearner: learner });
        return;
      }
      case ConfChangeType.ConfChangeRemoveNode:
        v2.memberRemoved(cc.nodeId);
        return;
      case ConfChangeType.ConfChangeUpdateNode:
        v2.memberRaftAttributesUpdated(decodeMember(cc.context ?? new Uint8Array(0)));
        return;
    }
  }

  /**
   * The transport side of an applied conf change (etcd applyConfChange): peers are
   * added, updated or removed; when this member is the one removed, it stops after a
   * second (etcd stopWithDelay), so the leader can learn the change was applied.
   */
  private updatePeersForConfChange(cc: ConfChange): void {
    const d = this.d;
    switch (cc.type) {
      case ConfChangeType.ConfChangeAddNode:
      case ConfChangeType.ConfChangeAddLearnerNode: {
        const m = decodeMember(cc.context ?? new Uint8Array(0));
        if (m.id !== d.memberId && m.peerUrls.length > 0) d.addPeer(m.id, m.peerUrls);
        return;
      }
      case ConfChangeType.ConfChangeRemoveNode:
        if (cc.nodeId === d.memberId) {
          if (this.removedSelf) return;
          this.removedSelf = true;
          d.log.info('the member has been permanently removed from the cluster', { 'local-member-id': idHex(d.memberId) });
          setTimeout(() => d.stopWithError(new ErrMemberRemoved()), 1000).unref?.();
        } else {
          d.transport.removePeer(cc.nodeId);
        }
        return;
      case ConfChangeType.ConfChangeUpdateNode: {
        const m = decodeMember(cc.context ?? new Uint8Array(0));
        if (m.id !== d.memberId) d.transport.updatePeer(m.id, m.peerUrls);
        return;
      }
    }
  }

  /** etcd RaftCluster.ValidateConfigurationChange: throws the membership error that rejects `cc`. */
  private validateConfChange(cc: ConfChange): void {
    const cluster = this.d.cluster;
    switch (cc.type) {
      case ConfChangeType.ConfChangeAddNode:
      case ConfChangeType.ConfChangeAddLearnerNode: {
        const m = decodeMember(cc.context ?? new Uint8Array(0));
        const existing = cluster.member(m.id);
        if (existing && existing.isLearner && cc.type === ConfChangeType.ConfChangeAddNode) {
          cluster.validatePromote(m.id);
          return;
        }
        cluster.validateAdd(m);
        return;
      }
      case ConfChangeType.ConfChangeRemoveNode:
        cluster.validateRemove(cc.nodeId);
        return;
      case ConfChangeType.ConfChangeUpdateNode: {
        const m = decodeMember(cc.context ?? new Uint8Array(0));
        cluster.validateUpdate(m.id, m.peerUrls);
        return;
      }
    }
  }

  /**
   * Installs a raft snapshot received from the leader (RaftNodeHandlers.applySnapshot;
   * etcd applySnapshot): the backend is replaced with the received database, then the
   * lessor, the mvcc store (which re-attaches keys to leases), the consistent index,
   * auth, alarms and the membership are recovered from it, and the transport's peers
   * are replaced by the snapshot's members. Throws (fatal) when the snapshot is not
   * newer than the applied index or its database file is missing or corrupt.
   */
  applySnapshot(snap: Snapshot): void {
    const d = this.d;
    const index = snap.metadata.index;
    if (index <= this.appliedIndex) {
      throw new Error(`snapshot index [${index}] should > applied index[${this.appliedIndex}] + 1`);
    }
    const dirs = memberDirs(d.cfg.dataDir, d.cfg.walDir);
    const file = join(dirs.snapDir, snapDbName(index));
    if (!existsSync(file)) throw new Error(`failed to open database snapshot file: open ${file}: no such file or directory`);
    d.log.info('applying snapshot', { 'current-snapshot-index': this.snapshotIndex, 'current-applied-index': this.appliedIndex, 'incoming-leader-snapshot-index': index, 'incoming-leader-snapshot-term': snap.metadata.term });
    this.commitBackend();
    replaceWithBoltFile(d.backend, file);
    d.lessor.recover(d.backend, () => d.kv.write());
    d.kv.restore(d.backend);
    d.consistIndex.set(d.kv.consistentIndex());
    d.authStore.recover(d.backend);
    d.alarmStore.restore();
    d.cluster.recover();
    d.v2.recover(snap.data);
    if (d.cluster.clusterVersion() !== '') d.onClusterVersionRecovered(d.cluster.clusterVersion());
    for (const id of d.transport.peerIds()) d.transport.removePeer(id);
    for (const m of d.cluster.memberList()) {
      if (m.id !== d.memberId) d.addPeer(m.id, m.peerUrls);
    }
    rmSync(file, { force: true });
    this.confState = snap.metadata.confState;
    this.snapshotIndex = index;
    this.appliedIndex = index;
    d.applyWait.trigger(this.appliedIndex);
    d.log.info('applied snapshot', { 'applied-index': index, 'consistent-index': Number(d.consistIndex.consistentIndex()), revision: d.kv.rev() });
  }

  /**
   * After an apply batch (RaftNodeHandlers.afterApply; etcd triggerSnapshot): saves a
   * raft snapshot in the background once more than --snapshot-count entries were
   * applied since the last one. A failure to save it is logged, not fatal.
   */
  afterApply(appliedIndex: number): void {
    if (appliedIndex - this.snapshotIndex > this.d.cfg.snapshotCount && !this.snapshotting) {
      this.snapshotInFlight = this.triggerSnapshot(appliedIndex).catch((e) => this.d.log.error('failed to save a raft snapshot', { error: String(e) }));
    }
  }

  /** Saves a raft snapshot at `index` and compacts the in-memory log and old WAL files (etcd snapshot()). */
  private async triggerSnapshot(index: number): Promise<void> {
    if (this.snapshotting) return;
    const d = this.d;
    this.snapshotting = true;
    try {
      this.commitBackend();
      const data = d.v2.snapshotData();
      const snap = d.raft.storage.createSnapshot(index, this.confState, data);
      this.snapshotIndex = index;
      await d.durable.snapshotter.save({ data, metadata: { confState: snap.metadata.confState, index, term: snap.metadata.term } });
      await d.durable.wal.saveSnapshotMarker({ term: snap.metadata.term, index });
      const compactIndex = index > SNAPSHOT_CATCH_UP_ENTRIES ? index - SNAPSHOT_CATCH_UP_ENTRIES : 1;
      if (compactIndex > d.raft.storage.firstIndex()) d.raft.storage.compact(compactIndex);
      d.durable.wal.releaseLockTo(index);
      if (d.cfg.maxWalFiles > 0) await d.durable.wal.purge(d.cfg.maxWalFiles);
      if (d.cfg.maxSnapFiles > 0) await d.durable.snapshotter.purge(d.cfg.maxSnapFiles);
      d.log.info('saved snapshot', { 'snapshot-index': index });
    } finally {
      this.snapshotting = false;
    }
  }

  /**
   * Commits the backend's batch transaction (etcd backend.ForceCommit); a failure is
   * reported through `onBackendFailure` (the member stops), not thrown.
   */
  commitBackend(): void {
    try {
      this.d.backend.forceCommit();
    } catch (e) {
      this.d.onBackendFailure(e);
    }
  }
}
