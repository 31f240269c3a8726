/**
 * @module cli/printer/auth
 * The printer operations of the authentication commands (etcdctl printer.go: RoleAdd …
 * UserDelete, and 3.5's AuthStatus). `Printer` extends this interface; each format
 * implements the operations it supports (see simple.ts, json.ts, fields.ts,
 * protobuf.ts); the others end with `<format> not supported as output format`.
 */

import type {
  AuthRoleAddResponse,
  AuthRoleDeleteResponse,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionResponse,
  AuthRoleListResponse,
  AuthRoleRevokePermissionResponse,
  AuthUserAddResponse,
  AuthUserChangePasswordResponse,
  AuthUserDeleteResponse,
  AuthUserGetResponse,
  AuthUserGrantRoleResponse,
  AuthUserListResponse,
  AuthUserRevokeRoleResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import type { AuthStatusResponse } from '../../client/client.js';

export type { AuthStatusResponse };

/** Output of `role …`, `user …` and `auth status`. Names and keys are the command's arguments. */
export interface AuthPrinter {
  roleAdd(role: string, r: AuthRoleAddResponse): void;
  roleGet(role: string, r: AuthRoleGetResponse): void;
  roleDelete(role: string, r: AuthRoleDeleteResponse): void;
  roleList(r: AuthRoleListResponse): void;
  roleGrantPermission(role: string, r: AuthRoleGrantPermissionResponse): void;
  /**
   * @param key the key argument as given
   * @param end the range end sent: empty = single key, `\x00` = open ended
   */
  roleRevokePermission(role: string, key: string, end: Uint8Array, r: AuthRoleRevokePermissionResponse): void;
  userAdd(user: string, r: AuthUserAddResponse): void;
  userGet(user: string, r: AuthUserGetResponse): void;
  userList(r: AuthUserListResponse): void;
  userChangePassword(r: AuthUserChangePasswordResponse): void;
  userGrantRole(user: string, role: string, r: AuthUserGrantRoleResponse): void;
  userRevokeRole(user: string, role: string, r: AuthUserRevokeRoleResponse): void;
  userDelete(user: string, r: AuthUserDeleteResponse): void;
  /** etcd 3.5+ `auth status` */
  authStatus(r: AuthStatusResponse): void;
}
