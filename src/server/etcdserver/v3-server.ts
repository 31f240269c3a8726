/**
 * The request side of a member (etcd 3.4 etcdserver/v3_server.go, plus the
 * membership requests of etcdserver/server.go: AddMember, RemoveMember,
 * UpdateMember, PromoteMember, configure, mayAddMember, mayRemoveMember).
 *
 * Writes become InternalRaftRequests proposed to raft ({@link V3Server.raftRequest},
 * etcd processInternalRaftRequestOnce): the proposer registers a waiter keyed by the
 * request ID, keeps the request object it proposed (PendingProposals, proposals.ts)
 * so the apply loop need not decode it, and answers with the applier's result.
 * Linearizable reads take a ReadIndex (batched by read-index.ts: one read index
 * serves every read that arrived before it was requested), wait until the applied
 * index reaches it, then read locally; serializable reads read locally at once.
 * Conf changes are proposed and waited for alike ({@link V3Server.configure}).
 *
 * The methods named after EtcdServerApi methods implement them (api.ts documents
 * each); EtcdServer (server.ts) delegates to them, so callers see one object.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AlarmRequest,
  AlarmRequest_AlarmAction,
  type AlarmResponse,
  type AuthDisableResponse,
  type AuthEnableResponse,
  type AuthRoleAddRequest,
  type AuthRoleAddResponse,
  type AuthRoleDeleteRequest,
  type AuthRoleDeleteResponse,
  type AuthRoleGetRequest,
  type AuthRoleGetResponse,
  type AuthRoleGrantPermissionRequest,
  type AuthRoleGrantPermissionResponse,
  type AuthRoleListResponse,
  type AuthRoleRevokePermissionRequest,
  type AuthRoleRevokePermissionResponse,
  type AuthUserAddRequest,
  type AuthUserAddResponse,
  type AuthUserChangePasswordRequest,
  type AuthUserChangePasswordResponse,
  type AuthUserDeleteRequest,
  type AuthUserDeleteResponse,
  type AuthUserGetRequest,
  type AuthUserGetResponse,
  type AuthUserGrantRoleRequest,
  type AuthUserGrantRoleResponse,
  type AuthUserListResponse,
  type AuthUserRevokeRoleRequest,
  type AuthUserRevokeRoleResponse,
  type AuthenticateRequest,
  type AuthenticateResponse,
  type CompactionRequest,
  type CompactionResponse,
  type DefragmentResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type HashKVResponse,
  type HashResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type MemberAddRequest,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteRequest,
  type MemberPromoteResponse,
  type MemberRemoveRequest,
  type MemberRemoveResponse,
  type MemberUpdateRequest,
  type MemberUpdateResponse,
  type MoveLeaderRequest,
  type MoveLeaderResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
  DefragmentResponseSchema,
  HashKVResponseSchema,
  HashResponseSchema,
  LeaseKeepAliveRequestSchema,
  LeaseKeepAliveResponseSchema,
  LeaseLeasesResponseSchema,
  LeaseTimeToLiveRequestSchema,
  LeaseTimeToLiveResponseSchema,
  MemberAddResponseSchema,
  MemberListResponseSchema,
  MemberPromoteResponseSchema,
  MemberRemoveResponseSchema,
  MemberUpdateResponseSchema,
  MoveLeaderResponseSchema,
  ResponseHeaderSchema,
  type Member as MemberPb,
  MemberSchema as MemberPbSchema,
} from '../../gen/etcdserverpb/rpc_pb.js';
import { ErrAuthFailed, ErrInvalidAuthToken, ErrUserEmpty } from '../auth/errors.js';
import type { AuthStore } from '../auth/store.js';
import type { AuthInfo } from '../auth/token-simple.js';
import type { Backend } from '../backend/backend.js';
import { writeBoltFile } from '../../util/bbolt-writer.js';
import type { EmbedConfig } from '../embed/config-types.js';
import { ErrLeaseNotFound, ErrNotPrimary as ErrNotPrimaryLease } from '../lease/errors.js';
import { remainingSeconds, type Lessor } from '../lease/lessor.js';
import type { WatchableStore } from '../mvcc/watchable-store.js';
import { ConfChangeType, ErrProposalDropped, type ConfChange, type ReadState } from '../raft/index.js';
import type { Transport as PeerTransport } from '../rafthttp/transport.js';
import type { Clock } from '../../util/clock.js';
import type { IdGenerator } from '../../util/ids.js';
import type { BackendSnapshot, CallContext } from './api.js';
import type { Res } from './apply/applier.js';
import { checkRangePermitted, checkTxnAuth, isTxnReadonly } from './apply/auth.js';
import type { ApplierV3Backend } from './apply/backend.js';
import type { ProposalResult } from './apply-loop.js';
import { memberDirs } from './bootstrap.js';
import { parseMembersJson, peerRequest, unwrapField1, wrapField1, type PeerClientTls } from './cluster-util.js';
import {
  ErrBadLeaderTransferee,
  ErrCanceled,
  ErrIDNotFound,
  ErrLearnerNotReady,
  ErrMemberNotLearner,
  ErrNoLeader,
  ErrNotEnoughStartedMembers,
  ErrNotLeader,
  ErrRequestTooLarge,
  ErrStopped,
  ErrTimeout,
  ErrTimeoutLeaderTransfer,
  ErrTooManyRequests,
  ErrUnhealthy,
  EtcdServerError,
} from './errors.js';
import { encodeInternalRequest, type InternalRequestField, type InternalRequestInit } from './internal-request.js';
import type { RaftCluster } from './membership/cluster.js';
import { encodeMember, idHex, newMember, type Member } from './membership/member.js';
import type { PendingProposals } from './proposals.js';
import type { RaftNode } from './raft-node.js';
import { ReadIndexBatcher } from './read-index.js';
import type { ServerLogger } from './server.js';
import type { Wait, WaitIndex } from './wait.js';

/** Proposals refused once applied lags committed by this much (etcd maxGapBetweenApplyAndCommitIndex). */
const MAX_GAP_APPLY_COMMIT = 5000;

/** Request timeout, ms, for an election timeout of `electionMs` (etcd ReqTimeout: 5 s + 2 × election timeout). */
export function requestTimeoutMs(electionMs: number): number {
  return 5000 + 2 * electionMs;
}

/** What a caller whose signal aborted gets: ErrTimeout for a passed deadline (reason TimeoutError), else ErrCanceled. */
function abortError(signal: CallContext['signal']): Error {
  const reason = signal?.reason as { name?: string } | undefined;
  return reason?.name === 'TimeoutError' ? new ErrTimeout() : new ErrCanceled();
}

/** A Go-style (resp, err) pair as a value or a thrown error. */
function unwrap<T>(r: Res<T>): T {
  if (r.err) throw r.err;
  return r.resp!;
}

/** What the request side works on: the member's stores, its raft node, the waiters it shares with the apply loop, and callbacks into the server. */
export interface V3ServerDeps {
  readonly memberId: bigint;
  /** Request limits, timeouts, --client-cert-auth, --initial-cluster-token, --strict-reconfig-check, data dirs (snapshot copies). */
  readonly cfg: Pick<EmbedConfig, 'maxRequestBytes' | 'electionMs' | 'heartbeatMs' | 'clientTls' | 'initialClusterToken' | 'strictReconfigCheck' | 'dataDir' | 'walDir'>;
  readonly log: ServerLogger;
  readonly clock: Clock;
  /** Request, conf change and lease IDs. */
  readonly idGen: IdGenerator;
  readonly raft: RaftNode;
  readonly backend: Backend;
  readonly kv: WatchableStore;
  readonly lessor: Lessor;
  readonly authStore: AuthStore;
  readonly cluster: RaftCluster;
  readonly transport: PeerTransport;
  /** The backend applier without auth/quota/alarm checks, for local reads (etcd applyV3Base). */
  readonly applyV3Base: ApplierV3Backend;
  /** Proposers waiting for their entry (request ID, or conf change ID); the apply loop triggers them. */
  readonly wait: Wait<ProposalResult>;
  /** Waiters for the applied index. */
  readonly applyWait: WaitIndex;
  /** The request objects proposed and not applied yet (registered here, taken by the apply loop). */
  readonly proposals: PendingProposals;
  /** The applied index (apply-loop.ts). */
  appliedIndex(): number;
  /** True once the member stopped or its raft loop failed: no new requests. */
  isStopped(): boolean;
  /** Commits the backend (a failure stops the member). */
  commitBackend(): void;
  /** TLS of requests to other members' peer URLs (forwarding to the leader). */
  peerClientTls(): PeerClientTls | undefined;
}

/** The request side of a member; see the module comment. */
export class V3Server {
  private readonly d: V3ServerDeps;
  /** Callers of {@link waitLeader} waiting for a leader to be known. */
  private readonly leaderWaiters: (() => void)[] = [];
  /** Linearizable reads (read-index.ts). */
  private readonly reads: ReadIndexBatcher;

  constructor(d: V3ServerDeps) {
    this.d = d;
    this.reads = new ReadIndexBatcher({
      nextId: () => d.idGen.next(),
      readIndex: (ctx) => d.raft.readIndex(ctx),
      waitApplied: (index) => d.applyWait.wait(index),
      stoppedError: () => new ErrStopped(),
    });
  }

  /** ReadIndex results from raft (RaftNodeHandlers.onReadStates). */
  onReadStates(rs: readonly ReadState[]): void {
    this.reads.onReadStates(rs);
  }

  /** Fails every pending linearizable read with `err` (the member stopped). */
  failReads(err: unknown): void {
    this.reads.failAll(err);
  }

  /** A leader is known: wakes every {@link waitLeader} caller. */
  leaderKnown(): void {
    const ws = this.leaderWaiters.splice(0);
    for (const f of ws) f();
  }

  /** Request timeout, ms ({@link requestTimeoutMs}). */
  reqTimeoutMs(): number {
    return requestTimeoutMs(this.d.cfg.electionMs);
  }

  /**
   * The caller of a request (etcd EtcdServer.AuthInfoFromCtx): the user of the
   * token when one is sent (an invalid one throws ErrInvalidAuthToken); else,
   * with --client-cert-auth, the common name of the verified client certificate
   * at the current auth revision (etcd AuthInfoFromTLS); else no one.
   */
  async authInfo(ctx: CallContext): Promise<AuthInfo | undefined> {
    if (ctx.token) {
      const info = await this.d.authStore.authInfoFromToken(ctx.token);
      if (!info) throw new ErrInvalidAuthToken();
      return info;
    }
    return this.authInfoWithoutToken(ctx);
  }

  /** {@link authInfo} of a call that sent no token: the client certificate's user, or no one. */
  private authInfoWithoutToken(ctx: CallContext): AuthInfo | undefined {
    if (!this.d.cfg.clientTls.clientCertAuth) return undefined;
    const cn = ctx.tlsCommonName?.();
    return cn === undefined ? undefined : { username: cn, revision: this.d.authStore.revision() };
  }

  /**
   * Proposes `request` as the InternalRaftRequest field `field` for the caller of `ctx` and returns the applied response.
   * A call without a token needs no await before proposing (one promise and one microtask turn less per write).
   */
  private proposeAs<T, F extends InternalRequestField = InternalRequestField>(ctx: CallContext, field: F, request: InternalRequestInit<F>): Promise<T> {
    if (ctx.token) return this.authInfo(ctx).then((ai) => this.raftRequest(ctx, field, request, ai)) as Promise<T>;
    return this.raftRequest(ctx, field, request, this.authInfoWithoutToken(ctx)) as Promise<T>;
  }

  /**
   * Proposes `request` as the InternalRaftRequest field `field` (e.g. `put`), for the user of `ai`, and waits for it to be
   * applied (etcd processInternalRaftRequestOnce). Rejects ErrTooManyRequests,
   * ErrRequestTooLarge, ErrNoLeader, ErrTimeout, ErrCanceled, ErrStopped, or the
   * apply error.
   */
  raftRequest<F extends InternalRequestField>(ctx: CallContext, field: F, request: InternalRequestInit<F>, ai?: AuthInfo): Promise<unknown> {
    if (this.d.isStopped()) return Promise.reject(new ErrStopped());
    if (this.d.raft.committedIndex() - this.d.appliedIndex() > MAX_GAP_APPLY_COMMIT) return Promise.reject(new ErrTooManyRequests());
    const id = this.d.idGen.next();
    let encoded: ReturnType<typeof encodeInternalRequest>;
    try {
      encoded = encodeInternalRequest({ ID: id, username: ai?.username ?? '', authRevision: ai?.revision ?? 0n }, field, request);
    } catch (e) {
      return Promise.reject(e);
    }
    const { data, request: req } = encoded;
    if (data.length > this.d.cfg.maxRequestBytes) return Promise.reject(new ErrRequestTooLarge());
    // One promise per proposal: the waiter is a callback settling it, and the timeout and
    // the caller's cancellation give up by triggering that same waiter with their error.
    return new Promise<unknown>((resolve, reject) => {
      const signal = ctx.signal;
      const onAbort = (): void => this.d.wait.trigger(id, { err: abortError(signal) });
      const timer = setTimeout(() => this.d.wait.trigger(id, { err: new ErrTimeout() }), this.reqTimeoutMs());
      this.d.wait.listen(id, (res) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (res.err !== undefined) {
          // a proposal that was dropped, timed out or canceled may never be applied
          this.d.proposals.delete(id);
          reject(res.err);
        } else resolve(res.resp);
      });
      // the proposer applies the object it holds instead of decoding its own entry
      this.d.proposals.register(id, req);
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.d.raft.propose(data);
      } catch (e) {
        this.d.wait.trigger(id, { err: e instanceof ErrProposalDropped ? (this.d.raft.leader() === 0n ? new ErrNoLeader() : e) : new ErrStopped() });
      }
    });
  }

  /**
   * Settles with `p`, or rejects ErrTimeout after the request timeout / ErrCanceled
   * when the caller's signal aborts (ErrTimeout if it aborted for a deadline),
   * calling `onGiveUp` first so the caller can drop its waiter.
   */
  private withTimeout<T>(ctx: CallContext, p: Promise<T>, onGiveUp: (err: Error) => void = () => undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const done = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        ctx.signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const giveUp = (err: Error): void => {
        if (!done()) return;
        onGiveUp(err);
        reject(err);
      };
      const timer = setTimeout(() => giveUp(new ErrTimeout()), this.reqTimeoutMs());
      const onAbort = (): void => giveUp(abortError(ctx.signal));
      if (ctx.signal?.aborted) {
        onAbort();
        return;
      }
      ctx.signal?.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          if (done()) resolve(v);
        },
        (e) => {
          if (done()) reject(e);
        },
      );
    });
  }

  /** Resolves once a read index taken after the call has been applied (etcd linearizableReadNotify; read-index.ts). */
  linearizableReadNotify(ctx: CallContext): Promise<void> {
    if (this.d.isStopped()) return Promise.reject(new ErrStopped());
    return this.withTimeout(ctx, this.reads.wait());
  }

  async range(ctx: CallContext, r: RangeRequest): Promise<RangeResponse> {
    if (!r.serializable) await this.linearizableReadNotify(ctx);
    const ai = await this.authInfo(ctx);
    checkRangePermitted(this.d.authStore, ai, r);
    return unwrap(this.d.applyV3Base.range(undefined, r));
  }

  put(ctx: CallContext, r: PutRequest): Promise<PutResponse> {
    return this.proposeAs<PutResponse>(ctx, 'put', r);
  }

  async deleteRange(ctx: CallContext, r: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.proposeAs<DeleteRangeResponse>(ctx, 'deleteRange', r);
  }

  async txn(ctx: CallContext, r: TxnRequest): Promise<TxnResponse> {
    const ai = await this.authInfo(ctx);
    if (isTxnReadonly(r)) {
      await this.linearizableReadNotify(ctx);
      checkTxnAuth(this.d.authStore, ai, r);
      return unwrap(this.d.applyV3Base.txn(r));
    }
    return (await this.raftRequest(ctx, 'txn', r, ai)) as TxnResponse;
  }

  async compact(ctx: CallContext, r: CompactionRequest): Promise<CompactionResponse> {
    await this.requireLogin(ctx);
    const resp = this.proposeAs<CompactionResponse>(ctx, 'compaction', r);
    if (r.physical) this.d.commitBackend();
    return resp;
  }

  async leaseGrant(ctx: CallContext, r: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    let id = r.ID;
    // etcd: a server-generated id is a request id with the sign bit cleared
    while (id === 0n) id = this.d.idGen.next() & ((1n << 63n) - 1n);
    const ai = ctx.token ? await this.requireLogin(ctx) : this.requireLoginWithoutToken(ctx);
    return (await this.raftRequest(ctx, 'leaseGrant', { TTL: r.TTL, ID: id }, ai)) as LeaseGrantResponse;
  }

  async leaseRevoke(ctx: CallContext, r: LeaseRevokeRequest): Promise<LeaseRevokeResponse> {
    return (await this.raftRequest(ctx, 'leaseRevoke', r, await this.requireLogin(ctx))) as LeaseRevokeResponse;
  }

  /**
   * Renews a lease (etcd LeaseRenew): on the leader by its lessor (once the applied
   * index reaches the commit index); on a follower forwarded to the leader's peer
   * `/leases` endpoint, since renewals do not go through raft. Throws
   * ErrLeaseNotFound, ErrNoLeader, ErrTimeout, ErrCanceled.
   */
  async leaseRenew(ctx: CallContext, id: bigint): Promise<bigint> {
    // write permission on every attached key (etcd checkLeaseRenew): a renewal keeps them alive
    this.checkLeaseKeys(await this.requireLogin(ctx), id, (ai, k) => this.d.authStore.isPutPermitted(ai, k));
    await this.waitLeader(ctx);
    if (this.d.raft.isLeader()) {
      await this.d.applyWait.wait(this.d.raft.committedIndex());
      try {
        return BigInt(await this.d.lessor.renew(id));
      } catch (e) {
        // a leader whose lessor is not promoted yet (its term's first entry not applied): ask again below
        if (!(e instanceof ErrNotPrimaryLease)) throw e;
      }
    }
    const body = toBinary(LeaseKeepAliveRequestSchema, create(LeaseKeepAliveRequestSchema, { ID: id }));
    return this.forwardToLeader(ctx, '/leases', body, (status, b) => {
      if (status === 200) return fromBinary(LeaseKeepAliveResponseSchema, b).TTL;
      if (status === 404) throw new ErrLeaseNotFound();
      return undefined;
    });
  }

  /** A lease's remaining and granted TTL (seconds) and keys, from this member's lessor. Throws ErrLeaseNotFound. */
  localTimeToLive(r: LeaseTimeToLiveRequest): LeaseTimeToLiveResponse {
    const l = this.d.lessor.lookup(r.ID);
    if (!l) throw new ErrLeaseNotFound();
    return create(LeaseTimeToLiveResponseSchema, {
      header: create(ResponseHeaderSchema, {}),
      ID: r.ID,
      TTL: remainingSeconds(l.remainingMs()),
      grantedTTL: BigInt(l.ttl),
      keys: r.keys ? l.keys() : [],
    });
  }

  /**
   * etcd LeaseTimeToLive: the leader answers from its lessor (which tracks expiry);
   * a follower asks the leader's peer `/leases/internal`. Throws ErrLeaseNotFound,
   * ErrNoLeader, ErrTimeout, ErrCanceled.
   */
  async leaseTimeToLive(ctx: CallContext, r: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    const ai = await this.requireLogin(ctx);
    // the key names need read permission on every attached key (etcd checkLeaseTimeToLive, CVE-2023-32082)
    if (r.keys) this.checkLeaseKeys(ai, r.ID, (a, k) => this.d.authStore.isRangePermitted(a, k, undefined));
    await this.waitLeader(ctx);
    if (this.d.raft.isLeader()) {
      await this.d.applyWait.wait(this.d.raft.committedIndex());
      return this.localTimeToLive(r);
    }
    const body = wrapField1(toBinary(LeaseTimeToLiveRequestSchema, create(LeaseTimeToLiveRequestSchema, { ID: r.ID, keys: r.keys })));
    return this.forwardToLeader(ctx, '/leases/internal', body, (status, b) => {
      if (status === 200) return fromBinary(LeaseTimeToLiveResponseSchema, unwrapField1(b));
      if (status === 404) throw new ErrLeaseNotFound();
      return undefined;
    });
  }

  async leaseLeases(ctx: CallContext): Promise<LeaseLeasesResponse> {
    const ai = await this.requireLogin(ctx);
    // read permission on every key of every lease (etcd checkLeaseLeases)
    for (const l of this.d.lessor.leases()) this.checkLeaseKeys(ai, l.id, (a, k) => this.d.authStore.isRangePermitted(a, k, undefined));
    return create(LeaseLeasesResponseSchema, {
      header: create(ResponseHeaderSchema, {}),
      leases: this.d.lessor.leases().map((l) => ({ ID: l.id })),
    });
  }

  async checkWatchPermission(ctx: CallContext, key: Uint8Array, rangeEnd: Uint8Array): Promise<void> {
    const ai = await this.authInfo(ctx);
    checkRangePermitted(this.d.authStore, ai, { key, rangeEnd } as RangeRequest);
  }

  /** GET needs a login, ACTIVATE/DEACTIVATE the root role, when auth is enabled (GHSA-q8m4-xhhv-38mg). */
  async alarm(ctx: CallContext, r: AlarmRequest): Promise<AlarmResponse> {
    if (r.action === AlarmRequest_AlarmAction.GET) await this.requireLogin(ctx);
    else await this.checkAdmin(ctx);
    return this.proposeAs<AlarmResponse>(ctx, 'alarm', r);
  }

  /** Needs the root role when auth is enabled (etcd v3rpc authMaintenanceServer.isAuthenticated). */
  async hash(ctx: CallContext): Promise<HashResponse> {
    await this.checkAdmin(ctx);
    const h = this.d.kv.hash();
    return create(HashResponseSchema, { header: create(ResponseHeaderSchema, { revision: BigInt(h.rev) }), hash: h.hash });
  }

  /** Needs the root role when auth is enabled (etcd v3rpc authMaintenanceServer.isAuthenticated). */
  async hashKV(ctx: CallContext, revision: bigint): Promise<HashKVResponse> {
    await this.checkAdmin(ctx);
    const h = this.d.kv.hashByRev(Number(revision));
    return create(HashKVResponseSchema, {
      header: create(ResponseHeaderSchema, { revision: BigInt(h.currentRev) }),
      hash: h.hash,
      compactRevision: BigInt(h.compactRev),
    });
  }

  /** Needs the root role when auth is enabled (etcd v3rpc authMaintenanceServer.isAuthenticated). */
  async defragment(ctx: CallContext): Promise<DefragmentResponse> {
    await this.checkAdmin(ctx);
    this.d.commitBackend();
    await this.d.backend.defrag();
    return create(DefragmentResponseSchema, { header: create(ResponseHeaderSchema, {}) });
  }

  /**
   * A consistent copy of the backend as a bbolt file (etcd's snapshot format, written
   * from a read view by writeBoltFile next to the data dir and deleted on close),
   * streamed in 32 KiB chunks. Needs the root role when auth is enabled, checked
   * before anything is written (etcd v3rpc authMaintenanceServer.Snapshot).
   */
  async snapshot(ctx: CallContext): Promise<BackendSnapshot> {
    await this.checkAdmin(ctx);
    this.d.commitBackend();
    const dir = mkdtempSync(join(memberDirs(this.d.cfg.dataDir, this.d.cfg.walDir).memberDir, 'snapshot-'));
    const file = join(dir, 'db');
    const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
    try {
      const tx = this.d.backend.readTx();
      try {
        writeBoltFile(file, tx);
      } finally {
        tx.release();
      }
    } catch (e) {
      cleanup();
      throw e;
    }
    const size = statSync(file).size;
    return {
      size,
      chunks: createReadStream(file, { highWaterMark: 32 * 1024 }),
      close: cleanup,
    };
  }

  async moveLeader(ctx: CallContext, r: MoveLeaderRequest): Promise<MoveLeaderResponse> {
    if (!this.d.raft.isLeader()) throw new ErrNotLeader();
    const target = this.d.cluster.member(r.targetID);
    if (!target || target.isLearner) throw new ErrBadLeaderTransferee();
    if (r.targetID !== this.d.memberId) {
      this.d.raft.transferLeader(r.targetID);
      const deadline = Date.now() + this.reqTimeoutMs();
      while (this.d.raft.leader() !== r.targetID) {
        if (Date.now() > deadline || ctx.signal?.aborted) throw new ErrTimeoutLeaderTransfer();
        await new Promise((res) => setTimeout(res, this.d.cfg.heartbeatMs));
      }
    }
    return create(MoveLeaderResponseSchema, { header: create(ResponseHeaderSchema, {}) });
  }

  private memberPb(m: Member): MemberPb {
    return create(MemberPbSchema, { ID: m.id, name: m.name, peerURLs: [...m.peerUrls], clientURLs: [...m.clientUrls], isLearner: m.isLearner });
  }

  /** Needs a login when auth is enabled (GHSA-q8m4-xhhv-38mg); any user may list. */
  async memberList(ctx: CallContext, linearizable: boolean): Promise<MemberListResponse> {
    await this.requireLogin(ctx);
    if (linearizable) await this.linearizableReadNotify(ctx);
    return create(MemberListResponseSchema, { header: create(ResponseHeaderSchema, {}), members: this.d.cluster.memberList().map((m) => this.memberPb(m)) });
  }

  /** Proposes a conf change and waits for it to be applied (etcd configure()). */
  private async configure(ctx: CallContext, cc: ConfChange): Promise<void> {
    if (this.d.isStopped()) throw new ErrStopped();
    const p = this.d.wait.register(cc.id);
    try {
      this.d.raft.proposeConfChange(cc);
    } catch (e) {
      this.d.wait.trigger(cc.id, { err: this.d.raft.leader() === 0n ? new ErrNoLeader() : e });
    }
    const res = await this.withTimeout(ctx, p, (err) => this.d.wait.trigger(cc.id, { err }));
    if (res.err !== undefined) throw res.err;
  }

  /**
   * The caller's auth info, which must name a user when auth is enabled (etcd's
   * requireAuthInfo, which later 3.4 releases put in front of the lease, member
   * list, alarm and compaction requests: GHSA-q8m4-xhhv-38mg). Throws
   * ErrInvalidAuthToken for a bad token, ErrUserEmpty for no user.
   */
  private async requireLogin(ctx: CallContext): Promise<AuthInfo | undefined> {
    return this.loggedIn(await this.authInfo(ctx));
  }

  /** {@link requireLogin} of a call that sent no token, without a promise. */
  private requireLoginWithoutToken(ctx: CallContext): AuthInfo | undefined {
    return this.loggedIn(this.authInfoWithoutToken(ctx));
  }

  /** `ai`, unless auth is enabled and it names no user: ErrUserEmpty. */
  private loggedIn(ai: AuthInfo | undefined): AuthInfo | undefined {
    if (this.d.authStore.isAuthEnabled() && (!ai || ai.username === '')) throw new ErrUserEmpty();
    return ai;
  }

  /**
   * `check` (the auth store's put or range permission of one key) on every key attached
   * to lease `id`, when auth is enabled (etcd checkLeaseRenew / checkLeaseTimeToLive):
   * the keys are not even listed otherwise, since keep-alives are a hot path.
   */
  private checkLeaseKeys(ai: AuthInfo | undefined, id: bigint, check: (ai: AuthInfo | undefined, key: Uint8Array) => void): void {
    if (!this.d.authStore.isAuthEnabled()) return;
    for (const k of this.d.lessor.lookup(id)?.keys() ?? []) check(ai, k);
  }

  /**
   * The root-role check of membership and maintenance requests made before
   * anything else (etcd checkMembershipOperationPermission and
   * authMaintenanceServer.isAuthenticated): an invalid token throws
   * ErrInvalidAuthToken even with auth disabled; with auth enabled, no user
   * throws ErrUserEmpty, an unknown user ErrUserNotFound, a user without the
   * root role ErrPermissionDenied.
   */
  private async checkAdmin(ctx: CallContext): Promise<void> {
    const ai = await this.authInfo(ctx);
    this.d.authStore.isAdminPermitted(ai);
  }

  async memberAdd(ctx: CallContext, r: MemberAddRequest): Promise<MemberAddResponse> {
    await this.checkAdmin(ctx);
    const m = newMember('', r.peerURLs, this.d.cfg.initialClusterToken, this.d.clock.nowMs() / 1000, r.isLearner);
    this.mayAddMember(m);
    await this.configure(ctx, {
      id: m.id,
      type: r.isLearner ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeAddNode,
      nodeId: m.id,
      context: encodeMember(m),
    });
    return create(MemberAddResponseSchema, {
      header: create(ResponseHeaderSchema, {}),
      member: this.memberPb(m),
      members: this.d.cluster.memberList().map((x) => this.memberPb(x)),
    });
  }

  async memberRemove(ctx: CallContext, r: MemberRemoveRequest): Promise<MemberRemoveResponse> {
    await this.checkAdmin(ctx);
    this.mayRemoveMember(r.ID);
    await this.configure(ctx, { id: this.d.idGen.next(), type: ConfChangeType.ConfChangeRemoveNode, nodeId: r.ID });
    return create(MemberRemoveResponseSchema, { header: create(ResponseHeaderSchema, {}), members: this.d.cluster.memberList().map((x) => this.memberPb(x)) });
  }

  async memberUpdate(ctx: CallContext, r: MemberUpdateRequest): Promise<MemberUpdateResponse> {
    await this.checkAdmin(ctx);
    const cur = this.d.cluster.member(r.ID);
    // etcd 3.4 replaces all raft attributes with the new peer URLs only, so a learner
    // updated this way is listed as a voter by MemberList afterwards (member.go MemberUpdate)
    const m: Member = { id: r.ID, peerUrls: [...r.peerURLs], isLearner: false, name: cur?.name ?? '', clientUrls: cur?.clientUrls ?? [] };
    await this.configure(ctx, { id: this.d.idGen.next(), type: ConfChangeType.ConfChangeUpdateNode, nodeId: r.ID, context: encodeMember(m) });
    return create(MemberUpdateResponseSchema, { header: create(ResponseHeaderSchema, {}), members: this.d.cluster.memberList().map((x) => this.memberPb(x)) });
  }

  /**
   * etcd PromoteMember: only the leader knows whether the learner caught up, so a
   * follower checks permissions, then forwards to the leader's peer
   * `/members/promote/<id>`. Throws ErrLearnerNotReady, ErrIDNotFound,
   * ErrMemberNotLearner, ErrNotEnoughStartedMembers, auth errors.
   */
  async memberPromote(ctx: CallContext, r: MemberPromoteRequest): Promise<MemberPromoteResponse> {
    await this.checkAdmin(ctx);
    let members: Member[];
    try {
      await this.promoteMemberAsLeader(ctx, r.ID);
      members = this.d.cluster.memberList();
    } catch (e) {
      if (!(e instanceof ErrNotLeader)) throw e;
      members = await this.forwardToLeader(ctx, `/members/promote/${r.ID.toString()}`, new Uint8Array(0), (status, b) => {
        const text = b.toString('utf8').trim();
        if (status === 200) return parseMembersJson(text);
        if (status === 404) throw new ErrIDNotFound();
        if (status === 412) throw text === new ErrMemberNotLearner().message ? new ErrMemberNotLearner() : new ErrLearnerNotReady();
        return undefined;
      });
    }
    return create(MemberPromoteResponseSchema, { header: create(ResponseHeaderSchema, {}), members: members.map((x) => this.memberPb(x)) });
  }

  /**
   * The leader's part of a promotion (etcd promoteMember + mayPromoteMember): the
   * learner's match index must be at least 90% of the leader's (isLearnerReady), then
   * the strict check, then the conf change. Throws ErrNotLeader on a follower.
   */
  async promoteMemberAsLeader(ctx: CallContext, id: bigint): Promise<void> {
    if (!this.d.raft.isLeader()) throw new ErrNotLeader();
    const progress = this.d.raft.node.status().progress;
    const pr = progress.get(id);
    if (pr) {
      const leaderMatch = progress.get(this.d.memberId)?.match ?? 0;
      if (pr.match < leaderMatch * 0.9) throw new ErrLearnerNotReady();
    }
    if (this.d.cfg.strictReconfigCheck) {
      // etcd IsReadyToPromoteMember: the learner counts as a started member of the new quorum
      const voters = this.d.cluster.memberList().filter((x) => !x.isLearner);
      const nmembers = voters.length + 1;
      const nstarted = voters.filter((x) => x.name !== '').length + 1;
      if (nstarted < Math.floor(nmembers / 2) + 1) throw new ErrNotEnoughStartedMembers();
    }
    this.d.cluster.validatePromote(id);
    const m = this.d.cluster.member(id)!;
    await this.configure(ctx, { id: this.d.idGen.next(), type: ConfChangeType.ConfChangeAddNode, nodeId: id, context: encodeMember({ ...m, isLearner: false }) });
  }

  /** HealthInterval of etcd's strict reconfiguration checks, ms. */
  private static readonly HEALTH_INTERVAL_MS = 5000;

  /** Voting members other than this one that have been connected for at least the health interval. */
  private connectedVoters(): number {
    const since = Date.now() - V3Server.HEALTH_INTERVAL_MS;
    let n = 0;
    for (const m of this.d.cluster.memberList()) {
      if (m.isLearner) continue;
      if (m.id === this.d.memberId) {
        n++;
        continue;
      }
      const t = this.d.transport.activeSince(m.id);
      if (t !== 0 && t <= since) n++;
    }
    return n;
  }

  /**
   * etcd mayAddMember (--strict-reconfig-check): adding a voter needs a started
   * majority of the new cluster (ErrNotEnoughStartedMembers) and this member connected
   * to every voter for the health interval (ErrUnhealthy).
   */
  private mayAddMember(m: Member): void {
    if (!this.d.cfg.strictReconfigCheck) return;
    const voters = this.d.cluster.memberList().filter((x) => !x.isLearner);
    if (!m.isLearner) {
      const nmembers = voters.length + 1;
      const nstarted = voters.filter((x) => x.name !== '').length;
      if (!(nstarted === 1 && nmembers === 2) && nstarted < Math.floor(nmembers / 2) + 1) throw new ErrNotEnoughStartedMembers();
    }
    if (this.connectedVoters() !== voters.length) {
      this.d.log.warn('rejecting member add request; local member has not been connected to all peers, reconfigure breaks active quorum', { 'local-member-id': idHex(this.d.memberId), 'requested-member-add': `{ID:${idHex(m.id)} PeerURLs:[${m.peerUrls.join(' ')}]}` });
      throw new ErrUnhealthy();
    }
  }

  /**
   * etcd mayRemoveMember (--strict-reconfig-check): learners go freely; removing a
   * voter must leave a started majority (ErrNotEnoughStartedMembers); a member that is
   * down may go; otherwise the connected voters left must still be a quorum (ErrUnhealthy).
   */
  private mayRemoveMember(id: bigint): void {
    if (!this.d.cfg.strictReconfigCheck) return;
    const target = this.d.cluster.member(id);
    if (target?.isLearner) return;
    const voters = this.d.cluster.memberList().filter((x) => !x.isLearner);
    const others = voters.filter((x) => x.id !== id);
    const nstarted = others.filter((x) => x.name !== '').length;
    if (nstarted < Math.floor(others.length / 2) + 1) {
      this.d.log.warn('rejecting member remove request; not enough healthy members', { 'local-member-id': idHex(this.d.memberId), 'requested-member-remove-id': idHex(id) });
      throw new ErrNotEnoughStartedMembers();
    }
    if (id !== this.d.memberId && this.d.transport.activeSince(id) === 0) return;
    const active = this.connectedVoters();
    if (active - 1 < 1 + Math.floor((voters.length - 1) / 2)) {
      this.d.log.warn('rejecting member remove request; local member has not been connected to all peers, reconfigure breaks active quorum', { 'local-member-id': idHex(this.d.memberId), 'requested-member-remove': idHex(id), active });
      throw new ErrUnhealthy();
    }
  }

  async authEnable(ctx: CallContext): Promise<AuthEnableResponse> {
    return this.proposeAs<AuthEnableResponse>(ctx, 'authEnable', {});
  }

  async authDisable(ctx: CallContext): Promise<AuthDisableResponse> {
    return this.proposeAs<AuthDisableResponse>(ctx, 'authDisable', {});
  }

  async authenticate(ctx: CallContext, r: AuthenticateRequest): Promise<AuthenticateResponse> {
    // the password is checked here and never enters the log (etcd checks it before proposing)
    // etcd v3_server.go Authenticate: password first, then the proposal, which carries the
    // caller's credentials like any other (an invalid token fails it with ErrInvalidAuthToken);
    // retried when the auth revision moved between the password check and the apply
    await this.linearizableReadNotify(ctx);
    for (;;) {
      const checkedRevision = await this.d.authStore.checkPassword(r.name, r.password).catch((e) => {
        throw e instanceof Error ? e : new ErrAuthFailed();
      });
      const prefix = this.d.authStore.genTokenPrefix();
      const resp = (await this.raftRequest(ctx, 'authenticate', { name: r.name, simpleToken: prefix }, await this.authInfo(ctx))) as AuthenticateResponse;
      if (checkedRevision === this.d.authStore.revision()) return resp;
      this.d.log.info('revision when password checked became stale; retrying');
    }
  }

  async userAdd(ctx: CallContext, r: AuthUserAddRequest): Promise<AuthUserAddResponse> {
    const ai = await this.authInfo(ctx);
    const noPassword = r.options?.noPassword ?? false;
    // the bcrypt hash, not the password, goes through raft: the password field of the internal request carries it
    // etcd 3.4 hashes the password, even an empty one, unless the user has no password
    const password = noPassword ? '' : new TextDecoder().decode(await this.d.authStore.hashPassword(r.password));
    return (await this.raftRequest(ctx, 'authUserAdd', { name: r.name, password, options: r.options }, ai)) as AuthUserAddResponse;
  }

  async userDelete(ctx: CallContext, r: AuthUserDeleteRequest): Promise<AuthUserDeleteResponse> {
    return this.proposeAs<AuthUserDeleteResponse>(ctx, 'authUserDelete', r);
  }

  async userChangePassword(ctx: CallContext, r: AuthUserChangePasswordRequest): Promise<AuthUserChangePasswordResponse> {
    const ai = await this.authInfo(ctx);
    const password = new TextDecoder().decode(await this.d.authStore.hashPassword(r.password));
    return (await this.raftRequest(ctx, 'authUserChangePassword', { name: r.name, password }, ai)) as AuthUserChangePasswordResponse;
  }

  async userGrantRole(ctx: CallContext, r: AuthUserGrantRoleRequest): Promise<AuthUserGrantRoleResponse> {
    return this.proposeAs<AuthUserGrantRoleResponse>(ctx, 'authUserGrantRole', r);
  }

  async userGet(ctx: CallContext, r: AuthUserGetRequest): Promise<AuthUserGetResponse> {
    return this.proposeAs<AuthUserGetResponse>(ctx, 'authUserGet', r);
  }

  async userList(ctx: CallContext): Promise<AuthUserListResponse> {
    return this.proposeAs<AuthUserListResponse>(ctx, 'authUserList', {});
  }

  async userRevokeRole(ctx: CallContext, r: AuthUserRevokeRoleRequest): Promise<AuthUserRevokeRoleResponse> {
    return this.proposeAs<AuthUserRevokeRoleResponse>(ctx, 'authUserRevokeRole', r);
  }

  async roleAdd(ctx: CallContext, r: AuthRoleAddRequest): Promise<AuthRoleAddResponse> {
    return this.proposeAs<AuthRoleAddResponse>(ctx, 'authRoleAdd', r);
  }

  async roleGrantPermission(ctx: CallContext, r: AuthRoleGrantPermissionRequest): Promise<AuthRoleGrantPermissionResponse> {
    return this.proposeAs<AuthRoleGrantPermissionResponse>(ctx, 'authRoleGrantPermission', r);
  }

  async roleGet(ctx: CallContext, r: AuthRoleGetRequest): Promise<AuthRoleGetResponse> {
    return this.proposeAs<AuthRoleGetResponse>(ctx, 'authRoleGet', r);
  }

  async roleList(ctx: CallContext): Promise<AuthRoleListResponse> {
    return this.proposeAs<AuthRoleListResponse>(ctx, 'authRoleList', {});
  }

  async roleRevokePermission(ctx: CallContext, r: AuthRoleRevokePermissionRequest): Promise<AuthRoleRevokePermissionResponse> {
    return this.proposeAs<AuthRoleRevokePermissionResponse>(ctx, 'authRoleRevokePermission', r);
  }

  async roleDelete(ctx: CallContext, r: AuthRoleDeleteRequest): Promise<AuthRoleDeleteResponse> {
    return this.proposeAs<AuthRoleDeleteResponse>(ctx, 'authRoleDelete', r);
  }

  authInfoFromContext(ctx: CallContext): Promise<AuthInfo | undefined> {
    return this.authInfo(ctx);
  }

  /**
   * Sends `body` to `path` on the leader's peer URLs until one answers with a status
   * `accept` takes (etcd's forwarding loops in LeaseRenew/LeaseTimeToLive/PromoteMember):
   * throws what `accept` throws; retries other failures every 50 ms until the request
   * timeout (ErrTimeout) or the caller's cancel (ErrCanceled).
   */
  private async forwardToLeader<T>(ctx: CallContext, path: string, body: Uint8Array, accept: (status: number, body: Buffer) => T | undefined): Promise<T> {
    const deadline = Date.now() + this.reqTimeoutMs();
    for (;;) {
      if (ctx.signal?.aborted) throw new ErrCanceled();
      if (Date.now() >= deadline) throw new ErrTimeout();
      await this.waitLeader(ctx);
      const leader = this.d.cluster.member(this.d.raft.leader());
      for (const url of leader?.peerUrls ?? []) {
        try {
          const r = await peerRequest(url.replace(/\/$/, '') + path, { method: 'POST', body, timeoutMs: Math.max(1, deadline - Date.now()), tls: this.d.peerClientTls() });
          const v = accept(r.status, r.body);
          if (v !== undefined) return v;
        } catch (e) {
          if (e instanceof EtcdServerError || e instanceof ErrLeaseNotFound) throw e;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves when a leader is known; rejects ErrNoLeader after the request timeout. */
  waitLeader(ctx: CallContext): Promise<void> {
    if (this.d.raft.leader() !== 0n) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.leaderWaiters.push(resolve));
    return this.withTimeout(ctx, p).catch((e) => {
      throw e instanceof ErrTimeout ? new ErrNoLeader() : e;
    });
  }
}
