/**
 * @module server/lease/errors
 * The lease package's sentinel errors, with etcd's lease package messages
 * (lease/lessor.go). The gRPC layer (server/api/errors.ts) maps them to the
 * `etcdserver: ...` statuses of rpctypes: ErrLeaseNotFound → "etcdserver:
 * requested lease not found", ErrLeaseExists → "etcdserver: lease already
 * exists", ErrLeaseTTLTooLarge → "etcdserver: too large lease TTL";
 * ErrNotPrimary makes the server forward the request to the leader.
 */

/** Base class of the lease package's errors. */
export class LeaseError extends Error {}

/** The lessor is not the primary (the member is not the leader); etcd `ErrNotPrimary`. */
export class ErrNotPrimary extends LeaseError {
  override readonly name = 'ErrNotPrimary';
  constructor() {
    super('not a primary lessor');
  }
}

/** No lease with that ID (also for ID 0 on grant); etcd `ErrLeaseNotFound`. */
export class ErrLeaseNotFound extends LeaseError {
  override readonly name = 'ErrLeaseNotFound';
  constructor() {
    super('lease not found');
  }
}

/** A lease with that ID already exists; etcd `ErrLeaseExists`. */
export class ErrLeaseExists extends LeaseError {
  override readonly name = 'ErrLeaseExists';
  constructor() {
    super('lease already exists');
  }
}

/** The requested TTL is above {@link MAX_LEASE_TTL}; etcd `ErrLeaseTTLTooLarge`. */
export class ErrLeaseTTLTooLarge extends LeaseError {
  override readonly name = 'ErrLeaseTTLTooLarge';
  constructor() {
    super('too large lease TTL');
  }
}

/** The largest TTL a lease may be granted, in seconds (etcd `MaxLeaseTTL`). */
export const MAX_LEASE_TTL = 9_000_000_000;
