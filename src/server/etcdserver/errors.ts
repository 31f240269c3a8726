/**
 * The etcdserver package's sentinel errors, with etcd 3.4's messages
 * (etcdserver/errors.go). v3rpc maps each class to its gRPC code by name.
 */

/** Base class of the etcdserver package's errors. */
export class EtcdServerError extends Error {}

function sentinel(name: string, message: string): new () => EtcdServerError {
  const cls = class extends EtcdServerError {
    constructor() {
      super(message);
      this.name = name;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

export const ErrUnknownMethod = sentinel('ErrUnknownMethod', 'etcdserver: unknown method');
export const ErrStopped = sentinel('ErrStopped', 'etcdserver: server stopped');
export const ErrCanceled = sentinel('ErrCanceled', 'etcdserver: request cancelled');
export const ErrTimeout = sentinel('ErrTimeout', 'etcdserver: request timed out');
export const ErrTimeoutDueToLeaderFail = sentinel('ErrTimeoutDueToLeaderFail', 'etcdserver: request timed out, possibly due to previous leader failure');
export const ErrTimeoutDueToConnectionLost = sentinel('ErrTimeoutDueToConnectionLost', 'etcdserver: request timed out, possibly due to connection lost');
export const ErrTimeoutLeaderTransfer = sentinel('ErrTimeoutLeaderTransfer', 'etcdserver: request timed out, leader transfer took too long');
export const ErrLeaderChanged = sentinel('ErrLeaderChanged', 'etcdserver: leader changed');
export const ErrNotEnoughStartedMembers = sentinel('ErrNotEnoughStartedMembers', 'etcdserver: re-configuration failed due to not enough started members');
export const ErrLearnerNotReady = sentinel('ErrLearnerNotReady', 'etcdserver: can only promote a learner member which is in sync with leader');
export const ErrNoLeader = sentinel('ErrNoLeader', 'etcdserver: no leader');
export const ErrNotLeader = sentinel('ErrNotLeader', 'etcdserver: not leader');
export const ErrRequestTooLarge = sentinel('ErrRequestTooLarge', 'etcdserver: request is too large');
export const ErrNoSpace = sentinel('ErrNoSpace', 'etcdserver: no space');
export const ErrTooManyRequests = sentinel('ErrTooManyRequests', 'etcdserver: too many requests');
export const ErrUnhealthy = sentinel('ErrUnhealthy', 'etcdserver: unhealthy cluster');
export const ErrKeyNotFound = sentinel('ErrKeyNotFound', 'etcdserver: key not found');
export const ErrCorrupt = sentinel('ErrCorrupt', 'etcdserver: corrupt cluster');
export const ErrBadLeaderTransferee = sentinel('ErrBadLeaderTransferee', 'etcdserver: bad leader transferee');

/** membership package errors (etcdserver/api/membership/errors.go). */
export const ErrIDRemoved = sentinel('ErrIDRemoved', 'membership: ID removed');
export const ErrIDExists = sentinel('ErrIDExists', 'membership: ID exists');
export const ErrIDNotFound = sentinel('ErrIDNotFound', 'membership: ID not found');
export const ErrPeerURLExists = sentinel('ErrPeerURLExists', 'membership: peerURL exists');
export const ErrMemberNotLearner = sentinel('ErrMemberNotLearner', 'membership: can only promote a learner member');
export const ErrTooManyLearners = sentinel('ErrTooManyLearners', 'membership: too many learner members in cluster');

/**
 * Errors the gRPC layer itself raises from request checks (v3rpc key.go
 * checkPutRequest/checkTxnRequest...); they carry their own rpctypes message.
 */
export const ErrGRPCDuplicateKey = sentinel('ErrGRPCDuplicateKey', 'etcdserver: duplicate key given in txn request');
export const ErrGRPCTooManyOps = sentinel('ErrGRPCTooManyOps', 'etcdserver: too many operations in txn request');

/**
 * Why a member removed from the cluster stops (etcd stopWithDelay after applying its
 * own removal). Not a failure: etcd then exits with status 0.
 */
export class ErrMemberRemoved extends Error {
  constructor() {
    super('the member has been permanently removed from the cluster');
    this.name = 'ErrMemberRemoved';
  }
}
