/**
 * @module server/etcdserver/apply/backend
 * The backend applier (etcd 3.4 etcdserver/apply.go `applierV3backend`): the
 * end of the chain, where requests change the mvcc store, the lessor, the
 * alarm store, the auth store and the membership.
 *
 * Response header revisions (only `revision` is set here; v3rpc fills
 * cluster_id, member_id and raft_term, etcd header.fill):
 * - Put: the revision of the write; DeleteRange: the txn's revision (unchanged
 *   when nothing was deleted); Range: the store revision of the read;
 * - Txn: the store revision when it ran, plus one if it changed anything;
 * - Compaction, leases, auth: the store revision after applying (etcd newHeader);
 * - Alarm: no header (v3rpc fills it).
 *
 * Txn (etcd `Txn`): the compares of the whole txn tree are evaluated first on
 * one read view, giving a "path" (which branch each txn takes, in preorder);
 * then the requests on that path are checked (put: ignore_value/ignore_lease
 * need the key, the lease must exist; range: its revision must be neither
 * future nor compacted) and a failed check fails the whole txn before anything
 * is written. A txn with only ranges runs on a read txn; any other on one write
 * txn, so all its writes share one revision.
 */

import { create } from '@bufbuild/protobuf';
import type { KeyValue } from '../../../gen/mvccpb/kv_pb.js';
import type {
  ClusterMemberAttrSetRequest,
  ClusterVersionSetRequest,
  DowngradeInfoSetRequest,
} from '../../../gen/membershippb/membership_pb.js';
import type { InternalAuthenticateRequest, InternalRaftRequest } from '../../../gen/etcdserverpb/raft_internal_pb.js';
import {
  AlarmRequest_AlarmAction,
  AlarmResponseSchema,
  AlarmType,
  AuthDisableResponseSchema,
  AuthEnableResponseSchema,
  AuthRoleAddResponseSchema,
  AuthRoleDeleteResponseSchema,
  AuthRoleGetResponseSchema,
  AuthRoleGrantPermissionResponseSchema,
  AuthRoleListResponseSchema,
  AuthRoleRevokePermissionResponseSchema,
  AuthUserAddResponseSchema,
  AuthUserChangePasswordResponseSchema,
  AuthUserDeleteResponseSchema,
  AuthUserGetResponseSchema,
  AuthUserGrantRoleResponseSchema,
  AuthUserListResponseSchema,
  AuthUserRevokeRoleResponseSchema,
  AuthenticateResponseSchema,
  CompactionResponseSchema,
  Compare_CompareResult,
  Compare_CompareTarget,
  DeleteRangeResponseSchema,
  LeaseCheckpointResponseSchema,
  LeaseGrantResponseSchema,
  LeaseRevokeResponseSchema,
  PutResponseSchema,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RangeResponseSchema,
  ResponseHeaderSchema,
  ResponseOpSchema,
  TxnResponseSchema,
  type AlarmRequest,
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
  type AuthRoleListRequest,
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
  type AuthUserListRequest,
  type AuthUserListResponse,
  type AuthUserRevokeRoleRequest,
  type AuthUserRevokeRoleResponse,
  type AuthenticateResponse,
  type CompactionRequest,
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type LeaseCheckpointRequest,
  type LeaseCheckpointResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from '../../../gen/etcdserverpb/rpc_pb.js';
import { AuthError } from '../../auth/errors.js';
import { BackendError, compareBytes } from '../../backend/backend.js';
import { ErrLeaseNotFound, LeaseError } from '../../lease/errors.js';
import { NO_LEASE } from '../../lease/lessor.js';
import { ErrCompacted, ErrFutureRev, MvccError } from '../../mvcc/errors.js';
import type { ReadView, TxnRead, TxnWrite } from '../../mvcc/kv.js';
import { ErrKeyNotFound, EtcdServerError } from '../errors.js';
import { mkGteRange, type ApplierDeps, type ApplierV3, type ApplyResult, type AuthenticateRes, type CompactionRes, type Dispatch, type Res } from './applier.js';

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

/** A header carrying only the revision (v3rpc fills the rest). */
function header(rev: number | bigint): ResponseHeader {
  return create(ResponseHeaderSchema, { revision: BigInt(rev) });
}

/** True for the sentinel errors a request may fail with (not invariants or backend failures). */
export function isRequestError(e: unknown): e is Error {
  return e instanceof MvccError || e instanceof LeaseError || e instanceof AuthError || e instanceof EtcdServerError;
}

/** Runs `f`, turning a request-level error into `{err}`; anything else propagates. */
function guard<T>(f: () => Res<T>, alsoCatch?: (e: unknown) => boolean): Res<T> {
  try {
    return f();
  } catch (e) {
    if (isRequestError(e) || (alsoCatch?.(e) ?? false)) return { err: e as Error };
    throw e;
  }
}

/** Auth store calls: everything but backend failures is the request's error (e.g. a missing hashed password). */
function authInput(e: unknown): boolean {
  return e instanceof Error && !(e instanceof BackendError);
}

/**
 * True if every request in both branches is a range (etcd v3_server.go
 * `isTxnReadonly`); a nested txn makes a txn a write txn.
 */
export function isTxnReadonly(r: TxnRequest): boolean {
  for (const u of r.success) if (u.request.case !== 'requestRange') return false;
  for (const u of r.failure) if (u.request.case !== 'requestRange') return false;
  return true;
}

/**
 * True if every request in both branches is a serializable range (etcd
 * v3_server.go `isTxnSerializable`): such a txn may be served locally without
 * a linearizable read.
 */
export function isTxnSerializable(r: TxnRequest): boolean {
  for (const u of [...r.success, ...r.failure]) {
    if (u.request.case !== 'requestRange' || !u.request.value.serializable) return false;
  }
  return true;
}

/** A position in a txn path (see {@link compareToPath}). */
interface Cursor {
  i: number;
}

/**
 * Evaluates the compares of `rt` and of the nested txns on the branch taken,
 * recursively, on `rv` (etcd `compareToPath`): preorder list of "succeeded".
 */
export function compareToPath(rv: ReadView, rt: TxnRequest): boolean[] {
  const path: boolean[] = [];
  const walk = (t: TxnRequest): void => {
    const ok = applyCompares(rv, t.compare);
    path.push(ok);
    for (const op of ok ? t.success : t.failure) {
      if (op.request.case === 'requestTxn') walk(op.request.value);
    }
  };
  walk(rt);
  return path;
}

/** True if all compares hold (etcd `applyCompares`). */
export function applyCompares(rv: ReadView, cmps: readonly Compare[]): boolean {
  for (const c of cmps) if (!applyCompare(rv, c)) return false;
  return true;
}

/**
 * One compare over its key or range (etcd `applyCompare`): every key in the
 * range must satisfy it. No key: a VALUE compare fails; the others compare
 * against a zero KeyValue (version/create/mod/lease 0).
 */
export function applyCompare(rv: ReadView, c: Compare): boolean {
  if (c.rangeEnd.length === 0 && (c.target === Compare_CompareTarget.MOD || c.target === Compare_CompareTarget.CREATE || c.target === Compare_CompareTarget.VERSION)) {
    // one key, a revision or version target: the key index has the numbers (no backend read)
    const ki = rv.keyRevisions(c.key);
    const u = c.targetUnion;
    let have: bigint;
    let want: bigint;
    if (c.target === Compare_CompareTarget.MOD) {
      have = ki ? BigInt(ki.modified.main) : 0n;
      want = u.case === 'modRevision' ? u.value : 0n;
    } else if (c.target === Compare_CompareTarget.CREATE) {
      have = ki ? BigInt(ki.created.main) : 0n;
      want = u.case === 'createRevision' ? u.value : 0n;
    } else {
      have = ki ? BigInt(ki.ver) : 0n;
      want = u.case === 'version' ? u.value : 0n;
    }
    return compareResult(c, cmpBig(have, want));
  }
  let kvs: KeyValue[];
  try {
    kvs = rv.range(c.key, mkGteRange(c.rangeEnd)).kvs;
  } catch (e) {
    if (e instanceof MvccError) return false;
    throw e;
  }
  if (kvs.length === 0) {
    if (c.target === Compare_CompareTarget.VALUE) return false;
    return compareKV(c, undefined);
  }
  for (const kv of kvs) if (!compareKV(c, kv)) return false;
  return true;
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The compare of one key-value (etcd `compareKV`); a target value of the wrong union case counts as 0/empty. */
function compareKV(c: Compare, kv: KeyValue | undefined): boolean {
  let result = 0;
  const u = c.targetUnion;
  switch (c.target) {
    case Compare_CompareTarget.VALUE:
      result = compareBytes(kv?.value ?? EMPTY, u.case === 'value' ? u.value : EMPTY);
      break;
    case Compare_CompareTarget.CREATE:
      result = cmpBig(kv?.createRevision ?? 0n, u.case === 'createRevision' ? u.value : 0n);
      break;
    case Compare_CompareTarget.MOD:
      result = cmpBig(kv?.modRevision ?? 0n, u.case === 'modRevision' ? u.value : 0n);
      break;
    case Compare_CompareTarget.VERSION:
      result = cmpBig(kv?.version ?? 0n, u.case === 'version' ? u.value : 0n);
      break;
    case Compare_CompareTarget.LEASE:
      result = cmpBig(kv?.lease ?? 0n, u.case === 'lease' ? u.value : 0n);
      break;
  }
  return compareResult(c, result);
}

/** Whether `result` (the sign of have - want) satisfies the compare's result (EQUAL, NOT_EQUAL, GREATER, LESS). */
function compareResult(c: Compare, result: number): boolean {
  switch (c.result) {
    case Compare_CompareResult.EQUAL:
      return result === 0;
    case Compare_CompareResult.NOT_EQUAL:
      return result !== 0;
    case Compare_CompareResult.GREATER:
      return result > 0;
    case Compare_CompareResult.LESS:
      return result < 0;
  }
  return true;
}

type CheckReq = (rv: ReadView, op: RequestOp) => Error | undefined;

/** Runs `f` on every non-txn request on the path, depth first (etcd `checkRequests`). */
function checkRequests(rv: ReadView, rt: TxnRequest, path: boolean[], cur: Cursor, f: CheckReq): Error | undefined {
  const ok = path[cur.i++]!;
  for (const op of ok ? rt.success : rt.failure) {
    if (op.request.case === 'requestTxn') {
      const err = checkRequests(rv, op.request.value, path, cur, f);
      if (err) return err;
      continue;
    }
    const err = f(rv, op);
    if (err) return err;
  }
  return undefined;
}

/** The response skeleton for the path (etcd `newTxnResp`). */
function newTxnResp(rt: TxnRequest, path: boolean[], cur: Cursor): TxnResponse {
  const ok = path[cur.i++]!;
  const responses: ResponseOp[] = [];
  for (const op of ok ? rt.success : rt.failure) {
    switch (op.request.case) {
      case 'requestRange':
        responses.push(create(ResponseOpSchema, { response: { case: 'responseRange', value: create(RangeResponseSchema) } }));
        break;
      case 'requestPut':
        responses.push(create(ResponseOpSchema, { response: { case: 'responsePut', value: create(PutResponseSchema) } }));
        break;
      case 'requestDeleteRange':
        responses.push(create(ResponseOpSchema, { response: { case: 'responseDeleteRange', value: create(DeleteRangeResponseSchema) } }));
        break;
      case 'requestTxn':
        responses.push(create(ResponseOpSchema, { response: { case: 'responseTxn', value: newTxnResp(op.request.value, path, cur) } }));
        break;
      default:
        responses.push(create(ResponseOpSchema));
    }
  }
  return create(TxnResponseSchema, { succeeded: ok, responses, header: create(ResponseHeaderSchema) });
}

/** etcd's kvSortBy* orders. */
function sortLess(target: RangeRequest_SortTarget): (a: KeyValue, b: KeyValue) => number {
  switch (target) {
    case RangeRequest_SortTarget.VERSION:
      return (a, b) => cmpBig(a.version, b.version);
    case RangeRequest_SortTarget.CREATE:
      return (a, b) => cmpBig(a.createRevision, b.createRevision);
    case RangeRequest_SortTarget.MOD:
      return (a, b) => cmpBig(a.modRevision, b.modRevision);
    case RangeRequest_SortTarget.VALUE:
      return (a, b) => compareBytes(a.value, b.value);
    case RangeRequest_SortTarget.KEY:
    default:
      return (a, b) => compareBytes(a.key, b.key);
  }
}

/** An error inside a txn whose checks passed (etcd panics: "unexpected error during txn"). */
export class TxnInvariantError extends Error {
  override readonly name = 'TxnInvariantError';
}

/** The backend applier; see the module comment. */
export class ApplierV3Backend implements ApplierV3 {
  /**
   * @param deps what requests work on. Inside a txn the backend calls its own
   *   put/range/deleteRange (auth and quota checked the txn as a whole), as etcd.
   */
  constructor(private readonly deps: ApplierDeps) {}

  /** Dispatches (etcd applierV3backend.Apply): nothing to check at this level. */
  apply(r: InternalRaftRequest, index: bigint, dispatch: Dispatch): ApplyResult {
    return dispatch(r, index);
  }

  private curRev(): number {
    return this.deps.kv.rev();
  }

  put(txn: TxnWrite | undefined, p: PutRequest): Res<PutResponse> {
    return guard(() => {
      let own = false;
      if (!txn) {
        if (p.lease !== NO_LEASE && !this.deps.lessor.lookup(p.lease)) return { err: new ErrLeaseNotFound() };
        txn = this.deps.kv.write();
        own = true;
      }
      try {
        return this.putIn(txn, p);
      } finally {
        if (own) txn.end();
      }
    });
  }

  private putIn(txn: TxnWrite, p: PutRequest): Res<PutResponse> {
    let value = p.value;
    let lease = p.lease;
    let prev: KeyValue | undefined;
    if (p.ignoreValue || p.ignoreLease || p.prevKv) prev = txn.range(p.key, undefined).kvs[0];
    if ((p.ignoreValue || p.ignoreLease) && !prev) return { err: new ErrKeyNotFound() };
    if (p.ignoreValue) value = prev!.value;
    if (p.ignoreLease) lease = prev!.lease;
    const resp = create(PutResponseSchema);
    if (p.prevKv && prev) resp.prevKv = prev;
    resp.header = header(txn.put(p.key, value, lease));
    return { resp };
  }

  deleteRange(txn: TxnWrite | undefined, dr: DeleteRangeRequest): Res<DeleteRangeResponse> {
    return guard(() => {
      const own = !txn;
      const tx = txn ?? this.deps.kv.write();
      try {
        const end = mkGteRange(dr.rangeEnd);
        const resp = create(DeleteRangeResponseSchema);
        if (dr.prevKv) resp.prevKvs = tx.range(dr.key, end).kvs;
        const { deleted, rev } = tx.deleteRange(dr.key, end);
        resp.deleted = BigInt(deleted);
        resp.header = header(rev);
        return { resp };
      } finally {
        if (own) tx.end();
      }
    });
  }

  range(txn: TxnRead | undefined, r: RangeRequest): Res<RangeResponse> {
    return guard(() => {
      const own = !txn;
      const tx = txn ?? this.deps.kv.read();
      try {
        return { resp: rangeOn(tx, r) };
      } finally {
        if (own) tx.end();
      }
    });
  }

  txn(rt: TxnRequest): Res<TxnResponse> {
    const isWrite = !isTxnReadonly(rt);
    // etcd compares on a read txn and then opens the write txn; the apply loop is the only
    // writer, so a write txn opened first reads the same state, and no read view (which would
    // publish the backend's deferred writes, Backend.deferPublish) is needed
    const tx: TxnRead | TxnWrite = isWrite ? this.deps.kv.write() : this.deps.kv.read();
    try {
      const path = compareToPath(tx, rt);
      if (isWrite) {
        const err = checkRequests(tx, rt, path, { i: 0 }, (rv, op) => this.checkRequestPut(rv, op));
        if (err) return { err };
      }
      const err = checkRequests(tx, rt, path, { i: 0 }, checkRequestRange);
      if (err) return { err };
      const resp = newTxnResp(rt, path, { i: 0 });
      this.applyTxn(tx, rt, path, { i: 0 }, resp);
      let rev = tx.rev();
      if (isWrite && (tx as TxnWrite).changes().length !== 0) rev++;
      resp.header = header(rev);
      return { resp };
    } finally {
      tx.end();
    }
  }

  /** Applies the requests on the path into `tresp` (etcd `applyTxn`). */
  private applyTxn(tx: TxnRead | TxnWrite, rt: TxnRequest, path: boolean[], cur: Cursor, tresp: TxnResponse): void {
    const ok = path[cur.i++]!;
    const reqs = ok ? rt.success : rt.failure;
    for (let i = 0; i < reqs.length; i++) {
      const req = reqs[i]!.request;
      const respi = tresp.responses[i]!.response;
      let res: Res<unknown> | undefined;
      switch (req.case) {
        case 'requestRange':
          res = this.range(tx, req.value);
          break;
        case 'requestPut':
          res = this.put(asWrite(tx), req.value);
          break;
        case 'requestDeleteRange':
          res = this.deleteRange(asWrite(tx), req.value);
          break;
        case 'requestTxn':
          this.applyTxn(tx, req.value, path, cur, respi.value as TxnResponse);
          break;
      }
      if (!res) continue;
      if (res.err) throw new TxnInvariantError(`etcdserver: unexpected error during txn: ${res.err.message}`);
      respi.value = res.resp as never;
    }
  }

  /** A put inside a write txn: ignore_* need the key, the lease must exist (etcd `checkRequestPut`). */
  private checkRequestPut(rv: ReadView, op: RequestOp): Error | undefined {
    if (op.request.case !== 'requestPut') return undefined;
    const p = op.request.value;
    if (p.ignoreValue || p.ignoreLease) {
      if (rv.range(p.key, undefined).kvs.length === 0) return new ErrKeyNotFound();
    }
    if (p.lease !== NO_LEASE && !this.deps.lessor.lookup(p.lease)) return new ErrLeaseNotFound();
    return undefined;
  }

  compaction(c: CompactionRequest): CompactionRes {
    const kv = this.deps.kv;
    try {
      const { done } = kv.compact(Number(c.revision));
      return { resp: create(CompactionResponseSchema, { header: header(kv.rev()) }), physc: done };
    } catch (e) {
      // etcd hands back a barrier channel with ErrCompacted: a physical request waits for earlier compactions
      if (e instanceof ErrCompacted) return { err: e, physc: kv.compactionsIdle() };
      if (isRequestError(e)) return { err: e };
      throw e;
    }
  }

  leaseGrant(lc: LeaseGrantRequest): Res<LeaseGrantResponse> {
    const resp = create(LeaseGrantResponseSchema);
    try {
      const l = this.deps.lessor.grant(lc.ID, Number(lc.TTL));
      resp.ID = l.id;
      resp.TTL = BigInt(l.ttl);
      resp.header = header(this.curRev());
      return { resp };
    } catch (e) {
      if (isRequestError(e)) return { resp, err: e };
      throw e;
    }
  }

  leaseRevoke(lc: LeaseRevokeRequest): Res<LeaseRevokeResponse> {
    let err: Error | undefined;
    try {
      this.deps.lessor.revoke(lc.ID);
    } catch (e) {
      if (!isRequestError(e)) throw e;
      err = e;
    }
    return { resp: create(LeaseRevokeResponseSchema, { header: header(this.curRev()) }), err };
  }

  leaseCheckpoint(lc: LeaseCheckpointRequest): Res<LeaseCheckpointResponse> {
    for (const c of lc.checkpoints) this.deps.lessor.checkpoint(c.ID, Number(c.remainingTTL));
    return { resp: create(LeaseCheckpointResponseSchema, { header: header(this.curRev()) }) };
  }

  /**
   * GET lists alarms of `ar.alarm` (NONE: all), ignoring the member ID;
   * ACTIVATE/DEACTIVATE change the entry of `ar.memberID` and answer with it
   * (nothing when deactivating an alarm that is not raised). An unknown action
   * answers nothing. The caller rebuilds the chain (see uber-applier.ts).
   */
  alarm(ar: AlarmRequest): Res<AlarmResponse> {
    const store = this.deps.alarmStore;
    const lg = this.deps.logger;
    const resp = create(AlarmResponseSchema);
    const oldCount = store.get(ar.alarm).length;
    switch (ar.action) {
      case AlarmRequest_AlarmAction.GET:
        resp.alarms = store.get(ar.alarm);
        break;
      case AlarmRequest_AlarmAction.ACTIVATE: {
        const m = store.activate(ar.memberID, ar.alarm);
        resp.alarms.push(m);
        if (oldCount === 0 && store.get(m.alarm).length === 1) {
          lg?.warn('alarm raised', { alarm: AlarmType[m.alarm] ?? m.alarm, from: m.memberID.toString(16) });
          if (m.alarm !== AlarmType.NOSPACE && m.alarm !== AlarmType.CORRUPT) {
            lg?.warn('unimplemented alarm activation', { alarm: m.alarm });
          }
        }
        break;
      }
      case AlarmRequest_AlarmAction.DEACTIVATE: {
        const m = store.deactivate(ar.memberID, ar.alarm);
        if (!m) break;
        resp.alarms.push(m);
        if (oldCount > 0 && store.get(ar.alarm).length === 0) {
          lg?.warn('alarm disarmed', { alarm: AlarmType[m.alarm] ?? m.alarm, from: m.memberID.toString(16) });
        }
        break;
      }
      default:
        return {};
    }
    return { resp };
  }

  /**
   * A token for the user. A signed token (JWT) is made after the apply:
   * `respReady` resolves once it is in the response (rejects with the signing
   * error, e.g. ErrVerifyOnly); the proposer is answered after it.
   */
  authenticate(r: InternalAuthenticateRequest, index: bigint): AuthenticateRes {
    let ready: Promise<void> | undefined;
    const res = guard(() => {
      const token = this.deps.authStore.authenticate(r.name, index, r.simpleToken);
      const resp = create(AuthenticateResponseSchema, { header: header(this.curRev()), token: typeof token === 'string' ? token : '' });
      if (typeof token !== 'string') ready = token.then((t) => void (resp.token = t));
      return { resp };
    });
    return ready ? { ...res, respReady: ready } : res;
  }

  authEnable(): Res<AuthEnableResponse> {
    return guard(() => {
      this.deps.authStore.authEnable();
      return { resp: create(AuthEnableResponseSchema, { header: header(this.curRev()) }) };
    });
  }

  authDisable(): Res<AuthDisableResponse> {
    this.deps.authStore.authDisable();
    return { resp: create(AuthDisableResponseSchema, { header: header(this.curRev()) }) };
  }

  /**
   * Adds a user. `r.password` must hold the bcrypt hash (AuthStore.hashPassword,
   * as UTF-8 text) computed by the proposing member, unless `options.noPassword`:
   * plaintext never enters the raft log.
   */
  userAdd(r: AuthUserAddRequest): Res<AuthUserAddResponse> {
    return guard(() => {
      const noPassword = r.options?.noPassword ?? false;
      this.deps.authStore.userAdd(r.name, noPassword ? { noPassword } : { hashedPassword: utf8.encode(r.password) });
      return { resp: create(AuthUserAddResponseSchema, { header: header(this.curRev()) }) };
    }, authInput);
  }

  userDelete(r: AuthUserDeleteRequest): Res<AuthUserDeleteResponse> {
    return guard(() => {
      this.deps.authStore.userDelete(r.name);
      return { resp: create(AuthUserDeleteResponseSchema, { header: header(this.curRev()) }) };
    }, authInput);
  }

  /** Changes a password; `r.password` holds the bcrypt hash, as in {@link userAdd}. */
  userChangePassword(r: AuthUserChangePasswordRequest): Res<AuthUserChangePasswordResponse> {
    return guard(() => {
      this.deps.authStore.userChangePassword(r.name, utf8.encode(r.password));
      return { resp: create(AuthUserChangePasswordResponseSchema, { header: header(this.curRev()) }) };
    }, authInput);
  }

  userGrantRole(r: AuthUserGrantRoleRequest): Res<AuthUserGrantRoleResponse> {
    return guard(() => {
      this.deps.authStore.userGrantRole(r.user, r.role);
      return { resp: create(AuthUserGrantRoleResponseSchema, { header: header(this.curRev()) }) };
    }, authInput);
  }

  userGet(r: AuthUserGetRequest): Res<AuthUserGetResponse> {
    return guard(() => {
      const roles = this.deps.authStore.userGet(r.name);
      return { resp: create(AuthUserGetResponseSchema, { header: header(this.curRev()), roles }) };
    }, authInput);
  }

  userRevokeRole(r: AuthUserRevokeRoleRequest): Res<AuthUserRevokeRoleResponse> {
    return guard(() => {
      this.deps.authStore.userRevokeRole(r.name, r.role);
      return { resp: create(AuthUserRevokeRoleResponseSchema, { header: header(this.curRev()) }) };
    }, authInput);
  }

  roleAdd(r: AuthRoleAddRequest): Res<AuthRoleAddResponse> {
    return guard(() => {
      this.deps.authStore.roleAdd(r.name);
      return { resp: create(AuthRoleAddResponseSchema, { header: header(this.curRev()) }) };
    }, authInput);
  }

  roleGrantPermission(r: AuthRoleGrantPermissionRequest): Res<AuthRoleGrantPermissionResponse> {
    return guard(() => {
      if (!r.perm) return { err: new TypeError('etcdserver: permission not given') };
      this.deps.authStore.roleGrantPermission(r.name, { key: r.perm.key, rangeEnd: r.perm.rangeEnd, permType: r.perm.permType });
      return { resp: create(AuthRoleGrantPermissionResponseSchema, { header: header(this.curRev()) }) };
    }, authInput);
  }

  roleGet(r: AuthRoleGetRequest): Res<AuthRoleGetResponse> {
    return guard(() => {
      const perm = this.deps.authStore.roleGet(r.role);
      return { resp: create(AuthRoleGetResponseSchema, { header: header(this.curRev()), perm }) };
    }, authInput);
  }

  roleRevokePermission(r: AuthRoleRevokePermissionRequest): Res<AuthRoleRevokePermissionResponse> {
    return guard(() => {
      this.deps.authStore.roleRevokePermission(r.role, r.key, r.rangeEnd);
      return { resp: create(AuthRoleRevokePermissionResponseSchema, { header: header(this.curRev()) }) };
    }, authInput);
  }

  roleDelete(r: AuthRoleDeleteRequest): Res<AuthRoleDeleteResponse> {
    return guard(() => {
      this.deps.authStore.roleDelete(r.role);
      return { resp: create(AuthRoleDeleteResponseSchema, { header: header(this.curRev()) }) };
    }, authInput);
  }

  userList(_r: AuthUserListRequest): Res<AuthUserListResponse> {
    return guard(() => {
      const users = this.deps.authStore.userList();
      return { resp: create(AuthUserListResponseSchema, { header: header(this.curRev()), users }) };
    }, authInput);
  }

  roleList(_r: AuthRoleListRequest): Res<AuthRoleListResponse> {
    return guard(() => {
      const roles = this.deps.authStore.roleList();
      return { resp: create(AuthRoleListResponseSchema, { header: header(this.curRev()), roles }) };
    }, authInput);
  }

  clusterMemberAttrSet(r: ClusterMemberAttrSetRequest): Res<undefined> {
    return guard(() => {
      if (!r.memberAttributes) return { err: new TypeError('etcdserver: cluster_member_attr_set without member_attributes') };
      this.deps.membership.setMemberAttributes(r.memberID, r.memberAttributes);
      return {};
    }, authInput);
  }

  clusterVersionSet(r: ClusterVersionSetRequest): Res<undefined> {
    return guard(() => {
      this.deps.membership.setClusterVersion(r.ver);
      return {};
    }, authInput);
  }

  downgradeInfoSet(_r: DowngradeInfoSetRequest): Res<undefined> {
    this.deps.logger?.warn('ignoring downgrade_info_set: downgrades are not supported');
    return {};
  }
}

function asWrite(tx: TxnRead | TxnWrite): TxnWrite {
  if (!('changes' in tx)) throw new TxnInvariantError('etcdserver: write request in a read-only txn');
  return tx;
}

/** A range inside a txn must be neither future nor compacted (etcd `checkRequestRange`). */
function checkRequestRange(rv: ReadView, op: RequestOp): Error | undefined {
  if (op.request.case !== 'requestRange') return undefined;
  const rev = op.request.value.revision;
  if (rev === 0n) return undefined;
  if (rev > BigInt(rv.rev())) return new ErrFutureRev();
  if (rev < BigInt(rv.firstRev())) return new ErrCompacted();
  return undefined;
}

/**
 * A RangeRequest served from `tx` with every option as etcd 3.4 apply.go Range:
 * - sorting or any min/max revision filter reads all matches, then filters,
 *   sorts and cuts to `limit`; otherwise mvcc reads `limit + 1` keys so that
 *   `more` can be told;
 * - filters drop keys with mod_revision > max_mod, < min_mod, create_revision
 *   > max_create, < min_create (0 = no filter);
 * - a sort target other than KEY with order NONE sorts ASCEND; KEY with NONE
 *   keeps mvcc's key order; ties keep key order (stable sort, as Go's
 *   insertion sort for up to 12 keys; for larger ties Go's unstable sort may
 *   order differently);
 * - `more` is true when more than `limit` keys remained; `count` is the number
 *   of keys in the range at the revision before filtering (mvcc's count);
 * - keys_only empties values after sorting (so sorting by VALUE still works);
 *   count_only returns no kvs.
 * Throws ErrFutureRev / ErrCompacted for a bad `revision`.
 */
export function rangeOn(tx: ReadView, r: RangeRequest): RangeResponse {
  const sorted = r.sortOrder !== RangeRequest_SortOrder.NONE;
  const filtered = r.minModRevision !== 0n || r.maxModRevision !== 0n || r.minCreateRevision !== 0n || r.maxCreateRevision !== 0n;
  let limit = Number(r.limit);
  if (sorted || filtered) limit = 0;
  if (limit > 0) limit += 1;
  const rr = tx.range(r.key, mkGteRange(r.rangeEnd), {
    limit,
    rev: Number(r.revision),
    count: r.countOnly,
    // values are needed only to sort by them
    keysOnly: r.keysOnly && r.sortTarget !== RangeRequest_SortTarget.VALUE,
  });
  let kvs = rr.kvs;
  if (r.maxModRevision !== 0n) kvs = kvs.filter((kv) => !(kv.modRevision > r.maxModRevision));
  if (r.minModRevision !== 0n) kvs = kvs.filter((kv) => !(kv.modRevision < r.minModRevision));
  if (r.maxCreateRevision !== 0n) kvs = kvs.filter((kv) => !(kv.createRevision > r.maxCreateRevision));
  if (r.minCreateRevision !== 0n) kvs = kvs.filter((kv) => !(kv.createRevision < r.minCreateRevision));

  let order = r.sortOrder;
  if (r.sortTarget !== RangeRequest_SortTarget.KEY && order === RangeRequest_SortOrder.NONE) order = RangeRequest_SortOrder.ASCEND;
  if (order === RangeRequest_SortOrder.ASCEND || order === RangeRequest_SortOrder.DESCEND) {
    const less = sortLess(r.sortTarget);
    kvs = order === RangeRequest_SortOrder.ASCEND ? kvs.sort(less) : kvs.sort((a, b) => less(b, a));
  }

  let more = false;
  if (r.limit > 0n && kvs.length > Number(r.limit)) {
    kvs = kvs.slice(0, Number(r.limit));
    more = true;
  }
  if (r.keysOnly) for (const kv of kvs) kv.value = EMPTY;
  return create(RangeResponseSchema, { header: header(rr.rev), kvs, more, count: BigInt(rr.count) });
}
