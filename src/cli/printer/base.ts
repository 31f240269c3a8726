/**
 * @module cli/printer/base
 * What every output format shares: options, the "not supported" base class, and Go's
 * hex formatting of IDs.
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
import type {
  AlarmResponse,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteResponse,
  MemberRemoveResponse,
  MemberUpdateResponse,
  MoveLeaderResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import type { DbStatus, EpHashKV, EpHealth, EpStatus } from './maintenance.js';
import type { Output } from '../command.js';
import { CliError, ExitBadFeature } from '../exit-codes.js';
import type { Printer } from './printer.js';

/** Options shared by printers. */
export interface PrinterOptions {
  out: Output;
  /** --hex */
  hex: boolean;
  /** get --print-value-only (simple format only) */
  valueOnly?: boolean;
  /** writes to stderr at once (3.4 prints `endpoint health` results there) */
  errWrite?: (s: string) => void;
}

/** Base class: every operation is unsupported until a format overrides it. */
export class UnsupportedPrinter implements Printer {
  constructor(readonly format: string) {}
  protected unsupported(): never {
    throw new CliError(ExitBadFeature, `${this.format} not supported as output format`);
  }
  // ---- auth (./auth.ts); parameter types are checked by the Printer interface ----
  roleAdd(_role: string, _r: unknown): void { this.unsupported(); }
  roleGet(_role: string, _r: unknown): void { this.unsupported(); }
  roleDelete(_role: string, _r: unknown): void { this.unsupported(); }
  roleList(_r: unknown): void { this.unsupported(); }
  roleGrantPermission(_role: string, _r: unknown): void { this.unsupported(); }
  roleRevokePermission(_role: string, _key: string, _end: Uint8Array, _r: unknown): void { this.unsupported(); }
  userAdd(_user: string, _r: unknown): void { this.unsupported(); }
  userGet(_user: string, _r: unknown): void { this.unsupported(); }
  userList(_r: unknown): void { this.unsupported(); }
  userChangePassword(_r: unknown): void { this.unsupported(); }
  userGrantRole(_user: string, _role: string, _r: unknown): void { this.unsupported(); }
  userRevokeRole(_user: string, _role: string, _r: unknown): void { this.unsupported(); }
  userDelete(_user: string, _r: unknown): void { this.unsupported(); }
  authStatus(_r: unknown): void { this.unsupported(); }
  del(_r: DeleteRangeResponse): void { this.unsupported(); }
  get(_r: RangeResponse): void { this.unsupported(); }
  put(_r: PutResponse): void { this.unsupported(); }
  txn(_r: TxnResponse): void { this.unsupported(); }
  watch(_r: WatchResponse): void { this.unsupported(); }
  grant(_r: LeaseGrantResponse): void { this.unsupported(); }
  revoke(_id: bigint, _r: LeaseRevokeResponse): void { this.unsupported(); }
  keepAlive(_r: LeaseKeepAliveResponse): void { this.unsupported(); }
  timeToLive(_r: LeaseTimeToLiveResponse, _keys: boolean): void { this.unsupported(); }
  leases(_r: LeaseLeasesResponse): void { this.unsupported(); }
  /** prints nothing: not an error in any format */
  keepAliveExpired(_id: bigint): void {}
  memberAdd(_r: MemberAddResponse): void { this.unsupported(); }
  memberRemove(_id: bigint, _r: MemberRemoveResponse): void { this.unsupported(); }
  memberUpdate(_id: bigint, _r: MemberUpdateResponse): void { this.unsupported(); }
  memberPromote(_id: bigint, _r: MemberPromoteResponse): void { this.unsupported(); }
  memberList(_r: MemberListResponse): void { this.unsupported(); }
  endpointHealth(_list: EpHealth[]): void { this.unsupported(); }
  endpointStatus(_list: EpStatus[]): void { this.unsupported(); }
  endpointHashKV(_list: EpHashKV[]): void { this.unsupported(); }
  moveLeader(_leader: bigint, _target: bigint, _r: MoveLeaderResponse): void { this.unsupported(); }
  alarm(_r: AlarmResponse): void { this.unsupported(); }
  dbStatus(_ds: DbStatus): void { this.unsupported(); }
}

/** Go's `%016x` for a signed 64-bit integer (lease IDs). */
export function hex016(v: bigint): string {
  return v < 0n ? '-' + (-v).toString(16).padStart(15, '0') : v.toString(16).padStart(16, '0');
}

/** Go's `%16x` (space-padded) for an unsigned 64-bit integer (member and cluster IDs). */
export function hex16(v: bigint): string {
  return v.toString(16).padStart(16, ' ');
}
