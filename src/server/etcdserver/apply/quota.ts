/**
 * @module server/etcdserver/apply/quota
 * The backend space quota (etcd 3.4 etcdserver/quota.go) and the quota applier
 * (apply.go `quotaApplierV3`).
 *
 * A request that adds data has a cost in bytes: a put costs 256 (key metadata
 * estimate) + key + value bytes; a txn the larger of its two branches' put
 * costs; a lease grant 64. It is "available" if it costs nothing or
 * `backend.size() + cost < quota`. The quota is `--quota-backend-bytes`: 0
 * means {@link DEFAULT_QUOTA_BYTES} (2 GiB), a negative value disables it;
 * above {@link MAX_QUOTA_BYTES} (8 GiB) etcd only warns.
 *
 * The quota applier lets the request apply anyway (every member must apply the
 * same log) and then answers ErrNoSpace; the server reacts by raising the
 * NOSPACE alarm (ApplierDeps.onNoSpace), after which the capped applier
 * (capped.ts) refuses such requests up front.
 *
 * Difference from etcd 3.4: the cost of a txn counts puts inside nested txns
 * too (etcd's costTxn looks at the top-level puts only, so a nested put
 * escapes both the quota and the NOSPACE cap).
 */

import type { LeaseGrantRequest, PutRequest, RequestOp, TxnRequest } from '../../../gen/etcdserverpb/rpc_pb.js';
import type { Backend } from '../../backend/backend.js';
import { ErrNoSpace } from '../errors.js';
import { ApplierV3Decorator, type ApplierLogger, type ApplierV3, type Res } from './applier.js';
import type { LeaseGrantResponse, PutResponse, TxnResponse } from '../../../gen/etcdserverpb/rpc_pb.js';

/** Default `--quota-backend-bytes`: 2 GiB (etcd `DefaultQuotaBytes`). */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** Largest recommended quota: 8 GiB (etcd `MaxQuotaBytes`); larger ones only log a warning. */
export const MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;
/** Estimated bytes to store a lease (etcd `leaseOverhead`). */
export const LEASE_OVERHEAD = 64;
/** Estimated bytes of a key's metadata (etcd `kvOverhead`). */
export const KV_OVERHEAD = 256;

/** The requests a quota charges. */
export type QuotaRequest = PutRequest | TxnRequest | LeaseGrantRequest;

/** A quota against requests (etcd `Quota`). */
export interface Quota {
  /** True if `req` fits in the quota (always true for a request that costs nothing). */
  available(req: QuotaRequest): boolean;
  /** The cost of `req` in bytes. */
  cost(req: QuotaRequest): number;
  /** Bytes left before the quota is exceeded (may be negative). */
  remaining(): number;
}

/** Bytes a put adds: 256 + key bytes + value bytes (etcd `costPut`). */
export function costPut(r: PutRequest): number {
  return KV_OVERHEAD + r.key.length + r.value.length;
}

function costTxnReq(op: RequestOp): number {
  if (op.request.case === 'requestPut') return costPut(op.request.value);
  if (op.request.case === 'requestTxn') return costTxn(op.request.value);
  return 0;
}

/** Bytes a txn may add: the larger of its branches' put costs (etcd `costTxn`, nested txns included). */
export function costTxn(r: TxnRequest): number {
  let success = 0;
  for (const op of r.success) success += costTxnReq(op);
  let failure = 0;
  for (const op of r.failure) failure += costTxnReq(op);
  return Math.max(success, failure);
}

/** The cost of any quota request (etcd `backendQuota.Cost`). */
export function costOf(req: QuotaRequest): number {
  switch (req.$typeName) {
    case 'etcdserverpb.PutRequest':
      return costPut(req);
    case 'etcdserverpb.TxnRequest':
      return costTxn(req);
    case 'etcdserverpb.LeaseGrantRequest':
      return LEASE_OVERHEAD;
  }
}

/** No quota (etcd `passthroughQuota`, for a negative `--quota-backend-bytes`). */
export class PassthroughQuota implements Quota {
  available(): boolean {
    return true;
  }
  cost(): number {
    return 0;
  }
  remaining(): number {
    return 1;
  }
}

/** The quota on the backend size (etcd `backendQuota`). */
export class BackendQuota implements Quota {
  /** @param maxBackendBytes the limit in bytes (> 0). */
  constructor(
    private readonly backend: Backend,
    readonly maxBackendBytes: number,
  ) {}

  available(req: QuotaRequest): boolean {
    const cost = this.cost(req);
    if (cost === 0) return true;
    return this.backend.size() + cost < this.maxBackendBytes;
  }

  cost(req: QuotaRequest): number {
    return costOf(req);
  }

  remaining(): number {
    return this.maxBackendBytes - this.backend.size();
  }
}

/**
 * The quota for `--quota-backend-bytes` = `quotaBytes` (etcd `NewBackendQuota`):
 * negative → {@link PassthroughQuota}; 0 → {@link DEFAULT_QUOTA_BYTES};
 * otherwise that many bytes (warning above {@link MAX_QUOTA_BYTES}).
 * Throws RangeError for a non-finite value.
 */
export function newBackendQuota(backend: Backend, quotaBytes: number, logger?: ApplierLogger): Quota {
  if (!Number.isFinite(quotaBytes)) throw new RangeError(`quota-backend-bytes must be a finite number, got ${quotaBytes}`);
  if (quotaBytes < 0) return new PassthroughQuota();
  if (quotaBytes === 0) return new BackendQuota(backend, DEFAULT_QUOTA_BYTES);
  if (quotaBytes > MAX_QUOTA_BYTES) {
    logger?.warn('quota exceeds the maximum value', { 'quota-size-bytes': quotaBytes, 'quota-maximum-size-bytes': MAX_QUOTA_BYTES });
  }
  return new BackendQuota(backend, quotaBytes);
}

/**
 * The check the gRPC layer makes before proposing a write (etcd v3rpc quota.go
 * `quotaAlarmer.check`): if `req` does not fit, calls `raise` (propose the
 * NOSPACE alarm for this member) and returns ErrNoSpace.
 */
export class QuotaAlarmer {
  constructor(
    private readonly quota: Quota,
    private readonly raise: () => void,
  ) {}

  /** undefined if `req` fits; otherwise raises the alarm and returns ErrNoSpace. */
  check(req: QuotaRequest): Error | undefined {
    if (this.quota.available(req)) return undefined;
    this.raise();
    return new ErrNoSpace();
  }
}

/**
 * The quota applier (etcd `quotaApplierV3`): measures before applying, applies,
 * and answers ErrNoSpace (with the response) if the request did not fit.
 */
export class QuotaApplierV3 extends ApplierV3Decorator {
  constructor(
    private readonly quota: Quota,
    next: ApplierV3,
  ) {
    super(next);
  }

  private charged<T>(req: QuotaRequest, f: () => Res<T>): Res<T> {
    const ok = this.quota.available(req);
    const res = f();
    if (!res.err && !ok) return { resp: res.resp, err: new ErrNoSpace() };
    return res;
  }

  override put(txn: Parameters<ApplierV3['put']>[0], p: PutRequest): Res<PutResponse> {
    return this.charged(p, () => this.next.put(txn, p));
  }

  override txn(rt: TxnRequest): Res<TxnResponse> {
    return this.charged(rt, () => this.next.txn(rt));
  }

  override leaseGrant(lc: LeaseGrantRequest): Res<LeaseGrantResponse> {
    return this.charged(lc, () => this.next.leaseGrant(lc));
  }
}
