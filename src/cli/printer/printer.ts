/**
 * @module cli/printer/printer
 * The one output interface commands use (etcdctl's `printer` in
 * etcdctl/ctlv3/command/printer.go), and `createPrinter` choosing among the formats
 * `simple`, `json`, `fields`, `protobuf` and `table`. A format that does not support a
 * response ends the command with `Error: <format> not supported as output format`,
 * exit 4, as etcdctl does.
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
import { CliError, ExitBadFeature } from '../exit-codes.js';
import type { PrinterOptions } from './base.js';
import type { AuthPrinter } from './auth.js';
import { FieldsPrinter } from './fields.js';
import { JsonPrinter } from './json.js';
import { ProtobufPrinter } from './protobuf.js';
import { SimplePrinter } from './simple.js';
import { TablePrinter } from './table.js';

/** Output operations, one per kind of response etcdctl prints. */
export interface Printer extends AuthPrinter {
  del(r: DeleteRangeResponse): void;
  get(r: RangeResponse): void;
  put(r: PutResponse): void;
  txn(r: TxnResponse): void;
  /**
   * one watch response as delivered to the user (created responses are not printed);
   * `header` is undefined only in clientv3's synthesized failure response (nil Events)
   */
  watch(r: WatchResponse): void;
  grant(r: LeaseGrantResponse): void;
  /** @param id the revoked lease (the response does not carry it) */
  revoke(id: bigint, r: LeaseRevokeResponse): void;
  keepAlive(r: LeaseKeepAliveResponse): void;
  /** @param keys whether `--keys` was given */
  timeToLive(r: LeaseTimeToLiveResponse, keys: boolean): void;
  leases(r: LeaseLeasesResponse): void;
  /**
   * end of `lease keep-alive` after the lease expired or was revoked; only the simple
   * format prints something (etcdctl checks for its simplePrinter), the others nothing
   */
  keepAliveExpired(id: bigint): void;
  // ---- cluster maintenance (types in ./maintenance.ts) ----
  memberAdd(r: MemberAddResponse): void;
  memberRemove(id: bigint, r: MemberRemoveResponse): void;
  memberUpdate(id: bigint, r: MemberUpdateResponse): void;
  /** 3.4 has no such printer method outside `simple` (it panics); we print as 3.5.20+ does */
  memberPromote(id: bigint, r: MemberPromoteResponse): void;
  memberList(r: MemberListResponse): void;
  /** results in input order */
  endpointHealth(list: EpHealth[]): void;
  endpointStatus(list: EpStatus[]): void;
  endpointHashKV(list: EpHashKV[]): void;
  /** @param leader the former leader's ID, @param target the new leader's ID */
  moveLeader(leader: bigint, target: bigint, r: MoveLeaderResponse): void;
  /** alarm list / alarm disarm */
  alarm(r: AlarmResponse): void;
  /** snapshot status (protobuf is not supported) */
  dbStatus(ds: DbStatus): void;
}

/** The formats `-w` accepts. */
export const OUTPUT_FORMATS = ['simple', 'json', 'fields', 'protobuf', 'table'] as const;

/**
 * Builds the printer for `-w <format>`.
 * @throws CliError(ExitBadFeature, 'unsupported output format') for any other format
 */
export function createPrinter(format: string, opts: PrinterOptions): Printer {
  switch (format) {
    case 'simple': return new SimplePrinter(opts);
    case 'json': return new JsonPrinter(opts);
    case 'fields': return new FieldsPrinter(opts);
    case 'protobuf': return new ProtobufPrinter(opts);
    case 'table': return new TablePrinter(opts);
  }
  throw new CliError(ExitBadFeature, 'unsupported output format');
}

