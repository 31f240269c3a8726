/**
 * @module server/etcdserver/apply/corrupt
 * The applier in place while the CORRUPT alarm is raised (etcd 3.4
 * etcdserver/corrupt.go `applierV3Corrupt`): the data of some member diverged,
 * so every key-value and lease request fails with ErrCorrupt (put, range,
 * delete, txn, compaction, lease grant and revoke). Auth, alarm and membership
 * requests still apply, so the alarm can be disarmed.
 */

import type {
  CompactionRequest,
  DeleteRangeRequest,
  DeleteRangeResponse,
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
import type { TxnRead, TxnWrite } from '../../mvcc/kv.js';
import { ErrCorrupt } from '../errors.js';
import { ApplierV3Decorator, type CompactionRes, type Res } from './applier.js';

/** See the module comment. */
export class ApplierV3Corrupt extends ApplierV3Decorator {
  override put(_txn: TxnWrite | undefined, _p: PutRequest): Res<PutResponse> {
    return { err: new ErrCorrupt() };
  }
  override range(_txn: TxnRead | undefined, _r: RangeRequest): Res<RangeResponse> {
    return { err: new ErrCorrupt() };
  }
  override deleteRange(_txn: TxnWrite | undefined, _dr: DeleteRangeRequest): Res<DeleteRangeResponse> {
    return { err: new ErrCorrupt() };
  }
  override txn(_rt: TxnRequest): Res<TxnResponse> {
    return { err: new ErrCorrupt() };
  }
  override compaction(_c: CompactionRequest): CompactionRes {
    return { err: new ErrCorrupt() };
  }
  override leaseGrant(_lc: LeaseGrantRequest): Res<LeaseGrantResponse> {
    return { err: new ErrCorrupt() };
  }
  override leaseRevoke(_lc: LeaseRevokeRequest): Res<LeaseRevokeResponse> {
    return { err: new ErrCorrupt() };
  }
}
