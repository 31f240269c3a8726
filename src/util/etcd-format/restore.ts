/**
 * @module util/etcd-format/restore
 * Writes an etcd 3.4 member data directory from a v3 backend snapshot, as
 * `etcdctl snapshot restore` does (clientv3/snapshot/v3_snapshot.go Restore, saveDB,
 * saveWALAndSnap), so that etcd 3.4 starts on it as a member of a new cluster:
 *
 * - `<data-dir>/member/snap/db`: the snapshot's buckets and keys (its sha256 trailer
 *   dropped) with `meta/consistent_index` set to the number of members, so that the
 *   bootstrap conf-change entries count as applied;
 * - `<wal-dir>` (default `<data-dir>/member/wal`): one segment holding the metadata
 *   (this member's ID and the cluster ID), one ConfChangeAddNode entry per member at
 *   term 1 (context: the member as JSON, in order of member ID), the hard state
 *   {term 1, vote: the first member, commit: the number of members} and a snapshot
 *   marker at that index;
 * - `<data-dir>/member/snap/<term>-<index>.snap`: a raft snapshot at that index whose
 *   data is the v2 store holding the members' raft attributes.
 *
 * IDs follow the members' peer URLs and the cluster token as etcd computes them, so
 * every member of a multi-member restore gets the same cluster. The db file is
 * written compactly rather than copied, so its bytes differ from etcdctl's while its
 * buckets and keys are the same. Not reproduced: etcd's restore also runs, through
 * mvcc, a DeleteRange in the key space for every key of the snapshot's `members`
 * and `members_removed` buckets (their names are member IDs in hex, so it deletes
 * nothing unless the key space holds such keys), and finishes a compaction the
 * snapshot had scheduled but not finished (etcd resumes it itself when it starts on
 * the restored directory: `scheduledCompactRev` is kept).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BoltReader } from '../bbolt-reader.js';
import { boltFileSource, writeBoltFile, type BoltSource } from '../bbolt-writer.js';
import { computeClusterId, computeMemberId, memberJson, membersStoreJson, type EtcdMember } from './members.js';
import { CONF_CHANGE_ADD_NODE, encodeConfChange, encodeEntry, encodeHardState, encodeWalMetadata, encodeWalSnapshot, ENTRY_CONF_CHANGE } from './raft.js';
import { writeSnapFile } from './snap.js';
import { ENTRY_TYPE, SNAPSHOT_TYPE, STATE_TYPE, writeNewEtcdWal } from './wal.js';

/** What to restore and as which member. */
export interface RestoreOptions {
  /** The snapshot file (a bbolt file, with or without its sha256 trailer; already checked). */
  readonly snapshotPath: string;
  readonly name: string;
  /** name → peer URLs, as given to --initial-cluster (URLs already normalized). */
  readonly initialCluster: ReadonlyMap<string, readonly string[]>;
  readonly clusterToken: string;
  readonly dataDir: string;
  /** '' for `<data-dir>/member/wal`. */
  readonly walDir: string;
  /** zap-style log lines: (caller, msg, fields). */
  readonly log?: (caller: string, msg: string, fields: Array<[string, string | number | readonly string[]]>) => void;
}

/** What was written. */
export interface RestoreResult {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly members: readonly EtcdMember[];
  readonly walDir: string;
  readonly snapDir: string;
  /** the raft index (and consistent index) the member starts at: the member count */
  readonly commit: bigint;
}

/** The members of a new cluster (membership.NewClusterFromURLsMap), sorted by ID. */
export function initialMembers(cluster: ReadonlyMap<string, readonly string[]>, token: string): EtcdMember[] {
  return [...cluster]
    .map(([name, urls]) => {
      const peerUrls = [...urls].sort();
      return { id: computeMemberId(peerUrls, token), peerUrls, isLearner: false, name, clientUrls: [] };
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const hex = (id: bigint) => id.toString(16);

/**
 * A bbolt view of `db` with `meta/consistent_index` replaced: every top-level bucket
 * and its key/values in key order (nested buckets, which etcd does not use, are left
 * out).
 */
function restoredBackend(db: BoltReader, consistentIndex: bigint): BoltSource {
  const file = boltFileSource(db);
  if (!file.buckets().includes('meta')) throw new Error('snapshot has no "meta" bucket: not an etcd v3 backend');
  const ci = Buffer.alloc(8);
  ci.writeBigUInt64BE(consistentIndex);
  const CI_KEY = Buffer.from('consistent_index');
  return {
    buckets: () => file.buckets(),
    forEach(bucket, visit) {
      if (bucket !== 'meta') return file.forEach(bucket, visit);
      // meta's keys in order, consistent_index replaced (or added in its place)
      const rows: Array<[Uint8Array, Uint8Array]> = [];
      let ciDone = false;
      file.forEach(bucket, (k, v) => {
        if (!ciDone && Buffer.compare(k, CI_KEY) >= 0) {
          rows.push([CI_KEY, ci]);
          ciDone = true;
          if (Buffer.compare(k, CI_KEY) === 0) return;
        }
        rows.push([k, v]);
      });
      if (!ciDone) rows.push([CI_KEY, ci]);
      for (const [k, v] of rows) if (visit(k, v) === false) return;
    },
  };
}

/**
 * Writes the member data directory (see the module comment). The caller has checked
 * the flags, that neither directory exists, and the snapshot file itself.
 * @throws Error when `name` is not in the initial cluster or the snapshot has no meta
 *   bucket; BoltError for a corrupt snapshot; Node's fs errors
 */
export function restoreEtcdMember(o: RestoreOptions): RestoreResult {
  const members = initialMembers(o.initialCluster, o.clusterToken);
  const self = members.find((m) => m.name === o.name);
  if (!self) throw new Error(`couldn't find local name "${o.name}" in the initial cluster configuration`);
  const clusterId = computeClusterId(members.map((m) => m.id));
  const walDir = o.walDir || join(o.dataDir, 'member', 'wal');
  const snapDir = join(o.dataDir, 'member', 'snap');
  const log = o.log ?? (() => {});
  log('snapshot/v3_snapshot.go:296', 'restoring snapshot', [
    ['path', o.snapshotPath],
    ['wal-dir', walDir],
    ['data-dir', o.dataDir],
    ['snap-dir', snapDir],
  ]);
  const commit = BigInt(members.length);
  const term = 1n;

  mkdirSync(snapDir, { recursive: true, mode: 0o700 });
  const db = BoltReader.open(o.snapshotPath);
  try {
    // etcd opens the restored backend with mvcc.NewStore, which logs the compact revision
    const finished = db.value('meta', 'finishedCompactRev');
    if (finished !== undefined && finished.length >= 8) {
      log('mvcc/kvstore.go:388', 'restored last compact revision', [
        ['meta-bucket-name', 'meta'],
        ['meta-bucket-name-key', 'finishedCompactRev'],
        ['restored-compact-revision', Number(finished.readBigInt64BE(0))],
      ]);
    }
    writeBoltFile(join(snapDir, 'db'), restoredBackend(db, commit));
  } finally {
    db.close();
  }

  mkdirSync(walDir, { recursive: true, mode: 0o700 });
  for (const m of members) {
    log('membership/cluster.go:392', 'added member', [
      ['cluster-id', hex(clusterId)],
      ['local-member-id', '0'],
      ['added-peer-id', hex(m.id)],
      ['added-peer-peer-urls', m.peerUrls],
    ]);
  }
  const records: Array<{ type: number; data: Uint8Array }> = members.map((m, i) => ({
    type: ENTRY_TYPE,
    data: encodeEntry({
      type: ENTRY_CONF_CHANGE,
      term,
      index: BigInt(i + 1),
      data: encodeConfChange({ id: 0n, type: CONF_CHANGE_ADD_NODE, nodeId: m.id, context: Buffer.from(memberJson(m)) }),
    }),
  }));
  records.push({ type: STATE_TYPE, data: encodeHardState({ term, vote: members[0]!.id, commit }) });
  records.push({ type: SNAPSHOT_TYPE, data: encodeWalSnapshot({ index: commit, term }) });
  writeNewEtcdWal(walDir, encodeWalMetadata({ nodeId: self.id, clusterId }), records);
  writeSnapFile(snapDir, {
    data: Buffer.from(membersStoreJson(members)),
    index: commit,
    term,
    confState: { voters: members.map((m) => m.id), learners: [] },
  });
  log('snapshot/v3_snapshot.go:309', 'restored snapshot', [
    ['path', o.snapshotPath],
    ['wal-dir', walDir],
    ['data-dir', o.dataDir],
    ['snap-dir', snapDir],
  ]);
  return { memberId: self.id, clusterId, members, walDir, snapDir, commit };
}
