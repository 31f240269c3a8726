/**
 * @module server/auth/errors
 * The auth package's sentinel errors with etcd's auth package messages
 * (auth/store.go). The gRPC layer (server/api/errors.ts) maps each to its
 * `etcdserver: ...` status (rpctypes/error.go, v3rpc/util.go toGRPCErrorMap);
 * the mapped message is noted on each class for that table.
 */

/** Base class of the auth package's errors. */
export class AuthError extends Error {}

/** `auth enable` without a `root` user; gRPC: "etcdserver: root user does not exist". */
export class ErrRootUserNotExist extends AuthError {
  override readonly name = 'ErrRootUserNotExist';
  constructor() {
    super('auth: root user does not exist');
  }
}

/** `auth enable` while `root` lacks the `root` role; gRPC: "etcdserver: root user does not have root role". */
export class ErrRootRoleNotExist extends AuthError {
  override readonly name = 'ErrRootRoleNotExist';
  constructor() {
    super('auth: root user does not have root role');
  }
}

/** user add of an existing name; gRPC: "etcdserver: user name already exists". */
export class ErrUserAlreadyExist extends AuthError {
  override readonly name = 'ErrUserAlreadyExist';
  constructor() {
    super('auth: user already exists');
  }
}

/** an empty user name (also a request without auth info); gRPC: "etcdserver: user name is empty". */
export class ErrUserEmpty extends AuthError {
  override readonly name = 'ErrUserEmpty';
  constructor() {
    super('auth: user name is empty');
  }
}

/** no such user; gRPC: "etcdserver: user name not found". */
export class ErrUserNotFound extends AuthError {
  override readonly name = 'ErrUserNotFound';
  constructor() {
    super('auth: user not found');
  }
}

/** role add of an existing name; gRPC: "etcdserver: role name already exists". */
export class ErrRoleAlreadyExist extends AuthError {
  override readonly name = 'ErrRoleAlreadyExist';
  constructor() {
    super('auth: role already exists');
  }
}

/** no such role; gRPC: "etcdserver: role name not found". */
export class ErrRoleNotFound extends AuthError {
  override readonly name = 'ErrRoleNotFound';
  constructor() {
    super('auth: role not found');
  }
}

/** an empty role name; gRPC: "etcdserver: role name is empty". */
export class ErrRoleEmpty extends AuthError {
  override readonly name = 'ErrRoleEmpty';
  constructor() {
    super('auth: role name is empty');
  }
}

/** wrong user or password; gRPC: "etcdserver: authentication failed, invalid user ID or password". */
export class ErrAuthFailed extends AuthError {
  override readonly name = 'ErrAuthFailed';
  constructor() {
    super('auth: authentication failed, invalid user ID or password');
  }
}

/** password login for a user added with no password; not in etcd 3.4's gRPC table (it reaches clients as an unknown error). */
export class ErrNoPasswordUser extends AuthError {
  override readonly name = 'ErrNoPasswordUser';
  constructor() {
    super('auth: authentication failed, password was given for no password user');
  }
}

/** the user lacks the permission; gRPC: "etcdserver: permission denied". */
export class ErrPermissionDenied extends AuthError {
  override readonly name = 'ErrPermissionDenied';
  constructor() {
    super('auth: permission denied');
  }
}

/** revoking a role the user does not have; gRPC: "etcdserver: role is not granted to the user". */
export class ErrRoleNotGranted extends AuthError {
  override readonly name = 'ErrRoleNotGranted';
  constructor() {
    super('auth: role is not granted to the user');
  }
}

/** revoking a permission the role does not have; gRPC: "etcdserver: permission is not granted to the role". */
export class ErrPermissionNotGranted extends AuthError {
  override readonly name = 'ErrPermissionNotGranted';
  constructor() {
    super('auth: permission is not granted to the role');
  }
}

/** authenticate while auth is disabled; gRPC: "etcdserver: authentication is not enabled". */
export class ErrAuthNotEnabled extends AuthError {
  override readonly name = 'ErrAuthNotEnabled';
  constructor() {
    super('auth: authentication is not enabled');
  }
}

/** the request's auth revision is older than the store's; gRPC: "etcdserver: revision of auth store is old". */
export class ErrAuthOldRevision extends AuthError {
  override readonly name = 'ErrAuthOldRevision';
  constructor() {
    super('auth: revision in header is old');
  }
}

/** unknown or expired token; gRPC: "etcdserver: invalid auth token". */
export class ErrInvalidAuthToken extends AuthError {
  override readonly name = 'ErrInvalidAuthToken';
  constructor() {
    super('auth: invalid auth token');
  }
}

/** a bad `--auth-token` value (etcd ErrInvalidAuthOpts; a startup error, never sent to clients). */
export class ErrInvalidAuthOpts extends AuthError {
  override readonly name = 'ErrInvalidAuthOpts';
  constructor() {
    super('auth: invalid auth options');
  }
}

/** deleting `root`, its `root` role or the `root` role while auth is enabled; gRPC: "etcdserver: invalid auth management". */
export class ErrInvalidAuthMgmt extends AuthError {
  override readonly name = 'ErrInvalidAuthMgmt';
  constructor() {
    super('auth: invalid auth management');
  }
}

/** an unknown JWT sign-method (etcd ErrInvalidAuthMethod; reported as ErrInvalidAuthOpts at startup). */
export class ErrInvalidAuthMethod extends AuthError {
  override readonly name = 'ErrInvalidAuthMethod';
  constructor() {
    super('auth: invalid auth signature method');
  }
}

/** No key file for the sign method (etcd ErrMissingKey). */
export class ErrMissingKey extends AuthError {
  override readonly name = 'ErrMissingKey';
  constructor() {
    super('auth: missing key data');
  }
}

/** pub-key and priv-key are not one pair (etcd ErrKeyMismatch). */
export class ErrKeyMismatch extends AuthError {
  override readonly name = 'ErrKeyMismatch';
  constructor() {
    super("auth: public and private keys don't match");
  }
}

/** Authenticate on a member configured with a public key only (etcd ErrVerifyOnly). */
export class ErrVerifyOnly extends AuthError {
  override readonly name = 'ErrVerifyOnly';
  constructor() {
    super('auth: token signing attempted with verify-only key');
  }
}
