/**
 * The contract between the gRPC layer (`api/v3rpc/`) and the etcd server
 * (`server.ts`): what v3rpc may ask of the server, in etcd's terms.
 *
 * Mirrors the interfaces etcd's v3rpc depends on (etcdserver/v3_server.go:
 * RaftKV, Lessor, Authenticator; etcdserver/server.go: RaftStatusGetter,
 * ClusterInfo via api.Cluster). Requests and responses are the generated
 * protobuf messages of `src/gen/etcdserverpb/rpc_pb.ts`.
 *
 * Errors: every method rejects with one of the sentinel error classes of
 * `./errors.ts` (etcdserver: ...), `../mvcc/errors.ts`, `../lease/errors.ts` or
 * `../auth/errors.ts`; v3rpc maps them to gRPC codes and messages by class name
 * (etcd's togRPCError table, api/v3rpc/util.go). Anything else is a bug and
 * becomes codes.Unknown with the error's message.
 *
 * Response headers: methods fill `header.revision` where etcd's applier does
 * (writes, txn, range); v3rpc fills cluster_id, member_id and raft_term (and
 * revision when 0) from `header()` as etcd's header.fill does.
 */
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
  AuthUserListResponse,
  AuthUserRevokeRoleRequest,
  AuthUserRevokeRoleResponse,
  AuthenticateRequest,
  AuthenticateResponse,
  CompactionRequest,
  CompactionResponse,
  DefragmentResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKVResponse,
  HashResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  MemberAddRequest,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
  MemberRemoveRequest,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
  MoveLeaderRequest,
  MoveLeaderResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import type { AuthInfo } from '../auth/token-simple.js';
import type { WatchableStore } from '../mvcc/watchable-store.js';

/**
 * The part of AbortSignal a call's cancellation needs (an AbortSignal is one).
 * v3rpc passes its transport's lightweight per-call signal
 * (api/v3rpc/transport/cancel.ts) so that no AbortController is made per
 * request. The reason's `name` is 'AbortError' for a client cancel and
 * 'TimeoutError' for a passed deadline.
 */
export interface CallSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * Per-call context handed from v3rpc to the server: the auth token from the
 * `token` (or `authorization`) metadata key, and a signal that fires when
 * the client cancels or its deadline passes (etcd's ctx).
 */
export interface CallContext {
  readonly token?: string;
  /**
   * The common name of the connection's verified client certificate, if any
   * (undefined: no TLS, no verified certificate, or a gateway request). Used
   * as the user name when no token is sent and --client-cert-auth is on.
   */
  readonly tlsCommonName?: () => string | undefined;
  readonly signal?: CallSignal;
}

/** Header values v3rpc copies into every response header (etcd header.fill). */
export interface HeaderInfo {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  /** Current raft term. */
  readonly raftTerm: bigint;
  /** Current store revision (used when a response's header revision is 0). */
  readonly revision: bigint;
}

/** A backend snapshot being streamed (Maintenance.Snapshot). */
export interface BackendSnapshot {
  /** Total bytes of the backend file that `chunks` yields (without the sha256 trailer). */
  readonly size: number;
  /** The file's bytes in order; the caller appends the sha256 of all of them. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Releases the read transaction / file handle held for the snapshot. */
  close(): void;
}

/** Limits v3rpc enforces before calling the server (etcd embed.Config). */
export interface RequestLimits {
  /** --max-request-bytes: bytes; requests larger are rejected with ErrGRPCRequestTooLarge. */
  readonly maxRequestBytes: number;
  /** --max-txn-ops: operations per txn branch. */
  readonly maxTxnOps: number;
}

/** What v3rpc may ask of the etcd server. */
export interface EtcdServerApi {
  header(): HeaderInfo;
  limits(): RequestLimits;
  /**
   * The member ID of the current raft leader, 0n when there is none (etcd
   * RaftStatusGetter.Leader). v3rpc rejects calls carrying the `hasleader`
   * metadata with ErrGRPCNoLeader when it is 0n (interceptor.go), and
   * MoveLeader with ErrGRPCNotLeader when it is not this member.
   */
  leader(): bigint;
  /**
   * True while this member is a raft learner of the cluster (etcd
   * IsMemberExist(ID) && IsLearner). v3rpc then refuses every stream and every
   * unary call but Status and serializable Range with
   * ErrGPRCNotSupportedForLearner (interceptor.go, util.go isRPCSupportedForLearner).
   */
  isLearner(): boolean;

  // RaftKV (v3_server.go)
  range(ctx: CallContext, r: RangeRequest): Promise<RangeResponse>;
  put(ctx: CallContext, r: PutRequest): Promise<PutResponse>;
  deleteRange(ctx: CallContext, r: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  txn(ctx: CallContext, r: TxnRequest): Promise<TxnResponse>;
  compact(ctx: CallContext, r: CompactionRequest): Promise<CompactionResponse>;

  // Lessor
  leaseGrant(ctx: CallContext, r: LeaseGrantRequest): Promise<LeaseGrantResponse>;
  leaseRevoke(ctx: CallContext, r: LeaseRevokeRequest): Promise<LeaseRevokeResponse>;
  /** Renews a lease; resolves with its TTL in seconds. Rejects ErrLeaseNotFound, ErrNotPrimary... */
  leaseRenew(ctx: CallContext, id: bigint): Promise<bigint>;
  leaseTimeToLive(ctx: CallContext, r: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(ctx: CallContext): Promise<LeaseLeasesResponse>;

  // Watch
  /** The watchable KV store that watch streams attach to. */
  watchable(): WatchableStore;
  /**
   * Checks that the caller may watch [key, rangeEnd) (wire range_end semantics);
   * rejects ErrPermissionDenied / ErrInvalidAuthToken / ErrUserEmpty as etcd's
   * watch server does (isWatchPermitted).
   */
  checkWatchPermission(ctx: CallContext, key: Uint8Array, rangeEnd: Uint8Array): Promise<void>;
  /** ms between watch progress notifications (etcd: 10 min). */
  watchProgressNotifyIntervalMs(): number;

  // Maintenance
  alarm(ctx: CallContext, r: AlarmRequest): Promise<AlarmResponse>;
  status(ctx: CallContext): Promise<StatusResponse>;
  hash(ctx: CallContext): Promise<HashResponse>;
  hashKV(ctx: CallContext, revision: bigint): Promise<HashKVResponse>;
  defragment(ctx: CallContext): Promise<DefragmentResponse>;
  snapshot(ctx: CallContext): Promise<BackendSnapshot>;
  moveLeader(ctx: CallContext, r: MoveLeaderRequest): Promise<MoveLeaderResponse>;

  // Cluster
  memberList(ctx: CallContext, linearizable: boolean): Promise<MemberListResponse>;
  memberAdd(ctx: CallContext, r: MemberAddRequest): Promise<MemberAddResponse>;
  memberRemove(ctx: CallContext, r: MemberRemoveRequest): Promise<MemberRemoveResponse>;
  memberUpdate(ctx: CallContext, r: MemberUpdateRequest): Promise<MemberUpdateResponse>;
  memberPromote(ctx: CallContext, r: MemberPromoteRequest): Promise<MemberPromoteResponse>;

  // Authenticator
  authEnable(ctx: CallContext): Promise<AuthEnableResponse>;
  authDisable(ctx: CallContext): Promise<AuthDisableResponse>;
  authenticate(ctx: CallContext, r: AuthenticateRequest): Promise<AuthenticateResponse>;
  userAdd(ctx: CallContext, r: AuthUserAddRequest): Promise<AuthUserAddResponse>;
  userDelete(ctx: CallContext, r: AuthUserDeleteRequest): Promise<AuthUserDeleteResponse>;
  userChangePassword(ctx: CallContext, r: AuthUserChangePasswordRequest): Promise<AuthUserChangePasswordResponse>;
  userGrantRole(ctx: CallContext, r: AuthUserGrantRoleRequest): Promise<AuthUserGrantRoleResponse>;
  userGet(ctx: CallContext, r: AuthUserGetRequest): Promise<AuthUserGetResponse>;
  userList(ctx: CallContext): Promise<AuthUserListResponse>;
  userRevokeRole(ctx: CallContext, r: AuthUserRevokeRoleRequest): Promise<AuthUserRevokeRoleResponse>;
  roleAdd(ctx: CallContext, r: AuthRoleAddRequest): Promise<AuthRoleAddResponse>;
  roleGrantPermission(ctx: CallContext, r: AuthRoleGrantPermissionRequest): Promise<AuthRoleGrantPermissionResponse>;
  roleGet(ctx: CallContext, r: AuthRoleGetRequest): Promise<AuthRoleGetResponse>;
  roleList(ctx: CallContext): Promise<AuthRoleListResponse>;
  roleRevokePermission(ctx: CallContext, r: AuthRoleRevokePermissionRequest): Promise<AuthRoleRevokePermissionResponse>;
  roleDelete(ctx: CallContext, r: AuthRoleDeleteRequest): Promise<AuthRoleDeleteResponse>;
  /**
   * The caller (etcd AuthInfoFromCtx): the token's user (rejects ErrInvalidAuthToken for an unknown token), else with
   * --client-cert-auth the verified client certificate's common name, else undefined.
   */
  authInfoFromContext(ctx: CallContext): Promise<AuthInfo | undefined>;

  /**
   * Health (HTTP /health, etcdhttp/metrics.go checkHealth): false when an alarm
   * is raised whose type name ('NOSPACE', 'CORRUPT') is not in `excludedAlarms`
   * (the `?exclude=` query), when there is no leader, or when a quorum read
   * fails within 1 s. `reason` is for logs only (etcd 3.4's body has just `health`).
   */
  health(excludedAlarms?: ReadonlySet<string>): Promise<{ health: boolean; reason: string }>;
}
