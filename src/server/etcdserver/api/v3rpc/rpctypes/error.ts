/**
 * @module server/etcdserver/api/v3rpc/rpctypes/error
 * The gRPC statuses the etcd server sends, with etcd 3.4's codes and messages
 * (etcdserver/api/v3rpc/rpctypes/error.go, the `ErrGRPC*` values). Handlers
 * reject with a {@link GrpcStatusError}; the transport sends its `code` and `details`.
 */
import { Code } from '../../../../../util/grpc/codes.js';

export { Code };

/**
 * A gRPC status to end a call with: `code` (a grpc status code number) and
 * `details` (the message the client sees), a transport StatusObject.
 */
export class GrpcStatusError extends Error {
  override readonly name = 'GrpcStatusError';
  constructor(
    readonly code: Code,
    readonly details: string,
  ) {
    super(details);
  }

  /**
   * Go's `status.Error(...).Error()` text: `rpc error: code = <Name> desc = <details>`
   * (what etcd puts in a watch cancel_reason).
   */
  goString(): string {
    return `rpc error: code = ${GO_CODE_NAMES[this.code] ?? `Code(${this.code})`} desc = ${this.details}`;
  }
}

/** grpc status code names as Go prints them (google.golang.org/grpc/codes). */
export const GO_CODE_NAMES: readonly string[] = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound',
  'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition',
  'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss',
  'Unauthenticated',
];

const e = (code: Code, msg: string) => new GrpcStatusError(code, msg);

export const ErrGRPCEmptyKey = e(Code.INVALID_ARGUMENT, 'etcdserver: key is not provided');
export const ErrGRPCKeyNotFound = e(Code.INVALID_ARGUMENT, 'etcdserver: key not found');
export const ErrGRPCValueProvided = e(Code.INVALID_ARGUMENT, 'etcdserver: value is provided');
export const ErrGRPCLeaseProvided = e(Code.INVALID_ARGUMENT, 'etcdserver: lease is provided');
export const ErrGRPCTooManyOps = e(Code.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request');
export const ErrGRPCDuplicateKey = e(Code.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request');
export const ErrGRPCCompacted = e(Code.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted');
export const ErrGRPCFutureRev = e(Code.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision');
export const ErrGRPCNoSpace = e(Code.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded');

export const ErrGRPCLeaseNotFound = e(Code.NOT_FOUND, 'etcdserver: requested lease not found');
export const ErrGRPCLeaseExist = e(Code.FAILED_PRECONDITION, 'etcdserver: lease already exists');
export const ErrGRPCLeaseTTLTooLarge = e(Code.OUT_OF_RANGE, 'etcdserver: too large lease TTL');

export const ErrGRPCWatchCanceled = e(Code.CANCELLED, 'etcdserver: watch canceled');

export const ErrGRPCMemberExist = e(Code.FAILED_PRECONDITION, 'etcdserver: member ID already exist');
export const ErrGRPCPeerURLExist = e(Code.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists');
export const ErrGRPCMemberNotEnoughStarted = e(Code.FAILED_PRECONDITION, 'etcdserver: re-configuration failed due to not enough started members');
export const ErrGRPCMemberBadURLs = e(Code.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid');
export const ErrGRPCMemberNotFound = e(Code.NOT_FOUND, 'etcdserver: member not found');
export const ErrGRPCMemberNotLearner = e(Code.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member');
export const ErrGRPCLearnerNotReady = e(Code.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member which is in sync with leader');
export const ErrGRPCTooManyLearners = e(Code.FAILED_PRECONDITION, 'etcdserver: too many learner members in cluster');

export const ErrGRPCRequestTooLarge = e(Code.INVALID_ARGUMENT, 'etcdserver: request is too large');
export const ErrGRPCRequestTooManyRequests = e(Code.RESOURCE_EXHAUSTED, 'etcdserver: too many requests');

export const ErrGRPCRootUserNotExist = e(Code.FAILED_PRECONDITION, 'etcdserver: root user does not exist');
export const ErrGRPCRootRoleNotExist = e(Code.FAILED_PRECONDITION, 'etcdserver: root user does not have root role');
export const ErrGRPCUserAlreadyExist = e(Code.FAILED_PRECONDITION, 'etcdserver: user name already exists');
export const ErrGRPCUserEmpty = e(Code.INVALID_ARGUMENT, 'etcdserver: user name is empty');
export const ErrGRPCUserNotFound = e(Code.FAILED_PRECONDITION, 'etcdserver: user name not found');
export const ErrGRPCRoleAlreadyExist = e(Code.FAILED_PRECONDITION, 'etcdserver: role name already exists');
export const ErrGRPCRoleNotFound = e(Code.FAILED_PRECONDITION, 'etcdserver: role name not found');
export const ErrGRPCRoleEmpty = e(Code.INVALID_ARGUMENT, 'etcdserver: role name is empty');
export const ErrGRPCAuthFailed = e(Code.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password');
export const ErrGRPCPermissionDenied = e(Code.PERMISSION_DENIED, 'etcdserver: permission denied');
export const ErrGRPCRoleNotGranted = e(Code.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user');
export const ErrGRPCPermissionNotGranted = e(Code.FAILED_PRECONDITION, 'etcdserver: permission is not granted to the role');
export const ErrGRPCAuthNotEnabled = e(Code.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled');
export const ErrGRPCInvalidAuthToken = e(Code.UNAUTHENTICATED, 'etcdserver: invalid auth token');
export const ErrGRPCInvalidAuthMgmt = e(Code.INVALID_ARGUMENT, 'etcdserver: invalid auth management');
export const ErrGRPCAuthOldRevision = e(Code.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old');

export const ErrGRPCNoLeader = e(Code.UNAVAILABLE, 'etcdserver: no leader');
export const ErrGRPCNotLeader = e(Code.FAILED_PRECONDITION, 'etcdserver: not leader');
export const ErrGRPCLeaderChanged = e(Code.UNAVAILABLE, 'etcdserver: leader changed');
export const ErrGRPCNotCapable = e(Code.UNAVAILABLE, 'etcdserver: not capable');
export const ErrGRPCStopped = e(Code.UNAVAILABLE, 'etcdserver: server stopped');
export const ErrGRPCTimeout = e(Code.UNAVAILABLE, 'etcdserver: request timed out');
export const ErrGRPCTimeoutDueToLeaderFail = e(Code.UNAVAILABLE, 'etcdserver: request timed out, possibly due to previous leader failure');
export const ErrGRPCTimeoutDueToConnectionLost = e(Code.UNAVAILABLE, 'etcdserver: request timed out, possibly due to connection lost');
export const ErrGRPCTimeoutWaitAppliedIndex = e(Code.UNAVAILABLE, 'etcdserver: request timed out, waiting for the applied index took too long');
export const ErrGRPCUnhealthy = e(Code.UNAVAILABLE, 'etcdserver: unhealthy cluster');
export const ErrGRPCCorrupt = e(Code.DATA_LOSS, 'etcdserver: corrupt cluster');
export const ErrGPRCNotSupportedForLearner = e(Code.UNAVAILABLE, 'etcdserver: rpc not supported for learner');
export const ErrGRPCBadLeaderTransferee = e(Code.FAILED_PRECONDITION, 'etcdserver: bad leader transferee');

/**
 * grpc-go's status for a request above the server's receive limit
 * (rpc_util.go recvAndDecompress, grpc 1.26 as vendored by etcd 3.4): `n` is
 * the message size, `max` the limit, both bytes.
 */
export function errReceivedTooLarge(n: number, max: number): GrpcStatusError {
  return new GrpcStatusError(Code.RESOURCE_EXHAUSTED, `grpc: received message larger than max (${n} vs. ${max})`);
}
