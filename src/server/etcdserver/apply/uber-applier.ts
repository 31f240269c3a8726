/**
 * @module server/etcdserver/apply/uber-applier
 * The entry point of the apply layer (etcd 3.5 etcdserver/apply/uber_applier.go;
 * in etcd 3.4 the same logic lives in server.go `applyV3`, `restoreAlarms` and
 * apply.go `Apply`).
 *
 * `apply(r, index)` runs one committed InternalRaftRequest through the chain
 *
 *     Corrupt → Capped → Auth → Quota → Backend
 *
 * in two passes, as etcd: first the chain's `apply` (the auth applier takes the
 * user from the request header and checks admin requests), then a dispatch on
 * the request's field to the method of the top of the chain (e.g. `put`),
 * which runs down the decorators again. Corrupt is present only while a
 * CORRUPT alarm is raised and Capped only while a NOSPACE alarm is; the chain
 * is rebuilt from the alarm store after every alarm ACTIVATE/DEACTIVATE.
 *
 * Difference from etcd 3.4: 3.4 swaps in `Capped(Backend)`/`Corrupt(Backend)`
 * when an alarm is raised at run time (dropping the auth and quota appliers
 * until the next restart) and a fresh chain without any alarm applier when one
 * is disarmed; we always rebuild the full chain as 3.4's `restoreAlarms` (and
 * 3.5's uber applier) do.
 */

import type { InternalRaftRequest, RequestHeader } from '../../../gen/etcdserverpb/raft_internal_pb.js';
import { AlarmRequest_AlarmAction, AlarmType, type TxnRequest } from '../../../gen/etcdserverpb/rpc_pb.js';
import { ErrNoSpace, ErrUnknownMethod } from '../errors.js';
import type { ApplierDeps, ApplierV3, ApplyResult, Res } from './applier.js';
import { AuthApplierV3 } from './auth.js';
import { ApplierV3Backend } from './backend.js';
import { ApplierV3Capped } from './capped.js';
import { ApplierV3Corrupt } from './corrupt.js';
import { newBackendQuota, QuotaApplierV3, type Quota } from './quota.js';

/**
 * True for requests that change nothing (etcd `noSideEffect`): a range or a
 * user/role get. The server may skip applying them when no client waits for
 * the result (the proposing member applies them to answer).
 */
export function noSideEffect(r: InternalRaftRequest): boolean {
  return r.range !== undefined || r.authUserGet !== undefined || r.authRoleGet !== undefined;
}

/**
 * Drops the range requests from both top-level branches of `txn`, in place
 * (etcd `removeNeedlessRangeReqs`): a member applying someone else's txn need
 * not read anything.
 */
export function removeNeedlessRangeReqs(txn: TxnRequest): void {
  txn.success = txn.success.filter((op) => op.request.case !== 'requestRange');
  txn.failure = txn.failure.filter((op) => op.request.case !== 'requestRange');
}

/** The request ID of `r` (etcd: `r.ID`, or `r.header.ID` when 0), the key of the proposer's waiter. */
export function requestId(r: InternalRaftRequest): bigint {
  if (r.ID !== 0n) return r.ID;
  return (r.header as RequestHeader | undefined)?.ID ?? 0n;
}

/** See the module comment. */
export class UberApplier {
  private readonly backendApplier: ApplierV3Backend;
  private readonly quota: Quota;
  private applyV3: ApplierV3;

  /**
   * Builds the chain for the alarms currently in `deps.alarmStore` (etcd
   * `restoreAlarms`). After a snapshot is installed (new backend, new alarm
   * store), build a new UberApplier. Throws RangeError for a non-finite
   * `deps.quotaBytes`.
   */
  constructor(private readonly deps: ApplierDeps) {
    this.backendApplier = new ApplierV3Backend(deps);
    this.quota = newBackendQuota(deps.backend, deps.quotaBytes, deps.logger);
    this.applyV3 = this.restoreAlarms();
  }

  /** The quota in use (for the gRPC layer's QuotaAlarmer and Status). */
  backendQuota(): Quota {
    return this.quota;
  }

  /** The chain without alarm appliers: Auth → Quota → Backend (etcd `newApplierV3`). */
  private newApplierV3(): ApplierV3 {
    return new AuthApplierV3(this.deps.authStore, this.deps.lessor, new QuotaApplierV3(this.quota, this.backendApplier));
  }

  /** The chain for the raised alarms (etcd `restoreAlarms`). */
  private restoreAlarms(): ApplierV3 {
    let a = this.newApplierV3();
    if (this.deps.alarmStore.get(AlarmType.NOSPACE).length > 0) a = new ApplierV3Capped(a);
    if (this.deps.alarmStore.get(AlarmType.CORRUPT).length > 0) a = new ApplierV3Corrupt(a);
    return a;
  }

  /** Names of the appliers in the chain, top first (for logs and tests), e.g. `['Capped', 'Auth', 'Quota', 'Backend']`. */
  chain(): string[] {
    const names: string[] = [];
    let a: unknown = this.applyV3;
    while (a) {
      names.push((a as object).constructor.name.replace(/^ApplierV3|ApplierV3$/, '') || 'Backend');
      a = (a as { next?: unknown }).next;
    }
    return names;
  }

  /**
   * Applies the request of the raft entry at `index`. Request-level failures
   * come back in `err` (a response may come with it, e.g. a put applied over
   * quota answers ErrNoSpace); only broken invariants throw. An ErrNoSpace
   * while no NOSPACE alarm is raised calls `deps.onNoSpace` (etcd
   * applyEntryNormal). A request with no known field answers ErrUnknownMethod.
   */
  apply(r: InternalRaftRequest, index: bigint): ApplyResult {
    const ar = this.applyV3.apply(r, index, (req, idx) => this.dispatch(req, idx));
    if (ar.err instanceof ErrNoSpace && this.deps.alarmStore.get(AlarmType.NOSPACE).length === 0) {
      this.deps.logger?.warn('message exceeded backend quota; raising alarm', { 'quota-size-bytes': this.deps.quotaBytes });
      this.deps.onNoSpace?.();
    }
    return ar;
  }

  /** Calls the method of the top of the chain for the field set in `r` (etcd `dispatch`). */
  private dispatch(r: InternalRaftRequest, index: bigint): ApplyResult {
    const a = this.applyV3;
    const res = (x: Res<unknown>): ApplyResult => (x.err ? { resp: x.resp, err: x.err } : { resp: x.resp });
    if (r.range) return res(a.range(undefined, r.range));
    if (r.put) return res(a.put(undefined, r.put));
    if (r.deleteRange) return res(a.deleteRange(undefined, r.deleteRange));
    if (r.txn) return res(a.txn(r.txn));
    if (r.compaction) {
      const c = a.compaction(r.compaction);
      return { ...res(c), ...(c.physc ? { physc: c.physc } : {}) };
    }
    if (r.leaseGrant) return res(a.leaseGrant(r.leaseGrant));
    if (r.leaseRevoke) return res(a.leaseRevoke(r.leaseRevoke));
    if (r.leaseCheckpoint) return res(a.leaseCheckpoint(r.leaseCheckpoint));
    if (r.alarm) {
      const out = res(a.alarm(r.alarm));
      if (r.alarm.action === AlarmRequest_AlarmAction.ACTIVATE || r.alarm.action === AlarmRequest_AlarmAction.DEACTIVATE) {
        this.applyV3 = this.restoreAlarms();
      }
      return out;
    }
    if (r.authenticate) {
      const x = a.authenticate(r.authenticate, index);
      return { ...res(x), ...(x.respReady ? { respReady: x.respReady } : {}) };
    }
    if (r.authEnable) return res(a.authEnable());
    if (r.authDisable) return res(a.authDisable());
    if (r.authUserAdd) return res(a.userAdd(r.authUserAdd));
    if (r.authUserDelete) return res(a.userDelete(r.authUserDelete));
    if (r.authUserChangePassword) return res(a.userChangePassword(r.authUserChangePassword));
    if (r.authUserGrantRole) return res(a.userGrantRole(r.authUserGrantRole));
    if (r.authUserGet) return res(a.userGet(r.authUserGet));
    if (r.authUserRevokeRole) return res(a.userRevokeRole(r.authUserRevokeRole));
    if (r.authRoleAdd) return res(a.roleAdd(r.authRoleAdd));
    if (r.authRoleGrantPermission) return res(a.roleGrantPermission(r.authRoleGrantPermission));
    if (r.authRoleGet) return res(a.roleGet(r.authRoleGet));
    if (r.authRoleRevokePermission) return res(a.roleRevokePermission(r.authRoleRevokePermission));
    if (r.authRoleDelete) return res(a.roleDelete(r.authRoleDelete));
    if (r.authUserList) return res(a.userList(r.authUserList));
    if (r.authRoleList) return res(a.roleList(r.authRoleList));
    if (r.clusterMemberAttrSet) return res(a.clusterMemberAttrSet(r.clusterMemberAttrSet));
    if (r.clusterVersionSet) return res(a.clusterVersionSet(r.clusterVersionSet));
    if (r.downgradeInfoSet) return res(a.downgradeInfoSet(r.downgradeInfoSet));
    return { err: new ErrUnknownMethod() };
  }
}
