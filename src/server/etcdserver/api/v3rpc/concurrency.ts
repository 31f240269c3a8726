/**
 * @module server/etcdserver/api/v3rpc/concurrency
 * The v3lock and v3election gRPC services (etcd 3.4 etcdserver/api/v3lock/lock.go,
 * v3election/election.go), with the algorithms of clientv3/concurrency they run
 * in the server (session.go, mutex.go, election.go, key.go) over the member's own
 * KV, Lease and watch APIs with the caller's context (etcd's v3client), so auth
 * and errors are those of the KV calls.
 *
 * - Session: the request's lease, else a new 60 s lease; never kept alive by
 *   the server (the services orphan their sessions).
 * - Lock(name): key `<name>/<lease hex>` put with the lease if absent; the owner
 *   is the key with the lowest create revision under `<name>/`; otherwise wait
 *   until every key created before ours is deleted (on error the key is deleted).
 * - Campaign(name, value): the same queue under `<name>/`; a key already held
 *   with another value is proclaimed; a canceled campaign resigns.
 * - Proclaim / Resign: a txn on the leader key guarded by its create revision;
 *   a missing `leader` is Unknown `"leader" field must be provided`, a lost
 *   leadership `election: not leader`.
 * - Leader: the first-created key under `<name>/`, or `election: no leader`.
 * - Observe: the leader's key and each change of it until it is deleted, then
 *   the next leader, until the call ends.
 */
import { create } from '@bufbuild/protobuf';
import {
  Compare_CompareResult, Compare_CompareTarget, CompareSchema, DeleteRangeRequestSchema, LeaseGrantRequestSchema, PutRequestSchema,
  RangeRequest_SortOrder, RangeRequest_SortTarget, RangeRequestSchema, RequestOpSchema, TxnRequestSchema,
  type RangeResponse, type RequestOp, type ResponseHeader, type TxnResponse,
} from '../../../../gen/etcdserverpb/rpc_pb.js';
import {
  CampaignResponseSchema, LeaderKeySchema, LeaderResponseSchema, ProclaimResponseSchema, ResignResponseSchema,
  type CampaignRequest, type CampaignResponse, type LeaderRequest, type LeaderResponse, type ProclaimRequest, type ProclaimResponse,
  type ResignRequest, type ResignResponse,
} from '../../../../gen/v3electionpb/v3election_pb.js';
import { LockResponseSchema, UnlockResponseSchema, type LockRequest, type LockResponse, type UnlockRequest, type UnlockResponse } from '../../../../gen/v3lockpb/v3lock_pb.js';
import { Event_EventType, type Event, type KeyValue } from '../../../../gen/mvccpb/kv_pb.js';
import { AUTO_WATCH_ID } from '../../../mvcc/watcher.js';
import type { CallContext, EtcdServerApi } from '../../api.js';
import { Header } from './header.js';
import { KVServer } from './key.js';
import { LeaseServer } from './lease.js';
import { GrpcStatusError } from './rpctypes/error.js';
import * as rpctypes from './rpctypes/error.js';
import type { ServerStream } from './transport/stream.js';
import { ErrContextCanceled, togRPCError } from './util.js';
import { Code } from '../../../../util/grpc/codes.js';

/** clientv3/concurrency defaultSessionTTL, seconds. */
export const DEFAULT_SESSION_TTL = 60n;

/** v3election ErrMissingLeaderKey (a plain error: Unknown). */
export const ErrMissingLeaderKey = new GrpcStatusError(Code.UNKNOWN, '"leader" field must be provided');
/** concurrency ErrElectionNoLeader. */
export const ErrElectionNoLeader = new GrpcStatusError(Code.UNKNOWN, 'election: no leader');
/** concurrency ErrElectionNotLeader. */
export const ErrElectionNotLeader = new GrpcStatusError(Code.UNKNOWN, 'election: not leader');

const utf8 = new TextEncoder();

/** The range end of every key with prefix `k` (clientv3 GetPrefixRangeEnd). */
function prefixEnd(k: Uint8Array): Uint8Array {
  const end = Uint8Array.from(k);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}

/** Go's %x of an int64. */
function hexInt64(v: bigint): string {
  return v < 0n ? `-${(-v).toString(16)}` : v.toString(16);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Rejects with context canceled once `ctx.signal` aborts. */
function whenAborted(ctx: CallContext): { promise: Promise<never>; dispose(): void } {
  let onAbort: (() => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    const sig = ctx.signal;
    if (!sig) return;
    if (sig.aborted) {
      reject(ErrContextCanceled);
      return;
    }
    onAbort = () => reject(ErrContextCanceled);
    sig.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => {});
  return { promise, dispose: () => { if (onAbort) ctx.signal?.removeEventListener('abort', onAbort); } };
}

/** The KV, lease and watch calls the services make (etcd's v3client over the member). */
class LocalClient {
  readonly kv: KVServer;
  readonly lease: LeaseServer;
  readonly hdr: Header;

  constructor(readonly s: EtcdServerApi) {
    this.kv = new KVServer(s);
    this.lease = new LeaseServer(s);
    this.hdr = new Header(s);
  }

  /** Get(prefix, WithFirstCreate / WithLastCreate [, WithMaxCreateRev]). */
  getEdge(ctx: CallContext, pfx: Uint8Array, order: RangeRequest_SortOrder, maxCreateRev?: bigint): Promise<RangeResponse> {
    return this.kv.range(ctx, create(RangeRequestSchema, {
      key: pfx, rangeEnd: prefixEnd(pfx), limit: 1n, sortTarget: RangeRequest_SortTarget.CREATE, sortOrder: order,
      maxCreateRevision: maxCreateRev ?? 0n,
    }));
  }

  /**
   * Watches `key` (or every key under it when `prefix`) from `rev` and calls `onEvents`
   * with each response's events and header until it returns true; rejects on
   * cancellation, compaction or a permission error.
   */
  async watchUntil(ctx: CallContext, key: Uint8Array, rev: bigint, prefix: boolean, onEvents: (evs: readonly Event[], hdr: ResponseHeader) => boolean): Promise<void> {
    const end = prefix ? prefixEnd(key) : new Uint8Array();
    await this.s.checkWatchPermission(ctx, key, end).catch((e: unknown) => { throw togRPCError(e); });
    const ws = this.s.watchable().newWatchStream();
    const abort = whenAborted(ctx);
    try {
      ws.watch(AUTO_WATCH_ID, key, prefix ? end : undefined, Number(rev));
      for (;;) {
        const r = await Promise.race([ws.queue.receive(), abort.promise]);
        if (r === undefined) throw new GrpcStatusError(Code.UNKNOWN, 'lost watcher waiting for delete');
        if (r.compactRevision !== 0) throw rpctypes.ErrGRPCCompacted;
        if (r.events.length === 0) continue;
        if (onEvents(r.events, this.hdr.make(BigInt(r.revision)))) return;
      }
    } finally {
      abort.dispose();
      ws.close();
    }
  }

  /** concurrency waitDelete: until `key` is deleted at or after `rev`. */
  waitDelete(ctx: CallContext, key: Uint8Array, rev: bigint): Promise<void> {
    return this.watchUntil(ctx, key, rev, false, (evs) => evs.some((e) => e.type === Event_EventType.DELETE));
  }

  /** concurrency waitDeletes: until no key under `pfx` has a create revision <= maxCreateRev. */
  async waitDeletes(ctx: CallContext, pfx: Uint8Array, maxCreateRev: bigint): Promise<ResponseHeader> {
    for (;;) {
      const resp = await this.getEdge(ctx, pfx, RangeRequest_SortOrder.DESCEND, maxCreateRev);
      if (resp.kvs.length === 0) return resp.header!;
      await this.waitDelete(ctx, resp.kvs[0]!.key, resp.header!.revision);
    }
  }

  /** concurrency NewSession(WithLease(lease)) then Orphan: the lease, or a new 60 s one. */
  async sessionLease(ctx: CallContext, lease: bigint): Promise<bigint> {
    if (lease !== 0n) return lease;
    const r = await this.lease.leaseGrant(ctx, create(LeaseGrantRequestSchema, { TTL: DEFAULT_SESSION_TTL }));
    return r.ID;
  }

  /** Txn: if create_revision(key) = rev then `then` else `els`. */
  txnOnCreate(ctx: CallContext, key: Uint8Array, rev: bigint, then: RequestOp[], els: RequestOp[] = []): Promise<TxnResponse> {
    return this.kv.txn(ctx, create(TxnRequestSchema, {
      compare: [create(CompareSchema, { key, result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.CREATE, targetUnion: { case: 'createRevision', value: rev } })],
      success: then,
      failure: els,
    }));
  }
}

const opPut = (key: Uint8Array, value: Uint8Array, lease: bigint) => create(RequestOpSchema, { request: { case: 'requestPut', value: create(PutRequestSchema, { key, value, lease }) } });
const opGet = (key: Uint8Array, rangeEnd?: Uint8Array, first = false) => create(RequestOpSchema, {
  request: {
    case: 'requestRange',
    value: create(RangeRequestSchema, first ? { key, rangeEnd, limit: 1n, sortTarget: RangeRequest_SortTarget.CREATE, sortOrder: RangeRequest_SortOrder.ASCEND } : { key }),
  },
});
const opDelete = (key: Uint8Array) => create(RequestOpSchema, { request: { case: 'requestDeleteRange', value: create(DeleteRangeRequestSchema, { key }) } });

function rangeOf(resp: TxnResponse, i: number): RangeResponse {
  const r = resp.responses[i]?.response;
  if (r?.case !== 'responseRange') throw new GrpcStatusError(Code.INTERNAL, 'unexpected txn response');
  return r.value;
}

/** The v3lockpb.Lock service (v3lock/lock.go). */
export class LockServer {
  private readonly c: LocalClient;

  constructor(s: EtcdServerApi) {
    this.c = new LocalClient(s);
  }

  /** concurrency.Mutex.Lock under `<name>/`; resolves once held, with the lock key. */
  async lock(ctx: CallContext, req: LockRequest): Promise<LockResponse> {
    const lease = await this.c.sessionLease(ctx, req.lease);
    const pfx = concat(req.name, utf8.encode('/'));
    const myKey = concat(pfx, utf8.encode(hexInt64(lease)));
    const resp = await this.c.txnOnCreate(ctx, myKey, 0n,
      [opPut(myKey, new Uint8Array(), lease), opGet(pfx, prefixEnd(pfx), true)],
      [opGet(myKey), opGet(pfx, prefixEnd(pfx), true)]);
    let myRev = resp.header!.revision;
    if (!resp.succeeded) myRev = rangeOf(resp, 0).kvs[0]!.createRevision;
    const owner = rangeOf(resp, 1).kvs;
    let header = resp.header!;
    if (owner.length !== 0 && owner[0]!.createRevision !== myRev) {
      try {
        header = await this.c.waitDeletes(ctx, pfx, myRev - 1n);
      } catch (e) {
        // release the key if the wait failed
        await this.c.kv.deleteRange({}, create(DeleteRangeRequestSchema, { key: myKey })).catch(() => {});
        throw e;
      }
    }
    return create(LockResponseSchema, { header, key: myKey });
  }

  /** Deletes the lock key. */
  async unlock(ctx: CallContext, req: UnlockRequest): Promise<UnlockResponse> {
    const r = await this.c.kv.deleteRange(ctx, create(DeleteRangeRequestSchema, { key: req.key }));
    return create(UnlockResponseSchema, { header: r.header });
  }
}

/** The v3electionpb.Election service (v3election/election.go). */
export class ElectionServer {
  private readonly c: LocalClient;

  constructor(s: EtcdServerApi) {
    this.c = new LocalClient(s);
  }

  /** Proclaim's txn: put `value` at the leader key while it has create revision `rev`. */
  private async proclaim(ctx: CallContext, key: Uint8Array, rev: bigint, lease: bigint, value: Uint8Array): Promise<ResponseHeader> {
    const r = await this.c.txnOnCreate(ctx, key, rev, [opPut(key, value, lease)]);
    if (!r.succeeded) throw ErrElectionNotLeader;
    return r.header!;
  }

  /** Resign's txn: delete the leader key while it has create revision `rev`. */
  private async resign(ctx: CallContext, key: Uint8Array, rev: bigint): Promise<ResponseHeader> {
    const r = await this.c.txnOnCreate(ctx, key, rev, [opDelete(key)]);
    return r.header!;
  }

  /**
   * Election.Campaign: resolves once this campaign's key is the oldest under
   * `<name>/`, with the txn's header and the leader key (name, key, create
   * revision, lease). A canceled call resigns. @throws GrpcStatusError of the KV calls
   */
  async campaign(ctx: CallContext, req: CampaignRequest): Promise<CampaignResponse> {
    const lease = await this.c.sessionLease(ctx, req.lease);
    const pfx = concat(req.name, utf8.encode('/'));
    const key = concat(pfx, utf8.encode(hexInt64(lease)));
    const resp = await this.c.txnOnCreate(ctx, key, 0n, [opPut(key, req.value, lease)], [opGet(key)]);
    let rev = resp.header!.revision;
    if (!resp.succeeded) {
      const kv = rangeOf(resp, 0).kvs[0]!;
      rev = kv.createRevision;
      if (Buffer.compare(Buffer.from(kv.value), Buffer.from(req.value)) !== 0) {
        try {
          await this.proclaim(ctx, key, rev, lease, req.value);
        } catch (e) {
          await this.resign(ctx, key, rev).catch(() => {});
          throw e;
        }
      }
    }
    try {
      await this.c.waitDeletes(ctx, pfx, rev - 1n);
    } catch (e) {
      if (ctx.signal?.aborted) await this.resign({}, key, rev).catch(() => {});
      throw e;
    }
    return create(CampaignResponseSchema, {
      header: resp.header,
      leader: create(LeaderKeySchema, { name: req.name, key, rev, lease }),
    });
  }

  /** Election.Proclaim: a new value for the leader key. @throws ErrMissingLeaderKey, ErrElectionNotLeader */
  async proclaimCall(ctx: CallContext, req: ProclaimRequest): Promise<ProclaimResponse> {
    if (!req.leader) throw ErrMissingLeaderKey;
    const header = await this.proclaim(ctx, req.leader.key, req.leader.rev, req.leader.lease, req.value);
    return create(ProclaimResponseSchema, { header });
  }

  /** Election.Resign: deletes the leader key if it is still the one given. @throws ErrMissingLeaderKey */
  async resignCall(ctx: CallContext, req: ResignRequest): Promise<ResignResponse> {
    if (!req.leader) throw ErrMissingLeaderKey;
    const header = await this.resign(ctx, req.leader.key, req.leader.rev);
    return create(ResignResponseSchema, { header });
  }

  /** Election.Leader: the first-created key under `<name>/`. @throws ErrElectionNoLeader */
  async leader(ctx: CallContext, req: LeaderRequest): Promise<LeaderResponse> {
    const pfx = concat(req.name, utf8.encode('/'));
    const r = await this.c.getEdge(ctx, pfx, RangeRequest_SortOrder.ASCEND);
    if (r.kvs.length === 0) throw ErrElectionNoLeader;
    return create(LeaderResponseSchema, { header: r.header, kv: r.kvs[0] });
  }

  /** Streams the leader and its changes (election.go observe) until the call ends. */
  async observe(call: ServerStream<LeaderRequest, LeaderResponse>, ctx: CallContext): Promise<void> {
    const req = call.request!;
    const pfx = concat(req.name, utf8.encode('/'));
    const send = (header: ResponseHeader, kv: KeyValue) => { call.write(create(LeaderResponseSchema, { header, kv })); };
    try {
      for (;;) {
        const resp = await this.c.getEdge(ctx, pfx, RangeRequest_SortOrder.ASCEND);
        let kv: KeyValue | undefined;
        let hdr: ResponseHeader;
        if (resp.kvs.length === 0) {
          // wait for the first key put under the prefix
          let found: { kv: KeyValue; hdr: ResponseHeader } | undefined;
          await this.c.watchUntil(ctx, pfx, resp.header!.revision, true, (evs, h) => {
            const put = evs.find((e) => e.type === Event_EventType.PUT);
            if (!put?.kv) return false;
            found = { kv: put.kv, hdr: { ...h, revision: put.kv.modRevision } as ResponseHeader };
            return true;
          });
          kv = found!.kv;
          hdr = found!.hdr;
        } else {
          kv = resp.kvs[0]!;
          hdr = resp.header!;
        }
        send(hdr, kv);
        await this.c.watchUntil(ctx, kv.key, hdr.revision + 1n, false, (evs, h) => {
          for (const ev of evs) {
            if (ev.type === Event_EventType.DELETE) return true;
            if (ev.kv) send(h, ev.kv);
          }
          return false;
        });
      }
    } catch (e) {
      if (!call.finished) call.emit('error', togRPCError(e));
    }
  }
}
