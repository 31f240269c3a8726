/**
 * @module server/etcdserver/apply/applier
 * The applier interface (etcd 3.4 etcdserver/apply.go `applierV3`) and what
 * every applier in the chain shares.
 *
 * An applier turns one committed raft request into a response. The chain is
 * built by {@link UberApplier} (uber-applier.ts) as decorators around the
 * backend applier: Corrupt → Capped → Auth → Quota → Backend (etcd 3.5's
 * order, see uber-applier.ts). Each decorator overrides only the methods it
 * guards and forwards the rest (see {@link ApplierV3Decorator}).
 *
 * Error convention (Go's `(resp, err)` pairs): every method returns a
 * {@link Res} and never throws for a request-level failure (ErrKeyNotFound,
 * ErrLeaseNotFound, ErrCompacted, auth errors, ...). A response and an error
 * may come together: the quota applier applies a put and still answers
 * ErrNoSpace when the backend is over quota, as etcd does. Broken invariants
 * (a backend failure, an mvcc invariant, an unexpected error inside a txn
 * after its checks passed: etcd panics there) are thrown.
 */

import type { Attributes } from '../../../gen/membershippb/membership_pb.js';
import type {
  ClusterMemberAttrSetRequest,
  ClusterVersionSetRequest,
  DowngradeInfoSetRequest,
} from '../../../gen/membershippb/membership_pb.js';
import type { InternalAuthenticateRequest, InternalRaftRequest } from '../../../gen/etcdserverpb/raft_internal_pb.js';
import type {
  AlarmRequest,
  AlarmResponse,
  AuthDisableResponse,
  AuthEnableResponse,
  AuthRoleAddRequest,
  AuthRoleAddResponse,
  AuthRoleDeleteRequest,
  AuthRoleDeleteResponse,
  AuthRoleGetRequest,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionRequest,
  AuthRoleGrantPermissionResponse,
  AuthRoleListRequest,
  AuthRoleListResponse,
  AuthRoleRevokePermissionRequest,
  AuthRoleRevokePermissionResponse,
  AuthUserAddRequest,
  AuthUserAddResponse,
  AuthUserChangePasswordRequest,
  AuthUserChangePasswordResponse,
  AuthUserDeleteRequest,
  AuthUserDeleteResponse,
  AuthUserGetRequest,
  AuthUserGetResponse,
  AuthUserGrantRoleRequest,
  AuthUserGrantRoleResponse,
  AuthUserListRequest,
  AuthUserListResponse,
  AuthUserRevokeRoleRequest,
  AuthUserRevokeRoleResponse,
  AuthenticateResponse,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseCheckpointRequest,
  LeaseCheckpointResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../../../gen/etcdserverpb/rpc_pb.js';
import type { AuthStore } from '../../auth/store.js';
import type { Backend } from '../../backend/backend.js';
import type { Lessor } from '../../lease/lessor.js';
import type { TxnRead, TxnWrite } from '../../mvcc/kv.js';
import type { WatchableStore } from '../../mvcc/watchable-store.js';
import type { AlarmStore } from '../api/v3alarm/alarms.js';

/** The result of applying one request (etcd `applyResult`). */
export interface ApplyResult {
  /** The response message (may be set together with `err`, e.g. a put applied over quota). */
  resp?: unknown;
  /** The request-level error, if any (a sentinel error class). */
  err?: Error;
  /**
   * Compaction only: resolves when the compacted revisions are physically
   * removed from the backend. The server waits for it (then force-commits the
   * backend) when `CompactionRequest.physical` is set (etcd v3_server.go Compact).
   */
  physc?: Promise<void>;
  /**
   * Authenticate with a signing token provider (JWT): resolves when `resp`
   * holds the token, rejects with the signing error. The proposer is
   * answered after it.
   */
  respReady?: Promise<void>;
}

/** A response and/or an error, Go's `(resp, err)`. */
export interface Res<T> {
  resp?: T;
  err?: Error;
}

/** An Authenticate response whose token is signed after the apply (JWT): complete once `respReady` resolves. */
export interface AuthenticateRes extends Res<AuthenticateResponse> {
  respReady?: Promise<void>;
}

/** A compaction response with its physical-completion promise. */
export interface CompactionRes extends Res<CompactionResponse> {
  physc?: Promise<void>;
}

/** Structured logger the appliers write to (zap-like: a message and fields). */
export interface ApplierLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * What the appliers need from the membership store (implemented by the
 * server; etcd 3.5 `membership.RaftCluster` UpdateAttributes/SetVersion).
 * Both are applied on every member from the raft log. Throwing a sentinel
 * error (e.g. ErrIDRemoved) makes it the request's error.
 */
export interface MembershipApplier {
  /** Publishes member `id`'s name and client URLs (ClusterMemberAttrSetRequest). */
  setMemberAttributes(id: bigint, attrs: Attributes): void;
  /** Sets the cluster version, `major.minor.0` (ClusterVersionSetRequest). */
  setClusterVersion(ver: string): void;
}

/** Everything the appliers work on (etcd `ApplierOptions` / the EtcdServer fields apply.go reads). */
export interface ApplierDeps {
  /** The mvcc store (its lessor must be `lessor`). */
  readonly kv: WatchableStore;
  readonly lessor: Lessor;
  readonly authStore: AuthStore;
  /** The backend under `kv`; its `size()` is what the quota measures. */
  readonly backend: Backend;
  readonly alarmStore: AlarmStore;
  /**
   * `--quota-backend-bytes`: 0 = {@link DEFAULT_QUOTA_BYTES} (2 GiB), negative =
   * no quota, otherwise the limit in bytes (see quota.ts).
   */
  readonly quotaBytes: number;
  /** This member's ID (used in NOSPACE alarms this member raises). */
  readonly memberId: bigint;
  readonly membership: MembershipApplier;
  /**
   * Called when an applied request ended with ErrNoSpace while no NOSPACE alarm
   * is active (etcd applyEntryNormal): the server then proposes
   * `AlarmRequest{ACTIVATE, NOSPACE, memberID: memberId}` and only answers the
   * client after that. Not called for requests refused because the alarm is
   * already active.
   */
  readonly onNoSpace?: () => void;
  readonly logger?: ApplierLogger;
}

/**
 * Dispatches a request to the methods of the top of the chain (the
 * {@link UberApplier}'s switch). `index` is the raft index of the entry.
 */
export type Dispatch = (r: InternalRaftRequest, index: bigint) => ApplyResult;

/**
 * One applier of the chain (etcd `applierV3`). The `txn` parameter of put,
 * range and deleteRange is the mvcc transaction of an enclosing Txn, or
 * undefined for a request on its own (the applier then opens its own).
 */
export interface ApplierV3 {
  /**
   * Applies `r` by calling `dispatch` (the backend applier) after whatever this
   * applier checks for the whole request (the auth applier: the admin check and
   * the request's user). etcd 3.5 `Apply(r, applyFunc)`.
   */
  apply(r: InternalRaftRequest, index: bigint, dispatch: Dispatch): ApplyResult;

  put(txn: TxnWrite | undefined, p: PutRequest): Res<PutResponse>;
  range(txn: TxnRead | undefined, r: RangeRequest): Res<RangeResponse>;
  deleteRange(txn: TxnWrite | undefined, dr: DeleteRangeRequest): Res<DeleteRangeResponse>;
  txn(rt: TxnRequest): Res<TxnResponse>;
  compaction(c: CompactionRequest): CompactionRes;

  leaseGrant(lc: LeaseGrantRequest): Res<LeaseGrantResponse>;
  leaseRevoke(lc: LeaseRevokeRequest): Res<LeaseRevokeResponse>;
  leaseCheckpoint(lc: LeaseCheckpointRequest): Res<LeaseCheckpointResponse>;

  alarm(ar: AlarmRequest): Res<AlarmResponse>;

  /** Applies an Authenticate entry at raft index `index` (the token's suffix). */
  authenticate(r: InternalAuthenticateRequest, index: bigint): AuthenticateRes;
  authEnable(): Res<AuthEnableResponse>;
  authDisable(): Res<AuthDisableResponse>;
  userAdd(r: AuthUserAddRequest): Res<AuthUserAddResponse>;
  userDelete(r: AuthUserDeleteRequest): Res<AuthUserDeleteResponse>;
  userChangePassword(r: AuthUserChangePasswordRequest): Res<AuthUserChangePasswordResponse>;
  userGrantRole(r: AuthUserGrantRoleRequest): Res<AuthUserGrantRoleResponse>;
  userGet(r: AuthUserGetRequest): Res<AuthUserGetResponse>;
  userRevokeRole(r: AuthUserRevokeRoleRequest): Res<AuthUserRevokeRoleResponse>;
  roleAdd(r: AuthRoleAddRequest): Res<AuthRoleAddResponse>;
  roleGrantPermission(r: AuthRoleGrantPermissionRequest): Res<AuthRoleGrantPermissionResponse>;
  roleGet(r: AuthRoleGetRequest): Res<AuthRoleGetResponse>;
  roleRevokePermission(r: AuthRoleRevokePermissionRequest): Res<AuthRoleRevokePermissionResponse>;
  roleDelete(r: AuthRoleDeleteRequest): Res<AuthRoleDeleteResponse>;
  userList(r: AuthUserListRequest): Res<AuthUserListResponse>;
  roleList(r: AuthRoleListRequest): Res<AuthRoleListResponse>;

  /** etcd 3.5 ClusterMemberAttrSet; no response message. */
  clusterMemberAttrSet(r: ClusterMemberAttrSetRequest): Res<undefined>;
  /** etcd 3.5 ClusterVersionSet; no response message. */
  clusterVersionSet(r: ClusterVersionSetRequest): Res<undefined>;
  /** etcd 3.5 DowngradeInfoSet: accepted and ignored (downgrades are not supported). */
  downgradeInfoSet(r: DowngradeInfoSetRequest): Res<undefined>;
}

/**
 * Base of the decorators (Go's embedded `applierV3`): forwards every method to
 * `next`. Subclasses override what they guard.
 */
export class ApplierV3Decorator implements ApplierV3 {
  constructor(protected readonly next: ApplierV3) {}

  apply(r: InternalRaftRequest, index: bigint, dispatch: Dispatch): ApplyResult {
    return this.next.apply(r, index, dispatch);
  }
  put(txn: TxnWrite | undefined, p: PutRequest): Res<PutResponse> {
    return this.next.put(txn, p);
  }
  range(txn: TxnRead | undefined, r: RangeRequest): Res<RangeResponse> {
    return this.next.range(txn, r);
  }
  deleteRange(txn: TxnWrite | undefined, dr: DeleteRangeRequest): Res<DeleteRangeResponse> {
    return this.next.deleteRange(txn, dr);
  }
  txn(rt: TxnRequest): Res<TxnResponse> {
    return this.next.txn(rt);
  }
  compaction(c: CompactionRequest): CompactionRes {
    return this.next.compaction(c);
  }
  leaseGrant(lc: LeaseGrantRequest): Res<LeaseGrantResponse> {
    return this.next.leaseGrant(lc);
  }
  leaseRevoke(lc: LeaseRevokeRequest): Res<LeaseRevokeResponse> {
    return this.next.leaseRevoke(lc);
  }
  leaseCheckpoint(lc: LeaseCheckpointRequest): Res<LeaseCheckpointResponse> {
    return this.next.leaseCheckpoint(lc);
  }
  alarm(ar: AlarmRequest): Res<AlarmResponse> {
    return this.next.alarm(ar);
  }
  authenticate(r: InternalAuthenticateRequest, index: bigint): AuthenticateRes {
    return this.next.authenticate(r, index);
  }
  authEnable(): Res<AuthEnableResponse> {
    return this.next.authEnable();
  }
  authDisable(): Res<AuthDisableResponse> {
    return this.next.authDisable();
  }
  userAdd(r: AuthUserAddRequest): Res<AuthUserAddResponse> {
    return this.next.userAdd(r);
  }
  userDelete(r: AuthUserDeleteRequest): Res<AuthUserDeleteResponse> {
    return this.next.userDelete(r);
  }
  userChangePassword(r: AuthUserChangePasswordRequest): Res<AuthUserChangePasswordResponse> {
    return this.next.userChangePassword(r);
  }
  userGrantRole(r: AuthUserGrantRoleRequest): Res<AuthUserGrantRoleResponse> {
    return this.next.userGrantRole(r);
  }
  userGet(r: AuthUserGetRequest): Res<AuthUserGetResponse> {
    return this.next.userGet(r);
  }
  userRevokeRole(r: AuthUserRevokeRoleRequest): Res<AuthUserRevokeRoleResponse> {
    return this.next.userRevokeRole(r);
  }
  roleAdd(r: AuthRoleAddRequest): Res<AuthRoleAddResponse> {
    return this.next.roleAdd(r);
  }
  roleGrantPermission(r: AuthRoleGrantPermissionRequest): Res<AuthRoleGrantPermissionResponse> {
    return this.next.roleGrantPermission(r);
  }
  roleGet(r: AuthRoleGetRequest): Res<AuthRoleGetResponse> {
    return this.next.roleGet(r);
  }
  roleRevokePermission(r: AuthRoleRevokePermissionRequest): Res<AuthRoleRevokePermissionResponse> {
    return this.next.roleRevokePermission(r);
  }
  roleDelete(r: AuthRoleDeleteRequest): Res<AuthRoleDeleteResponse> {
    return this.next.roleDelete(r);
  }
  userList(r: AuthUserListRequest): Res<AuthUserListResponse> {
    return this.next.userList(r);
  }
  roleList(r: AuthRoleListRequest): Res<AuthRoleListResponse> {
    return this.next.roleList(r);
  }
  clusterMemberAttrSet(r: ClusterMemberAttrSetRequest): Res<undefined> {
    return this.next.clusterMemberAttrSet(r);
  }
  clusterVersionSet(r: ClusterVersionSetRequest): Res<undefined> {
    return this.next.clusterVersionSet(r);
  }
  downgradeInfoSet(r: DowngradeInfoSetRequest): Res<undefined> {
    return this.next.downgradeInfoSet(r);
  }
}

/**
 * The range end as mvcc wants it (etcd `mkGteRange`): the wire's empty
 * `range_end` means one key (undefined), `"\0"` means every key >= key (empty
 * end), anything else is the exclusive end.
 */
export function mkGteRange(rangeEnd: Uint8Array): Uint8Array | undefined {
  if (rangeEnd.length === 0) return undefined;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return new Uint8Array(0);
  return rangeEnd;
}
