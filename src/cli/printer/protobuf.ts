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
}
