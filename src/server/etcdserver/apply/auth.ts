/**
 * @module server/etcdserver/apply/auth
 * Permission checks at apply time (etcd 3.4 etcdserver/apply_auth.go
 * `authApplierV3`), plus the same checks for the read path, which serves
 * ranges and read-only txns locally without a proposal.
 *
 * The user of a request is the one the proposing member put into the raft
 * request's header (`username`, `auth_revision`, from the token). Checking at
 * apply time, on every member, means a permission revoked after the proposal
 * but before the apply is honoured. A request whose `auth_revision` is older
 * than the auth store's revision fails with ErrAuthOldRevision (the client
 * re-authenticates and retries). With auth disabled every check passes.
 *
 * Checks (each fails with the AuthStore's error: ErrUserEmpty,
 * ErrAuthOldRevision, ErrPermissionDenied, ErrUserNotFound):
 * - user/role/auth management (see {@link needAdminPermission}): root role;
 *   UserGet of oneself and RoleGet of one's own role are allowed without it;
 * - Put: write on the key; prev_kv: read on the key; a lease given: write on
 *   every key already attached to the lease (etcd `checkLeasePuts`: whoever
 *   may attach to a lease may revoke it, which deletes those keys);
 * - Range: read on [key, range_end); DeleteRange: write, and read with prev_kv;
 * - Txn: read on every compare's key/range and every check above for each
 *   request in both branches, recursively into nested txns
 *   ({@link checkTxnAuth});
 * - LeaseRevoke: write on every attached key.
 *
 * Deliberate differences from etcd 3.4.23 (each closes a leak 3.4.23 has and a
 * later etcd release fixed: GHSA-rfx7-8w68-q57q, GHSA-x35m-3gp4-4fh5): nested
 * txns are checked (3.4's checkTxnReqsPermission skips them), and a put inside a
 * txn needs what a plain put needs: read permission with prev_kv, and write
 * permission on the keys already attached to the lease it names (3.4 checks
 * only the put's own key there).
 */

import { create } from '@bufbuild/protobuf';
import type { InternalRaftRequest } from '../../../gen/etcdserverpb/raft_internal_pb.js';
import {
  AuthRoleGetResponseSchema,
  AuthUserGetResponseSchema,
  type AuthRoleGetRequest,
  type AuthRoleGetResponse,
  type AuthUserGetRequest,
  type AuthUserGetResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type TxnRequest,
  type TxnResponse,
} from '../../../gen/etcdserverpb/rpc_pb.js';
import type { AuthStore } from '../../auth/store.js';
import type { AuthInfo } from '../../auth/token-simple.js';
import type { Lessor } from '../../lease/lessor.js';
import type { TxnRead, TxnWrite } from '../../mvcc/kv.js';
import { ApplierV3Decorator, type ApplierV3, type ApplyResult, type Dispatch, type Res } from './applier.js';
import { isRequestError } from './backend.js';

export { isTxnReadonly, isTxnSerializable } from './backend.js';

const NO_USER: AuthInfo = { username: '', revision: 0n };

/**
 * True for requests that need the root role when auth is enabled (etcd
 * `needAdminPermission`): auth enable/disable and user/role management,
 * except UserGet and RoleGet (checked by the applier itself).
 */
export function needAdminPermission(r: InternalRaftRequest): boolean {
  return (
    r.authEnable !== undefined ||
    r.authDisable !== undefined ||
    r.authUserAdd !== undefined ||
    r.authUserDelete !== undefined ||
    r.authUserChangePassword !== undefined ||
    r.authUserGrantRole !== undefined ||
    r.authUserRevokeRole !== undefined ||
    r.authRoleAdd !== undefined ||
    r.authRoleGrantPermission !== undefined ||
    r.authRoleRevokePermission !== undefined ||
    r.authRoleDelete !== undefined ||
    r.authUserList !== undefined ||
    r.authRoleList !== undefined
  );
}

/**
 * Read permission for a range request (`range_end` with its wire meaning).
 * Throws ErrUserEmpty / ErrAuthOldRevision / ErrPermissionDenied; passes when
 * auth is disabled.
 */
export function checkRangePermitted(as: AuthStore, info: AuthInfo | undefined, r: RangeRequest): void {
  as.isRangePermitted(info, r.key, r.rangeEnd);
}

/**
 * The keys attached to a lease, for the lease check of puts (undefined: no such
 * lease). Read-only callers, whose txns hold no puts, pass none.
 */
export type LeaseKeys = (id: bigint) => readonly Uint8Array[] | undefined;

/** Write permission on every key attached to lease `id` (etcd `checkLeasePuts`; none for an unknown lease or lease 0). */
function checkLeasePuts(as: AuthStore, info: AuthInfo | undefined, leaseKeys: LeaseKeys | undefined, id: bigint): void {
  // (before listing the keys: a put with a lease is common and auth mostly off)
  if (id === 0n || !leaseKeys || !as.isAuthEnabled()) return;
  for (const k of leaseKeys(id) ?? []) as.isPutPermitted(info, k);
}

/** Permission for the non-txn requests of one txn branch, recursing into nested txns. */
function checkTxnReqsPermission(as: AuthStore, info: AuthInfo | undefined, reqs: readonly RequestOp[], leaseKeys: LeaseKeys | undefined): void {
  for (const op of reqs) {
    const req = op.request;
    switch (req.case) {
      case 'requestRange':
        as.isRangePermitted(info, req.value.key, req.value.rangeEnd);
        break;
      case 'requestPut':
        as.isPutPermitted(info, req.value.key);
        checkLeasePuts(as, info, leaseKeys, req.value.lease);
        if (req.value.prevKv) as.isRangePermitted(info, req.value.key, undefined);
        break;
      case 'requestDeleteRange':
        if (req.value.prevKv) as.isRangePermitted(info, req.value.key, req.value.rangeEnd);
        as.isDeleteRangePermitted(info, req.value.key, req.value.rangeEnd);
        break;
      case 'requestTxn':
        checkTxnAuth(as, info, req.value, leaseKeys);
        break;
    }
  }
}

/**
 * Permission for a whole txn (etcd `checkTxnAuth`, recursive): read on every
 * compare's key/range, then every request of both branches (both, since which
 * one runs is known only when applying), including the lease check of each put
 * that names a lease (`leaseKeys`). Throws the auth error of the first denial;
 * passes when auth is disabled.
 */
export function checkTxnAuth(as: AuthStore, info: AuthInfo | undefined, rt: TxnRequest, leaseKeys?: LeaseKeys): void {
  for (const c of rt.compare) as.isRangePermitted(info, c.key, c.rangeEnd);
  checkTxnReqsPermission(as, info, rt.success, leaseKeys);
  checkTxnReqsPermission(as, info, rt.failure, leaseKeys);
}

/** Runs a check, turning a request-level error into `{err}`. */
function check(f: () => void): Error | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (isRequestError(e)) return e;
    throw e;
  }
}

/** The auth applier (etcd `authApplierV3`); see the module comment. */
export class AuthApplierV3 extends ApplierV3Decorator {
  /** The user of the request being applied (set by {@link apply}). */
  private authInfo: AuthInfo = NO_USER;

  constructor(
    private readonly as: AuthStore,
    private readonly lessor: Lessor,
    next: ApplierV3,
  ) {
    super(next);
  }

  /** Takes the user from `r.header`, checks admin requests, then applies (etcd `Apply`). */
  override apply(r: InternalRaftRequest, index: bigint, dispatch: Dispatch): ApplyResult {
    this.authInfo = r.header ? { username: r.header.username, revision: r.header.authRevision } : NO_USER;
    try {
      if (needAdminPermission(r)) {
        const err = check(() => this.as.isAdminPermitted(this.authInfo));
        if (err) return { err };
      }
      return this.next.apply(r, index, dispatch);
    } finally {
      this.authInfo = NO_USER;
    }
  }

  override put(txn: TxnWrite | undefined, p: PutRequest): Res<PutResponse> {
    const err = check(() => {
      this.as.isPutPermitted(this.authInfo, p.key);
      this.checkLeasePuts(p.lease);
      if (p.prevKv) this.as.isRangePermitted(this.authInfo, p.key, undefined);
    });
    return err ? { err } : this.next.put(txn, p);
  }

  override range(txn: TxnRead | undefined, r: RangeRequest): Res<RangeResponse> {
    const err = check(() => checkRangePermitted(this.as, this.authInfo, r));
    return err ? { err } : this.next.range(txn, r);
  }

  override deleteRange(txn: TxnWrite | undefined, r: DeleteRangeRequest): Res<DeleteRangeResponse> {
    const err = check(() => {
      this.as.isDeleteRangePermitted(this.authInfo, r.key, r.rangeEnd);
      if (r.prevKv) this.as.isRangePermitted(this.authInfo, r.key, r.rangeEnd);
    });
    return err ? { err } : this.next.deleteRange(txn, r);
  }

  override txn(rt: TxnRequest): Res<TxnResponse> {
    const err = check(() => checkTxnAuth(this.as, this.authInfo, rt, (id) => this.lessor.lookup(id)?.keys()));
    return err ? { err } : this.next.txn(rt);
  }

  override leaseRevoke(lc: LeaseRevokeRequest): Res<LeaseRevokeResponse> {
    const err = check(() => this.checkLeasePuts(lc.ID));
    return err ? { err } : this.next.leaseRevoke(lc);
  }

  /** Write permission on every key attached to lease `id` (none for an unknown lease). */
  private checkLeasePuts(id: bigint): void {
    checkLeasePuts(this.as, this.authInfo, (lid) => this.lessor.lookup(lid)?.keys(), id);
  }

  /** Root, or the user asking about themself. */
  override userGet(r: AuthUserGetRequest): Res<AuthUserGetResponse> {
    const err = check(() => this.as.isAdminPermitted(this.authInfo));
    if (err && r.name !== this.authInfo.username) return { resp: create(AuthUserGetResponseSchema), err };
    return this.next.userGet(r);
  }

  /** Root, or a user holding the role. */
  override roleGet(r: AuthRoleGetRequest): Res<AuthRoleGetResponse> {
    const err = check(() => this.as.isAdminPermitted(this.authInfo));
    if (err && !this.as.hasRole(this.authInfo.username, r.role)) return { resp: create(AuthRoleGetResponseSchema), err };
    return this.next.roleGet(r);
  }
}
