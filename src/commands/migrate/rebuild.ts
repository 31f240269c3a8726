/**
 * @module commands/migrate/rebuild
 * The first half of etcdctl 3.4's `migrate` (etcdctl/ctlv3/command/migrate_command.go
 * rebuildStoreV2): a stopped member's v2 store, rebuilt as etcd would hold it,
 *
 * - from the newest loadable raft snapshot in `<data-dir>/member/snap` (etcd's
 *   Snapshotter.Load: files that fail to load are renamed `<name>.broken`, `db.tmp*`
 *   files deleted as orphaned defragmentation files);
 * - plus every entry of the WAL after it (`--wal-dir` or `<data-dir>/member/wal`, read
 *   as wal.OpenForRead + ReadAll: committed or not, a torn tail tolerated): the v2
 *   requests applied as etcd's applierV2 does (POST, PUT, DELETE, QGET, SYNC), and the
 *   membership changes (conf-change entries, member attribute and cluster version
 *   updates) written into the store's `/0` tree as etcd's RaftCluster does, since
 *   those writes take store indexes too and so decide the indexes of the user's keys.
 *
 * etcd's packages log through `zap.NewExample()` here; the same lines are written to
 * `out` (see ./zap-example.ts). The index returned is the highest raft index seen
 * (the snapshot's or the last entry's), which becomes the backend's consistent index.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { attributesJson, raftAttributesJson } from '../../util/etcd-format/members.js';
import { bytesField, readFields, uintField, type ProtoField } from '../../util/etcd-format/proto.js';
import {
  CONF_CHANGE_ADD_LEARNER_NODE, CONF_CHANGE_ADD_NODE, CONF_CHANGE_REMOVE_NODE, CONF_CHANGE_UPDATE_NODE,
  decodeConfChange, ENTRY_CONF_CHANGE, type EtcdConfChange, type EtcdEntry, type EtcdRaftSnapshot,
} from '../../util/etcd-format/raft.js';
import { parseWalName, readEtcdWal } from '../../util/etcd-format/wal.js';
import { V2Code, V2Error } from '../../util/v2store/errors.js';
import { V2Store, type TtlOptions } from '../../util/v2store/store.js';
import { zapExampleLine, type ZapFields } from './zap-example.js';
import { loadSnapshot, readDirError, SnapshotterError, type LogSink } from './snapshotter.js';

/** etcdctl's version, as etcd's version.Version (mustDetectDowngrade compares with it). */
const LOCAL_VERSION = '3.4.23';

/** A failure etcdctl reports with ExitWithError: `Error: <message>`, exit 1. */
export class MigrateError extends Error {
  override name = 'MigrateError';
}

/**
 * A state in which etcd's code panics (exit 2): `message` is the panic value.
 * etcd logs some of them first through zap (`logLine`, written to stdout).
 */
export class MigratePanic extends Error {
  override name = 'MigratePanic';
  constructor(
    message: string,
    readonly logLine?: string,
  ) {
    super(message);
  }
}

/** A zap.Fatal: the line is written, then the process exits 1 without more output. */
export class MigrateFatal extends Error {
  override name = 'MigrateFatal';
}

export type { LogSink };

/** What {@link rebuildStoreV2} returns. */
export interface RebuiltStore {
  store: V2Store;
  /** The highest raft index seen: the snapshot's, or the last WAL entry's when higher. */
  index: bigint;
}

/** etcd's types.ID.String(): lower-case hex without padding. */
function idString(id: bigint): string {
  return id.toString(16);
}

// ---------------------------------------------------------------- WAL

/**
 * wal.OpenForRead + ReadAll from `start`: the entries after it, with the warnings
 * for files that are not segments.
 * @throws MigrateError with etcd's error texts
 */
function readWal(walDir: string, start: { index: bigint; term: bigint }, log: LogSink): EtcdEntry[] {
  let names: string[];
  try {
    names = readdirSync(walDir).sort();
  } catch (e) {
    throw new MigrateError(readDirError(walDir, e));
  }
  for (const name of names) {
    if (parseWalName(name) === undefined && !name.endsWith('.tmp')) log(zapExampleLine('warn', 'ignored file in WAL directory', [['path', name]]));
  }
  try {
    return readEtcdWal(walDir, start).entries;
  } catch (e) {
    const msg = (e as Error).message;
    // a gap in the segments' sequence numbers: etcd's selectWALFiles finds no usable file
    throw new MigrateError(msg === 'wal: segments out of sequence' ? 'wal: file not found' : msg);
  }
}

// ---------------------------------------------------------------- membership

interface Member {
  id: bigint;
  peerUrls: string[];
  isLearner: boolean;
  name: string;
  clientUrls: string[];
}

/** A semantic version's major, minor and patch (the cluster version, e.g. "3.4.0"). */
type Semver = [number, number, number];

function parseSemver(s: string): Semver {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(s);
  if (!m) throw new MigratePanic(`${JSON.stringify(s)} is not in dotted-tri format`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function lessThan(a: Semver, b: Semver): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/** version.Cluster: "major.minor". */
function clusterVersion(v: Semver): string {
  return `${v[0]}.${v[1]}`;
}

/** The fields of a member's JSON (membership.Member, or the ConfigChangeContext embedding it). */
function parseMemberJson(ctx: Uint8Array | undefined): { id: bigint; peerUrls: string[]; isLearner: boolean; isPromote: boolean } {
  const text = Buffer.from(ctx ?? new Uint8Array(0)).toString('utf8');
  let j: { peerURLs?: string[] | null; isLearner?: boolean; isPromote?: boolean };
  try {
    j = JSON.parse(text) as typeof j;
  } catch (e) {
    throw new MigratePanic(`failed to unmarshal member: ${(e as Error).message}`);
  }
  // the uint64 id loses precision as a JS number: read its digits
  const id = /"id"\s*:\s*(\d+)/.exec(text);
  return { id: id ? BigInt(id[1]!) : 0n, peerUrls: j.peerURLs ?? [], isLearner: j.isLearner ?? false, isPromote: j.isPromote ?? false };
}

/** etcd's membership.RaftCluster as migrate uses it: the store is set, no backend, IDs 0. */
class Cluster {
  private members = new Map<bigint, Member>();
  private removed = new Set<bigint>();
  private version: Semver | undefined;
  /** api.UpdateCapability's process-wide current version */
  private capabilityVersion: Semver | undefined;

  constructor(
    private readonly store: V2Store,
    private readonly log: LogSink,
  ) {}

  private info(msg: string, fields: ZapFields): void {
    this.log(zapExampleLine('info', msg, fields));
  }

  private ids(): ZapFields {
    return [['cluster-id', '0'], ['local-member-id', '0']];
  }

  /** membersFromStore: members and removed IDs as the store's `/0` tree holds them. */
  private fromStore(): { members: Map<bigint, Member>; removed: Set<bigint> } {
    const members = new Map<bigint, Member>();
    const removed = new Set<bigint>();
    const list = (p: string) => {
      try {
        return this.store.get(p, true, true).node?.nodes ?? [];
      } catch (e) {
        if (e instanceof V2Error && e.errorCode === V2Code.KeyNotFound) return undefined;
        throw new MigratePanic(`failed to get members from store: ${(e as Error).message}`);
      }
    };
    const dirs = list('/0/members');
    if (dirs === undefined) return { members, removed };
    for (const d of dirs) {
      const id = BigInt('0x' + d.key.slice(d.key.lastIndexOf('/') + 1));
      const m: Member = { id, peerUrls: [], isLearner: false, name: '', clientUrls: [] };
      let hasRaft = false;
      for (const c of d.nodes ?? []) {
        if (c.key === `${d.key}/raftAttributes`) {
          const ra = JSON.parse(c.value ?? '{}') as { peerURLs?: string[] | null; isLearner?: boolean };
          m.peerUrls = ra.peerURLs ?? [];
          m.isLearner = ra.isLearner ?? false;
          hasRaft = true;
        } else if (c.key === `${d.key}/attributes`) {
          const a = JSON.parse(c.value ?? '{}') as { name?: string; clientURLs?: string[] | null };
          m.name = a.name ?? '';
          m.clientUrls = a.clientURLs ?? [];
        } else {
          throw new MigratePanic(`failed to nodeToMember: unknown key ${JSON.stringify(c.key)}`);
        }
      }
      if (!hasRaft) throw new MigratePanic("failed to nodeToMember: raftAttributes key doesn't exist");
      members.set(id, m);
    }
    for (const n of list('/0/removed_members') ?? []) removed.add(BigInt('0x' + n.key.slice(n.key.lastIndexOf('/') + 1)));
    return { members, removed };
  }

  /** api.UpdateCapability: logs once per higher version. */
  private updateCapability(v: Semver | undefined): void {
    if (v === undefined) return;
    if (this.capabilityVersion !== undefined && !lessThan(this.capabilityVersion, v)) return;
    this.capabilityVersion = v;
    this.info('enabled capabilities for version', [['cluster-version', clusterVersion(v)]]);
  }

  /** mustDetectDowngrade: a cluster version above etcdctl's major.minor is fatal. */
  private detectDowngrade(v: Semver | undefined): void {
    const local = parseSemver(LOCAL_VERSION);
    if (v !== undefined && lessThan([local[0], local[1], 0], v)) {
      this.log(zapExampleLine('fatal', 'invalid downgrade; server version is lower than determined cluster version', [
        ['current-server-version', LOCAL_VERSION], ['determined-cluster-version', clusterVersion(v)],
      ]));
      throw new MigrateFatal('invalid downgrade');
    }
  }

  /** RaftCluster.Recover(api.UpdateCapability). */
  recover(): void {
    const { members, removed } = this.fromStore();
    this.members = members;
    this.removed = removed;
    let v: Semver | undefined;
    try {
      v = parseSemver(this.store.get('/0/version', false, false).node?.value ?? '');
    } catch (e) {
      if (!(e instanceof V2Error && e.errorCode === V2Code.KeyNotFound)) throw e;
    }
    this.version = v;
    this.detectDowngrade(v);
    this.updateCapability(v);
    for (const m of this.members.values()) {
      this.info('recovered/added member from store', [...this.ids(), ['recovered-remote-peer-id', idString(m.id)], ['recovered-remote-peer-urls', m.peerUrls]]);
    }
    if (v !== undefined) this.info('set cluster version from store', [['cluster-version', clusterVersion(v)]]);
  }

  /** ValidateConfigurationChange: whether etcd would apply `cc`. */
  private valid(cc: EtcdConfChange): boolean {
    const { members, removed } = this.fromStore();
    const id = cc.nodeId;
    if (removed.has(id)) return false;
    switch (cc.type) {
      case CONF_CHANGE_ADD_NODE:
      case CONF_CHANGE_ADD_LEARNER_NODE: {
        const ctx = parseMemberJson(cc.context);
        if (ctx.isPromote) return members.get(id)?.isLearner === true;
        if (members.has(id)) return false;
        const urls = new Set([...members.values()].flatMap((m) => m.peerUrls));
        if (ctx.peerUrls.some((u) => urls.has(u))) return false;
        if (ctx.isLearner && [...members.values()].filter((m) => m.isLearner).length + 1 > 1) return false;
        return true;
      }
      case CONF_CHANGE_REMOVE_NODE:
        return members.has(id);
      case CONF_CHANGE_UPDATE_NODE: {
        if (!members.has(id)) return false;
        const urls = new Set([...members.values()].filter((m) => m.id !== id).flatMap((m) => m.peerUrls));
        return !parseMemberJson(cc.context).peerUrls.some((u) => urls.has(u));
      }
      default:
        return true;
    }
  }

  /** migrate's applyConf. */
  applyConf(cc: EtcdConfChange): void {
    if (!this.valid(cc)) return;
    switch (cc.type) {
      case CONF_CHANGE_ADD_NODE: {
        const j = parseMemberJson(cc.context);
        const m: Member = { id: j.id, peerUrls: j.peerUrls, isLearner: j.isLearner, name: '', clientUrls: [] };
        const p = `/0/members/${idString(m.id)}/raftAttributes`;
        this.must(() => this.store.create(p, false, raftAttributesJson(m), false, { expireTime: 0n }), 'create raftAttributes should never fail');
        this.members.set(m.id, m);
        this.info('added member', [...this.ids(), ['added-peer-id', idString(m.id)], ['added-peer-peer-urls', m.peerUrls]]);
        return;
      }
      case CONF_CHANGE_REMOVE_NODE: {
        const id = cc.nodeId;
        this.must(() => this.store.delete(`/0/members/${idString(id)}`, true, true), 'delete member should never fail');
        this.must(() => this.store.create(`/0/removed_members/${idString(id)}`, false, '', false, { expireTime: 0n }), 'create removedMember should never fail');
        const m = this.members.get(id);
        this.members.delete(id);
        this.removed.add(id);
        if (m) this.info('removed member', [...this.ids(), ['removed-remote-peer-id', idString(id)], ['removed-remote-peer-urls', m.peerUrls]]);
        else this.log(zapExampleLine('warn', 'skipped removing already removed member', [...this.ids(), ['removed-remote-peer-id', idString(id)]]));
        return;
      }
      case CONF_CHANGE_UPDATE_NODE: {
        const j = parseMemberJson(cc.context);
        const m = this.members.get(j.id);
        if (!m) throw new MigratePanic('runtime error: invalid memory address or nil pointer dereference');
        m.peerUrls = j.peerUrls;
        m.isLearner = j.isLearner;
        this.must(() => this.store.update(`/0/members/${idString(m.id)}/raftAttributes`, raftAttributesJson(m), { expireTime: 0n }), 'update raftAttributes should never fail');
        this.info('updated member', [...this.ids(), ['updated-remote-peer-id', idString(m.id)], ['updated-remote-peer-urls', m.peerUrls]]);
        return;
      }
      default:
        // learners are not added by migrate's applyConf (no case for them)
        return;
    }
  }

  /** RaftCluster.UpdateAttributes (a member's `PUT /0/members/<id>/attributes`). */
  updateAttributes(id: bigint, val: string): void {
    let a: { name?: string; clientURLs?: string[] | null };
    try {
      a = JSON.parse(val) as typeof a;
    } catch (e) {
      throw new MigratePanic(`failed to unmarshal: ${(e as Error).message}`, zapExampleLine('panic', 'failed to unmarshal', [['value', val], ['error', (e as Error).message]]));
    }
    const m = this.members.get(id);
    if (m) {
      m.name = a.name ?? '';
      m.clientUrls = a.clientURLs ?? [];
      this.must(() => this.store.set(`/0/members/${idString(id)}/attributes`, false, attributesJson(m), { expireTime: 0n }), 'update raftAttributes should never fail');
      return;
    }
    if (!this.removed.has(id)) {
      const line = zapExampleLine('panic', 'failed to update; member unknown', [...this.ids(), ['unknown-remote-peer-id', idString(id)]]);
      throw new MigratePanic('failed to update; member unknown', line);
    }
    this.log(zapExampleLine('warn', 'skipped attributes update of removed member', [...this.ids(), ['updated-peer-id', idString(id)]]));
  }

  /** RaftCluster.SetVersion(ver, api.UpdateCapability) (`PUT /0/version`). */
  setVersion(val: string): void {
    const v = parseSemver(val);
    if (this.version !== undefined) {
      this.info('updated cluster version', [...this.ids(), ['from', clusterVersion(this.version)], ['from', clusterVersion(v)]]);
    } else {
      this.info('set initial cluster version', [...this.ids(), ['cluster-version', clusterVersion(v)]]);
    }
    this.version = v;
    this.detectDowngrade(v);
    this.must(() => this.store.set('/0/version', false, `${v[0]}.${v[1]}.${v[2]}`, { expireTime: 0n }), 'save cluster version should never fail');
    this.updateCapability(v);
  }

  /** A store write etcd panics on when it fails (plog.Panicf). */
  private must(f: () => unknown, what: string): void {
    try {
      f();
    } catch (e) {
      throw new MigratePanic(`${what}: ${(e as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------- v2 requests

/** etcdserverpb.Request, the fields applierV2 reads. */
interface V2Request {
  method: string;
  path: string;
  val: string;
  dir: boolean;
  prevValue: string;
  prevIndex: number;
  /** undefined: not set (a nullable bool) */
  prevExist?: boolean;
  /** ns since the epoch, 0: none */
  expiration: bigint;
  recursive: boolean;
  sorted: boolean;
  /** SYNC's time, ns since the epoch */
  time: bigint;
  refresh: boolean;
}

const V2_METHODS = new Set(['POST', 'PUT', 'DELETE', 'QGET', 'SYNC', 'GET', 'HEAD']);
const utf8 = new TextDecoder();

function decodeRequest(f: readonly ProtoField[]): V2Request {
  const s = (n: number) => utf8.decode(bytesField(f, n) ?? new Uint8Array(0));
  const has = (n: number) => f.some((x) => x.field === n);
  return {
    method: s(2),
    path: s(3),
    val: s(4),
    dir: uintField(f, 5) !== 0n,
    prevValue: s(6),
    prevIndex: Number(uintField(f, 7)),
    ...(has(8) ? { prevExist: uintField(f, 8) !== 0n } : {}),
    expiration: BigInt.asIntN(64, uintField(f, 9)),
    recursive: uintField(f, 12) !== 0n,
    sorted: uintField(f, 13) !== 0n,
    time: BigInt.asIntN(64, uintField(f, 15)),
    refresh: uintField(f, 17) !== 0n,
  };
}

/**
 * The v2 request of a normal entry (pbutil.MaybeUnmarshal into InternalRaftRequest,
 * else a bare pb.Request, which is how etcd 3.4 proposes v2 requests): undefined for
 * v3 requests and empty entries. A bare Request never parses as an InternalRaftRequest
 * (its method string lands on a field of the wrong wire type), so it is recognised by
 * its method.
 */
function v2RequestOf(data: Uint8Array | undefined): V2Request | undefined {
  if (!data || data.length === 0) return undefined;
  let f: ProtoField[];
  try {
    f = readFields(data, 'etcdserverpb.Request');
  } catch {
    return undefined;
  }
  const method = bytesField(f, 2);
  if (method !== undefined && V2_METHODS.has(utf8.decode(method)) && !f.some((x) => x.field === 100)) return decodeRequest(f);
  // an InternalRaftRequest carrying a v2 request (field 2)
  if (method === undefined) return undefined;
  try {
    const inner = readFields(method, 'etcdserverpb.Request');
    const m = utf8.decode(bytesField(inner, 2) ?? new Uint8Array(0));
    return V2_METHODS.has(m) ? decodeRequest(inner) : undefined;
  } catch {
    return undefined;
  }
}

const MEMBER_ATTRIBUTES = /^\/0\/members\/[0-9a-fA-F]{1,16}\/attributes$/;

/** migrate's applyRequest: the request applied as applierV2store does; store errors are ignored. */
function applyRequest(st: V2Store, cl: Cluster, r: V2Request): void {
  const ttl: TtlOptions = { expireTime: r.expiration, refresh: r.refresh };
  const run = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof V2Error)) throw e;
    }
  };
  switch (r.method) {
    case 'POST':
      run(() => st.create(r.path, r.dir, r.val, true, ttl));
      return;
    case 'PUT':
      if (r.prevExist !== undefined) {
        if (r.prevExist) {
          if (r.prevIndex === 0 && r.prevValue === '') run(() => st.update(r.path, r.val, ttl));
          else run(() => st.compareAndSwap(r.path, r.prevValue, r.prevIndex, r.val, ttl));
        } else {
          run(() => st.create(r.path, r.dir, r.val, false, ttl));
        }
      } else if (r.prevIndex > 0 || r.prevValue !== '') {
        run(() => st.compareAndSwap(r.path, r.prevValue, r.prevIndex, r.val, ttl));
      } else if (MEMBER_ATTRIBUTES.test(r.path)) {
        const dir = r.path.slice(0, r.path.lastIndexOf('/'));
        cl.updateAttributes(BigInt('0x' + dir.slice(dir.lastIndexOf('/') + 1)), r.val);
      } else if (r.path === '/0/version') {
        cl.setVersion(r.val);
      } else {
        run(() => st.set(r.path, r.dir, r.val, ttl));
      }
      return;
    case 'DELETE':
      if (r.prevIndex > 0 || r.prevValue !== '') run(() => st.compareAndDelete(r.path, r.prevValue, r.prevIndex));
      else run(() => st.delete(r.path, r.dir, r.recursive));
      return;
    case 'QGET':
      run(() => st.get(r.path, r.recursive, r.sorted));
      return;
    case 'SYNC':
      st.deleteExpiredKeys(r.time);
      return;
    default:
      throw new MigratePanic('unknown command');
  }
}

// ---------------------------------------------------------------- rebuild

/**
 * migrate's rebuildStoreV2 (see the module comment).
 * @param dataDir `--data-dir` ('' means the current directory's `member/...`, as in etcdctl)
 * @param walDir `--wal-dir`, or '' for `<dataDir>/member/wal`
 * @param log receives etcd's zap lines (stdout)
 * @throws MigrateError (etcdctl's `Error: ...`, exit 1), MigratePanic, MigrateFatal
 */
export function rebuildStoreV2(dataDir: string, walDir: string, log: LogSink): RebuiltStore {
  const waldir = walDir.length > 0 ? walDir : join(dataDir, 'member', 'wal');
  const snapdir = join(dataDir, 'member', 'snap');
  let snapshot: EtcdRaftSnapshot | undefined;
  try {
    snapshot = loadSnapshot(snapdir, log);
  } catch (e) {
    throw e instanceof SnapshotterError ? new MigrateError(e.message) : e;
  }
  const start = snapshot ? { index: snapshot.index, term: snapshot.term } : { index: 0n, term: 0n };
  let index = start.index;
  const ents = readWal(waldir, start, log);
  const st = new V2Store([]);
  if (snapshot) {
    try {
      st.recoverEtcd(Buffer.from(snapshot.data ?? new Uint8Array(0)).toString('utf8'));
    } catch (e) {
      throw new MigrateError((e as Error).message);
    }
  }
  const cl = new Cluster(st, log);
  cl.recover();
  for (const ent of ents) {
    if (ent.type === ENTRY_CONF_CHANGE) {
      cl.applyConf(decodeConfChange(ent.data ?? new Uint8Array(0)));
      continue;
    }
    const r = v2RequestOf(ent.data);
    if (r) applyRequest(st, cl, r);
    if (ent.index > index) index = ent.index;
  }
  return { store: st, index };
}
