/**
 * EtcdServer: one etcd member (etcd 3.4 etcdserver/server.go). Split as etcd
 * splits its etcdserver package:
 *
 * - this file (server.go): construction and bootstrap (NewServer), start/stop, the
 *   wiring of the RaftNode (raft-node.ts, etcd raft.go) and the peer transport,
 *   sending and receiving snapshots, publishing this member's attributes, the lease
 *   expiry/checkpoint loop, the cluster version and member version probes, the
 *   corruption checks, and status/health/stats;
 * - v3-server.ts (v3_server.go): proposals and their waiters, linearizable reads,
 *   and the EtcdServerApi requests, which this class delegates to;
 * - apply-loop.ts (server.go applyAll and its helpers): committed entries, snapshots
 *   received from the leader, raft snapshots and backend commits;
 * - proposals.ts: the requests a proposer keeps so apply need not decode them, and
 *   the request bytes the gRPC layer received.
 *
 * The two sides share, explicitly, the Wait of proposals (keyed by request ID), the
 * WaitIndex of the applied index, the PendingProposals and the ConsistentIndex.
 */
import { checkHashKV, checkInitialHashKV, type CorruptCheckHost } from './corrupt.js';
import { newPeerHandler } from './peer-handler.js';
import { create } from '@bufbuild/protobuf';
import { closeSync, createReadStream, createWriteStream, fsyncSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import {
  AlarmType,
  AlarmRequest_AlarmAction,
  type AlarmRequest,
  type AlarmResponse,
  type AuthDisableResponse,
  type AuthEnableResponse,
  type AuthRoleAddRequest,
  type AuthRoleAddResponse,
  type AuthRoleDeleteRequest,
  type AuthRoleDeleteResponse,
  type AuthRoleGetRequest,
  type AuthRoleGetResponse,
  type AuthRoleGrantPermissionRequest,
  type AuthRoleGrantPermissionResponse,
  type AuthRoleListResponse,
  type AuthRoleRevokePermissionRequest,
  type AuthRoleRevokePermissionResponse,
  type AuthUserAddRequest,
  type AuthUserAddResponse,
  type AuthUserChangePasswordRequest,
  type AuthUserChangePasswordResponse,
  type AuthUserDeleteRequest,
  type AuthUserDeleteResponse,
  type AuthUserGetRequest,
  type AuthUserGetResponse,
  type AuthUserGrantRoleRequest,
  type AuthUserGrantRoleResponse,
  type AuthUserListResponse,
  type AuthUserRevokeRoleRequest,
  type AuthUserRevokeRoleResponse,
  type AuthenticateRequest,
  type AuthenticateResponse,
  type CompactionRequest,
  type CompactionResponse,
  type DefragmentResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type HashKVResponse,
  type HashResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type MemberAddRequest,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteRequest,
  type MemberPromoteResponse,
  type MemberRemoveRequest,
  type MemberRemoveResponse,
  type MemberUpdateRequest,
  type MemberUpdateResponse,
  type MoveLeaderRequest,
  type MoveLeaderResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
  ResponseHeaderSchema,
  MemberAddRequestSchema,
  MemberRemoveRequestSchema,
  MemberUpdateRequestSchema,
  StatusResponseSchema,
} from '../../gen/etcdserverpb/rpc_pb.js';
import { AuthStore } from '../auth/store.js';
import { newTokenProvider } from '../auth/token-jwt.js';
import type { AuthInfo, TokenProvider } from '../auth/token-simple.js';
import type { Backend } from '../backend/backend.js';
import { LmdbBackend } from '../backend/lmdb-backend.js';
import { writeBoltFile } from '../../util/bbolt-writer.js';
import { ERR_MEMBER_REMOVED, Transport as PeerTransport, type PeerTlsOptions } from '../rafthttp/transport.js';
import { ErrLeaseNotFound } from '../lease/errors.js';
import { capnslogLine, type Capnslog } from '../logger.js';
import { Lessor, minLeaseTtl } from '../lease/lessor.js';
import { WatchableStore } from '../mvcc/watchable-store.js';
import {
  MessageType,
  StateType,
  type Message,
  type ReadState,
  type SoftState,
} from '../raft/index.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { IdGenerator } from '../../util/ids.js';
import type { EmbedConfig } from '../embed/config-types.js';
import { AlarmStore } from './api/v3alarm/alarms.js';
import type { BackendSnapshot, CallContext, EtcdServerApi, HeaderInfo, RequestLimits } from './api.js';
import { UberApplier } from './apply/uber-applier.js';
import { ApplierV3Backend } from './apply/backend.js';
import { importEtcdDataDir, isEtcdWal, resumeEtcdImport } from './import-etcd.js';
import { bootstrapJoiningMember, bootstrapNewMember, memberDirs, restartMember, touchDirAll, walExists, type BootstrappedRaft } from './bootstrap.js';
import { assignIdsFromExisting, getClusterFromRemotePeers, peerRequest, type PeerClientTls } from './cluster-util.js';
import {
  ErrStopped,
  ErrMemberRemoved,
} from './errors.js';
import { RaftCluster } from './membership/cluster.js';
import { idHex, newMember } from './membership/member.js';
import { newUrlsMap, urlsMapString } from '../embed/urls.js';
import { PendingProposals } from './proposals.js';
import { V3Server, requestTimeoutMs } from './v3-server.js';
import { SYNC_INTERVAL_MS, V2Server } from './v2-server.js';
import { goDuration, ServerStats } from './api/v2stats.js';
import type { V2HttpDeps } from './api/v2http/client.js';
import { ApplyLoop, ConsistentIndex, snapDbName, withBatchTx, type BatchTx, type ProposalResult } from './apply-loop.js';
import { RaftNode } from './raft-node.js';
import { Wait, WaitIndex } from './wait.js';

/** The etcd version this server is compatible with and reports (Status, /version). */
export const SERVER_VERSION = '3.4.23';
/** The cluster version it sets once leader. */
export const CLUSTER_VERSION = '3.4.0';
/** Re-exported for embed: defined in errors.ts (the apply loop raises it). */
export { ErrMemberRemoved };

/** How often the leader probes the members' /version, ms (etcd monitorVersionInterval: ConnWriteTimeout − 1 s). */
const MONITOR_VERSION_INTERVAL_MS = 4000;

/** Backend commit interval, ms, when --backend-batch-interval is 0 (etcd mvcc/backend defaultBatchInterval). */
const BACKEND_BATCH_INTERVAL_MS = 100;
/** Pending backend writes that force a commit when --backend-batch-limit is 0 (etcd defaultBatchLimit). */
const BACKEND_BATCH_LIMIT = 10000;
/** Lease expiry / checkpoint scan interval, ms (etcd: 500 ms revoke loop). */
const LEASE_LOOP_MS = 500;

/**
 * Structured logger the server writes to (../logger.ts: zap JSON or capnslog lines in
 * production); the optional third argument is the event's capnslog rendering.
 */
export interface ServerLogger {
  debug(msg: string, fields?: Record<string, unknown>, capnslog?: Capnslog): void;
  info(msg: string, fields?: Record<string, unknown>, capnslog?: Capnslog): void;
  warn(msg: string, fields?: Record<string, unknown>, capnslog?: Capnslog): void;
  error(msg: string, fields?: Record<string, unknown>, capnslog?: Capnslog): void;
}

/** "3.4.0" → "3.4" (etcd version.Cluster). */
function clusterVersionText(v: string): string {
  return v.split('.').slice(0, 2).join('.');
}

/** -1, 0, 1 comparing two "major.minor.patch" versions. */
function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Options beyond the embed config (tests). */
export interface ServerOptions {
  readonly clock?: Clock;
  /** TLS of the peer transport (https peer URLs: --peer-cert-file etc.), resolved by embed. */
  readonly peerTls?: PeerTlsOptions;
  /** Address outgoing peer connections bind to (the host of --listen-peer-urls), so tests can partition members per address. */
  readonly peerLocalAddress?: string;
  /** Replaces the WAL's fdatasync (fault-injection tests). */
  readonly walFdatasync?: (fh: import('node:fs/promises').FileHandle) => Promise<void>;
  /**
   * Receives the data dir permission warnings (etcd's pkg/fileutil CheckDirPermission
   * text). Default: a capnslog `W | pkg/fileutil:` line on stderr, as etcd 3.4 prints it
   * whatever --logger says (pkg/fileutil logs through capnslog only).
   */
  readonly fileutilWarn?: (text: string) => void;
  /** Receives the disk timings behind etcd's etcd_disk_* metrics (embed/etcd.ts feeds them to /metrics). */
  readonly disk?: DiskObserver;
}

/** Disk timings of a member, as etcd observes them (wal/wal.go sync, mvcc/backend/batch_tx.go commit). */
export interface DiskObserver {
  /** A WAL write was made durable in `syncSeconds`; `bytes` were written. */
  walWritten(syncSeconds: number, bytes: number): void;
  /** A backend commit with pending writes took `seconds`. */
  backendCommitted(seconds: number): void;
}


/** A URL as etcd prints it: no trailing slash for an empty path. */
function urlText(u: URL): string {
  return u.toString().replace(/\/$/, '');
}


/** An etcd member; see the module comment. Create with {@link EtcdServer.start}. */
/** Raft election ticks of `cfg`: --election-timeout over --heartbeat-interval, rounded, at least 1. */
function electionTicksOf(cfg: Pick<EmbedConfig, 'electionMs' | 'heartbeatMs'>): number {
  return Math.max(1, Math.round(cfg.electionMs / cfg.heartbeatMs));
}

export class EtcdServer implements EtcdServerApi {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly backend: Backend;
  readonly kv: WatchableStore;
  readonly lessor: Lessor;
  readonly authStore: AuthStore;
  readonly alarmStore: AlarmStore;
  readonly cluster: RaftCluster;
  /** The peer transport (rafthttp); mount {@link peerHandler} on the peer listeners. */
  readonly transport: PeerTransport;
  private readonly peerTls: PeerTlsOptions | undefined;
  private readonly r: RaftNode;
  private readonly applier: UberApplier;
  /** The backend applier without auth/quota/alarm checks, for local reads (etcd applyV3Base). */
  private readonly applyV3Base: ApplierV3Backend;
  private readonly cfg: EmbedConfig;
  private readonly log: ServerLogger;
  private readonly clock: Clock;
  private readonly idGen: IdGenerator;
  private readonly w = new Wait<ProposalResult>();
  /** Requests proposed by this member and not applied yet (proposals.ts). */
  private readonly proposed = new PendingProposals();
  private readonly applyWait = new WaitIndex();
  private readonly bootstrapped: BootstrappedRaft;

  /** Index of the entry being applied / last applied (the consistent index); shared with the apply loop and the mvcc store. */
  private readonly consistIndex = new ConsistentIndex();
  /** The apply side: committed entries, received snapshots, raft snapshots, backend commits (apply-loop.ts). */
  private readonly applyLoop: ApplyLoop;
  /** The request side: proposals, linearizable reads, the EtcdServerApi requests (v3-server.ts). */
  private readonly v3: V3Server;
  /** The v2 store and its requests (served on /v2 with --enable-v2). */
  readonly v2: V2Server;
  /** /v2/stats/self and /v2/stats/leader. */
  private readonly v2Stats: ServerStats;
  private term = 0n;
  private stopped = false;
  private fatalError: unknown;
  private timers: NodeJS.Timeout[] = [];
  private published = false;
  /** Raft state of the last soft state seen was leader (the lessor is promoted separately). */
  private wasLeader = false;
  /** Settles once this member's attributes are applied (etcd readych / ReadyNotify). */
  private readonly readyPromise: Promise<void>;
  private markReady: () => void = () => undefined;
  /** The cluster version whose capabilities are enabled ('' before one is known; etcd api.curVersion). */
  private capabilityVersion = '';
  private leaderChanges = 0;
  private lastLead = 0n;
  private resolveFatal: (e: unknown) => void = () => undefined;
  /** A /version probe of the members is in flight (see probeMemberVersions). */
  private probingVersions = false;
  private readonly fatalPromise = new Promise<unknown>((r) => {
    this.resolveFatal = r;
  });


  private constructor(cfg: EmbedConfig, log: ServerLogger, b: BootstrappedRaft, backend: LmdbBackend, opts: ServerOptions, tokenProvider: TokenProvider) {
    this.cfg = cfg;
    this.log = log;
    this.clock = opts.clock ?? systemClock;
    this.bootstrapped = b;
    this.memberId = b.memberId;
    this.clusterId = b.clusterId;
    this.backend = backend;
    this.idGen = IdGenerator.fromClock(this.memberId, this.clock);

    const electionTicks = electionTicksOf(cfg);
    this.lessor = new Lessor({
      backend,
      clock: this.clock,
      minLeaseTtl: minLeaseTtl(electionTicks, cfg.heartbeatMs),
      checkpointing: cfg.experimentalEnableLeaseCheckpoint,
      // etcd NewServer: ExpiredLeasesRetryInterval = ReqTimeout()
      expiredLeaseRetryIntervalMs: this.reqTimeoutMs(),
    });
    this.kv = new WatchableStore(backend, {
      lessor: this.lessor,
      consistentIndex: this.consistIndex,
      ...(cfg.experimentalCompactionBatchLimit > 0 ? { compactionBatchLimit: cfg.experimentalCompactionBatchLimit } : {}),
    });
    this.consistIndex.set(this.kv.consistentIndex());
    // The lessor loaded the leases when it was created and the store re-attached every
    // key with a lease while restoring its index (etcd NewServer: NewLessor, then
    // mvcc.New). Recovering the lessor again here would drop those attachments: only a
    // snapshot install replaces the backend (etcd applySnapshot: lessor.Recover, then
    // kv.Restore, which attaches the keys again).
    this.lessor.setRangeDeleter(() => this.kv.write());
    this.authStore = new AuthStore({ backend, tokenProvider, bcryptCost: cfg.bcryptCost });
    this.alarmStore = new AlarmStore(backend);
    this.readyPromise = new Promise<void>((r) => {
      this.markReady = r;
    });
    this.cluster = new RaftCluster(this.clusterId, this.memberId, backend);
    this.cluster.recover();
    const recovered = this.cluster.clusterVersion();
    // etcd RaftCluster.Recover(api.UpdateCapability) at restart
    if (recovered !== '') this.clusterVersionRecovered(recovered);
    this.applier = new UberApplier({
      kv: this.kv,
      lessor: this.lessor,
      authStore: this.authStore,
      backend,
      alarmStore: this.alarmStore,
      quotaBytes: cfg.quotaBackendBytes,
      memberId: this.memberId,
      membership: {
        setMemberAttributes: (id: bigint, attrs: { name: string; clientUrls: readonly string[] }) =>
          this.withTx((tx) => this.cluster.updateAttributes(tx, id, attrs.name, attrs.clientUrls)),
        setClusterVersion: (ver: string) => this.applyClusterVersion(ver),
      },
      logger: log,
      onNoSpace: () => {
        this.v3.raftRequest({}, 'alarm', { action: AlarmRequest_AlarmAction.ACTIVATE, memberID: this.memberId, alarm: AlarmType.NOSPACE }).catch((e) =>
          this.log.warn('failed to raise the NOSPACE alarm', { error: String((e as Error)?.message ?? e) }),
        );
      },
    });
    this.applyV3Base = new ApplierV3Backend({
      kv: this.kv,
      lessor: this.lessor,
      authStore: this.authStore,
      backend,
      alarmStore: this.alarmStore,
      quotaBytes: cfg.quotaBackendBytes,
      memberId: this.memberId,
      membership: { setMemberAttributes: () => undefined, setClusterVersion: () => undefined },
    });

    this.peerTls = opts.peerTls;
    this.transport = new PeerTransport({
      id: this.memberId,
      clusterId: this.clusterId,
      urls: cfg.initialAdvertisePeerUrls.map(urlText),
      process: (m) => this.processPeerMessage(m),
      reportUnreachable: (id) => this.r.reportUnreachable(id),
      reportSnapshot: (id, ok) => this.r.reportSnapshot(id, ok),
      isIdRemoved: (id) => this.cluster.isIdRemoved(id),
      receiveSnapshot: (m, body) => this.receiveSnapshotDb(m, body),
      // etcd's run loop on a transport error (errorc): log it, tell the operator about the
      // data dir when the cluster removed this member, and stop (etcd then exits 0)
      onCriticalError: (err) => {
        this.log.warn('server error', { error: err.message }, { level: 'E', pkg: 'etcdserver', text: err.message });
        if (err.message !== ERR_MEMBER_REMOVED) return this.stopWithError(err);
        this.log.warn('data-dir used by this member must be removed', { 'data-dir': this.cfg.dataDir }, { level: 'I', pkg: 'etcdserver', text: 'the data-dir used by this member must be removed.' });
        this.stopWithError(new ErrMemberRemoved());
      },
      logger: {
        debug: (m, f, c) => log.debug(m, f, c),
        info: (m, f, c) => log.info(m, f, c),
        warn: (m, f, c) => log.warn(m, f, c),
        error: (m, f, c) => log.error(m, f, c),
        fatal: (m, f, c) => log.error(m, f, c),
      },
      ...(opts.peerTls ? { tls: opts.peerTls } : {}),
      ...(opts.peerLocalAddress ? { localAddress: opts.peerLocalAddress } : {}),
    });
    this.r = new RaftNode({
      node: b.node,
      storage: b.storage,
      wal: b.wal,
      tickMs: cfg.heartbeatMs,
      transport: { send: (msgs) => this.sendToPeers(msgs) },
      saveSnapshotFile: (snap) => {
        b.snapshotter.saveSync({ data: snap.data, metadata: { confState: snap.metadata.confState, index: snap.metadata.index, term: snap.metadata.term } });
      },
      handlers: {
        onSoftState: (ss) => this.onSoftState(ss),
        onReadStates: (rs) => this.onReadStates(rs),
        apply: (ents, applyCC) => this.applyLoop.applyEntries(ents, applyCC),
        afterApply: (idx) => this.applyLoop.afterApply(idx),
        applySnapshot: (snap) => this.applyLoop.applySnapshot(snap),
        onFatal: (e) => this.onFatal(e),
      },
    });
    this.v2Stats = new ServerStats(cfg.name, this.memberId);
    this.v2 = new V2Server({
      propose: (req) => this.v3.raftRequest({}, 'v2', req),
      term: () => this.r.term(),
      committedIndex: () => this.r.committedIndex(),
      isLeader: () => this.r.isLeader(),
      warn: (msg, fields) => log.warn(msg, fields),
    });
    if (b.snapshot) this.v2.recover(b.snapshot.data);
    this.applyLoop = new ApplyLoop({
      v2: this.v2,
      memberId: this.memberId,
      cfg,
      log,
      raft: this.r,
      durable: b,
      backend,
      kv: this.kv,
      lessor: this.lessor,
      authStore: this.authStore,
      alarmStore: this.alarmStore,
      cluster: this.cluster,
      transport: this.transport,
      applier: this.applier,
      consistIndex: this.consistIndex,
      wait: this.w,
      applyWait: this.applyWait,
      proposals: this.proposed,
      initialSnapshot: b.snapshot,
      addPeer: (id, urls) => this.addPeer(id, urls),
      onClusterVersionRecovered: (ver) => this.clusterVersionRecovered(ver),
      stopWithError: (err) => this.stopWithError(err),
      onBackendFailure: (e) => this.onFatalOnce(e),
    });
    this.v3 = new V3Server({
      memberId: this.memberId,
      cfg,
      log,
      clock: this.clock,
      idGen: this.idGen,
      raft: this.r,
      backend,
      kv: this.kv,
      lessor: this.lessor,
      authStore: this.authStore,
      cluster: this.cluster,
      transport: this.transport,
      applyV3Base: this.applyV3Base,
      wait: this.w,
      applyWait: this.applyWait,
      proposals: this.proposed,
      appliedIndex: () => this.applyLoop.appliedIndex,
      isStopped: () => this.stopped || this.fatalError !== undefined,
      commitBackend: () => this.commitBackend(),
      peerClientTls: () => this.peerClientTls(),
    });
  }

  /**
   * Opens or creates the member's data dir and starts it: raft ticking, the
   * backend commit timer, the lease loop, and (single voter) an immediate
   * election. Throws WAL/snapshot corruption errors, backend open errors, and
   * config errors (local member missing from --initial-cluster).
   */
  static async start(cfg: EmbedConfig, log: ServerLogger, opts: ServerOptions = {}): Promise<EtcdServer> {
    // the --auth-token provider (etcd NewServer: auth.NewTokenProvider); bad options fail the start
    const applied: { s?: EtcdServer } = {};
    let tokenProvider: TokenProvider;
    try {
      tokenProvider = newTokenProvider(cfg.authToken, {
        clock: opts.clock ?? systemClock,
        simpleTtlMs: cfg.authTokenTtlSec * 1000,
        appliedIndex: () => BigInt(applied.s?.getAppliedIndex() ?? 0),
        log,
      });
    } catch (e) {
      log.warn('failed to create token provider', { error: (e as Error).message });
      throw e;
    }
    const dirs = memberDirs(cfg.dataDir, cfg.walDir);
    // etcd NewServer: TouchDirAll on the data dir, the snap dir, and (after bootstrap) the member dir
    const warnPerm = opts.fileutilWarn ?? ((text: string) => void process.stderr.write(capnslogLine('W', 'pkg/fileutil', text)));
    try {
      touchDirAll(cfg.dataDir, warnPerm);
    } catch (e) {
      throw new Error(`cannot access data directory: ${(e as Error).message}`);
    }
    try {
      touchDirAll(dirs.snapDir, warnPerm);
    } catch (e) {
      throw new Error(`create snapshot directory error: ${(e as Error).message}`);
    }
    const electionTicks = electionTicksOf(cfg);
    const raftLog = {
      debug: (m: string) => log.debug(m, undefined, { pkg: 'raft', text: m }),
      info: (m: string) => log.info(m, undefined, { pkg: 'raft', text: m }),
      warn: (m: string) => log.warn(m, undefined, { pkg: 'raft', text: m }),
      error: (m: string) => log.error(m, undefined, { pkg: 'raft', text: m }),
    };
    const fdatasync = opts.walFdatasync ?? (cfg.unsafeNoFsync ? async () => undefined : undefined);
    const disk = opts.disk;
    const onWrite = disk ? (sec: number, bytes: number) => disk.walWritten(sec, bytes) : undefined;
    const walOptions = { ...(fdatasync ? { fdatasync } : {}), ...(onWrite ? { onWrite } : {}) };
    const settings = { electionTicks, heartbeatTicks: 1, preVote: cfg.preVote, logger: raftLog, walOptions };
    // a real etcd 3.4 member's files: imported into ours first (originals kept, renamed)
    if (!resumeEtcdImport(dirs, log) && isEtcdWal(dirs.walDir)) await importEtcdDataDir(dirs, log);
    const haveWal = walExists(dirs.walDir);
    let b: BootstrappedRaft;
    const durl = cfg.discovery?.url ?? '';
    if (haveWal) {
      if (durl !== '') {
        log.warn('discovery token is ignored since cluster already initialized; valid logs are found', { 'wal-dir': dirs.walDir }, { pkg: 'etcdserver', text: `discovery token ignored since a cluster has already been initialized. Valid log found at ${JSON.stringify(dirs.walDir)}` });
      }
      b = await restartMember(dirs, settings);
      if (b.truncatedTail) {
        log.warn('cut off a torn WAL tail left by a crash', { file: b.truncatedTail.file, offset: b.truncatedTail.offset, bytes: b.truncatedTail.bytes, reason: b.truncatedTail.reason });
      }
      log.info('restarting local member', { 'cluster-id': idHex(b.clusterId), 'local-member-id': idHex(b.memberId), 'commit-index': b.storage.initialState().hardState.commit });
    } else if (cfg.initialClusterState === 'existing') {
      // etcd ServerConfig.VerifyJoinExisting
      if (durl !== '') throw new Error('discovery URL should not be set when joining existing initial cluster');
      b = await EtcdServer.joinExisting(cfg, log, dirs, settings, opts.peerTls);
      log.info('starting local member', { 'local-member-id': idHex(b.memberId), 'cluster-id': idHex(b.clusterId) });
    } else {
      let initialCluster = cfg.initialCluster;
      if (durl !== '') {
        // etcd NewServer: register with the discovery service (the token is the URL) and take its cluster
        const self = newMember(cfg.name, cfg.initialCluster.get(cfg.name) ?? [], cfg.initialClusterToken);
        const { joinCluster } = await import('./api/v2discovery/discovery.js');
        const str = await joinCluster({ url: durl, proxy: cfg.discovery?.proxy ?? '', id: self.id, config: urlsMapString(cfg.initialCluster), lg: log });
        initialCluster = newUrlsMap(str);
        const all = [...initialCluster.values()].flat();
        if (new Set(all).size !== all.length) throw new Error(`discovery cluster ${urlsMapString(initialCluster)} has duplicate url`);
      }
      b = await bootstrapNewMember(dirs, cfg.name, initialCluster, cfg.initialClusterToken, settings);
      log.info('starting local member', { 'local-member-id': idHex(b.memberId), 'cluster-id': idHex(b.clusterId) });
    }
    try {
      touchDirAll(dirs.memberDir, warnPerm);
    } catch (e) {
      await b.wal.close();
      throw new Error(`cannot access member directory: ${(e as Error).message}`);
    }
    // etcd etcdserver/backend.go newBackend: a flag of 0 keeps the backend's default
    const backend = new LmdbBackend({
      path: dirs.backendPath,
      batchLimit: cfg.backendBatchLimit || BACKEND_BATCH_LIMIT,
      ...(disk ? { onCommit: (sec: number) => disk.backendCommitted(sec) } : {}),
    });
    const s = new EtcdServer(cfg, log, b, backend, opts, tokenProvider);
    applied.s = s;
    try {
      s.checkDataDirMatches();
      // etcd embed.StartEtcd: a member restarting on its data runs the initial check before raft starts
      if (haveWal && cfg.experimentalInitialCorruptCheck) await checkInitialHashKV(s.corruptCheckHost());
    } catch (e) {
      await s.stop();
      throw e;
    }
    s.startLoops();
    return s;
  }

  /**
   * etcd NewServer's join path (no WAL, --initial-cluster-state=existing): fetches the
   * running cluster's members and ID from the other members' peer URLs, matches them
   * with --initial-cluster by peer URLs to learn this member's ID (assigned by
   * `member add`), and creates the WAL with those IDs. Throws etcd's `cannot fetch
   * cluster info from peer urls: ...` / `error validating peerURLs ...` errors, and
   * refuses when the cluster does not list this member (it must be added first).
   */
  private static async joinExisting(
    cfg: EmbedConfig,
    log: ServerLogger,
    dirs: ReturnType<typeof memberDirs>,
    settings: Parameters<typeof bootstrapJoiningMember>[4],
    tls: PeerTlsOptions | undefined,
  ): Promise<BootstrappedRaft> {
    const local = [...cfg.initialCluster].map(([n, urls]) => newMember(n, urls, cfg.initialClusterToken));
    const remoteUrls = local.filter((m) => m.name !== cfg.name).flatMap((m) => [...m.peerUrls]).sort();
    let remote;
    try {
      remote = await getClusterFromRemotePeers(remoteUrls, (msg, f) => log.warn(msg, f), tls ? { cert: tls.cert as Buffer, key: tls.key as Buffer, ca: tls.ca as Buffer } : undefined);
    } catch (e) {
      throw new Error(`cannot fetch cluster info from peer urls: ${(e as Error).message}`);
    }
    let assigned;
    try {
      assigned = assignIdsFromExisting(local, remote.members);
    } catch (e) {
      const ms = remote.members.map((m) => `&{ID:${idHex(m.id)} RaftAttributes:{PeerURLs:[${m.peerUrls.join(' ')}] IsLearner:${m.isLearner}} Attributes:{Name:${m.name} ClientURLs:[${m.clientUrls.join(' ')}]}}`);
      throw new Error(`error validating peerURLs {ClusterID:${idHex(remote.clusterId)} Members:[${ms.join(' ')}] RemovedMemberIDs:[]}: ${(e as Error).message}`);
    }
    const self = assigned.find((m) => m.name === cfg.name);
    if (!self) throw new Error(`couldn't find local name "${cfg.name}" in the initial cluster configuration`);
    return bootstrapJoiningMember(dirs, self.id, remote.clusterId, remote.members, settings);
  }

  /** Refuses a backend that belongs to another cluster (data dir mix-up). */
  private checkDataDirMatches(): void {
    const members = this.cluster.memberList();
    if (members.length > 0 && !this.cluster.member(this.memberId) && !this.cluster.isIdRemoved(this.memberId)) {
      throw new Error(
        `data dir ${this.cfg.dataDir} holds a backend of another cluster: member ${idHex(this.memberId)} (from the WAL) is not among its members (${members.map((m) => idHex(m.id)).join(', ')})`,
      );
    }
  }

  private startLoops(): void {
    // the other members: from --initial-cluster (new), the cluster's /members (join) or the backend (restart)
    const known = this.bootstrapped.isNew ? this.bootstrapped.initialMembers : this.cluster.memberList();
    for (const m of known) {
      if (m.id !== this.memberId) this.addPeer(m.id, m.peerUrls);
    }
    this.r.start();
    this.timers.push(
      setInterval(() => {
        if (!this.stopped) this.commitBackend();
      }, this.cfg.backendBatchIntervalMs || BACKEND_BATCH_INTERVAL_MS),
    );
    this.timers.push(setInterval(() => this.leaseLoop(), LEASE_LOOP_MS));
    // etcd's SyncTicker: the leader expires v2 TTL keys through the log
    this.timers.push(setInterval(() => { if (!this.stopped && this.fatalError === undefined) this.v2.maybeSync(); }, SYNC_INTERVAL_MS));
    // etcd monitorVersions: the leader asks every member's /version; an unreachable one is logged
    this.timers.push(setInterval(() => void this.probeMemberVersions(), MONITOR_VERSION_INTERVAL_MS));
    const corruptCheckMs = this.cfg.experimentalCorruptCheckTimeMs;
    if (corruptCheckMs > 0) {
      // etcd monitorKVHash: only the leader checks, and raises the CORRUPT alarm on a mismatch
      this.log.info('enabled corruption checking', { 'local-member-id': idHex(this.memberId), interval: `${corruptCheckMs / 1000}s` });
      let checking = false;
      this.timers.push(
        setInterval(() => {
          if (this.stopped || checking || !this.r.isLeader()) return;
          checking = true;
          const raise = (): void => {
            this.v3.raftRequest({}, 'alarm', { action: AlarmRequest_AlarmAction.ACTIVATE, memberID: 0n, alarm: AlarmType.CORRUPT }).catch((e) =>
              this.log.warn('failed to raise the CORRUPT alarm', { error: String((e as Error)?.message ?? e) }),
            );
          };
          checkHashKV(this.corruptCheckHost(), () => this.v3.linearizableReadNotify({}), raise)
            .catch((e) => this.log.warn('failed to check hash KV', { error: String((e as Error)?.message ?? e) }))
            .finally(() => { checking = false; });
        }, corruptCheckMs),
      );
    }
    for (const t of this.timers) t.unref?.();
    // a lone voter does not wait for an election timeout
    setImmediate(() => this.maybeCampaignAlone());
    if (known.length > 1) this.adjustTicks();
  }

  /**
   * etcd 3.4 EtcdServer.adjustTicks for a multi-member cluster: with
   * --initial-election-tick-advance (default true), once more than one remote peer is
   * active (checked every 50 ms for up to rafthttp's 5 s read timeout), fast-forwards
   * electionTicks - 2 ticks, so a restarted cluster elects a leader about one election
   * timeout sooner; without it, logs that it skips. A lone member campaigns at once
   * instead (maybeCampaignAlone).
   */
  private adjustTicks(): void {
    const electionTicks = electionTicksOf(this.cfg);
    if (!this.cfg.initialElectionTickAdvance) {
      this.log.info('skipping initial election tick advance', { 'election-ticks': electionTicks });
      return;
    }
    this.log.info('starting initial election tick advance', { 'election-ticks': electionTicks });
    const intervalMs = 50;
    let tries = 5000 / intervalMs;
    const timer = setInterval(() => {
      if (this.stopped || this.fatalError !== undefined || --tries < 0) {
        clearInterval(timer);
        return;
      }
      const peers = this.transport.activePeers();
      if (peers <= 1) return;
      clearInterval(timer);
      const ticks = electionTicks - 2;
      const dur = (ms: number): string => goDuration(BigInt(ms) * 1_000_000n);
      this.log.info(
        'initialized peer connections; fast-forwarding election ticks',
        { 'local-member-id': idHex(this.memberId), 'forward-ticks': ticks, 'forward-duration': dur(ticks * this.cfg.heartbeatMs), 'election-ticks': electionTicks, 'election-timeout': dur(electionTicks * this.cfg.heartbeatMs), 'active-remote-members': peers },
        { pkg: 'etcdserver', text: `${idHex(this.memberId)} initialized peer connection; fast-forwarding ${ticks} ticks (election ticks ${electionTicks}) with ${peers} active peer(s)` },
      );
      try {
        if (ticks > 0) this.r.advanceTicks(ticks);
      } catch {
        /* stopped meanwhile */
      }
    }, intervalMs);
    timer.unref?.();
    this.timers.push(timer);
  }

  private maybeCampaignAlone(): void {
    if (this.stopped) return;
    const st = this.r.node.status();
    const v = st.config.voters;
    if (v.length === 1 && v[0] === this.memberId && st.softState.raftState !== StateType.StateLeader) {
      try {
        this.r.campaign();
      } catch {
        /* stopped */
      }
    } else if (v.length === 0) {
      // conf state not applied yet (restart without snapshot): try again after the first apply
      setTimeout(() => this.maybeCampaignAlone(), 5).unref?.();
    }
  }

  // ---------------------------------------------------------------- raft events

  private onSoftState(ss: SoftState): void {
    this.term = BigInt(this.r.node.status().hardState.term);
    const isLeader = ss.raftState === StateType.StateLeader;
    if (isLeader && !this.wasLeader) {
      // the lessor is promoted later, when the empty entry of this term is applied (applyEntries)
      this.log.info('became leader', { 'local-member-id': idHex(this.memberId), term: Number(this.term) });
    } else if (!isLeader && this.lessor.isPrimary()) {
      this.lessor.demote();
    }
    this.wasLeader = isLeader;
    this.v2Stats.setState(ss.raftState, ss.lead);
    if (ss.lead !== this.lastLead) {
      if (ss.lead !== 0n) this.leaderChanges++;
      this.lastLead = ss.lead;
    }
    if (ss.lead !== 0n && !this.published) setImmediate(() => this.publish());
    if (ss.lead !== 0n) this.v3.leaderKnown();
  }

  private onReadStates(rs: readonly ReadState[]): void {
    this.v3.onReadStates(rs);
  }

  /** Resolves with the cause when the member stops by itself (WAL/backend failure). */
  fatal(): Promise<unknown> {
    return this.fatalPromise;
  }

  private onFatal(e: unknown): void {
    this.fatalError = e;
    this.resolveFatal(e);
    this.log.error('the raft loop stopped: no more writes are accepted', { error: String((e as Error)?.message ?? e) });
    const stopped = new ErrStopped();
    this.w.triggerAll(() => ({ err: stopped }));
    this.applyWait.fail(stopped);
    this.v3.failReads(stopped);
  }

  // ---------------------------------------------------------------- peers

  /** Adds a remote member to the transport; a peer URL the transport cannot dial is reported, not fatal. */
  private addPeer(id: bigint, peerUrls: readonly string[]): void {
    try {
      this.transport.addPeer(id, peerUrls);
    } catch (e) {
      this.log.error('failed to add remote peer', { 'local-member-id': idHex(this.memberId), 'remote-peer-id': idHex(id), 'remote-peer-urls': peerUrls, error: (e as Error).message });
    }
  }

  /** A raft message from a peer (etcd EtcdServer.Process): stepped into raft unless its sender was removed. */
  private processPeerMessage(m: Message): void {
    if (this.cluster.isIdRemoved(m.from)) return;
    if (m.type === MessageType.MsgApp) this.v2Stats.recvAppendReq();
    else if (m.type === MessageType.MsgAppResp) this.v2Stats.appendResp(m.from, m.reject);
    this.r.step(m);
  }

  /**
   * Sends a Ready's messages (etcd raftNode.processMessages + the msgSnapC path):
   * messages to removed members are dropped; a MsgSnap is sent with a copy of the
   * backend as its database (etcd createMergedSnapshotMessage).
   */
  private sendToPeers(msgs: readonly Message[]): void {
    const plain: Message[] = [];
    for (const m of msgs) {
      if (this.cluster.isIdRemoved(m.to)) continue;
      if (m.type === MessageType.MsgApp) this.v2Stats.sendAppendReq();
      if (m.type === MessageType.MsgSnap) this.sendSnapshotMessage(m);
      else plain.push(m);
    }
    if (plain.length > 0) this.transport.send(plain);
  }

  /**
   * Streams the backend, as a bbolt file written from one read view, with a MsgSnap
   * (etcd's merged snapshot: the raft snapshot's metadata plus the whole database).
   * The copy lives in a temporary directory under the member dir until sent.
   */
  private sendSnapshotMessage(raftMsg: Message): void {
    let dir: string | undefined;
    let m = raftMsg;
    try {
      this.commitBackend();
      // etcd createMergedSnapshotMessage: the database is the backend as of the applied
      // index, so the metadata says so (index, its term, the configuration then), not
      // the older raft snapshot's: a member added since must find itself in it
      const appliedi = this.applyLoop.appliedIndex;
      if (raftMsg.snapshot && appliedi > raftMsg.snapshot.metadata.index) {
        m = {
          ...raftMsg,
          snapshot: { data: this.v2.snapshotData(), metadata: { index: appliedi, term: this.r.storage.term(appliedi), confState: this.applyLoop.currentConfState() } },
        };
      }
      dir = mkdtempSync(join(memberDirs(this.cfg.dataDir, this.cfg.walDir).memberDir, 'snapshot-send-'));
      const file = join(dir, 'db');
      const tx = this.backend.readTx();
      try {
        writeBoltFile(file, tx);
      } finally {
        tx.release();
      }
      const size = statSync(file).size;
      const body = createReadStream(file, { highWaterMark: 64 * 1024 });
      const cleanup = dir;
      body.once('close', () => rmSync(cleanup, { recursive: true, force: true }));
      this.log.info('sending merged snapshot', {
        from: idHex(this.memberId), to: idHex(m.to), bytes: size, size: `${(size / 1024 / 1024).toFixed(1)} MB`, 'snapshot-index': m.snapshot?.metadata.index,
      });
      this.transport.sendSnapshot(m, body, size);
    } catch (e) {
      if (dir) rmSync(dir, { recursive: true, force: true });
      this.log.warn('failed to send a snapshot', { to: idHex(m.to), error: String((e as Error)?.message ?? e) });
      this.r.reportSnapshot(m.to, false);
    }
  }

  /**
   * Saves the database that came with a MsgSnap as `<snap dir>/<index>.snap.db`
   * (fsynced) before raft sees the message (etcd snapshotter.SaveDBFrom).
   */
  private async receiveSnapshotDb(m: Message, body: Readable): Promise<void> {
    const index = m.snapshot?.metadata.index ?? 0;
    const dirs = memberDirs(this.cfg.dataDir, this.cfg.walDir);
    const file = join(dirs.snapDir, snapDbName(index));
    const tmp = `${file}.tmp`;
    await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const { renameSync } = await import('node:fs');
    renameSync(tmp, file);
    this.log.info('saved database snapshot to disk', { path: file, bytes: statSync(file).size, 'snapshot-index': index });
  }

  /** Stops the member because of `err` (removed from the cluster): same path as a fatal raft error. */
  private stopWithError(err: Error): void {
    if (this.fatalError !== undefined || this.stopped) return;
    this.log.warn('stopping the member', { 'local-member-id': idHex(this.memberId), error: err.message });
    void this.r.stop();
    this.onFatal(err);
  }

  /**
   * The handler of the peer listeners: the transport, `/version`, `/members`,
   * `/members/promote/<id>`, `/members/hashkv`, `/leases`, `/leases/internal`
   * (peer-handler.ts, etcd etcdhttp.NewPeerHandler).
   */
  readonly peerHandler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => (this.peerHttp ??= this.newPeerHttp())(req, res);
  private peerHttp: ReturnType<typeof newPeerHandler> | undefined;

  private newPeerHttp(): ReturnType<typeof newPeerHandler> {
    return newPeerHandler({
    serverVersion: SERVER_VERSION,
    clusterId: this.clusterId,
    log: this.log,
    transportHandle: (req, res) => this.transport.handle(req, res),
    clusterVersion: () => this.cluster.clusterVersion(),
    memberList: () => this.cluster.memberList(),
    promoteMember: (id) => this.v3.promoteMemberAsLeader({}, id).then(() => undefined),
    hashByRev: (rev) => this.kv.hashByRev(rev),
    leaseRenew: async (id) => {
      await this.applyWait.wait(this.r.committedIndex());
      return this.lessor.renew(id);
    },
    leaseTimeToLive: async (r) => {
      await this.applyWait.wait(this.r.committedIndex());
      return this.v3.localTimeToLive(r);
    },
    });
  }

  /** What the corruption checks (corrupt.ts) need of this member. */
  private corruptCheckHost(): CorruptCheckHost {
    return {
      memberId: this.memberId,
      clusterId: this.clusterId,
      log: this.log,
      hashByRev: (rev) => this.kv.hashByRev(rev),
      members: () => this.cluster.memberList(),
      peerClientTls: () => this.peerClientTls(),
      reqTimeoutMs: () => this.reqTimeoutMs(),
    };
  }

  /** TLS of this member's own peer requests (join, forwarding, corruption checks, version probes), allowed CN/hostname included. */
  private peerClientTls(): PeerClientTls | undefined {
    const t = this.peerTls;
    if (!t) return undefined;
    return {
      cert: t.cert as Buffer,
      key: t.key as Buffer,
      ca: t.ca as Buffer,
      ...(t.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
      ...(t.allowedCn ? { allowedCn: t.allowedCn } : {}),
      ...(t.allowedHostname ? { allowedHostname: t.allowedHostname } : {}),
    };
  }

  // ---------------------------------------------------------------- apply (apply-loop.ts)

  private withTx(f: (tx: BatchTx) => void): void {
    withBatchTx(this.backend, f);
  }

  /** Commits the backend; a failure stops the member (apply-loop.ts). */
  private commitBackend(): void {
    this.applyLoop.commitBackend();
  }

  /** The backend commit failed: stops the member once (its raft node and every waiter). */
  private onFatalOnce(e: unknown): void {
    if (this.fatalError === undefined) {
      this.log.error('backend commit failed: stopping', { error: String((e as Error)?.message ?? e) });
      void this.r.stop();
      this.onFatal(e);
    }
  }

  // ---------------------------------------------------------------- leases

  private leaseLoop(): void {
    if (this.stopped || this.fatalError !== undefined) return;
    // a publish that failed (no leader for the request timeout) is retried on every member
    if (!this.published && this.r.leader() !== 0n) this.publish();
    if (!this.r.isLeader()) return;
    // the revoke runs as root, as etcd's revokeExpiredLeases does (authStore.WithRoot): with auth
    // enabled an anonymous revoke of a lease with keys attached would fail the apply-time check
    for (const l of this.lessor.expiredLeases()) {
      this.v3.raftRequest({}, 'leaseRevoke', { ID: l.id }, this.authStore.rootAuthInfo()).catch((e) => {
        if (!(e instanceof ErrLeaseNotFound)) this.log.warn('failed to revoke an expired lease', { 'lease-id': l.id.toString(16), error: String((e as Error)?.message ?? e) });
      });
    }
    const cps = this.lessor.dueCheckpoints();
    if (cps.length > 0) {
      this.v3.raftRequest({}, 'leaseCheckpoint', { checkpoints: cps.map((c) => ({ ID: c.id, remainingTTL: BigInt(c.remainingTtl) })) }).catch(() => undefined);
    }
    this.monitorClusterVersion();
  }

  /**
   * Publishes this member's name and client URLs, and sets the cluster version (etcd publish + monitorVersions).
   * Once the attributes are applied the member is ready (ReadyNotify) and logs etcd's
   * "published ..." line, which etcd's e2e harness waits for.
   */
  private publish(): void {
    if (this.published || this.stopped) return;
    this.published = true;
    const attrs = { name: this.cfg.name, clientUrls: this.cfg.advertiseClientUrls.map((u) => u.toString().replace(/\/$/, '')) };
    // Go's %+v of etcd's membership.Attributes
    const attrsText = `{Name:${attrs.name} ClientURLs:[${attrs.clientUrls.join(' ')}]}`;
    const timeoutMs = this.reqTimeoutMs();
    this.v3.raftRequest({}, 'clusterMemberAttrSet', { memberID: this.memberId, memberAttributes: attrs }).then(
      () => {
        this.log.info(
          'published local member to cluster through raft',
          {
            'local-member-id': idHex(this.memberId),
            'local-member-attributes': attrsText,
            'request-path': `/0/members/${idHex(this.memberId)}/attributes`,
            'cluster-id': idHex(this.clusterId),
            'publish-timeout': `${timeoutMs / 1000}s`,
          },
          { pkg: 'etcdserver', text: `published ${attrsText} to cluster ${idHex(this.clusterId)}` },
        );
        this.markReady();
      },
      (e: unknown) => {
        this.published = false;
        if (e instanceof ErrStopped) return;
        const error = String((e as Error)?.message ?? e);
        this.log.warn(
          'failed to publish local member to cluster through raft',
          { 'local-member-id': idHex(this.memberId), 'local-member-attributes': attrsText, 'request-path': `/0/members/${idHex(this.memberId)}/attributes`, 'publish-timeout': `${timeoutMs / 1000}s`, error },
          { level: 'E', pkg: 'etcdserver', text: `publish error: ${error}` },
        );
      },
    );
    this.monitorClusterVersion();
  }

  private settingClusterVersion = false;

  /**
   * The leader sets the cluster version once none is set (etcd monitorVersions /
   * updateClusterVersion); every member here runs the same server version, so it is
   * this version's. Followers never propose it.
   */
  private monitorClusterVersion(): void {
    if (this.settingClusterVersion || !this.r.isLeader() || this.cluster.clusterVersion() !== '') return;
    this.settingClusterVersion = true;
    const v = clusterVersionText(CLUSTER_VERSION);
    this.log.info('setting up initial cluster version', { 'cluster-version': v }, { pkg: 'etcdserver', text: `setting up the initial cluster version to ${v}` });
    this.v3.raftRequest({}, 'clusterVersionSet', { ver: CLUSTER_VERSION })
      .catch(() => undefined)
      .finally(() => {
        this.settingClusterVersion = false;
      });
  }

  /**
   * The leader's /version probe of the other members (etcd monitorVersions → getVersions →
   * getVersion): each peer URL in turn until one answers; unreachable members are logged
   * with etcd's "failed to reach the peer URL" / "failed to get version" warnings, so a
   * member that cannot be reached shows up in the leader's log every few seconds. The
   * answers are not used further: every member of ours runs the same version.
   */
  private async probeMemberVersions(): Promise<void> {
    if (this.stopped || this.probingVersions || !this.r.isLeader()) return;
    this.probingVersions = true;
    try {
      await Promise.all(
        this.cluster.memberList().filter((m) => m.id !== this.memberId).map(async (m) => {
          let last: Error | undefined;
          for (const u of m.peerUrls) {
            const addr = `${u}/version`;
            try {
              const r = await peerRequest(addr, { method: 'GET', timeoutMs: MONITOR_VERSION_INTERVAL_MS / 2, tls: this.peerClientTls() });
              if (r.status === 200) return;
              last = new Error(`unexpected status ${r.status}`);
            } catch (e) {
              last = e as Error;
              const err = `Get "${addr}": ${last.message}`;
              this.log.warn('failed to reach the peer URL', { address: addr, 'remote-member-id': idHex(m.id), error: err }, {
                pkg: 'etcdserver',
                text: `failed to reach the peerURL(${u}) of member ${idHex(m.id)} (${err})`,
              });
            }
          }
          if (last) {
            this.log.warn('failed to get version', { 'remote-member-id': idHex(m.id), error: last.message }, { pkg: 'etcdserver', text: `cannot get the version of member ${idHex(m.id)} (${last.message})` });
          }
        }),
      );
    } finally {
      this.probingVersions = false;
    }
  }

  /** Settles once this member has published its attributes through raft (etcd EtcdServer.ReadyNotify). */
  readyNotify(): Promise<void> {
    return this.readyPromise;
  }

  /** Applies a ClusterVersionSet (etcd RaftCluster.SetVersion with api.UpdateCapability), logging as etcd does. */
  private applyClusterVersion(ver: string): void {
    const prev = this.cluster.clusterVersion();
    this.withTx((tx) => this.cluster.setVersion(tx, ver));
    const ids = { 'cluster-id': idHex(this.clusterId), 'local-member-id': idHex(this.memberId) };
    if (prev !== '') {
      this.log.info('updated cluster version', { ...ids, from: clusterVersionText(prev), to: clusterVersionText(ver) }, {
        level: 'N',
        pkg: 'etcdserver/membership',
        text: `updated the cluster version from ${clusterVersionText(prev)} to ${clusterVersionText(ver)}`,
      });
    } else {
      this.log.info('set initial cluster version', { ...ids, 'cluster-version': clusterVersionText(ver) }, { level: 'N', pkg: 'etcdserver/membership', text: `set the initial cluster version to ${clusterVersionText(ver)}` });
    }
    this.updateCapability(ver);
  }

  /** The cluster version recovered from the backend (restart, received snapshot): etcd RaftCluster.Recover. */
  private clusterVersionRecovered(ver: string): void {
    this.updateCapability(ver);
    this.log.info('set cluster version from store', { 'cluster-version': clusterVersionText(ver) }, { pkg: 'etcdserver/membership', text: `set the cluster version to ${clusterVersionText(ver)} from store` });
  }

  /** etcd api.UpdateCapability: logs "enabled capabilities for version" when the cluster version rises. */
  private updateCapability(ver: string): void {
    if (this.capabilityVersion !== '' && compareVersions(this.capabilityVersion, ver) >= 0) return;
    this.capabilityVersion = ver;
    this.log.info('enabled capabilities for version', { 'cluster-version': clusterVersionText(ver) }, { pkg: 'etcdserver/api', text: `enabled capabilities for version ${clusterVersionText(ver)}` });
  }

  // ---------------------------------------------------------------- EtcdServerApi

  /** Request timeout, ms (v3-server.ts requestTimeoutMs). */
  private reqTimeoutMs(): number {
    return requestTimeoutMs(this.cfg.electionMs);
  }

  header(): HeaderInfo {
    return { clusterId: this.clusterId, memberId: this.memberId, raftTerm: BigInt(this.r.term()), revision: BigInt(this.kv.rev()) };
  }

  limits(): RequestLimits {
    return { maxRequestBytes: this.cfg.maxRequestBytes, maxTxnOps: this.cfg.maxTxnOps };
  }

  watchable(): WatchableStore {
    return this.kv;
  }

  watchProgressNotifyIntervalMs(): number {
    return this.cfg.experimentalWatchProgressNotifyIntervalMs || 10 * 60 * 1000;
  }

  async status(_ctx: CallContext): Promise<StatusResponse> {
    return create(StatusResponseSchema, {
      header: create(ResponseHeaderSchema, { revision: BigInt(this.kv.rev()) }),
      version: SERVER_VERSION,
      dbSize: BigInt(this.backend.size()),
      leader: this.r.leader(),
      raftIndex: BigInt(this.r.committedIndex()),
      raftTerm: BigInt(this.r.term()),
      raftAppliedIndex: BigInt(this.applyLoop.appliedIndex),
      errors: this.alarmStore.get(AlarmType.NONE).map((a) => `memberID:${a.memberID} alarm:${AlarmType[a.alarm]} `),
      dbSizeInUse: BigInt(this.backend.sizeInUse()),
      isLearner: this.cluster.member(this.memberId)?.isLearner ?? false,
    });
  }

  leader(): bigint {
    return this.r.leader();
  }

  isLearner(): boolean {
    return this.cluster.member(this.memberId)?.isLearner === true;
  }

  async health(excludedAlarms?: ReadonlySet<string>): Promise<{ health: boolean; reason: string }> {
    if (this.fatalError !== undefined) return { health: false, reason: 'RAFT STOPPED' };
    const alarms = this.alarmStore.get(AlarmType.NONE).filter((a) => !excludedAlarms?.has(AlarmType[a.alarm]));
    if (alarms.length > 0) return { health: false, reason: alarms.map((a) => `ALARM ${AlarmType[a.alarm]}`).join(', ') };
    if (this.r.leader() === 0n) return { health: false, reason: 'RAFT NO LEADER' };
    // etcd 3.4 also runs a quorum read with a 1 s timeout
    try {
      await this.v3.linearizableReadNotify({ signal: AbortSignal.timeout(1000) });
    } catch {
      return { health: false, reason: 'QGET ERROR' };
    }
    return { health: true, reason: '' };
  }

  // EtcdServerApi requests (api.ts documents each): implemented by v3-server.ts

  range(ctx: CallContext, r: RangeRequest): Promise<RangeResponse> {
    return this.v3.range(ctx, r);
  }

  put(ctx: CallContext, r: PutRequest): Promise<PutResponse> {
    return this.v3.put(ctx, r);
  }

  deleteRange(ctx: CallContext, r: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.v3.deleteRange(ctx, r);
  }

  txn(ctx: CallContext, r: TxnRequest): Promise<TxnResponse> {
    return this.v3.txn(ctx, r);
  }

  compact(ctx: CallContext, r: CompactionRequest): Promise<CompactionResponse> {
    return this.v3.compact(ctx, r);
  }

  leaseGrant(ctx: CallContext, r: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    return this.v3.leaseGrant(ctx, r);
  }

  leaseRevoke(ctx: CallContext, r: LeaseRevokeRequest): Promise<LeaseRevokeResponse> {
    return this.v3.leaseRevoke(ctx, r);
  }

  leaseRenew(ctx: CallContext, id: bigint): Promise<bigint> {
    return this.v3.leaseRenew(ctx, id);
  }

  leaseTimeToLive(ctx: CallContext, r: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    return this.v3.leaseTimeToLive(ctx, r);
  }

  leaseLeases(_ctx: CallContext): Promise<LeaseLeasesResponse> {
    return this.v3.leaseLeases(_ctx);
  }

  checkWatchPermission(ctx: CallContext, key: Uint8Array, rangeEnd: Uint8Array): Promise<void> {
    return this.v3.checkWatchPermission(ctx, key, rangeEnd);
  }

  alarm(ctx: CallContext, r: AlarmRequest): Promise<AlarmResponse> {
    return this.v3.alarm(ctx, r);
  }

  hash(ctx: CallContext): Promise<HashResponse> {
    return this.v3.hash(ctx);
  }

  hashKV(ctx: CallContext, revision: bigint): Promise<HashKVResponse> {
    return this.v3.hashKV(ctx, revision);
  }

  defragment(ctx: CallContext): Promise<DefragmentResponse> {
    return this.v3.defragment(ctx);
  }

  snapshot(ctx: CallContext): Promise<BackendSnapshot> {
    return this.v3.snapshot(ctx);
  }

  moveLeader(ctx: CallContext, r: MoveLeaderRequest): Promise<MoveLeaderResponse> {
    return this.v3.moveLeader(ctx, r);
  }

  memberList(ctx: CallContext, linearizable: boolean): Promise<MemberListResponse> {
    return this.v3.memberList(ctx, linearizable);
  }

  /** What the v2 HTTP API (--enable-v2) serves from this member. */
  v2HttpDeps(): V2HttpDeps {
    return {
      do: (r) => this.v2.do(r),
      storeStatsJson: () => this.v2.store.statsJson(),
      stats: this.v2Stats,
      clusterId: () => this.clusterId,
      clientCertAuth: this.cfg.clientTls.clientCertAuth,
      // etcd enables its capabilities (auth among them) once the cluster version is known
      authCapable: () => this.cluster.clusterVersion() !== '',
      members: () => this.cluster.memberList(),
      leader: () => this.r.leader(),
      memberAdd: async (peerUrls) => {
        const resp = await this.v3.memberAdd({}, create(MemberAddRequestSchema, { peerURLs: peerUrls }));
        const m = resp.member!;
        return { id: m.ID, peerUrls: m.peerURLs, isLearner: m.isLearner, name: m.name, clientUrls: m.clientURLs };
      },
      memberRemove: async (id) => {
        await this.v3.memberRemove({}, create(MemberRemoveRequestSchema, { ID: id }));
      },
      memberUpdate: async (id, peerUrls) => {
        await this.v3.memberUpdate({}, create(MemberUpdateRequestSchema, { ID: id, peerURLs: peerUrls }));
      },
      warn: (msg, fields) => this.log.warn(msg, fields),
    };
  }

  memberAdd(ctx: CallContext, r: MemberAddRequest): Promise<MemberAddResponse> {
    return this.v3.memberAdd(ctx, r);
  }

  memberRemove(ctx: CallContext, r: MemberRemoveRequest): Promise<MemberRemoveResponse> {
    return this.v3.memberRemove(ctx, r);
  }

  memberUpdate(ctx: CallContext, r: MemberUpdateRequest): Promise<MemberUpdateResponse> {
    return this.v3.memberUpdate(ctx, r);
  }

  memberPromote(ctx: CallContext, r: MemberPromoteRequest): Promise<MemberPromoteResponse> {
    return this.v3.memberPromote(ctx, r);
  }

  authEnable(ctx: CallContext): Promise<AuthEnableResponse> {
    return this.v3.authEnable(ctx);
  }

  authDisable(ctx: CallContext): Promise<AuthDisableResponse> {
    return this.v3.authDisable(ctx);
  }

  authenticate(ctx: CallContext, r: AuthenticateRequest): Promise<AuthenticateResponse> {
    return this.v3.authenticate(ctx, r);
  }

  userAdd(ctx: CallContext, r: AuthUserAddRequest): Promise<AuthUserAddResponse> {
    return this.v3.userAdd(ctx, r);
  }

  userDelete(ctx: CallContext, r: AuthUserDeleteRequest): Promise<AuthUserDeleteResponse> {
    return this.v3.userDelete(ctx, r);
  }

  userChangePassword(ctx: CallContext, r: AuthUserChangePasswordRequest): Promise<AuthUserChangePasswordResponse> {
    return this.v3.userChangePassword(ctx, r);
  }

  userGrantRole(ctx: CallContext, r: AuthUserGrantRoleRequest): Promise<AuthUserGrantRoleResponse> {
    return this.v3.userGrantRole(ctx, r);
  }

  userGet(ctx: CallContext, r: AuthUserGetRequest): Promise<AuthUserGetResponse> {
    return this.v3.userGet(ctx, r);
  }

  userList(ctx: CallContext): Promise<AuthUserListResponse> {
    return this.v3.userList(ctx);
  }

  userRevokeRole(ctx: CallContext, r: AuthUserRevokeRoleRequest): Promise<AuthUserRevokeRoleResponse> {
    return this.v3.userRevokeRole(ctx, r);
  }

  roleAdd(ctx: CallContext, r: AuthRoleAddRequest): Promise<AuthRoleAddResponse> {
    return this.v3.roleAdd(ctx, r);
  }

  roleGrantPermission(ctx: CallContext, r: AuthRoleGrantPermissionRequest): Promise<AuthRoleGrantPermissionResponse> {
    return this.v3.roleGrantPermission(ctx, r);
  }

  roleGet(ctx: CallContext, r: AuthRoleGetRequest): Promise<AuthRoleGetResponse> {
    return this.v3.roleGet(ctx, r);
  }

  roleList(ctx: CallContext): Promise<AuthRoleListResponse> {
    return this.v3.roleList(ctx);
  }

  roleRevokePermission(ctx: CallContext, r: AuthRoleRevokePermissionRequest): Promise<AuthRoleRevokePermissionResponse> {
    return this.v3.roleRevokePermission(ctx, r);
  }

  roleDelete(ctx: CallContext, r: AuthRoleDeleteRequest): Promise<AuthRoleDeleteResponse> {
    return this.v3.roleDelete(ctx, r);
  }

  authInfoFromContext(ctx: CallContext): Promise<AuthInfo | undefined> {
    return this.v3.authInfoFromContext(ctx);
  }

  // ---------------------------------------------------------------- misc

  /**
   * Numbers for /metrics, read at scrape time: leader state, raft indexes,
   * proposals waiting, backend sizes (bytes), keys, watchers, revisions.
   */
  stats(): {
    hasLeader: boolean;
    isLeader: boolean;
    isLearner: boolean;
    leaderChanges: number;
    committedIndex: number;
    appliedIndex: number;
    pendingProposals: number;
    dbSize: number;
    dbSizeInUse: number;
    keys: number;
    watchers: number;
    watchStreams: number;
    revision: number;
    compactRevision: number;
    quotaBytes: number;
  } {
    return {
      hasLeader: this.r.leader() !== 0n,
      isLeader: this.r.isLeader(),
      isLearner: this.cluster.member(this.memberId)?.isLearner ?? false,
      leaderChanges: this.leaderChanges,
      committedIndex: this.r.committedIndex(),
      appliedIndex: this.applyLoop.appliedIndex,
      pendingProposals: this.w.size,
      dbSize: this.backend.size(),
      dbSizeInUse: this.backend.sizeInUse(),
      keys: this.kv.index.size(),
      watchers: this.kv.watcherCount(),
      watchStreams: this.kv.watchStreamCount(),
      revision: this.kv.rev(),
      compactRevision: this.kv.compactMainRev,
      quotaBytes: this.applier.backendQuota().remaining() + this.backend.size(),
    };
  }

  /** The applied index (for tests and metrics). */
  getAppliedIndex(): number {
    return this.applyLoop.appliedIndex;
  }

  /** True once this member is the leader. */
  isLeader(): boolean {
    return this.r.isLeader();
  }

  /** Resolves when a leader is known (for startup). */
  async waitReady(timeoutMs = 10_000): Promise<void> {
    await this.v3.waitLeader({ signal: AbortSignal.timeout(timeoutMs) });
  }

  /**
   * Stops the member: no new requests, raft stops after the queued WAL writes
   * and applies, the backend is committed and closed, the WAL closed.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.transport.stop();
    await this.r.stop();
    await this.applyLoop.snapshotInFlight;
    const stopped = new ErrStopped();
    this.w.triggerAll(() => ({ err: stopped }));
    this.v3.failReads(stopped);
    try {
      if (this.fatalError === undefined) this.backend.forceCommit();
    } catch {
      /* reported by the commit path */
    }
    this.lessor.close();
    this.kv.close();
    this.authStore.close();
    this.backend.close();
    await this.bootstrapped.wal.close();
  }
}

