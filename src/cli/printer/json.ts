/**
 * @module cli/printer/json
 * etcdctl's `json` format (printer_json.go): Go's json.Marshal of the client response
 * structs, one compact line per response. Protobuf responses are encoded from their
 * descriptors; clientv3's own structs (lease and watch responses) are rebuilt here with
 * their Go field names and tags.
 */

import {
  DeleteRangeResponseSchema,
  LeaseRevokeResponseSchema,
  PutResponseSchema,
  RangeResponseSchema,
  ResponseHeaderSchema,
  TxnResponseSchema,
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
import { EventSchema } from '../../gen/mvccpb/kv_pb.js';
import {
  AlarmResponseSchema, HashKVResponseSchema, MemberAddResponseSchema, MemberListResponseSchema, MemberPromoteResponseSchema,
  MemberRemoveResponseSchema, MemberUpdateResponseSchema, MoveLeaderResponseSchema, StatusResponseSchema,
  type AlarmResponse, type MemberAddResponse, type MemberListResponse, type MemberPromoteResponse, type MemberRemoveResponse,
  type MemberUpdateResponse, type MoveLeaderResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import type { DbStatus, EpHashKV, EpHealth, EpStatus } from './maintenance.js';
import { UnsupportedPrinter, type PrinterOptions } from './base.js';
import { messageFields, messageJson, Raw, structJson, valueJson } from './go-json.js';

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
import type { AuthStatusResponse } from './auth.js';

export class JsonPrinter extends UnsupportedPrinter {
  constructor(private readonly opts: PrinterOptions) {
    super('json');
  }

  private line(json: string): void {
    this.opts.out.write(json + '\n');
  }

  /** header fields promoted from clientv3's embedded *pb.ResponseHeader */
  private header(h: ResponseHeader | undefined): Array<[string, unknown]> {
    return messageFields(ResponseHeaderSchema, h);
  }

  override del(r: DeleteRangeResponse): void { this.line(messageJson(DeleteRangeResponseSchema, r)); }
  override get(r: RangeResponse): void { this.line(messageJson(RangeResponseSchema, r)); }
  override put(r: PutResponse): void { this.line(messageJson(PutResponseSchema, r)); }
  override txn(r: TxnResponse): void { this.line(messageJson(TxnResponseSchema, r)); }

  override watch(r: WatchResponse): void {
    // clientv3.WatchResponse: Header is a value (never null), no json tags, no omitempty.
    // A response without header is the one clientv3 synthesizes when a watch fails
    // (refused creation, stream error): its Events slice is nil, printed as null.
    this.line(
      structJson([
        ['Header', new Raw(messageJson(ResponseHeaderSchema, r.header ?? ({} as ResponseHeader)))],
        ['Events', r.header ? r.events.map((e) => new Raw(messageJson(EventSchema, e))) : null],
        ['CompactRevision', r.compactRevision],
        ['Canceled', r.canceled],
        ['Created', r.created],
      ]),
    );
  }

  override grant(r: LeaseGrantResponse): void {
    this.line(structJson([...this.header(r.header), ['ID', r.ID], ['TTL', r.TTL], ['Error', r.error]]));
  }

  override revoke(_id: bigint, r: LeaseRevokeResponse): void {
    this.line(messageJson(LeaseRevokeResponseSchema, r));
  }

  override keepAlive(r: LeaseKeepAliveResponse): void {
    this.line(structJson([...this.header(r.header), ['ID', r.ID], ['TTL', r.TTL]]));
  }

  override timeToLive(r: LeaseTimeToLiveResponse, _keys: boolean): void {
    this.line(
      structJson([
        ...this.header(r.header),
        ['id', r.ID],
        ['ttl', r.TTL],
        ['granted-ttl', r.grantedTTL],
        ['keys', r.keys.length ? r.keys : null],
      ]),
    );
  }

  override leases(r: LeaseLeasesResponse): void {
    this.line(structJson([...this.header(r.header), ['leases', r.leases.map((l) => new Raw(structJson([['id', l.ID]])))]]));
  }
  // ---- cluster maintenance (etcdctl printer_json.go: printerRPC and the endpoint lists) ----
  override memberAdd(r: MemberAddResponse): void { this.line(messageJson(MemberAddResponseSchema, r)); }
  override memberRemove(_id: bigint, r: MemberRemoveResponse): void { this.line(messageJson(MemberRemoveResponseSchema, r)); }
  override memberUpdate(_id: bigint, r: MemberUpdateResponse): void { this.line(messageJson(MemberUpdateResponseSchema, r)); }
  override memberPromote(_id: bigint, r: MemberPromoteResponse): void { this.line(messageJson(MemberPromoteResponseSchema, r)); }
  /** 3.4 ignores --hex here (3.5+ prints hex strings) */
  override memberList(r: MemberListResponse): void { this.line(messageJson(MemberListResponseSchema, r)); }
  override endpointHealth(list: EpHealth[]): void {
    this.line(valueJson(list.map((h) => new Raw(structJson([['endpoint', h.ep], ['health', h.health], ['took', h.took], ['error', h.error === '' ? undefined : h.error]])))));
  }
  override endpointStatus(list: EpStatus[]): void {
    this.line(valueJson(list.map((s) => new Raw(structJson([['Endpoint', s.ep], ['Status', new Raw(messageJson(StatusResponseSchema, s.resp))]])))));
  }
  override endpointHashKV(list: EpHashKV[]): void {
    this.line(valueJson(list.map((s) => new Raw(structJson([['Endpoint', s.ep], ['HashKV', new Raw(messageJson(HashKVResponseSchema, s.resp))]])))));
  }
  override moveLeader(_leader: bigint, _target: bigint, r: MoveLeaderResponse): void { this.line(messageJson(MoveLeaderResponseSchema, r)); }
  override alarm(r: AlarmResponse): void { this.line(messageJson(AlarmResponseSchema, r)); }
  /** snapshot.Status's json tags */
  override dbStatus(ds: DbStatus): void { this.line(structJson([['hash', ds.hash], ['revision', ds.revision], ['totalKey', ds.totalKey], ['totalSize', ds.totalSize]])); }

  // ---- auth: Go json of the etcdserverpb response structs (printer.go printerRPC) ----
  override roleAdd(_role: string, r: AuthRoleAddResponse): void { this.line(messageJson(AuthRoleAddResponseSchema, r)); }
  override roleGet(_role: string, r: AuthRoleGetResponse): void { this.line(messageJson(AuthRoleGetResponseSchema, r)); }
  override roleDelete(_role: string, r: AuthRoleDeleteResponse): void { this.line(messageJson(AuthRoleDeleteResponseSchema, r)); }
  override roleList(r: AuthRoleListResponse): void { this.line(messageJson(AuthRoleListResponseSchema, r)); }
  override roleGrantPermission(_role: string, r: AuthRoleGrantPermissionResponse): void { this.line(messageJson(AuthRoleGrantPermissionResponseSchema, r)); }
  override roleRevokePermission(_role: string, _key: string, _end: Uint8Array, r: AuthRoleRevokePermissionResponse): void { this.line(messageJson(AuthRoleRevokePermissionResponseSchema, r)); }
  override userAdd(_user: string, r: AuthUserAddResponse): void { this.line(messageJson(AuthUserAddResponseSchema, r)); }
  override userGet(_user: string, r: AuthUserGetResponse): void { this.line(messageJson(AuthUserGetResponseSchema, r)); }
  override userList(r: AuthUserListResponse): void { this.line(messageJson(AuthUserListResponseSchema, r)); }
  override userChangePassword(r: AuthUserChangePasswordResponse): void { this.line(messageJson(AuthUserChangePasswordResponseSchema, r)); }
  override userGrantRole(_user: string, _role: string, r: AuthUserGrantRoleResponse): void { this.line(messageJson(AuthUserGrantRoleResponseSchema, r)); }
  override userRevokeRole(_user: string, _role: string, r: AuthUserRevokeRoleResponse): void { this.line(messageJson(AuthUserRevokeRoleResponseSchema, r)); }
  override userDelete(_user: string, r: AuthUserDeleteResponse): void { this.line(messageJson(AuthUserDeleteResponseSchema, r)); }
  /** 3.5's pb.AuthStatusResponse: header, enabled, authRevision (all omitempty) */
  override authStatus(r: AuthStatusResponse): void {
    this.line(structJson([
      ['header', r.header ? new Raw(messageJson(ResponseHeaderSchema, r.header)) : undefined],
      ['enabled', r.enabled ? true : undefined],
      ['authRevision', r.authRevision !== 0n ? r.authRevision : undefined],
    ]));
  }
}
