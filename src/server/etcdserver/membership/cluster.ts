/**
 * RaftCluster: the cluster's members as of the applied log, persisted in the
 * backend (etcd 3.4 etcdserver/api/membership/cluster.go and store.go).
 *
 * Members are added, removed and promoted only by applying Raft conf-change
 * entries, and get their name and client URLs from an applied
 * ClusterMemberAttrSetRequest (published by the member after it starts). Every
 * change is written to the `members` / `members_removed` buckets inside the
 * caller's backend batch, so it commits with the consistent index of the entry
 * that made it and re-applying the entry after a crash is harmless.
 *
 * Bucket layout (etcd 3.4's): `members`: key = member ID as 16 hex digits, value = the
 * member as etcd's JSON (data dirs of earlier versions of this server hold
 * membershippb.Member there; both are read); `members_removed`: key = ID, value
 * `removed`; `cluster`: key `clusterVersion`, value the version string.
 */
import type { Backend, BatchTx } from '../../backend/backend.js';
import { Buckets } from '../../backend/backend.js';
import { ErrIDExists, ErrIDNotFound, ErrIDRemoved, ErrMemberNotLearner, ErrPeerURLExists, ErrTooManyLearners } from '../errors.js';

/** Learners a cluster may have at once (etcd 3.4 membership maxLearners). */
export const MAX_LEARNERS = 1;
import { decodeMember, encodeMemberJson, type Member } from './member.js';

const utf8 = new TextEncoder();
const CLUSTER_VERSION_KEY = utf8.encode('clusterVersion');
/** etcd's value for a removed member's key (membership/store.go mustDeleteMemberFromBackend). */
const REMOVED = utf8.encode('removed');

function idKey(id: bigint): Uint8Array {
  return utf8.encode(id.toString(16).padStart(16, '0'));
}

/** The set of members of one cluster. */
export class RaftCluster {
  private readonly members = new Map<bigint, Member>();
  private readonly removed = new Set<bigint>();
  private version = '';

  /**
   * @param clusterId the cluster's ID (computed at bootstrap, then kept in the WAL metadata).
   * @param localId this member's ID.
   */
  constructor(
    readonly clusterId: bigint,
    readonly localId: bigint,
    private readonly backend: Backend,
  ) {}

  /** Loads members, removed IDs and the cluster version from the backend (creating the buckets). */
  recover(): void {
    const tx = this.backend.batchTx();
    tx.lock();
    try {
      tx.createBucket(Buckets.members);
      tx.createBucket(Buckets.membersRemoved);
      tx.createBucket(Buckets.cluster);
      this.members.clear();
      this.removed.clear();
      tx.forEach(Buckets.members, (_k, v) => {
        const m = decodeMember(v);
        this.members.set(m.id, m);
      });
      tx.forEach(Buckets.membersRemoved, (k) => {
        this.removed.add(BigInt('0x' + new TextDecoder().decode(k)));
      });
      const v = tx.get(Buckets.cluster, CLUSTER_VERSION_KEY);
      this.version = v ? new TextDecoder().decode(v) : '';
    } finally {
      tx.unlock();
    }
  }

  /** All members, ordered by ID (etcd sorts MemberList by ID). */
  memberList(): Member[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  member(id: bigint): Member | undefined {
    return this.members.get(id);
  }

  isIdRemoved(id: bigint): boolean {
    return this.removed.has(id);
  }

  /** Voting member IDs. */
  voterIds(): bigint[] {
    return this.memberList()
      .filter((m) => !m.isLearner)
      .map((m) => m.id);
  }

  /** The cluster version ("3.4.0" once set), or '' before the first set. */
  clusterVersion(): string {
    return this.version;
  }

  /**
   * Checks that a conf change may be applied (etcd ValidateConfigurationChange):
   * throws ErrIDRemoved, ErrIDExists, ErrPeerURLExists, ErrIDNotFound, ErrMemberNotLearner.
   */
  validateAdd(m: Member): void {
    if (this.removed.has(m.id)) throw new ErrIDRemoved();
    if (this.members.has(m.id)) throw new ErrIDExists();
    const urls = new Set<string>();
    for (const x of this.members.values()) for (const u of x.peerUrls) urls.add(u);
    for (const u of m.peerUrls) if (urls.has(u)) throw new ErrPeerURLExists();
    if (m.isLearner && [...this.members.values()].filter((x) => x.isLearner).length + 1 > MAX_LEARNERS) throw new ErrTooManyLearners();
  }

  validateRemove(id: bigint): void {
    if (this.removed.has(id)) throw new ErrIDRemoved();
    if (!this.members.has(id)) throw new ErrIDNotFound();
  }

  validateUpdate(id: bigint, peerUrls: readonly string[]): void {
    if (this.removed.has(id)) throw new ErrIDRemoved();
    if (!this.members.has(id)) throw new ErrIDNotFound();
    for (const x of this.members.values()) {
      if (x.id === id) continue;
      for (const u of x.peerUrls) if (peerUrls.includes(u)) throw new ErrPeerURLExists();
    }
  }

  validatePromote(id: bigint): void {
    this.validateRemove(id);
    if (!this.members.get(id)!.isLearner) throw new ErrMemberNotLearner();
  }

  /** Adds (or, re-applied, overwrites) a member; `tx` must be locked. */
  addMember(tx: BatchTx, m: Member): void {
    if (this.removed.has(m.id)) return;
    const prev = this.members.get(m.id);
    // a member re-added by a replayed entry keeps the attributes it published
    const merged: Member = prev ? { ...m, name: prev.name || m.name, clientUrls: prev.clientUrls.length ? prev.clientUrls : m.clientUrls } : m;
    this.members.set(m.id, merged);
    tx.put(Buckets.members, idKey(m.id), encodeMemberJson(merged));
  }

  removeMember(tx: BatchTx, id: bigint): void {
    this.members.delete(id);
    this.removed.add(id);
    tx.delete(Buckets.members, idKey(id));
    tx.put(Buckets.membersRemoved, idKey(id), REMOVED);
  }

  /** Replaces a member's raft attributes (peer URLs and learner flag), as etcd UpdateRaftAttributes. */
  updateRaftAttributes(tx: BatchTx, id: bigint, peerUrls: readonly string[], isLearner: boolean): void {
    const m = this.members.get(id);
    if (!m) return;
    this.setMember(tx, { ...m, peerUrls: [...peerUrls], isLearner });
  }

  promoteMember(tx: BatchTx, id: bigint): void {
    const m = this.members.get(id);
    if (!m) return;
    this.setMember(tx, { ...m, isLearner: false });
  }

  /** Sets a member's published name and client URLs (ignored for unknown or removed members, as etcd does). */
  updateAttributes(tx: BatchTx, id: bigint, name: string, clientUrls: readonly string[]): void {
    const m = this.members.get(id);
    if (!m) return;
    this.setMember(tx, { ...m, name, clientUrls: [...clientUrls] });
  }

  setVersion(tx: BatchTx, version: string): void {
    this.version = version;
    tx.put(Buckets.cluster, CLUSTER_VERSION_KEY, utf8.encode(version));
  }

  private setMember(tx: BatchTx, m: Member): void {
    this.members.set(m.id, m);
    tx.put(Buckets.members, idKey(m.id), encodeMemberJson(m));
  }
}
