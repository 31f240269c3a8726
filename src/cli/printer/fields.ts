/**
 * @module cli/printer/fields
 * etcdctl's `fields` format (printer_fields.go): `"Name" : value` lines. Integers are
 * printed in decimal, byte strings and strings with Go's `%q`.
 */

import type {
  DeleteRangeResponse,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  TxnResponse,
  WatchResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import { Event_EventType, type KeyValue } from '../../gen/mvccpb/kv_pb.js';
import { goQuoteBytes } from '../go-format.js';
import { UnsupportedPrinter, type PrinterOptions } from './base.js';

export class FieldsPrinter extends UnsupportedPrinter {
  constructor(private readonly opts: PrinterOptions) {
    super('fields');
  }

  private line(s: string): void {
    this.opts.out.write(s + '\n');
  }

  private kv(pfx: string, kv: KeyValue): void {
    this.line(`"${pfx}Key" : ${goQuoteBytes(kv.key)}`);
    this.line(`"${pfx}CreateRevision" : ${kv.createRevision}`);
    this.line(`"${pfx}ModRevision" : ${kv.modRevision}`);
    this.line(`"${pfx}Version" : ${kv.version}`);
    this.line(`"${pfx}Value" : ${goQuoteBytes(kv.value)}`);
    this.line(`"${pfx}Lease" : ${kv.lease}`);
  }

  /** The header block; a nil header prints zeros (3.4 would crash, see printer docs). */
  private hdr(h: ResponseHeader | undefined): void {
    this.line(`"ClusterID" : ${h?.clusterId ?? 0n}`);
    this.line(`"MemberID" : ${h?.memberId ?? 0n}`);
    this.line(`"Revision" : ${h?.revision ?? 0n}`);
    this.line(`"RaftTerm" : ${h?.raftTerm ?? 0n}`);
  }

  override del(r: DeleteRangeResponse): void {
    this.hdr(r.header);
    this.line(`"Deleted" : ${r.deleted}`);
    for (const kv of r.prevKvs) this.kv('Prev', kv);
  }

  override get(r: RangeResponse): void {
    this.hdr(r.header);
    for (const kv of r.kvs) this.kv('', kv);
    this.line(`"More" : ${r.more}`);
    this.line(`"Count" : ${r.count}`);
  }

  override put(r: PutResponse): void {
    this.hdr(r.header);
    if (r.prevKv) this.kv('Prev', r.prevKv);
  }

  override txn(r: TxnResponse): void {
    this.hdr(r.header);
    this.line(`"Succeeded" : ${r.succeeded}`);
    for (const op of r.responses) {
      const res = op.response;
      switch (res.case) {
        case 'responseDeleteRange': this.del(res.value); break;
        case 'responsePut': this.put(res.value); break;
        case 'responseRange': this.get(res.value); break;
        default: this.line(`"Unknown" : "<nil>"`);
      }
    }
  }

  override watch(r: WatchResponse): void {
    this.hdr(r.header);
    for (const e of r.events) {
      this.line(`"Type" : ${Event_EventType[e.type] ?? e.type}`);
      if (e.prevKv) this.kv('Prev', e.prevKv);
      if (e.kv) this.kv('', e.kv);
    }
  }

  override grant(r: LeaseGrantResponse): void {
    this.hdr(r.header);
    this.line(`"ID" : ${r.ID}`);
    this.line(`"TTL" : ${r.TTL}`);
  }

  override revoke(_id: bigint, r: LeaseRevokeResponse): void {
    this.hdr(r.header);
  }

  override keepAlive(r: LeaseKeepAliveResponse): void {
    this.hdr(r.header);
    this.line(`"ID" : ${r.ID}`);
    this.line(`"TTL" : ${r.TTL}`);
  }

  override timeToLive(r: LeaseTimeToLiveResponse, _keys: boolean): void {
    this.hdr(r.header);
    this.line(`"ID" : ${r.ID}`);
    this.line(`"TTL" : ${r.TTL}`);
    this.line(`"GrantedTTL" : ${r.grantedTTL}`);
    for (const k of r.keys) this.line(`"Key" : ${goQuoteBytes(k)}`);
  }

  override leases(r: LeaseLeasesResponse): void {
    this.hdr(r.header);
    for (const l of r.leases) this.line(`"ID" : ${l.ID}`);
  }
}
