/**
 * @module server/metrics/metrics
 * The member's Prometheus metrics, with etcd 3.4's names and help texts
 * (etcdserver/metrics.go, mvcc/metrics.go, etcdhttp/metrics.go, lease/metrics.go),
 * served at /metrics by etcdhttp. One {@link EtcdMetrics} per member: the server
 * sets the gauges and increments the counters; v3rpc adds the grpc_server_*
 * family (v3rpc/metrics.ts) to the same registry. Uses prom-client.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The etcd release this server reports being compatible with (version.Version). */
export const ETCD_SERVER_VERSION = '3.4.23';

/** Options of {@link EtcdMetrics}. */
export interface EtcdMetricsOptions {
  /** Also export process_* and nodejs_* metrics (process_resident_memory_bytes, ...). Default true. */
  readonly processMetrics?: boolean;
}

/** A registry with etcd's server, mvcc, lease and health metrics. */
export class EtcdMetrics {
  readonly registry = new Registry();

  // etcdserver/metrics.go
  readonly hasLeader = this.gauge('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.');
  readonly isLeader = this.gauge('etcd_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.');
  readonly isLearner = this.gauge('etcd_server_is_learner', 'Whether or not this member is a learner. 1 if is, 0 otherwise.');
  readonly leaderChanges = this.counter('etcd_server_leader_changes_seen_total', 'The number of leader changes seen.');
  readonly proposalsCommitted = this.gauge('etcd_server_proposals_committed_total', 'The total number of consensus proposals committed.');
  readonly proposalsApplied = this.gauge('etcd_server_proposals_applied_total', 'The total number of consensus proposals applied.');
  readonly proposalsPending = this.gauge('etcd_server_proposals_pending', 'The current number of pending proposals to commit.');
  readonly proposalsFailed = this.counter('etcd_server_proposals_failed_total', 'The total number of failed proposals seen.');
  readonly slowApply = this.counter('etcd_server_slow_apply_total', 'The total number of slow apply requests (likely overloaded from slow disk).');
  readonly quotaBackendBytes = this.gauge('etcd_server_quota_backend_bytes', 'Current backend storage quota size in bytes.');
  readonly leaseExpired = this.counter('etcd_debugging_server_lease_expired_total', 'The total number of expired leases.');
  readonly serverId = this.gauge('etcd_server_id', "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.", ['server_id']);
  readonly serverVersion = this.gauge('etcd_server_version', "Which version is running. 1 for 'server_version' label with current version.", ['server_version']);
  readonly clusterVersion = this.gauge('etcd_cluster_version', "Which version is running. 1 for 'cluster_version' label with current cluster version", ['cluster_version']);

  // wal/metrics.go, mvcc/backend/metrics.go: 1 ms to 8.192 s (prometheus.ExponentialBuckets(0.001, 2, 14))
  readonly walFsyncDuration = this.histogram('etcd_disk_wal_fsync_duration_seconds', 'The latency distributions of fsync called by WAL.');
  readonly walWriteBytes = this.gauge('etcd_disk_wal_write_bytes_total', 'Total number of bytes written in WAL.');
  readonly backendCommitDuration = this.histogram('etcd_disk_backend_commit_duration_seconds', 'The latency distributions of commit called by backend.');

  // etcdhttp/metrics.go
  readonly healthSuccess = this.counter('etcd_server_health_success', 'The total number of successful health checks');
  readonly healthFailures = this.counter('etcd_server_health_failures', 'The total number of failed health checks');

  // mvcc/metrics.go
  readonly rangeTotal = this.counter('etcd_mvcc_range_total', 'Total number of ranges seen by this member.');
  readonly putTotal = this.counter('etcd_mvcc_put_total', 'Total number of puts seen by this member.');
  readonly deleteTotal = this.counter('etcd_mvcc_delete_total', 'Total number of deletes seen by this member.');
  readonly txnTotal = this.counter('etcd_mvcc_txn_total', 'Total number of txns seen by this member.');
  readonly keysTotal = this.gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.');
  readonly watchStreamTotal = this.gauge('etcd_debugging_mvcc_watch_stream_total', 'Total number of watch streams.');
  readonly watcherTotal = this.gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.');
  readonly slowWatcherTotal = this.gauge('etcd_debugging_mvcc_slow_watcher_total', 'Total number of unsynced slow watchers.');
  readonly eventsTotal = this.counter('etcd_debugging_mvcc_events_total', 'Total number of events sent by this member.');
  readonly currentRevision = this.gauge('etcd_debugging_mvcc_current_revision', 'The current revision of store.');
  readonly compactRevision = this.gauge('etcd_debugging_mvcc_compact_revision', 'The revision of the last compaction in store.');
  readonly dbTotalSize = this.gauge('etcd_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.');
  readonly dbTotalSizeDebugging = this.gauge('etcd_debugging_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.');
  readonly dbTotalSizeInUse = this.gauge('etcd_mvcc_db_total_size_in_use_in_bytes', 'Total size of the underlying database logically in use in bytes.');

  // lease/metrics.go
  readonly leaseGranted = this.counter('etcd_debugging_lease_granted_total', 'The total number of granted leases.');
  readonly leaseRevoked = this.counter('etcd_debugging_lease_revoked_total', 'The total number of revoked leases.');
  readonly leaseRenewed = this.counter('etcd_debugging_lease_renewed_total', 'The number of renewed leases seen by the leader.');

  constructor(opts: EtcdMetricsOptions = {}) {
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.serverVersion.labels(ETCD_SERVER_VERSION).set(1);
  }

  /**
   * Sets etcd_server_id{server_id="<hex>"} 1 for this member (hex without
   * leading zeros, as etcd's types.ID.String()).
   */
  setServerId(memberId: bigint): void {
    this.serverId.reset();
    this.serverId.labels(memberId.toString(16)).set(1);
  }

  /** Sets etcd_cluster_version{cluster_version="3.4"} 1 (major.minor). */
  setClusterVersion(v: string): void {
    this.clusterVersion.reset();
    this.clusterVersion.labels(v).set(1);
  }

  private readonly collectors: (() => void)[] = [];

  /** Registers `f` to refresh gauges right before each scrape (values read from the server, off the hot path). */
  onCollect(f: () => void): void {
    this.collectors.push(f);
  }

  /** The exposition text (Prometheus text format 0.0.4), after running the {@link onCollect} refreshers. */
  text(): Promise<string> {
    for (const f of this.collectors) f();
    return this.registry.metrics();
  }

  /** Content-Type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge<string> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  /** A histogram with etcd's disk buckets: 0.001 s doubling 14 times (0.001 … 8.192 s). */
  private histogram(name: string, help: string): Histogram<string> {
    const buckets = Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i);
    return new Histogram({ name, help, buckets, registers: [this.registry] });
  }

  private counter(name: string, help: string): Counter<string> {
    return new Counter({ name, help, registers: [this.registry] });
  }
}
