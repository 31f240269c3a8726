/**
 * @module cli/printer/maintenance
 * Shapes and row builders shared by the formats for the cluster-maintenance commands
 * (member, endpoint, alarm, move-leader): etcdctl's epHealth / epStatus / epHashKV
 * structs (ep_command.go) and the make*Table helpers of printer.go, plus go-humanize's
 * SI byte sizes and gogo-proto's compact text form of an AlarmMember.
 */

import {
  AlarmType,
  type AlarmMember,
  type HashKVResponse,
  type MemberListResponse,
  type StatusResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';

/** One `endpoint health` result (etcdctl's epHealth; json tags endpoint/health/took/error). */
export interface EpHealth {
  ep: string;
  health: boolean;
  /** Go time.Duration String() of the check, '' when the client could not be created */
  took: string;
  /** '' when healthy */
  error: string;
}

/** One `endpoint status` result (etcdctl's epStatus). */
export interface EpStatus {
  ep: string;
  resp: StatusResponse;
}

/** One `endpoint hashkv` result (etcdctl's epHashKV). */
export interface EpHashKV {
  ep: string;
  resp: HashKVResponse;
}

/** A table: header names (as etcdctl passes them to tablewriter) and rows of cells. */
export interface TableData {
  hdr: string[];
  rows: string[][];
}

/**
 * go-humanize's Bytes: SI units (`B`, `kB`, `MB`...), one decimal below 10, e.g.
 * 24576 → `25 kB`, 8192 → `8.2 kB`, 5 → `5 B`.
 */
export function humanizeBytes(n: bigint | number): string {
  const s = Number(n < 0 ? BigInt.asUintN(64, BigInt(n)) : n);
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  if (s < 10) return `${s} B`;
  const e = Math.floor(Math.log(s) / Math.log(1000));
  const val = Math.floor((s / Math.pow(1000, e)) * 10 + 0.5) / 10;
  // Go's %.0f rounds an exact half to even (24.5 → "24"); toFixed(0) would round it up.
  const whole = val - Math.floor(val) === 0.5 && Math.floor(val) % 2 === 0 ? Math.floor(val) : Math.round(val);
  return `${val < 10 ? val.toFixed(1) : whole.toFixed(0)} ${sizes[e]}`;
}

/** gogo-proto's compact text of an AlarmMember, as `%+v` prints it: `memberID:1 alarm:NOSPACE ` (zero fields omitted). */
export function alarmMemberText(a: AlarmMember): string {
  let s = '';
  if (a.memberID !== 0n) s += `memberID:${a.memberID} `;
  if (a.alarm !== AlarmType.NONE) s += `alarm:${AlarmType[a.alarm] ?? a.alarm} `;
  return s;
}

/** printer.go makeMemberListTable. */
export function memberListTable(r: MemberListResponse): TableData {
  return {
    hdr: ['ID', 'Status', 'Name', 'Peer Addrs', 'Client Addrs', 'Is Learner'],
    rows: r.members.map((m) => [
      m.ID.toString(16),
      m.name.length === 0 ? 'unstarted' : 'started',
      m.name,
      m.peerURLs.join(','),
      m.clientURLs.join(','),
      String(m.isLearner),
    ]),
  };
}

/** printer.go makeEndpointHealthTable. */
export function endpointHealthTable(list: EpHealth[]): TableData {
  return {
    hdr: ['endpoint', 'health', 'took', 'error'],
    rows: list.map((h) => [h.ep, String(h.health), h.took, h.error]),
  };
}

/** printer.go makeEndpointStatusTable. */
export function endpointStatusTable(list: EpStatus[]): TableData {
  return {
    hdr: ['endpoint', 'ID', 'version', 'db size', 'is leader', 'is learner', 'raft term', 'raft index', 'raft applied index', 'errors'],
    rows: list.map(({ ep, resp }) => {
      const memberId = resp.header?.memberId ?? 0n;
      return [
        ep,
        memberId.toString(16),
        resp.version,
        humanizeBytes(resp.dbSize),
        String(resp.leader === memberId),
        String(resp.isLearner),
        String(resp.raftTerm),
        String(resp.raftIndex),
        String(resp.raftAppliedIndex),
        resp.errors.join(', '),
      ];
    }),
  };
}

/** printer.go makeEndpointHashKVTable. */
export function endpointHashKVTable(list: EpHashKV[]): TableData {
  return {
    hdr: ['endpoint', 'hash'],
    rows: list.map(({ ep, resp }) => [ep, String(resp.hash)]),
  };
}

/**
 * `snapshot status` of a file (clientv3/snapshot Status): crc32c hash (unsigned 32-bit),
 * the revision of the last key in the `key` bucket, the number of keys in all buckets,
 * and the database size in bytes (bbolt's Tx.Size()).
 */
export interface DbStatus {
  hash: number;
  revision: bigint;
  totalKey: number;
  totalSize: bigint;
}

/** printer.go makeDBStatusTable. */
export function dbStatusTable(ds: DbStatus): TableData {
  return {
    hdr: ['hash', 'revision', 'total keys', 'total size'],
    rows: [[ds.hash.toString(16), String(ds.revision), String(ds.totalKey), humanizeBytes(ds.totalSize)]],
  };
}
