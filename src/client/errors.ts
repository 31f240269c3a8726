/**
 * @module client/errors
 * Errors as the Go client (clientv3 + rpctypes) reports them, so that etcdctl's
 * `Error: ...` lines come out the same: a gRPC status whose message is one of etcd's
 * own (api/v3rpc/rpctypes/error.go) is reported bare (`etcdserver: key not found`);
 * any other status keeps Go's wrapper (`rpc error: code = Unavailable desc = ...`);
 * an expired client deadline is `context deadline exceeded`.
 */

/** gRPC status codes by number, with Go's names (google.golang.org/grpc/codes). */
export const GRPC_CODE_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound',
  'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition',
  'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss',
  'Unauthenticated',
] as const;

/** Messages the etcd server sends that clientv3 turns into typed errors (rpctypes). */
export const ETCD_ERROR_MESSAGES: ReadonlySet<string> = new Set([
  'etcdserver: key is not provided',
  'etcdserver: key not found',
  'etcdserver: value is provided',
  'etcdserver: lease is provided',
  'etcdserver: too many operations in txn request',
  'etcdserver: duplicate key given in txn request',
  'etcdserver: mvcc: required revision has been compacted',
  'etcdserver: mvcc: required revision is a future revision',
  'etcdserver: mvcc: database space exceeded',
  'etcdserver: requested lease not found',
  'etcdserver: lease already exists',
  'etcdserver: too large lease TTL',
  'etcdserver: member ID already exist',
  'etcdserver: Peer URLs already exists',
  'etcdserver: member not found',
  'etcdserver: given member URLs are invalid',
  'etcdserver: re-configuration failed due to not enough started members',
  'etcdserver: can only promote a learner member',
  'etcdserver: can only promote a learner member which is in sync with leader',
  'etcdserver: too many learner members in cluster',
  'etcdserver: request is too large',
  'etcdserver: too many requests',
  'etcdserver: root user does not exist',
  'etcdserver: root user does not have root role',
  'etcdserver: user name already exists',
  'etcdserver: user name is empty',
  'etcdserver: user name not found',
  'etcdserver: role name already exists',
  'etcdserver: role name not found',
  'etcdserver: role name is empty',
  'etcdserver: authentication failed, invalid user ID or password',
  'etcdserver: permission denied',
  'etcdserver: role is not granted to the user',
  'etcdserver: permission is not granted to the role',
  'etcdserver: authentication is not enabled',
  'etcdserver: invalid auth token',
  'etcdserver: invalid auth management',
  'etcdserver: revision of auth store is old',
  'etcdserver: no leader',
  'etcdserver: not leader',
  'etcdserver: leader changed',
  'etcdserver: not capable',
  'etcdserver: server stopped',
  'etcdserver: request timed out',
  'etcdserver: request timed out, possibly due to previous leader failure',
  'etcdserver: request timed out, possibly due to connection lost',
  'etcdserver: request timed out, waiting for the applied index took too long',
  'etcdserver: unhealthy cluster',
  'etcdserver: corrupt cluster',
  'etcdserver: rpc not supported for learner',
  'etcdserver: bad leader transferee',
  'etcdserver: watch canceled',
]);

/**
 * An error from an etcd RPC. `message` is what etcdctl prints after `Error: `.
 * `code` is the gRPC status code (number), or -1 for client-side context errors.
 */
export class EtcdError extends Error {
  constructor(
    message: string,
    readonly code: number,
    /** the server's status message, unwrapped */
    readonly details: string,
    /** why the connection failed, when known (refused, TLS...), for humans */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'EtcdError';
  }

  /** true when the server reported this exact etcd error message */
  is(details: string): boolean {
    return this.details === details;
  }
}

/** `context deadline exceeded`: the command timeout passed (Go's context.DeadlineExceeded). */
export class DeadlineExceededError extends EtcdError {
  /**
   * @param reason why no connection could be made, for humans
   * @param statusDesc the description of the DeadlineExceeded status grpc-go gives the
   *   failed call (its log line shows it), e.g. `latest balancer error: all SubConns are
   *   in TransientFailure` when no endpoint could be connected to
   */
  constructor(reason?: string, readonly statusDesc = 'context deadline exceeded') {
    super('context deadline exceeded', -1, 'context deadline exceeded', reason);
  }
}

/** `context canceled`: the call was canceled by us (Go's context.Canceled). */
export class CanceledError extends EtcdError {
  constructor() {
    super('context canceled', -1, 'context canceled');
  }
}

/**
 * Converts a gRPC status (code + details) into the error clientv3 would return.
 * @param code gRPC status code number
 * @param details the status message
 */
export function fromStatus(code: number, details: string): EtcdError {
  if (ETCD_ERROR_MESSAGES.has(details)) return new EtcdError(details, code, details);
  const name = GRPC_CODE_NAMES[code] ?? `Code(${code})`;
  return new EtcdError(`rpc error: code = ${name} desc = ${details}`, code, details);
}

/**
 * The error as grpc-go's status error prints it (`rpc error: code = <Name> desc =
 * <message>`), which is how clientv3's retry interceptor logs a failed attempt, before
 * rpctypes turns it into the bare etcd message.
 */
export function goStatusString(e: EtcdError): string {
  if (e instanceof DeadlineExceededError) return `rpc error: code = DeadlineExceeded desc = ${e.statusDesc}`;
  if (e instanceof CanceledError) return 'rpc error: code = Canceled desc = context canceled';
  const name = GRPC_CODE_NAMES[e.code] ?? `Code(${e.code})`;
  return `rpc error: code = ${name} desc = ${e.details}`;
}

/**
 * clientv3's isContextError: the call failed with DeadlineExceeded or Canceled, whether
 * our own deadline/cancellation or a status the server sent.
 */
export function isContextError(e: EtcdError): boolean {
  return e instanceof DeadlineExceededError || e instanceof CanceledError || e.code === 4 || e.code === 1;
}
