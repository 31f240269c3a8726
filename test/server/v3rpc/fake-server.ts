// A fake EtcdServerApi for v3rpc tests: KV on a real in-memory WatchableStore
// (so watch works end to end), fixed answers elsewhere, and error injection:
// a put, range or lease grant naming a sentinel error class as its key
// ("err/ErrNoSpace") or lease ID 0xE... rejects with that error.

import { create } from '@bufbuild/protobuf';
import * as rpc from '../../../src/gen/etcdserverpb/rpc_pb.js';
import { KeyValueSchema } from '../../../src/gen/mvccpb/kv_pb.js';
import * as authErrors from '../../../src/server/auth/errors.js';
import { MemoryBackend } from '../../../src/server/backend/memory-backend.js';
import type { BackendSnapshot, CallContext, EtcdServerApi, HeaderInfo, RequestLimits } from '../../../src/server/etcdserver/api.js';
import * as serverErrors from '../../../src/server/etcdserver/errors.js';
import * as leaseErrors from '../../../src/server/lease/errors.js';
import * as mvccErrors from '../../../src/server/mvcc/errors.js';
import { WatchableStore } from '../../../src/server/mvcc/watchable-store.js';

const ERROR_MODULES = [serverErrors, mvccErrors, leaseErrors, authErrors] as Record<string, unknown>[];

/** A new instance of the sentinel error class called `name`. */
export function sentinelByName(name: string): Error {
  for (const m of ERROR_MODULES) {
    const C = m[name];
    if (typeof C === 'function') return new (C as new () => Error)();
  }
  throw new Error(`no sentinel ${name}`);
}

const dec = new TextDecoder();
function maybeThrow(key: Uint8Array): void {
  const k = dec.decode(key);
  if (k.startsWith('err/')) throw sentinelByName(k.slice(4));
}

export interface FakeOptions {
  limits?: Partial<RequestLimits>;
  snapshotBytes?: Uint8Array;
  progressMs?: number;
}

export class FakeServer implements EtcdServerApi {
  readonly store = new WatchableStore(new MemoryBackend(), { syncIntervalMs: 20, victimRetryMs: 5 });
  leaderId = 0x10n;
  memberId = 0x10n;
  healthy = true;
  lastHealthExcluded: ReadonlySet<string> | undefined;
  lastToken: string | undefined;
  deniedWatchPrefix = 'secret';
  readonly calls: string[] = [];

  constructor(private readonly opts: FakeOptions = {}) {}

  header(): HeaderInfo {
    return { clusterId: 0xc1n, memberId: this.memberId, raftTerm: 7n, revision: BigInt(this.store.rev()) };
  }
  limits(): RequestLimits {
    return { maxRequestBytes: 1.5 * 1024 * 1024, maxTxnOps: 128, ...this.opts.limits };
  }
  /** Whether the fake member is a raft learner. */
  learner = false;
  isLearner(): boolean {
    return this.learner;
  }
  leader(): bigint {
    return this.leaderId;
  }

  async range(ctx: CallContext, r: rpc.RangeRequest): Promise<rpc.RangeResponse> {
    this.lastToken = ctx.token;
    maybeThrow(r.key);
    const end = r.rangeEnd.length === 0 ? undefined : r.rangeEnd.length === 1 && r.rangeEnd[0] === 0 ? new Uint8Array(0) : r.rangeEnd;
    const res = this.store.range(r.key, end, { rev: Number(r.revision), limit: Number(r.limit) });
    return create(rpc.RangeResponseSchema, {
      header: { revision: BigInt(res.rev) },
      kvs: res.kvs.map((kv) => create(KeyValueSchema, kv)),
      count: BigInt(res.count),
      more: res.count > res.kvs.length,
    });
  }
  async put(_ctx: CallContext, r: rpc.PutRequest): Promise<rpc.PutResponse> {
    maybeThrow(r.key);
    const rev = this.store.put(r.key, r.value);
    return create(rpc.PutResponseSchema, { header: { revision: BigInt(rev) } });
  }
  async deleteRange(_ctx: CallContext, r: rpc.DeleteRangeRequest): Promise<rpc.DeleteRangeResponse> {
    maybeThrow(r.key);
    const res = this.store.deleteRange(r.key, r.rangeEnd.length ? r.rangeEnd : undefined);
    return create(rpc.DeleteRangeResponseSchema, { header: { revision: BigInt(res.rev) }, deleted: BigInt(res.deleted) });
  }
  async txn(): Promise<rpc.TxnResponse> {
    this.calls.push('txn');
    return create(rpc.TxnResponseSchema, { succeeded: true, header: { revision: BigInt(this.store.rev()) } });
  }
  async compact(_ctx: CallContext, r: rpc.CompactionRequest): Promise<rpc.CompactionResponse> {
    await this.store.compact(Number(r.revision));
    return create(rpc.CompactionResponseSchema, {});
  }

  async leaseGrant(_ctx: CallContext, r: rpc.LeaseGrantRequest): Promise<rpc.LeaseGrantResponse> {
    if (r.TTL > 9_000_000_000n) throw new leaseErrors.ErrLeaseTTLTooLarge();
    return create(rpc.LeaseGrantResponseSchema, { ID: r.ID || 0x1234n, TTL: r.TTL });
  }
  async leaseRevoke(_ctx: CallContext, r: rpc.LeaseRevokeRequest): Promise<rpc.LeaseRevokeResponse> {
    if (r.ID !== 0x1234n) throw new leaseErrors.ErrLeaseNotFound();
    return create(rpc.LeaseRevokeResponseSchema, {});
  }
  async leaseRenew(_ctx: CallContext, id: bigint): Promise<bigint> {
    if (id === 0xdeadn) throw new serverErrors.ErrNoLeader();
    if (id !== 0x1234n) throw new leaseErrors.ErrLeaseNotFound();
    return 60n;
  }
  async leaseTimeToLive(_ctx: CallContext, r: rpc.LeaseTimeToLiveRequest): Promise<rpc.LeaseTimeToLiveResponse> {
    if (r.ID !== 0x1234n) throw new leaseErrors.ErrLeaseNotFound();
    return create(rpc.LeaseTimeToLiveResponseSchema, { ID: r.ID, TTL: 50n, grantedTTL: 60n });
  }
  async leaseLeases(): Promise<rpc.LeaseLeasesResponse> {
    return create(rpc.LeaseLeasesResponseSchema, { leases: [{ ID: 0x1234n }] });
  }

  watchable(): WatchableStore {
    return this.store;
  }
  async checkWatchPermission(_ctx: CallContext, key: Uint8Array): Promise<void> {
    if (dec.decode(key).startsWith(this.deniedWatchPrefix)) throw new authErrors.ErrPermissionDenied();
  }
  watchProgressNotifyIntervalMs(): number {
    return this.opts.progressMs ?? 600_000;
  }

  async alarm(): Promise<rpc.AlarmResponse> {
    throw new authErrors.ErrPermissionDenied();
  }
  async status(): Promise<rpc.StatusResponse> {
    return create(rpc.StatusResponseSchema, { version: '3.4.23', leader: this.leaderId, dbSize: 4096n, raftIndex: 5n, raftTerm: 7n });
  }
  async hash(): Promise<rpc.HashResponse> {
    throw new authErrors.ErrPermissionDenied();
  }
  async hashKV(_ctx: CallContext, rev: bigint): Promise<rpc.HashKVResponse> {
    if (rev > 1000n) throw new mvccErrors.ErrFutureRev();
    return create(rpc.HashKVResponseSchema, { hash: 42, header: { revision: 3n } });
  }
  async defragment(): Promise<rpc.DefragmentResponse> {
    return create(rpc.DefragmentResponseSchema, {});
  }
  async snapshot(): Promise<BackendSnapshot> {
    const data = this.opts.snapshotBytes ?? new Uint8Array(0);
    let closed = false;
    return {
      size: data.length,
      chunks: (async function* () {
        // uneven chunks to exercise re-chunking
        for (let i = 0; i < data.length; i += 10_000) yield data.subarray(i, Math.min(data.length, i + 10_000));
      })(),
      close: () => { closed = true; void closed; },
    };
  }
  async moveLeader(): Promise<rpc.MoveLeaderResponse> {
    return create(rpc.MoveLeaderResponseSchema, {});
  }

  async memberList(): Promise<rpc.MemberListResponse> {
    return create(rpc.MemberListResponseSchema, { members: [{ ID: 0x10n, name: 'default', peerURLs: ['http://127.0.0.1:1'], clientURLs: [] }] });
  }
  async memberAdd(): Promise<rpc.MemberAddResponse> {
    throw new serverErrors.ErrPeerURLExists();
  }
  async memberRemove(): Promise<rpc.MemberRemoveResponse> {
    throw new serverErrors.ErrIDNotFound();
  }
  async memberUpdate(): Promise<rpc.MemberUpdateResponse> {
    throw new serverErrors.ErrIDNotFound();
  }
  async memberPromote(): Promise<rpc.MemberPromoteResponse> {
    throw new serverErrors.ErrMemberNotLearner();
  }

  async authEnable(): Promise<rpc.AuthEnableResponse> {
    throw new authErrors.ErrRootUserNotExist();
  }
  async authDisable(): Promise<rpc.AuthDisableResponse> {
    return create(rpc.AuthDisableResponseSchema, {});
  }
  async authenticate(): Promise<rpc.AuthenticateResponse> {
    throw new authErrors.ErrAuthNotEnabled();
  }
  async userAdd(): Promise<rpc.AuthUserAddResponse> {
    throw new authErrors.ErrUserAlreadyExist();
  }
  async userDelete(): Promise<rpc.AuthUserDeleteResponse> {
    throw new authErrors.ErrUserNotFound();
  }
  async userChangePassword(): Promise<rpc.AuthUserChangePasswordResponse> {
    throw new authErrors.ErrUserNotFound();
  }
  async userGrantRole(): Promise<rpc.AuthUserGrantRoleResponse> {
    throw new authErrors.ErrRoleNotFound();
  }
  async userGet(): Promise<rpc.AuthUserGetResponse> {
    throw new authErrors.ErrUserNotFound();
  }
  async userList(): Promise<rpc.AuthUserListResponse> {
    return create(rpc.AuthUserListResponseSchema, { users: ['root'] });
  }
  async userRevokeRole(): Promise<rpc.AuthUserRevokeRoleResponse> {
    throw new authErrors.ErrRoleNotGranted();
  }
  async roleAdd(): Promise<rpc.AuthRoleAddResponse> {
    throw new authErrors.ErrRoleAlreadyExist();
  }
  async roleGrantPermission(): Promise<rpc.AuthRoleGrantPermissionResponse> {
    throw new authErrors.ErrRoleNotFound();
  }
  async roleGet(): Promise<rpc.AuthRoleGetResponse> {
    throw new authErrors.ErrRoleNotFound();
  }
  async roleList(): Promise<rpc.AuthRoleListResponse> {
    return create(rpc.AuthRoleListResponseSchema, { roles: [] });
  }
  async roleRevokePermission(): Promise<rpc.AuthRoleRevokePermissionResponse> {
    throw new authErrors.ErrPermissionNotGranted();
  }
  async roleDelete(): Promise<rpc.AuthRoleDeleteResponse> {
    throw new authErrors.ErrInvalidAuthMgmt();
  }
  async authInfoFromContext(): Promise<undefined> {
    return undefined;
  }
  async health(excluded?: ReadonlySet<string>): Promise<{ health: boolean; reason: string }> {
    this.lastHealthExcluded = excluded;
    return { health: this.healthy, reason: this.healthy ? '' : 'fake' };
  }
}
