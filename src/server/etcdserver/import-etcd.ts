/**
 * Starting on a real etcd 3.4 data directory: the member's files in etcd's formats
 * (bbolt `member/snap/db`, etcd's WAL, `.snap` files holding the v2 store; see
 * util/etcd-format) are imported into ours (LMDB backend, our WAL and snapshot files)
 * before the server starts, and the originals are kept untouched under a new name.
 *
 * etcd 3.4's backend records the raft index of the last entry it applied to the key
 * space (`meta/consistent_index`, I below); entries after it (empty entries, etcd 3.4's
 * v2 publish and cluster-version requests, lease and auth changes, writes not yet in
 * the backend) are what etcd re-applies when it restarts. The import does the same:
 * - the backend: every bucket and key of the bbolt file, as is;
 * - the membership as etcd 3.4 knows it at I: the members of the newest raft snapshot's
 *   v2 store, then the conf-change entries and the v2 `PUT /0/members/<id>/attributes`
 *   and `PUT /0/version` requests of the WAL entries after it up to I; written to
 *   `members`, `members_removed` and `cluster` (the bbolt `members` bucket is not
 *   trusted: `snapshot restore` leaves the old cluster's members there, etcd 3.4 reads
 *   membership from the v2 store);
 * - the raft state: the WAL metadata (member and cluster IDs) and hard state, a raft
 *   snapshot at I (voters and learners of that membership), and every WAL entry after
 *   I, which our apply loop applies as etcd would: v3 requests and conf changes as they
 *   are (a conf change's JSON member context is read as etcd's), publish and
 *   cluster-version requests turned into our ClusterMemberAttrSet / ClusterVersionSet
 *   requests, other v2 API writes and SYNCs into our InternalRaftRequest.v2 (etcd's
 *   pb.Request, same fields);
 * - the v2 store at I (etcd's `/v2/keys` data, --enable-v2): the newest raft snapshot's
 *   store (Go's JSON of v2store) and the v2 requests and membership changes of the WAL
 *   entries after it up to I, saved as the data of our raft snapshot at I.
 *
 * Refused with a clear error (nothing is changed then): a backend older than the raft
 * snapshot (etcd 3.4 refuses it too), a member not among the cluster's members.
 *
 * Layout while importing: the new files are built in `<member dir>.import` (and
 * `<wal dir>.import` for a --wal-dir outside the member dir); then the originals are
 * renamed to `<dir>.etcd-3.4` and the new directories into place. A start that finds
 * a finished `.import` directory and the originals already renamed completes the swap.
 */
import { closeSync, existsSync, openSync, readSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { BoltReader } from '../../util/bbolt-reader.js';
import { syncDirSync } from '../../util/fs-sync.js';
import { parseStoreMembership, type EtcdMember } from '../../util/etcd-format/members.js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { InternalRaftRequestSchema, RequestSchema } from '../../gen/etcdserverpb/raft_internal_pb.js';
import { V2Server } from './v2-server.js';
import { bytesField, readFields, uintField } from '../../util/etcd-format/proto.js';
import {
  CONF_CHANGE_ADD_LEARNER_NODE,
  CONF_CHANGE_ADD_NODE,
  CONF_CHANGE_REMOVE_NODE,
  CONF_CHANGE_UPDATE_NODE,
  decodeConfChange,
  decodeWalMetadata,
  ENTRY_CONF_CHANGE,
  ENTRY_NORMAL,
  type EtcdEntry,
} from '../../util/etcd-format/raft.js';
import { loadNewestSnap } from '../../util/etcd-format/snap.js';
import { decodeSegment, parseWalName, readEtcdWal, CRC_TYPE } from '../../util/etcd-format/wal.js';
import { Buckets } from '../backend/backend.js';
import { replaceWithBoltFile } from '../backend/bbolt-import.js';
import { LmdbBackend } from '../backend/lmdb-backend.js';
import { Snapshotter } from '../snap/snapshotter.js';
import { Wal } from '../wal/wal.js';
import type { MemberDirs } from './bootstrap.js';
import { RaftCluster } from './membership/cluster.js';
import { decodeMember, idHex } from './membership/member.js';

/** Suffix of the renamed original directories. */
export const ETCD_BACKUP_SUFFIX = '.etcd-3.4';
const IMPORT_SUFFIX = '.import';

/** An etcd data dir that cannot be imported; the message says why and what to do. */
export class EtcdImportError extends Error {
  override name = 'EtcdImportError';
}

/** Logging of the import (the server's logger). */
export interface ImportLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * True when `walDir` holds etcd 3.4 WAL segments: the first segment starts with etcd's
 * frame of a crc record (our WAL's records have another framing, see server/wal).
 */
export function isEtcdWal(walDir: string): boolean {
  let names: string[];
  try {
    names = readdirSync(walDir).filter((n) => parseWalName(n) !== undefined).sort();
  } catch {
    return false;
  }
  if (names.length === 0) return false;
  // the first frame only: segments are up to 64 MB and this runs at every start
  const head = Buffer.alloc(64);
  const fd = openSync(join(walDir, names[0]!), 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  try {
    const { records } = decodeSegment(head.subarray(0, n), 0, names[0]!);
    return records.length > 0 && records[0]!.type === CRC_TYPE;
  } catch {
    return false;
  }
}

/** The paths an import works with for one of the directories it replaces. */
interface Swap {
  readonly original: string;
  readonly building: string;
  readonly backup: string;
}

function swapsFor(dirs: MemberDirs): { member: Swap; wal?: Swap } {
  const s = (d: string): Swap => ({ original: d, building: d + IMPORT_SUFFIX, backup: d + ETCD_BACKUP_SUFFIX });
  const walInside = !relative(dirs.memberDir, dirs.walDir).startsWith('..');
  return { member: s(dirs.memberDir), ...(walInside ? {} : { wal: s(dirs.walDir) }) };
}

/** Where a directory of the member lives inside the one being built. */
function inBuilding(sw: Swap, path: string): string {
  return join(sw.building, relative(sw.original, path));
}

/**
 * Completes an import that was interrupted after the originals were renamed (every
 * original renamed, its `.import` ready): renames the built directories into place.
 * Returns true when it did.
 */
export function resumeEtcdImport(dirs: MemberDirs, log: ImportLog): boolean {
  const { member, wal } = swapsFor(dirs);
  const swaps = wal ? [member, wal] : [member];
  if (!swaps.every((s) => existsSync(s.backup) && existsSync(s.building) && !existsSync(s.original))) return false;
  for (const s of swaps) {
    renameSync(s.building, s.original);
    syncDirSync(dirname(s.original));
  }
  log.info('completed an interrupted import of an etcd 3.4 data directory', { 'member-dir': member.original, 'original-files': member.backup });
  return true;
}

/** The membership etcd 3.4 would hold after the entries up to index `upTo`. */
function replayMembership(start: { members: EtcdMember[]; removed: bigint[]; clusterVersion?: string }, entries: readonly EtcdEntry[], upTo: bigint) {
  const members = new Map(start.members.map((m) => [m.id, m]));
  const removed = new Set(start.removed);
  let clusterVersion = start.clusterVersion;
  for (const e of entries) {
    if (e.index > upTo || !e.data) continue;
    if (e.type === ENTRY_CONF_CHANGE) {
      const cc = decodeConfChange(e.data);
      switch (cc.type) {
        case CONF_CHANGE_ADD_NODE:
        case CONF_CHANGE_ADD_LEARNER_NODE: {
          const m = decodeMember(cc.context ?? new Uint8Array(0));
          const prev = members.get(cc.nodeId);
          // a learner promoted: etcd proposes AddNode for a member that exists
          members.set(cc.nodeId, prev ? { ...prev, isLearner: false } : { ...m, id: cc.nodeId, isLearner: cc.type === CONF_CHANGE_ADD_LEARNER_NODE });
          break;
        }
        case CONF_CHANGE_REMOVE_NODE:
          members.delete(cc.nodeId);
          removed.add(cc.nodeId);
          break;
        case CONF_CHANGE_UPDATE_NODE: {
          const prev = members.get(cc.nodeId);
          if (prev) members.set(cc.nodeId, { ...prev, peerUrls: decodeMember(cc.context ?? new Uint8Array(0)).peerUrls });
          break;
        }
      }
    } else if (e.type === ENTRY_NORMAL) {
      // etcd 3.4 proposes publish and cluster-version updates as a bare v2 pb.Request
      const r = v2Request(e.data);
      if (!r || r.method !== 'PUT') continue;
      const path = r.path;
      const val = r.val;
      const attr = /^\/0\/members\/([0-9a-f]+)\/attributes$/.exec(path);
      if (attr) {
        const id = BigInt('0x' + attr[1]);
        const prev = members.get(id);
        const a = JSON.parse(val) as { name?: string; clientURLs?: string[] };
        if (prev) members.set(id, { ...prev, name: a.name ?? '', clientUrls: a.clientURLs ?? [] });
      } else if (path === '/0/version') {
        clusterVersion = val;
      }
    }
  }
  return { members: [...members.values()].sort((a, b) => (a.id < b.id ? -1 : 1)), removed: [...removed], clusterVersion };
}

/** etcd 3.4's v2 pb.Request, when an entry's data is one (etcd proposes them bare). */
function v2Request(data: Uint8Array): { id: bigint; method: string; path: string; val: string } | undefined {
  let f;
  try {
    f = readFields(data, 'etcdserverpb.Request');
  } catch {
    return undefined;
  }
  const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('utf8') : '');
  const method = text(bytesField(f, 2));
  const path = text(bytesField(f, 3));
  // a v3 InternalRaftRequest has no field 2 but `v2`, which etcd 3.4 does not propose
  if (!V2_METHODS.has(method) || (!path.startsWith('/') && method !== 'SYNC')) return undefined;
  return { id: uintField(f, 1), method, path, val: text(bytesField(f, 4)) };
}

const V2_METHODS = new Set(['POST', 'PUT', 'DELETE', 'QGET', 'GET', 'HEAD', 'SYNC']);

/**
 * An etcd WAL entry as our apply loop takes it: etcd 3.4's v2 publish and
 * cluster-version requests become our ClusterMemberAttrSet / ClusterVersionSet
 * InternalRaftRequests, other v2 requests empty entries (`droppedV2`); everything else
 * (v3 requests, conf changes, empty entries) is kept.
 */
function convertEntry(e: EtcdEntry): { data: Uint8Array; droppedV2: boolean } {
  const data = e.data ?? new Uint8Array(0);
  if (e.type !== ENTRY_NORMAL || data.length === 0) return { data, droppedV2: false };
  const r = v2Request(data);
  if (!r) return { data, droppedV2: false };
  const attr = /^\/0\/members\/([0-9a-f]+)\/attributes$/.exec(r.path);
  if (r.method === 'PUT' && attr) {
    const a = JSON.parse(r.val) as { name?: string; clientURLs?: string[] };
    const req = create(InternalRaftRequestSchema, {
      header: { ID: r.id },
      clusterMemberAttrSet: { memberID: BigInt('0x' + attr[1]), memberAttributes: { name: a.name ?? '', clientUrls: a.clientURLs ?? [] } },
    });
    return { data: toBinary(InternalRaftRequestSchema, req), droppedV2: false };
  }
  if (r.method === 'PUT' && r.path === '/0/version') {
    return { data: toBinary(InternalRaftRequestSchema, create(InternalRaftRequestSchema, { header: { ID: r.id }, clusterVersionSet: { ver: r.val } })), droppedV2: false };
  }
  if (r.method === 'QGET' || r.method === 'GET' || r.method === 'HEAD') return { data: new Uint8Array(0), droppedV2: false };
  // other v2 writes (and SYNCs): etcd's pb.Request is our InternalRaftRequest.v2 (same fields)
  const v2 = fromBinary(RequestSchema, data);
  return { data: toBinary(InternalRaftRequestSchema, create(InternalRaftRequestSchema, { header: { ID: r.id }, v2 })), droppedV2: false };
}

/**
 * etcd's v2 store as of index `upTo`: its raft snapshot's store (when there is one)
 * and the v2 requests and membership changes of the WAL entries after it.
 */
function replayV2Store(snapData: Uint8Array | undefined, entries: readonly EtcdEntry[], upTo: bigint, log: ImportLog): V2Server {
  const v2 = new V2Server({
    propose: () => Promise.reject(new Error('not serving')),
    term: () => 0,
    committedIndex: () => 0,
    isLeader: () => false,
    warn: (msg, fields) => log.warn(msg, fields),
  });
  if (snapData && snapData.length > 0) v2.store.recoverEtcd(Buffer.from(snapData).toString('utf8'));
  for (const e of entries) {
    if (e.index > upTo || !e.data || e.data.length === 0) continue;
    if (e.type === ENTRY_CONF_CHANGE) {
      const cc = decodeConfChange(e.data);
      switch (cc.type) {
        case CONF_CHANGE_ADD_NODE:
        case CONF_CHANGE_ADD_LEARNER_NODE: {
          const m = { ...decodeMember(cc.context ?? new Uint8Array(0)), id: cc.nodeId };
          if (cc.type === CONF_CHANGE_ADD_NODE && v2.hasMember(cc.nodeId)) v2.memberRaftAttributesUpdated({ ...m, isLearner: false });
          else v2.memberAdded({ ...m, isLearner: cc.type === CONF_CHANGE_ADD_LEARNER_NODE });
          break;
        }
        case CONF_CHANGE_REMOVE_NODE:
          v2.memberRemoved(cc.nodeId);
          break;
        case CONF_CHANGE_UPDATE_NODE:
          v2.memberRaftAttributesUpdated({ ...decodeMember(cc.context ?? new Uint8Array(0)), id: cc.nodeId });
          break;
      }
    } else if (e.type === ENTRY_NORMAL && v2Request(e.data)) {
      v2.applyRequest(fromBinary(RequestSchema, e.data));
    }
  }
  return v2;
}

/** meta/consistent_index of an etcd backend file (0 when absent). */
function consistentIndexOf(dbPath: string): bigint {
  const db = BoltReader.open(dbPath);
  try {
    const v = db.value(Buckets.meta, 'consistent_index');
    return v !== undefined && v.length === 8 ? v.readBigUInt64BE(0) : 0n;
  } finally {
    db.close();
  }
}

/** What an import did. */
export interface EtcdImportResult {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly commitIndex: bigint;
  readonly members: number;
  readonly keys: number;
  readonly backups: string[];
}

/**
 * Imports the etcd 3.4 member in `dirs` (see the module comment). Call only when
 * {@link isEtcdWal}(dirs.walDir). The originals end up renamed to `<dir>.etcd-3.4`.
 * @throws EtcdImportError (nothing changed) for an etcd directory this cannot import,
 *   with what to do; EtcdWalError/EtcdSnapError/BoltError for damaged etcd files
 */
export async function importEtcdDataDir(dirs: MemberDirs, log: ImportLog): Promise<EtcdImportResult> {
  const swaps = swapsFor(dirs);
  for (const s of [swaps.member, ...(swaps.wal ? [swaps.wal] : [])]) {
    if (existsSync(s.backup)) throw new EtcdImportError(`cannot import the etcd 3.4 data in ${s.original}: ${s.backup} exists (an earlier import's originals); move it away first`);
  }
  const dbPath = dirs.backendPath;
  if (!existsSync(dbPath)) throw new EtcdImportError(`cannot import the etcd 3.4 data in ${dirs.memberDir}: its backend ${dbPath} is missing`);
  log.info('found an etcd 3.4 data directory; importing it', { 'wal-dir': dirs.walDir, 'snap-dir': dirs.snapDir });

  // raft state: the newest snapshot that loads, the WAL after it
  const snap = loadNewestSnap(dirs.snapDir, (file, why) => log.warn('skipped an unreadable etcd snapshot file', { file, error: why }));
  const start = snap ? { index: snap.snapshot.index, term: snap.snapshot.term } : { index: 0n, term: 0n };
  const wal = readEtcdWal(dirs.walDir, start);
  if (wal.tornTail) log.warn('the etcd WAL ends in a torn record (a crash while writing); it is left out', { file: wal.files[wal.files.length - 1] });
  const meta = decodeWalMetadata(wal.metadata);
  const commit = wal.hardState.commit;
  const ci = consistentIndexOf(dbPath);
  if (ci < start.index) {
    throw new EtcdImportError(`cannot import the etcd 3.4 data in ${dirs.memberDir}: its backend (consistent index ${ci}) is older than its raft snapshot (index ${start.index}), which etcd 3.4 refuses too`);
  }
  const last = wal.entries.length > 0 ? wal.entries[wal.entries.length - 1]!.index : start.index;
  if (ci > last) throw new EtcdImportError(`cannot import the etcd 3.4 data in ${dirs.memberDir}: its backend (consistent index ${ci}) is ahead of its WAL (last index ${last})`);
  let term: bigint;
  if (ci === start.index) term = start.term;
  else {
    const e = wal.entries.find((x) => x.index === ci);
    if (!e) throw new EtcdImportError(`cannot import the etcd 3.4 data in ${dirs.memberDir}: its WAL has no entry at the backend's consistent index ${ci}`);
    term = e.term;
  }
  const membership = replayMembership(snap ? parseStoreMembership(snap.snapshot.data ?? new Uint8Array(0)) : { members: [], removed: [] }, wal.entries, ci);
  const voters = membership.members.filter((m) => !m.isLearner).map((m) => m.id);
  const learners = membership.members.filter((m) => m.isLearner).map((m) => m.id);
  if (ci > 0n && !membership.members.some((m) => m.id === meta.nodeId)) {
    throw new EtcdImportError(`cannot import the etcd 3.4 data in ${dirs.memberDir}: its member ${idHex(meta.nodeId)} is not among the cluster's members (${membership.members.map((m) => idHex(m.id)).join(', ')})`);
  }
  const v2 = replayV2Store(snap?.snapshot.data, wal.entries, ci, log);
  let droppedV2 = 0;
  const tail = wal.entries
    .filter((e) => e.index > ci)
    .map((e) => {
      const c = convertEntry(e);
      if (c.droppedV2) droppedV2++;
      return { term: Number(e.term), index: Number(e.index), type: e.type, data: c.data };
    });
  if (droppedV2 > 0) log.warn('left out v2 API writes of the etcd WAL', { entries: droppedV2 });

  // build our files next to the originals
  const building = { member: swaps.member.building, wal: swaps.wal?.building };
  for (const d of [building.member, building.wal]) if (d) rmSync(d, { recursive: true, force: true });
  const walDirNew = swaps.wal ? swaps.wal.building : inBuilding(swaps.member, dirs.walDir);
  const snapDirNew = inBuilding(swaps.member, dirs.snapDir);
  const backend = new LmdbBackend({ path: inBuilding(swaps.member, dbPath) });
  let keys = 0;
  try {
    keys = replaceWithBoltFile(backend, dbPath).keys;
    const tx = backend.batchTx();
    tx.lock();
    try {
      for (const b of [Buckets.members, Buckets.membersRemoved]) if (tx.buckets().includes(b)) tx.deleteBucket(b);
    } finally {
      tx.unlock();
    }
    backend.forceCommit();
    const cluster = new RaftCluster(meta.clusterId, meta.nodeId, backend);
    cluster.recover();
    const tx2 = backend.batchTx();
    tx2.lock();
    try {
      for (const m of membership.members) cluster.addMember(tx2, m);
      for (const id of membership.removed) cluster.removeMember(tx2, id);
      if (membership.clusterVersion) cluster.setVersion(tx2, membership.clusterVersion);
    } finally {
      tx2.unlock();
    }
    backend.forceCommit();
  } finally {
    backend.close();
  }
  const w = await Wal.create(walDirNew, { nodeId: meta.nodeId, clusterId: meta.clusterId });
  try {
    if (ci > 0n) await w.saveSnapshotMarker({ term: Number(term), index: Number(ci) });
    await w.save({ term: Number(wal.hardState.term), vote: wal.hardState.vote, commit: Number(commit) }, tail);
  } finally {
    await w.close();
  }
  if (ci > 0n) {
    await new Snapshotter(snapDirNew).save({ data: v2.snapshotData(), metadata: { confState: { voters, learners }, index: Number(ci), term: Number(term) } });
  }

  // swap: originals aside, ours into place (resumeEtcdImport finishes an interrupted swap)
  const order = [swaps.member, ...(swaps.wal ? [swaps.wal] : [])];
  for (const s of order) {
    renameSync(s.original, s.backup);
    syncDirSync(dirname(s.original));
  }
  for (const s of order) {
    renameSync(s.building, s.original);
    syncDirSync(dirname(s.original));
  }
  const result: EtcdImportResult = {
    memberId: meta.nodeId,
    clusterId: meta.clusterId,
    commitIndex: commit,
    members: membership.members.length,
    keys,
    backups: order.map((s) => s.backup),
  };
  log.info('imported an etcd 3.4 data directory; its original files are kept unchanged', {
    'local-member-id': idHex(meta.nodeId),
    'cluster-id': idHex(meta.clusterId),
    'commit-index': Number(commit),
    'consistent-index': Number(ci),
    'entries-to-apply': tail.filter((e) => e.index <= Number(commit)).length,
    members: result.members,
    'backend-keys': keys,
    'original-files': result.backups.join(', '),
  });
  return result;
}
