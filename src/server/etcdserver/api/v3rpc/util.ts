/**
 * @module server/etcdserver/api/v3rpc/util
 * togRPCError: the server's sentinel errors → gRPC statuses, as etcd 3.4's
 * v3rpc/util.go `toGRPCErrorMap`. Errors are matched by their class `name`
 * (see etcdserver/errors.ts, mvcc/errors.ts, lease/errors.ts, auth/errors.ts).
 */
import * as rpctypes from './rpctypes/error.js';
import { Code, GrpcStatusError } from './rpctypes/error.js';

/**
 * Error class name → status. Two entries are etcd quirks: ErrNotEnoughStartedMembers
 * and ErrTooManyRequests map to clientv3's *client-side* EtcdError values, which
 * grpc-go cannot convert to a status, so the client sees code Unknown with the
 * rpctypes message.
 */
const TO_GRPC_ERROR: ReadonlyMap<string, GrpcStatusError> = new Map([
  // membership
  ['ErrIDRemoved', rpctypes.ErrGRPCMemberNotFound],
  ['ErrIDNotFound', rpctypes.ErrGRPCMemberNotFound],
  ['ErrIDExists', rpctypes.ErrGRPCMemberExist],
  ['ErrPeerURLExists', rpctypes.ErrGRPCPeerURLExist],
  ['ErrMemberNotLearner', rpctypes.ErrGRPCMemberNotLearner],
  ['ErrTooManyLearners', rpctypes.ErrGRPCTooManyLearners],
  ['ErrNotEnoughStartedMembers', new GrpcStatusError(Code.UNKNOWN, rpctypes.ErrGRPCMemberNotEnoughStarted.details)],
  ['ErrLearnerNotReady', rpctypes.ErrGRPCLearnerNotReady],
  // mvcc / quota
  ['ErrCompacted', rpctypes.ErrGRPCCompacted],
  ['ErrFutureRev', rpctypes.ErrGRPCFutureRev],
  ['ErrRequestTooLarge', rpctypes.ErrGRPCRequestTooLarge],
  ['ErrNoSpace', rpctypes.ErrGRPCNoSpace],
  ['ErrTooManyRequests', new GrpcStatusError(Code.UNKNOWN, rpctypes.ErrGRPCRequestTooManyRequests.details)],
  // etcdserver
  ['ErrNoLeader', rpctypes.ErrGRPCNoLeader],
  ['ErrNotLeader', rpctypes.ErrGRPCNotLeader],
  ['ErrLeaderChanged', rpctypes.ErrGRPCLeaderChanged],
  ['ErrStopped', rpctypes.ErrGRPCStopped],
  ['ErrTimeout', rpctypes.ErrGRPCTimeout],
  ['ErrTimeoutDueToLeaderFail', rpctypes.ErrGRPCTimeoutDueToLeaderFail],
  ['ErrTimeoutDueToConnectionLost', rpctypes.ErrGRPCTimeoutDueToConnectionLost],
  ['ErrTimeoutWaitAppliedIndex', rpctypes.ErrGRPCTimeoutWaitAppliedIndex],
  ['ErrUnhealthy', rpctypes.ErrGRPCUnhealthy],
  ['ErrKeyNotFound', rpctypes.ErrGRPCKeyNotFound],
  ['ErrCorrupt', rpctypes.ErrGRPCCorrupt],
  ['ErrBadLeaderTransferee', rpctypes.ErrGRPCBadLeaderTransferee],
  // lease
  ['ErrLeaseNotFound', rpctypes.ErrGRPCLeaseNotFound],
  ['ErrLeaseExists', rpctypes.ErrGRPCLeaseExist],
  ['ErrLeaseTTLTooLarge', rpctypes.ErrGRPCLeaseTTLTooLarge],
  // auth
  ['ErrRootUserNotExist', rpctypes.ErrGRPCRootUserNotExist],
  ['ErrRootRoleNotExist', rpctypes.ErrGRPCRootRoleNotExist],
  ['ErrUserAlreadyExist', rpctypes.ErrGRPCUserAlreadyExist],
  ['ErrUserEmpty', rpctypes.ErrGRPCUserEmpty],
  ['ErrUserNotFound', rpctypes.ErrGRPCUserNotFound],
  ['ErrRoleAlreadyExist', rpctypes.ErrGRPCRoleAlreadyExist],
  ['ErrRoleNotFound', rpctypes.ErrGRPCRoleNotFound],
  ['ErrRoleEmpty', rpctypes.ErrGRPCRoleEmpty],
  ['ErrAuthFailed', rpctypes.ErrGRPCAuthFailed],
  ['ErrPermissionDenied', rpctypes.ErrGRPCPermissionDenied],
  ['ErrRoleNotGranted', rpctypes.ErrGRPCRoleNotGranted],
  ['ErrPermissionNotGranted', rpctypes.ErrGRPCPermissionNotGranted],
  ['ErrAuthNotEnabled', rpctypes.ErrGRPCAuthNotEnabled],
  ['ErrInvalidAuthToken', rpctypes.ErrGRPCInvalidAuthToken],
  ['ErrInvalidAuthMgmt', rpctypes.ErrGRPCInvalidAuthMgmt],
  ['ErrAuthOldRevision', rpctypes.ErrGRPCAuthOldRevision],
  // raised by v3rpc's own request checks (etcdserver/errors.ts)
  ['ErrGRPCDuplicateKey', rpctypes.ErrGRPCDuplicateKey],
  ['ErrGRPCTooManyOps', rpctypes.ErrGRPCTooManyOps],
]);

/** The status for a call whose client went away (Go's context.Canceled). */
export const ErrContextCanceled = new GrpcStatusError(Code.CANCELLED, 'context canceled');

/**
 * Maps a server error to the status etcd 3.4 sends (util.go togRPCError): a
 * {@link GrpcStatusError} as is; a sentinel error by class name through the
 * table; an AbortError (the call's signal fired: client cancel/deadline) to
 * Canceled "context canceled"; anything else to Unknown with its message.
 */
export function togRPCError(err: unknown): GrpcStatusError {
  if (err instanceof GrpcStatusError) return err;
  if (err instanceof Error) {
    const mapped = TO_GRPC_ERROR.get(err.name);
    if (mapped) return mapped;
    if (err.name === 'AbortError') return ErrContextCanceled;
    return new GrpcStatusError(Code.UNKNOWN, err.message);
  }
  return new GrpcStatusError(Code.UNKNOWN, String(err));
}

/**
 * The status of an error etcd returns *without* togRPCError (Alarm, Defragment
 * and the auth checks of the maintenance server): grpc-go sends any non-status
 * error as Unknown with its message, e.g. "auth: permission denied".
 */
export function rawError(err: unknown): GrpcStatusError {
  if (err instanceof GrpcStatusError) return err;
  if (err instanceof Error) return err.name === 'AbortError' ? ErrContextCanceled : new GrpcStatusError(Code.UNKNOWN, err.message);
  return new GrpcStatusError(Code.UNKNOWN, String(err));
}
