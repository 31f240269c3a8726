/**
 * @module server/etcdserver/api/v3rpc/auth
 * The Auth service (etcd 3.4 etcdserver/api/v3rpc/auth.go): each method calls
 * the server's Authenticator and maps errors with togRPCError. Headers are
 * filled as etcd's applier does (newHeader: cluster, member, revision, term);
 * a revision the server set is kept.
 */
import type { ResponseHeader } from '../../../../gen/etcdserverpb/rpc_pb.js';
import type { CallContext, EtcdServerApi } from '../../api.js';
import { Header } from './header.js';
import { togRPCError } from './util.js';

/** The Auth service methods, by their gRPC method name, and the server call serving each. */
export const AUTH_METHODS = {
  AuthEnable: (s: EtcdServerApi, ctx: CallContext) => s.authEnable(ctx),
  AuthDisable: (s: EtcdServerApi, ctx: CallContext) => s.authDisable(ctx),
  Authenticate: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['authenticate']>[1]) => s.authenticate(ctx, r),
  UserAdd: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['userAdd']>[1]) => s.userAdd(ctx, r),
  UserGet: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['userGet']>[1]) => s.userGet(ctx, r),
  UserList: (s: EtcdServerApi, ctx: CallContext) => s.userList(ctx),
  UserDelete: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['userDelete']>[1]) => s.userDelete(ctx, r),
  UserChangePassword: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['userChangePassword']>[1]) => s.userChangePassword(ctx, r),
  UserGrantRole: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['userGrantRole']>[1]) => s.userGrantRole(ctx, r),
  UserRevokeRole: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['userRevokeRole']>[1]) => s.userRevokeRole(ctx, r),
  RoleAdd: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['roleAdd']>[1]) => s.roleAdd(ctx, r),
  RoleGet: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['roleGet']>[1]) => s.roleGet(ctx, r),
  RoleList: (s: EtcdServerApi, ctx: CallContext) => s.roleList(ctx),
  RoleDelete: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['roleDelete']>[1]) => s.roleDelete(ctx, r),
  RoleGrantPermission: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['roleGrantPermission']>[1]) => s.roleGrantPermission(ctx, r),
  RoleRevokePermission: (s: EtcdServerApi, ctx: CallContext, r: Parameters<EtcdServerApi['roleRevokePermission']>[1]) => s.roleRevokePermission(ctx, r),
} as const;

export type AuthMethodName = keyof typeof AUTH_METHODS;

/** Auth service handlers (etcd AuthServer). */
export class AuthServer {
  private readonly hdr: Header;

  constructor(private readonly s: EtcdServerApi) {
    this.hdr = new Header(s);
  }

  /**
   * Runs Auth method `name` (e.g. 'UserAdd') with request `r`; rejects with the
   * mapped GrpcStatusError.
   */
  async call(name: AuthMethodName, ctx: CallContext, r: unknown): Promise<{ header?: ResponseHeader }> {
    const fn = AUTH_METHODS[name] as (s: EtcdServerApi, ctx: CallContext, r: unknown) => Promise<{ header?: ResponseHeader }>;
    const resp = await fn(this.s, ctx, r).catch((e) => { throw togRPCError(e); });
    this.hdr.fill(resp);
    return resp;
  }
}
