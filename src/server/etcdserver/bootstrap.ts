/**
 * Bootstrapping a member's durable state (etcd 3.4 etcdserver/server.go
 * NewServer and storage.go readWAL): a new member creates its WAL with the
 * cluster and member IDs as metadata and bootstraps raft with one conf-change
 * entry per initial member; a restarted member loads its newest usable
 * snapshot, replays the WAL after it and refills the in-memory raft log.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goPathError } from '../../util/go-errors.js';
import { MemoryStorage, RawNode, type Peer, type Snapshot } from '../raft/index.js';
import type { Logger as RaftLogger } from '../raft/index.js';
import { Snapshotter } from '../snap/snapshotter.js';
import { WalSnapshotNotFoundError } from '../wal/errors.js';
import { Wal, type WalOptions, type WalReplay } from '../wal/wal.js';
import { computeClusterId, encodeMember, newMember, type Member } from './membership/member.js';

/** Where a member keeps its files (etcd: <data-dir>/member/{wal,snap}, snap/db). */
export interface MemberDirs {
  readonly memberDir: string;
  readonly walDir: string;
  readonly snapDir: string;
  readonly backendPath: string;
}

export function memberDirs(dataDir: string, walDir: string): MemberDirs {
  const memberDir = join(dataDir, 'member');
  const snapDir = join(memberDir, 'snap');
  return { memberDir, walDir: walDir || join(memberDir, 'wal'), snapDir, backendPath: join(snapDir, 'db') };
}

/** Mode of the directories etcd creates in its data dir (pkg/fileutil PrivateDirMode). */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of the WAL segments and the backend file (pkg/fileutil PrivateFileMode; bolt.Open(path, 0600)). */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Bytes of entry data the leader keeps in flight to one follower (raft
 * maxInflightBytes; 8 MiB = 8 × the 1 MiB max message size). Not an etcd 3.4 setting.
 */
export const MAX_INFLIGHT_BYTES = 8 * 1024 * 1024;

/**
 * Go's os.FileMode.String() for a directory or file mode as fs.Stats gives it, e.g.
 * 0o40755 → `drwxr-xr-x`, 0o700 → `-rwx------`: the type/special letters in Go's order
 * (d, then u setuid, g setgid, t sticky; `-` when none), then rwx for owner, group, other.
 */
export function goFileModeString(mode: number, isDir: boolean): string {
  let head = isDir ? 'd' : '';
  if (mode & 0o4000) head += 'u';
  if (mode & 0o2000) head += 'g';
  if (mode & 0o1000) head += 't';
  if (head === '') head = '-';
  const rwx = 'rwxrwxrwx';
  let perm = '';
  for (let i = 0; i < 9; i++) perm += mode & (1 << (8 - i)) ? rwx[i] : '-';
  return head + perm;
}

/**
 * etcd's pkg/fileutil TouchDirAll, which NewServer runs on the data dir, the snap dir
 * and the member dir: a missing `dir` is created with mode 0700 (missing parents too);
 * an existing one whose permission bits are not 0700 is kept as it is and reported
 * through `warn` with etcd's text (CheckDirPermission; etcd only warns, through
 * capnslog's `pkg/fileutil` logger); then the directory must be writable (a `.touch`
 * file is created with mode 0600 and removed, IsDirWriteable). Throws an Error with
 * Go's *PathError text (`mkdir <dir>: not a directory`, `open <dir>/.touch: permission
 * denied`) when the directory cannot be created or written.
 */
export function touchDirAll(dir: string, warn: (text: string) => void): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    st = undefined;
  }
  if (st) {
    if ((st.mode & 0o777) !== PRIVATE_DIR_MODE) {
      warn(
        `check file permission: directory "${dir}" exist, but the permission is "${goFileModeString(st.mode, st.isDirectory())}". ` +
          `The recommended permission is "${goFileModeString(PRIVATE_DIR_MODE, false)}" to prevent possible unprivileged access to the data.`,
      );
    }
  } else {
    try {
      mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    } catch (e) {
      throw new Error(goPathError('mkdir', dir, e));
    }
  }
  const touch = join(dir, '.touch');
  try {
    writeFileSync(touch, '', { mode: PRIVATE_FILE_MODE });
  } catch (e) {
    throw new Error(goPathError('open', touch, e));
  }
  try {
    rmSync(touch);
  } catch (e) {
    throw new Error(goPathError('remove', touch, e));
  }
}

/** True when `walDir` holds WAL segments (a member that has run before; etcd wal.Exist). */
export function walExists(walDir: string): boolean {
  if (!existsSync(walDir)) return false;
  return readdirSync(walDir).some((f) => f.endsWith('.wal'));
}

/** Raft settings used by both paths. */
export interface RaftSettings {
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly logger: RaftLogger;
  /** WAL options (tests inject a failing fdatasync; --unsafe-no-fsync skips it). */
  readonly walOptions?: WalOptions;
}

/** The durable state a member starts from. */
export interface BootstrappedRaft {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly node: RawNode;
  readonly storage: MemoryStorage;
  readonly wal: Wal;
  readonly snapshotter: Snapshotter;
  /** Newest snapshot (metadata.index 0 when none). */
  readonly snapshot: Snapshot | undefined;
  /** Members of the initial cluster (new member only). */
  readonly initialMembers: readonly Member[];
  /** True when the member was created now. */
  readonly isNew: boolean;
  /** What the WAL replay cut off (restart only), for the log. */
  readonly truncatedTail?: WalReplay['truncatedTail'];
}

function randInt(n: number): number {
  return Math.floor(Math.random() * n);
}

function raftConfig(id: bigint, storage: MemoryStorage, s: RaftSettings, applied: number) {
  return {
    id,
    electionTick: s.electionTicks,
    heartbeatTick: s.heartbeatTicks,
    storage,
    rand: randInt,
    applied,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 4096 / 8,
    // proposals are batched per Ready (a MsgApp may carry many entries): bound the
    // bytes queued for a stalled follower as well as the message count
    maxInflightBytes: MAX_INFLIGHT_BYTES,
    checkQuorum: true,
    preVote: s.preVote,
    logger: s.logger,
  };
}

/**
 * Creates the durable state of a member of a new cluster: computes the members'
 * IDs from `initialCluster` and `token` as etcd does, writes the WAL metadata and
 * bootstraps raft. Throws if `name` is not in `initialCluster`.
 */
export async function bootstrapNewMember(
  dirs: MemberDirs,
  name: string,
  initialCluster: ReadonlyMap<string, readonly string[]>,
  token: string,
  s: RaftSettings,
): Promise<BootstrappedRaft> {
  const members = [...initialCluster].map(([n, urls]) => newMember(n, urls, token));
  const self = members.find((m) => m.name === name);
  if (!self) throw new Error(`couldn't find local name "${name}" in the initial cluster configuration`);
  const clusterId = computeClusterId(members.map((m) => m.id));
  const wal = await Wal.create(dirs.walDir, { nodeId: self.id, clusterId }, s.walOptions);
  const snapshotter = new Snapshotter(dirs.snapDir);
  const storage = new MemoryStorage();
  const node = new RawNode(raftConfig(self.id, storage, s, 0));
  // the conf-change context carries the member without its published attributes (etcd: name only at publish)
  const peers: Peer[] = members.map((m) => ({ id: m.id, context: encodeMember({ ...m, name: '', clientUrls: [] }) }));
  node.bootstrap(peers);
  return { memberId: self.id, clusterId, node, storage, wal, snapshotter, snapshot: undefined, initialMembers: members, isNew: true };
}

/**
 * Creates the durable state of a member joining a running cluster (etcd NewServer with
 * no WAL and --initial-cluster-state=existing): the WAL takes the member and cluster
 * IDs the cluster assigned (from its `/members`), and raft starts with an empty log and
 * no configuration: the leader sends the log (or a snapshot) with every membership
 * change, this member's own addition included. `members` are the cluster's current
 * members (peers to connect to at once).
 */
export async function bootstrapJoiningMember(
  dirs: MemberDirs,
  memberId: bigint,
  clusterId: bigint,
  members: readonly Member[],
  s: RaftSettings,
): Promise<BootstrappedRaft> {
  const wal = await Wal.create(dirs.walDir, { nodeId: memberId, clusterId }, s.walOptions);
  const snapshotter = new Snapshotter(dirs.snapDir);
  const storage = new MemoryStorage();
  const node = new RawNode(raftConfig(memberId, storage, s, 0));
  return { memberId, clusterId, node, storage, wal, snapshotter, snapshot: undefined, initialMembers: members, isNew: true };
}

/**
 * Restarts a member from its WAL and snapshots. Tries snapshots newest first
 * (a snapshot saved just before a crash may have no WAL marker yet). Throws
 * WalCorruptError / WalNotFoundError / SnapCorruptError as they come.
 */
export async function restartMember(dirs: MemberDirs, s: RaftSettings): Promise<BootstrappedRaft> {
  const snapshotter = new Snapshotter(dirs.snapDir);
  const listed = existsSync(dirs.snapDir) ? await snapshotter.list() : [];
  const candidates = [...listed].sort((a, b) => b.index - a.index);
  let replay: WalReplay | undefined;
  let snapshot: Snapshot | undefined;
  for (const c of candidates) {
    let loaded;
    try {
      loaded = await Snapshotter.read(join(dirs.snapDir, c.name));
    } catch {
      continue;
    }
    try {
      replay = await Wal.open(dirs.walDir, { term: loaded.metadata.term, index: loaded.metadata.index }, s.walOptions);
      snapshot = {
        data: loaded.data,
        metadata: {
          index: loaded.metadata.index,
          term: loaded.metadata.term,
          confState: { voters: [...loaded.metadata.confState.voters], learners: [...loaded.metadata.confState.learners] },
        },
      };
      break;
    } catch (e) {
      if (e instanceof WalSnapshotNotFoundError) continue;
      throw e;
    }
  }
  if (!replay) replay = await Wal.open(dirs.walDir, { term: 0, index: 0 }, s.walOptions);
  const storage = new MemoryStorage();
  if (snapshot) storage.applySnapshot(snapshot);
  storage.setHardState(replay.hardState);
  storage.append(replay.entries);
  const node = new RawNode(raftConfig(replay.metadata.nodeId, storage, s, snapshot?.metadata.index ?? 0));
  return {
    memberId: replay.metadata.nodeId,
    clusterId: replay.metadata.clusterId,
    node,
    storage,
    wal: replay.wal,
    snapshotter,
    snapshot,
    initialMembers: [],
    isNew: false,
    truncatedTail: replay.truncatedTail,
  };
}
