/**
 * @module cli/printer/simple
 * etcdctl's default `simple` format (etcdctl/ctlv3/command/printer_simple.go): keys and
 * values on their own lines, `OK`, counts, and one-line lease messages.
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
  TxnResponse,
  WatchResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import type { KeyValue } from '../../gen/mvccpb/kv_pb.js';
import type { AlarmResponse, MemberAddResponse, MemberListResponse, MemberPromoteResponse, MemberRemoveResponse, MemberUpdateResponse, MoveLeaderResponse } from '../../gen/etcdserverpb/rpc_pb.js';
import { alarmMemberText, dbStatusTable, endpointHashKVTable, endpointStatusTable, memberListTable, type DbStatus, type EpHashKV, type EpHealth, type EpStatus } from './maintenance.js';
import { Event_EventType } from '../../gen/mvccpb/kv_pb.js';
import { hex016, hex16, UnsupportedPrinter, type PrinterOptions } from './base.js';

const NL = Buffer.from('\n');

/** `\x`-prefixed hex of every byte, as etcdctl's addHexPrefix(hex.EncodeToString(b)). */
export function hexEscape(b: Uint8Array): Buffer {
  let s = '';
  for (const c of b) s += '\\x' + c.toString(16).padStart(2, '0');
  return Buffer.from(s);
}

import type { AuthRoleGetResponse, AuthRoleListResponse, AuthUserGetResponse, AuthUserListResponse } from '../../gen/etcdserverpb/rpc_pb.js';
import { Permission_Type, type Permission } from '../../gen/authpb/auth_pb.js';
import type { AuthStatusResponse } from './auth.js';
import { prefixEnd } from '../../client/range.js';

export class SimplePrinter extends UnsupportedPrinter {
  constructor(private readonly opts: PrinterOptions) {
    super('simple');
  }

  private line(s: string): void {
    this.opts.out.write(s + '\n');
  }

  /** etcdctl's printKV: key line (unless value-only), then value line; raw bytes. */
  private kv(kv: KeyValue): void {
    const { out, hex, valueOnly } = this.opts;
    if (!valueOnly) {
      out.write(hex ? hexEscape(kv.key) : kv.key);
      out.write(NL);
    }
    out.write(hex ? hexEscape(kv.value) : kv.value);
    out.write(NL);
  }

  override del(r: DeleteRangeResponse): void {
    this.line(String(r.deleted));
    for (const kv of r.prevKvs) this.kv(kv);
  }

  override get(r: RangeResponse): void {
    for (const kv of r.kvs) this.kv(kv);
  }

  override put(r: PutResponse): void {
    this.line('OK');
    if (r.prevKv) this.kv(r.prevKv);
  }

  override txn(r: TxnResponse): void {
    this.line(r.succeeded ? 'SUCCESS' : 'FAILURE');
    for (const op of r.responses) {
      this.line('');
      const res = op.response;
      switch (res.case) {
        case 'responseDeleteRange': this.del(res.value); break;
        case 'responsePut': this.put(res.value); break;
        case 'responseRange': this.get(res.value); break;
        default: this.line(`unexpected response ${res.case ?? '{Response:<nil>}'}`);
      }
    }
  }

  override watch(r: WatchResponse): void {
    for (const e of r.events) {
      this.line(Event_EventType[e.type] ?? String(e.type));
      if (e.prevKv) this.kv(e.prevKv);
      if (e.kv) this.kv(e.kv);
    }
  }

  override grant(r: LeaseGrantResponse): void {
    this.line(`lease ${hex016(r.ID)} granted with TTL(${r.TTL}s)`);
  }

  override revoke(id: bigint, _r: LeaseRevokeResponse): void {
    this.line(`lease ${hex016(id)} revoked`);
  }

  override keepAlive(r: LeaseKeepAliveResponse): void {
    this.line(`lease ${hex016(r.ID)} keepalived with TTL(${r.TTL})`);
  }

  override timeToLive(r: LeaseTimeToLiveResponse, keys: boolean): void {
    if (r.grantedTTL === 0n && r.TTL === -1n) {
      this.line(`lease ${hex016(r.ID)} already expired`);
      return;
    }
    let txt = `lease ${hex016(r.ID)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
    if (keys) {
      const ks = r.keys.map((k) => Buffer.from(k).toString('latin1'));
      txt += `, attached keys([${ks.join(' ')}])`;
      this.opts.out.write(Buffer.from(txt + '\n', 'latin1'));
      return;
    }
    this.line(txt);
  }

  override leases(r: LeaseLeasesResponse): void {
    this.line(`found ${r.leases.length} leases`);
    for (const l of r.leases) this.line(hex016(l.ID));
  }

  override keepAliveExpired(id: bigint): void {
    this.line(`lease ${hex016(id)} expired or revoked.`);
  }

  // ---- cluster maintenance (etcdctl printer_simple.go) ----
  override memberAdd(r: MemberAddResponse): void {
    this.line(`Member ${hex16(r.member?.ID ?? 0n)} added to cluster ${hex16(r.header?.clusterId ?? 0n)}`);
  }
  override memberRemove(id: bigint, r: MemberRemoveResponse): void {
    this.line(`Member ${hex16(id)} removed from cluster ${hex16(r.header?.clusterId ?? 0n)}`);
  }
  override memberUpdate(id: bigint, r: MemberUpdateResponse): void {
    this.line(`Member ${hex16(id)} updated in cluster ${hex16(r.header?.clusterId ?? 0n)}`);
  }
  override memberPromote(id: bigint, r: MemberPromoteResponse): void {
    this.line(`Member ${hex16(id)} promoted in cluster ${hex16(r.header?.clusterId ?? 0n)}`);
  }
  override memberList(r: MemberListResponse): void {
    for (const row of memberListTable(r).rows) this.line(row.join(', '));
  }
  /** 3.4 writes these lines to stderr, healthy or not. */
  override endpointHealth(list: EpHealth[]): void {
    this.opts.out.flush();
    const err = this.opts.errWrite ?? ((s: string) => void process.stderr.write(s));
    for (const h of list) {
      if (h.error === '') err(`${h.ep} is healthy: successfully committed proposal: took = ${h.took}\n`);
      else err(`${h.ep} is unhealthy: failed to commit proposal: ${h.error}\n`);
    }
  }
  override endpointStatus(list: EpStatus[]): void {
    for (const row of endpointStatusTable(list).rows) this.line(row.join(', '));
  }
  override endpointHashKV(list: EpHashKV[]): void {
    for (const row of endpointHashKVTable(list).rows) this.line(row.join(', '));
  }
  override moveLeader(leader: bigint, target: bigint, _r: MoveLeaderResponse): void {
    this.line(`Leadership transferred from ${leader.toString(16)} to ${target.toString(16)}`);
  }
  override dbStatus(ds: DbStatus): void {
    for (const row of dbStatusTable(ds).rows) this.line(row.join(', '));
  }
  override alarm(r: AlarmResponse): void {
    for (const a of r.alarms) this.line(alarmMemberText(a));
  }

  // ---- auth (etcdctl printer_simple.go; names and keys are written as raw bytes) ----
  private raw(...parts: Array<string | Uint8Array>): void {
    for (const p of parts) this.opts.out.write(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
  }
  override roleAdd(role: string): void { this.raw(`Role ${role} created\n`); }
  override roleGet(role: string, r: AuthRoleGetResponse): void {
    this.raw(`Role ${role}\n`);
    const perm = (p: Permission) => {
      if (p.rangeEnd.length === 0) return this.raw('\t', p.key, '\n');
      const openEnded = p.rangeEnd.length === 1 && p.rangeEnd[0] === 0;
      if (openEnded) this.raw('\t[', p.key, ', <open ended>');
      else this.raw('\t[', p.key, ', ', p.rangeEnd, ')');
      if (Buffer.from(prefixEnd(p.key)).equals(p.rangeEnd)) this.raw(' (prefix ', p.key, ')');
      this.raw('\n');
    };
    this.raw('KV Read:\n');
    for (const p of r.perm) if (p.permType === Permission_Type.READ || p.permType === Permission_Type.READWRITE) perm(p);
    this.raw('KV Write:\n');
    for (const p of r.perm) if (p.permType === Permission_Type.WRITE || p.permType === Permission_Type.READWRITE) perm(p);
  }
  override roleList(r: AuthRoleListResponse): void { for (const x of r.roles) this.raw(x, '\n'); }
  override roleDelete(role: string): void { this.raw(`Role ${role} deleted\n`); }
  override roleGrantPermission(role: string): void { this.raw(`Role ${role} updated\n`); }
  override roleRevokePermission(role: string, key: string, end: Uint8Array): void {
    if (end.length === 0) this.raw(`Permission of key ${key} is revoked from role ${role}\n`);
    else if (end.length !== 1 || end[0] !== 0) this.raw(`Permission of range [${key}, `, end, `) is revoked from role ${role}\n`);
    else this.raw(`Permission of range [${key}, <open ended> is revoked from role ${role}\n`);
  }
  override userAdd(user: string): void { this.raw(`User ${user} created\n`); }
  override userGet(user: string, r: AuthUserGetResponse): void {
    this.raw(`User: ${user}\nRoles:`);
    for (const x of r.roles) this.raw(' ', x);
    this.raw('\n');
  }
  override userChangePassword(): void { this.raw('Password updated\n'); }
  override userGrantRole(user: string, role: string): void { this.raw(`Role ${role} is granted to user ${user}\n`); }
  override userRevokeRole(user: string, role: string): void { this.raw(`Role ${role} is revoked from user ${user}\n`); }
  override userDelete(user: string): void { this.raw(`User ${user} deleted\n`); }
  override userList(r: AuthUserListResponse): void { for (const x of r.users) this.raw(x, '\n'); }
  /** etcdctl 3.5 printer_simple.go AuthStatus */
  override authStatus(r: AuthStatusResponse): void {
    this.raw(`Authentication Status: ${r.enabled}\nAuthRevision: ${r.authRevision}\n`);
  }
}
