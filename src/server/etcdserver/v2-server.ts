/**
 * @module server/etcdserver/v2-server
 * The member's v2 store and its requests (etcd 3.4 etcdserver/v2_server.go,
 * apply_v2.go, membership's store.go helpers, server.go sync):
 *
 * - writes (POST, PUT, DELETE) and quorum reads (QGET) are proposed through the
 *   Raft log as InternalRaftRequest.v2 and applied on every member by
 *   {@link V2Server.applyRequest}; plain GET/HEAD and watches are served from
 *   the local store;
 * - the leader proposes a SYNC with its wall-clock time every 500 ms while a
 *   node has a TTL; applying it expires the keys due by then (so expiry is at
 *   the same index everywhere);
 * - membership changes are mirrored into /0 as etcd 3.4 keeps them there
 *   (`/0/members/<id>/raftAttributes`, `.../attributes`, `/0/version`,
 *   `/0/removed_members/<id>`), so the v2 store's indexes match etcd's;
 * - the store is part of the raft snapshot (its data) and of a MsgSnap, and is
 *   rebuilt on restart from the newest snapshot plus the entries after it (v2
 *   entries are applied whatever the backend's consistent index, as etcd does).
 */
import type { Request as V2RequestPb } from '../../gen/etcdserverpb/raft_internal_pb.js';
import { attributesJson, raftAttributesJson, type EtcdMember } from '../../util/etcd-format/members.js';
import { V2Error } from '../../util/v2store/errors.js';
import type { V2Event } from '../../util/v2store/event.js';
import { V2Store, type TtlOptions } from '../../util/v2store/store.js';
import type { V2Watcher } from '../../util/v2store/watcher.js';
import { ErrUnknownMethod } from './errors.js';
import { idHex } from './membership/member.js';

/** Where the v2 API's keys live in the store (etcdserver.StoreKeysPrefix). */
export const STORE_KEYS_PREFIX = '/1';
/** Where membership lives in the store (etcdserver.StoreClusterPrefix). */
export const STORE_CLUSTER_PREFIX = '/0';
/** How often the leader checks for TTL keys to expire (etcd's SyncTicker), ms. */
export const SYNC_INTERVAL_MS = 500;

/** A v2 request as the HTTP layer builds it (pb.Request without ID). */
export interface V2RequestInit {
  method: string;
  path: string;
  val?: string;
  dir?: boolean;
  prevValue?: string;
  prevIndex?: bigint;
  prevExist?: boolean;
  /** Absolute expiry, unix ns (0n: none). */
  expiration?: bigint;
  wait?: boolean;
  since?: bigint;
  recursive?: boolean;
  sorted?: boolean;
  quorum?: boolean;
  time?: bigint;
  stream?: boolean;
  refresh?: boolean;
}

/** What {@link V2Server.do} answers (etcdserver.Response): an event or a watcher, and the raft term and commit index. */
export interface V2Response {
  readonly event?: V2Event;
  readonly watcher?: V2Watcher;
  readonly term: number;
  readonly index: number;
}

/** What the v2 server needs from the member. */
export interface V2ServerDeps {
  /** Proposes `req` as InternalRaftRequest.v2 and resolves with the applied event (rejects V2Error or etcdserver errors). */
  propose(req: V2RequestInit): Promise<unknown>;
  term(): number;
  committedIndex(): number;
  isLeader(): boolean;
  warn(msg: string, fields: Record<string, unknown>): void;
}

function ttlOptions(r: Pick<V2RequestPb, 'expiration' | 'refresh'>): TtlOptions {
  return { expireTime: r.expiration, refresh: r.refresh === true };
}

/** The member's v2 store and request handling. */
export class V2Server {
  readonly store = new V2Store([STORE_CLUSTER_PREFIX, STORE_KEYS_PREFIX]);
  private syncing = false;

  constructor(private readonly d: V2ServerDeps) {}

  /**
   * Applies a committed v2 request (applyV2Request): POST creates an in-order
   * key, PUT sets/updates/creates/compare-and-swaps by prevExist/prevIndex/
   * prevValue, DELETE deletes or compare-and-deletes, QGET reads, SYNC expires
   * keys due at `time`. Returns the event or the V2Error (never throws for a
   * request error).
   */
  applyRequest(r: V2RequestPb): { resp?: V2Event; err?: unknown } {
    const s = this.store;
    try {
      switch (r.method) {
        case 'POST':
          return { resp: s.create(r.path, r.dir, r.val, true, ttlOptions(r)) };
        case 'PUT': {
          const prevIndex = Number(r.prevIndex);
          if (r.prevExist !== undefined) {
            if (r.prevExist) {
              if (prevIndex === 0 && r.prevValue === '') return { resp: s.update(r.path, r.val, ttlOptions(r)) };
              return { resp: s.compareAndSwap(r.path, r.prevValue, prevIndex, r.val, ttlOptions(r)) };
            }
            return { resp: s.create(r.path, r.dir, r.val, false, ttlOptions(r)) };
          }
          if (prevIndex > 0 || r.prevValue !== '') return { resp: s.compareAndSwap(r.path, r.prevValue, prevIndex, r.val, ttlOptions(r)) };
          return { resp: s.set(r.path, r.dir, r.val, ttlOptions(r)) };
        }
        case 'DELETE':
          if (r.prevIndex > 0n || r.prevValue !== '') return { resp: s.compareAndDelete(r.path, r.prevValue, Number(r.prevIndex)) };
          return { resp: s.delete(r.path, r.dir, r.recursive) };
        case 'QGET':
          return { resp: s.get(r.path, r.recursive, r.sorted) };
        case 'SYNC':
          s.deleteExpiredKeys(r.time);
          return {};
        default:
          return { err: new ErrUnknownMethod() };
      }
    } catch (e) {
      if (e instanceof V2Error) return { err: e };
      throw e;
    }
  }

  /**
   * Serves a v2 request (EtcdServer.Do): GET with quorum, POST, PUT and DELETE
   * through the Raft log; GET (a watcher when `wait`) and HEAD locally.
   * @throws V2Error, or the etcdserver error of a failed proposal (ErrTimeout, ErrNoLeader, ...)
   */
  async do(r: V2RequestInit): Promise<V2Response> {
    let method = r.method;
    if (method === 'GET' && r.quorum) method = 'QGET';
    const done = (x: { event?: V2Event; watcher?: V2Watcher }): V2Response => ({ ...x, term: this.d.term(), index: this.d.committedIndex() });
    switch (method) {
      case 'POST':
      case 'PUT':
      case 'DELETE':
      case 'QGET':
        return done({ event: (await this.d.propose({ ...r, method })) as V2Event });
      case 'GET':
        if (r.wait) return done({ watcher: this.store.watch(r.path, r.recursive ?? false, r.stream ?? false, Number(r.since ?? 0n)) });
        return done({ event: this.store.get(r.path, r.recursive ?? false, r.sorted ?? false) });
      case 'HEAD':
        return done({ event: this.store.get(r.path, r.recursive ?? false, r.sorted ?? false) });
      default:
        throw new ErrUnknownMethod();
    }
  }

  /** Called by the leader every {@link SYNC_INTERVAL_MS}: proposes a SYNC while a node has a TTL (etcd server.sync). */
  maybeSync(): void {
    if (this.syncing || !this.d.isLeader() || !this.store.hasTTLKeys()) return;
    this.syncing = true;
    const now = BigInt(Date.now()) * 1_000_000n;
    this.d
      .propose({ method: 'SYNC', path: '', time: now })
      .catch((e) => this.d.warn('failed to sync the v2 store', { error: String((e as Error)?.message ?? e) }))
      .finally(() => {
        this.syncing = false;
      });
  }

  // ---- membership in /0 (etcd membership/store.go) ----

  private mirror(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.d.warn('failed to update the v2 store membership', { what, error: String((e as Error)?.message ?? e) });
    }
  }

  /**
   * The v2 store reads of etcd's membersFromStore (`/0/members`, then
   * `/0/removed_members` when the first is there), made only for the store
   * statistics (/v2/stats/store gets): etcd makes them while validating every
   * conf change it applies.
   */
  countMembershipReads(): void {
    try {
      this.store.get(`${STORE_CLUSTER_PREFIX}/members`, true, true);
      this.store.get(`${STORE_CLUSTER_PREFIX}/removed_members`, true, true);
    } catch {
      // not found: counted as a failed get, as etcd's
    }
  }

  /** Whether `/0/members/<id>/raftAttributes` exists (a ConfChangeAddNode of it is then a promotion). */
  hasMember(id: bigint): boolean {
    return this.store.exists(`/0/members/${idHex(id)}/raftAttributes`);
  }

  /** mustSaveMemberToStore: `/0/members/<id>/raftAttributes` created. */
  memberAdded(m: Pick<EtcdMember, 'id' | 'peerUrls' | 'isLearner'>): void {
    this.mirror('add member', () => this.store.create(`/0/members/${idHex(m.id)}/raftAttributes`, false, raftAttributesJson(m), false, { expireTime: 0n }));
  }

  /** mustUpdateMemberInStore: `/0/members/<id>/raftAttributes` updated (peer URLs changed, promotion). */
  memberRaftAttributesUpdated(m: Pick<EtcdMember, 'id' | 'peerUrls' | 'isLearner'>): void {
    this.mirror('update member', () => this.store.update(`/0/members/${idHex(m.id)}/raftAttributes`, raftAttributesJson(m), { expireTime: 0n }));
  }

  /** mustDeleteMemberFromStore: `/0/members/<id>` deleted, `/0/removed_members/<id>` created. */
  memberRemoved(id: bigint): void {
    this.mirror('remove member', () => {
      this.store.delete(`/0/members/${idHex(id)}`, true, true);
      this.store.create(`/0/removed_members/${idHex(id)}`, false, '', false, { expireTime: 0n });
    });
  }

  /** mustUpdateMemberAttrInStore: `/0/members/<id>/attributes` set (publish). */
  memberAttributesSet(id: bigint, a: Pick<EtcdMember, 'name' | 'clientUrls'>): void {
    this.mirror('publish', () => this.store.set(`/0/members/${idHex(id)}/attributes`, false, attributesJson(a), { expireTime: 0n }));
  }

  /** mustSaveClusterVersionToStore: `/0/version` set. */
  clusterVersionSet(ver: string): void {
    this.mirror('cluster version', () => this.store.set('/0/version', false, ver, { expireTime: 0n }));
  }

  // ---- snapshots ----

  /** The store as raft snapshot data. */
  snapshotData(): Uint8Array {
    return new TextEncoder().encode(this.store.save());
  }

  /**
   * Replaces the store with raft snapshot data (empty data, from a snapshot made
   * before this server had a v2 store, gives an empty store).
   * @throws Error when the data is not a saved store
   */
  recover(data: Uint8Array): void {
    if (data.length === 0) this.store.reset();
    else this.store.recover(new TextDecoder().decode(data));
  }
}
