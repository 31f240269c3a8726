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
import { goQuote, goQuoteBytes } from '../go-format.js';
import { AlarmType, type AlarmResponse, type MemberListResponse } from '../../gen/etcdserverpb/rpc_pb.js';
import type { DbStatus, EpHashKV, EpHealth, EpStatus } from './maintenance.js';
import { UnsupportedPrinter, type PrinterOptions } from './base.js';

import type { AuthRoleGetResponse, AuthRoleListResponse } from '../../gen/etcdserverpb/rpc_pb.js';
import { Permission_Type } from '../../gen/authpb/auth_pb.js';
import type { AuthStatusResponse } from './auth.js';

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

  // ---- cluster maintenance (etcdctl printer_fields.go; member add/remove/update are unsupported) ----
  override memberList(r: MemberListResponse): void {
    this.hdr(r.header);
    for (const m of r.members) {
      this.line(`"ID" : ${m.ID}`);
      this.line(`"Name" : ${goQuote(m.name)}`);
      for (const u of m.peerURLs) this.line(`"PeerURL" : ${goQuote(u)}`);
      for (const u of m.clientURLs) this.line(`"ClientURL" : ${goQuote(u)}`);
      this.line(`"IsLearner" : ${m.isLearner}`);
      this.line('');
    }
  }
  override endpointHealth(list: EpHealth[]): void {
    for (const h of list) {
      this.line(`"Endpoint" : ${goQuote(h.ep)}`);
      this.line(`"Health" : ${h.health}`);
      this.line(`"Took" : ${h.took}`);
      this.line(`"Error" : ${h.error}`);
      this.line('');
    }
  }
  override endpointStatus(list: EpStatus[]): void {
    for (const { ep, resp } of list) {
      this.hdr(resp.header);
      this.line(`"Version" : ${goQuote(resp.version)}`);
      this.line(`"DBSize" : ${resp.dbSize}`);
      this.line(`"Leader" : ${resp.leader}`);
      this.line(`"IsLearner" : ${resp.isLearner}`);
      this.line(`"RaftIndex" : ${resp.raftIndex}`);
      this.line(`"RaftTerm" : ${resp.raftTerm}`);
      this.line(`"RaftAppliedIndex" : ${resp.raftAppliedIndex}`);
      this.line(`"Errors" : [${resp.errors.join(' ')}]`);
      this.line(`"Endpoint" : ${goQuote(ep)}`);
      this.line('');
    }
  }
  override endpointHashKV(list: EpHashKV[]): void {
    for (const { ep, resp } of list) {
      this.hdr(resp.header);
      this.line(`"Endpoint" : ${goQuote(ep)}`);
      this.line(`"Hash" : ${resp.hash}`);
      this.line('');
    }
  }
  /** The server sends no header here: 3.4 crashes on it (nil pointer); we print zeros. */
  override dbStatus(ds: DbStatus): void {
    this.line(`"Hash" : ${ds.hash}`);
    this.line(`"Revision" : ${ds.revision}`);
    this.line(`"Keys" : ${ds.totalKey}`);
    this.line(`"Size" : ${ds.totalSize}`);
  }
  override alarm(r: AlarmResponse): void {
    this.hdr(r.header);
    for (const a of r.alarms) {
      this.line(`"MemberID" : ${a.memberID}`);
      this.line(`"AlarmType" : ${AlarmType[a.alarm] ?? a.alarm}`);
      this.line('');
    }
  }

  // ---- auth (printer_fields.go); user get / user list are not supported in 3.4 ----
  override roleAdd(_role: string, r: { header?: ResponseHeader }): void { this.hdr(r.header); }
  override roleGet(_role: string, r: AuthRoleGetResponse): void {
    this.hdr(r.header);
    for (const p of r.perm) {
      // Println with the name as a second operand: two spaces after the colon
      this.line(`"PermType" :  ${Permission_Type[p.permType] ?? p.permType}`);
      this.line(`"Key" : ${goQuoteBytes(p.key)}`);
      this.line(`"RangeEnd" : ${goQuoteBytes(p.rangeEnd)}`);
    }
  }
  override roleDelete(_role: string, r: { header?: ResponseHeader }): void { this.hdr(r.header); }
  override roleList(r: AuthRoleListResponse): void {
    this.hdr(r.header);
    this.line(`"Roles" :${r.roles.map((x) => ' ' + goQuote(x)).join('')}`);
  }
  override roleGrantPermission(_role: string, r: { header?: ResponseHeader }): void { this.hdr(r.header); }
  override roleRevokePermission(_role: string, _key: string, _end: Uint8Array, r: { header?: ResponseHeader }): void { this.hdr(r.header); }
  override userAdd(_user: string, r: { header?: ResponseHeader }): void { this.hdr(r.header); }
  override userChangePassword(r: { header?: ResponseHeader }): void { this.hdr(r.header); }
  override userGrantRole(_user: string, _role: string, r: { header?: ResponseHeader }): void { this.hdr(r.header); }
  override userRevokeRole(_user: string, _role: string, r: { header?: ResponseHeader }): void { this.hdr(r.header); }
  override userDelete(_user: string, r: { header?: ResponseHeader }): void { this.hdr(r.header); }
  /** etcdctl 3.5 printer_fields.go AuthStatus */
  override authStatus(r: AuthStatusResponse): void {
    this.hdr(r.header);
    this.line(`"Enabled" : ${r.enabled}`);
    this.line(`"AuthRevision" : ${r.authRevision}`);
  }
}
