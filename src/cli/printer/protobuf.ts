/**
 * @module cli/printer/protobuf
 * etcdctl's `protobuf` format (printer_protobuf.go): the raw wire bytes of the response
 * message, no length prefix, no newline. clientv3's lease wrappers embed
 * *pb.ResponseHeader, so for them only the header's bytes are printed, and
 * LeaseRevokeResponse cannot be marshalled at all — both exactly as etcdctl 3.4.
 */

import { toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import {
  DeleteRangeResponseSchema,
  PutResponseSchema,
  RangeResponseSchema,
  ResponseHeaderSchema,
  TxnResponseSchema,
  WatchResponseSchema,
  type DeleteRangeResponse,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
  type PutResponse,
  type RangeResponse,
  type ResponseHeader,
  type TxnResponse,
  type WatchResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import { create } from '@bufbuild/protobuf';
import {
  AlarmResponseSchema, MemberAddResponseSchema, MemberListResponseSchema, MemberPromoteResponseSchema, MemberRemoveResponseSchema,
  MemberUpdateResponseSchema, MoveLeaderResponseSchema,
  type AlarmResponse, type MemberAddResponse, type MemberListResponse, type MemberPromoteResponse, type MemberRemoveResponse,
  type MemberUpdateResponse, type MoveLeaderResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import { CliError, ExitBadFeature } from '../exit-codes.js';
import { UnsupportedPrinter, type PrinterOptions } from './base.js';

/** Go's proto compact text form of a ResponseHeader (`cluster_id:1 member_id:2 revision:3 raft_term:4 `). */
export function headerText(h: ResponseHeader | undefined): string {
  if (!h) return '<nil>';
  let s = '';
  if (h.clusterId) s += `cluster_id:${h.clusterId} `;
  if (h.memberId) s += `member_id:${h.memberId} `;
  if (h.revision) s += `revision:${h.revision} `;
  if (h.raftTerm) s += `raft_term:${h.raftTerm} `;
  return s;
}

import {
  AuthRoleAddResponseSchema, AuthRoleDeleteResponseSchema, AuthRoleGetResponseSchema, AuthRoleGrantPermissionResponseSchema,
  AuthRoleListResponseSchema, AuthRoleRevokePermissionResponseSchema, AuthUserAddResponseSchema,
  AuthUserChangePasswordResponseSchema, AuthUserDeleteResponseSchema, AuthUserGetResponseSchema,
  AuthUserGrantRoleResponseSchema, AuthUserListResponseSchema, AuthUserRevokeRoleResponseSchema,
  type AuthRoleAddResponse, type AuthRoleDeleteResponse, type AuthRoleGetResponse, type AuthRoleGrantPermissionResponse,
  type AuthRoleListResponse, type AuthRoleRevokePermissionResponse, type AuthUserAddResponse,
  type AuthUserChangePasswordResponse, type AuthUserDeleteResponse, type AuthUserGetResponse,
  type AuthUserGrantRoleResponse, type AuthUserListResponse, type AuthUserRevokeRoleResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import type { AuthStatusResponse } from './auth.js';

export class ProtobufPrinter extends UnsupportedPrinter {
  constructor(private readonly opts: PrinterOptions) {
    super('protobuf');
  }

  private pb<D extends DescMessage>(schema: D, msg: MessageShape<D>): void {
    this.opts.out.write(toBinary(schema, msg));
  }

  private hdr(h: ResponseHeader | undefined): void {
    this.pb(ResponseHeaderSchema, h ?? create(ResponseHeaderSchema));
  }

  override del(r: DeleteRangeResponse): void { this.pb(DeleteRangeResponseSchema, r); }
  override get(r: RangeResponse): void { this.pb(RangeResponseSchema, r); }
  override put(r: PutResponse): void { this.pb(PutResponseSchema, r); }
  override txn(r: TxnResponse): void { this.pb(TxnResponseSchema, r); }

  override watch(r: WatchResponse): void {
    // etcdctl rebuilds the response from clientv3's struct, which keeps only these fields.
    this.pb(
      WatchResponseSchema,
      create(WatchResponseSchema, {
        header: r.header ?? create(ResponseHeaderSchema),
        events: r.events,
        compactRevision: r.compactRevision,
        canceled: r.canceled,
        created: r.created,
      }),
    );
  }

  override grant(r: LeaseGrantResponse): void { this.hdr(r.header); }
  override keepAlive(r: LeaseKeepAliveResponse): void { this.hdr(r.header); }
  override timeToLive(r: LeaseTimeToLiveResponse, _keys: boolean): void { this.hdr(r.header); }
  override leases(r: LeaseLeasesResponse): void { this.hdr(r.header); }

  override revoke(_id: bigint, r: LeaseRevokeResponse): void {
    throw new CliError(ExitBadFeature, `marshal unsupported for type clientv3.LeaseRevokeResponse ({${headerText(r.header)}})`);
  }

  // ---- cluster maintenance: the response's wire bytes (endpoint lists are unsupported) ----
  override memberAdd(r: MemberAddResponse): void { this.pb(MemberAddResponseSchema, r); }
  override memberRemove(_id: bigint, r: MemberRemoveResponse): void { this.pb(MemberRemoveResponseSchema, r); }
  override memberUpdate(_id: bigint, r: MemberUpdateResponse): void { this.pb(MemberUpdateResponseSchema, r); }
  override memberPromote(_id: bigint, r: MemberPromoteResponse): void { this.pb(MemberPromoteResponseSchema, r); }
  override memberList(r: MemberListResponse): void { this.pb(MemberListResponseSchema, r); }
  override moveLeader(_leader: bigint, _target: bigint, r: MoveLeaderResponse): void { this.pb(MoveLeaderResponseSchema, r); }
  override alarm(r: AlarmResponse): void { this.pb(AlarmResponseSchema, r); }

  // ---- auth: the etcdserverpb responses' wire bytes ----
  override roleAdd(_role: string, r: AuthRoleAddResponse): void { this.pb(AuthRoleAddResponseSchema, r); }
  override roleGet(_role: string, r: AuthRoleGetResponse): void { this.pb(AuthRoleGetResponseSchema, r); }
  override roleDelete(_role: string, r: AuthRoleDeleteResponse): void { this.pb(AuthRoleDeleteResponseSchema, r); }
  override roleList(r: AuthRoleListResponse): void { this.pb(AuthRoleListResponseSchema, r); }
  override roleGrantPermission(_role: string, r: AuthRoleGrantPermissionResponse): void { this.pb(AuthRoleGrantPermissionResponseSchema, r); }
  override roleRevokePermission(_role: string, _key: string, _end: Uint8Array, r: AuthRoleRevokePermissionResponse): void { this.pb(AuthRoleRevokePermissionResponseSchema, r); }
  override userAdd(_user: string, r: AuthUserAddResponse): void { this.pb(AuthUserAddResponseSchema, r); }
  override userGet(_user: string, r: AuthUserGetResponse): void { this.pb(AuthUserGetResponseSchema, r); }
  override userList(r: AuthUserListResponse): void { this.pb(AuthUserListResponseSchema, r); }
  override userChangePassword(r: AuthUserChangePasswordResponse): void { this.pb(AuthUserChangePasswordResponseSchema, r); }
  override userGrantRole(_user: string, _role: string, r: AuthUserGrantRoleResponse): void { this.pb(AuthUserGrantRoleResponseSchema, r); }
  override userRevokeRole(_user: string, _role: string, r: AuthUserRevokeRoleResponse): void { this.pb(AuthUserRevokeRoleResponseSchema, r); }
  override userDelete(_user: string, r: AuthUserDeleteResponse): void { this.pb(AuthUserDeleteResponseSchema, r); }
  /** 3.5's pb.AuthStatusResponse: header = 1, enabled = 2, authRevision = 3 */
  override authStatus(r: AuthStatusResponse): void {
    const w = new BinaryWriter();
    if (r.header) w.tag(1, 2).bytes(toBinary(ResponseHeaderSchema, r.header));
    if (r.enabled) w.tag(2, 0).bool(true);
    if (r.authRevision !== 0n) w.tag(3, 0).uint64(r.authRevision);
    this.opts.out.write(w.finish());
  }
}
