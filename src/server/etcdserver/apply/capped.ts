/**
 * @module server/etcdserver/apply/capped
 * The applier in place while the NOSPACE alarm is raised (etcd 3.4 apply.go
 * `applierV3Capped`): requests that add data fail with ErrNoSpace before doing
 * anything, i.e. every put, every txn with a put on either branch (nested txns
 * included, see quota.ts) and every lease grant. Ranges, deletes, compaction,
 * lease revoke and alarm requests still work, so an operator can free space,
 * compact, defragment and disarm the alarm.
 */

import type {
  LeaseGrantRequest,
  LeaseGrantResponse,
  PutRequest,
  PutResponse,
  TxnRequest,
  TxnResponse,
} from '../../../gen/etcdserverpb/rpc_pb.js';
import type { TxnWrite } from '../../mvcc/kv.js';
import { ErrNoSpace } from '../errors.js';
import { ApplierV3Decorator, type Res } from './applier.js';
import { costTxn } from './quota.js';

/** See the module comment. */
export class ApplierV3Capped extends ApplierV3Decorator {
  override put(_txn: TxnWrite | undefined, _p: PutRequest): Res<PutResponse> {
    return { err: new ErrNoSpace() };
  }

  override txn(rt: TxnRequest): Res<TxnResponse> {
    if (costTxn(rt) > 0) return { err: new ErrNoSpace() };
    return this.next.txn(rt);
  }

  override leaseGrant(_lc: LeaseGrantRequest): Res<LeaseGrantResponse> {
    return { err: new ErrNoSpace() };
  }
}
