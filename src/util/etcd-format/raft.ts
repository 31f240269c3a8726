/**
 * @module util/etcd-format/raft
 * The raftpb, walpb, snappb and etcdserverpb.Metadata records found in etcd 3.4's
 * data directory, with uint64 fields as bigint, encoded as gogoproto's generated
 * `Marshal` does (raft/raftpb/raft.proto, wal/walpb/record.proto,
 * etcdserver/api/snap/snappb/snap.proto, etcdserver/etcdserverpb/etcdserver.proto):
 * non-nullable scalars always written, fields in number order, nullable bytes only
 * when present. The server's raft codec (server/rafthttp/raftpb.ts) works on the Raft
 * core's own types; this one serves tools that read and write etcd's files (snapshot
 * restore, importing an etcd data dir) without the core.
 */
import { bytesField, ProtoWriter, readFields, repeatedUint, uintField } from './proto.js';

/** raftpb.EntryType */
export const ENTRY_NORMAL = 0;
export const ENTRY_CONF_CHANGE = 1;
export const ENTRY_CONF_CHANGE_V2 = 2;

/** raftpb.ConfChangeType */
export const CONF_CHANGE_ADD_NODE = 0;
export const CONF_CHANGE_REMOVE_NODE = 1;
export const CONF_CHANGE_UPDATE_NODE = 2;
export const CONF_CHANGE_ADD_LEARNER_NODE = 3;

/** raftpb.Entry; `data` undefined is Go's nil. */
export interface EtcdEntry {
  readonly type: number;
  readonly term: bigint;
  readonly index: bigint;
  readonly data?: Uint8Array;
}

export function encodeEntry(e: EtcdEntry): Uint8Array {
  const w = new ProtoWriter().uint(1, e.type).uint(2, e.term).uint(3, e.index);
  if (e.data !== undefined) w.bytes(4, e.data);
  return w.finish();
}

export function decodeEntry(b: Uint8Array): EtcdEntry {
  const f = readFields(b, 'raftpb.Entry');
  return { type: Number(uintField(f, 1)), term: uintField(f, 2), index: uintField(f, 3), data: bytesField(f, 4) };
}

/** raftpb.HardState */
export interface EtcdHardState {
  readonly term: bigint;
  readonly vote: bigint;
  readonly commit: bigint;
}

export function encodeHardState(h: EtcdHardState): Uint8Array {
  return new ProtoWriter().uint(1, h.term).uint(2, h.vote).uint(3, h.commit).finish();
}

export function decodeHardState(b: Uint8Array): EtcdHardState {
  const f = readFields(b, 'raftpb.HardState');
  return { term: uintField(f, 1), vote: uintField(f, 2), commit: uintField(f, 3) };
}

/** raftpb.ConfChange (the v1 form etcd 3.4 proposes); `context` undefined is nil. */
export interface EtcdConfChange {
  readonly id: bigint;
  readonly type: number;
  readonly nodeId: bigint;
  readonly context?: Uint8Array;
}

export function encodeConfChange(c: EtcdConfChange): Uint8Array {
  const w = new ProtoWriter().uint(1, c.id).uint(2, c.type).uint(3, c.nodeId);
  if (c.context !== undefined) w.bytes(4, c.context);
  return w.finish();
}

export function decodeConfChange(b: Uint8Array): EtcdConfChange {
  const f = readFields(b, 'raftpb.ConfChange');
  return { id: uintField(f, 1), type: Number(uintField(f, 2)), nodeId: uintField(f, 3), context: bytesField(f, 4) };
}

/** raftpb.ConfState (joint-consensus fields are read but etcd 3.4 never sets them). */
export interface EtcdConfState {
  readonly voters: readonly bigint[];
  readonly learners: readonly bigint[];
}

/** raftpb.Snapshot; `data` undefined is nil. */
export interface EtcdRaftSnapshot {
  readonly data?: Uint8Array;
  readonly index: bigint;
  readonly term: bigint;
  readonly confState: EtcdConfState;
}

export function encodeRaftSnapshot(s: EtcdRaftSnapshot): Uint8Array {
  const cs = new ProtoWriter();
  for (const v of s.confState.voters) cs.uint(1, v);
  for (const l of s.confState.learners) cs.uint(2, l);
  cs.uint(5, 0); // auto_leave, non-nullable
  const md = new ProtoWriter().bytes(1, cs.finish()).uint(2, s.index).uint(3, s.term).finish();
  const w = new ProtoWriter();
  if (s.data !== undefined) w.bytes(1, s.data);
  return w.bytes(2, md).finish();
}

export function decodeRaftSnapshot(b: Uint8Array): EtcdRaftSnapshot {
  const f = readFields(b, 'raftpb.Snapshot');
  const md = readFields(bytesField(f, 2) ?? new Uint8Array(0), 'raftpb.SnapshotMetadata');
  const cs = readFields(bytesField(md, 1) ?? new Uint8Array(0), 'raftpb.ConfState');
  return {
    data: bytesField(f, 1),
    index: uintField(md, 2),
    term: uintField(md, 3),
    confState: { voters: repeatedUint(cs, 1, 'raftpb.ConfState'), learners: repeatedUint(cs, 2, 'raftpb.ConfState') },
  };
}

/** etcdserverpb.Metadata: the WAL's metadata record in an etcd member. */
export interface EtcdWalMetadata {
  readonly nodeId: bigint;
  readonly clusterId: bigint;
}

export function encodeWalMetadata(m: EtcdWalMetadata): Uint8Array {
  return new ProtoWriter().uint(1, m.nodeId).uint(2, m.clusterId).finish();
}

export function decodeWalMetadata(b: Uint8Array): EtcdWalMetadata {
  const f = readFields(b, 'etcdserverpb.Metadata');
  return { nodeId: uintField(f, 1), clusterId: uintField(f, 2) };
}

/** walpb.Snapshot: a WAL marker naming a raft snapshot. */
export interface EtcdWalSnapshot {
  readonly index: bigint;
  readonly term: bigint;
}

export function encodeWalSnapshot(s: EtcdWalSnapshot): Uint8Array {
  return new ProtoWriter().uint(1, s.index).uint(2, s.term).finish();
}

export function decodeWalSnapshot(b: Uint8Array): EtcdWalSnapshot {
  const f = readFields(b, 'walpb.Snapshot');
  return { index: uintField(f, 1), term: uintField(f, 2) };
}
