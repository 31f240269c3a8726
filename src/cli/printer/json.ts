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
import type { EpHashKV, EpHealth, EpStatus } from './maintenance.js';
import { UnsupportedPrinter, type PrinterOptions } from './base.js';
import { messageFields, messageJson, Raw, structJson, valueJson } from './go-json.js';

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
    this.line(
      structJson([
        ['Header', new Raw(messageJson(ResponseHeaderSchema, r.header ?? ({} as ResponseHeader)))],
        ['Events', r.events.map((e) => new Raw(messageJson(EventSchema, e)))],
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
}
