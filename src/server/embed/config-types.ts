/**
 * The resolved configuration of one etcd member (etcd embed.Config), as produced
 * from flags, ETCD_* environment variables or a YAML --config-file by
 * `./config.ts`, and consumed by `./etcd.ts` (startEtcd) and the etcd server.
 *
 * Units are in the field names or docs: ms for durations, bytes for sizes.
 */

/** TLS settings of one listener family (client or peer), etcd transport.TLSInfo. */
export interface TlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  readonly trustedCaFile: string;
  /** --client-cert-auth / --peer-client-cert-auth */
  readonly clientCertAuth: boolean;
  /** --auto-tls / --peer-auto-tls: generate a self-signed cert when certFile is empty. */
  readonly autoTls: boolean;
  readonly crlFile: string;
  /** --peer-cert-allowed-cn (peers only; '' unset). */
  readonly allowedCn: string;
  /** --client-cert-allowed-hostname / --peer-cert-allowed-hostname ('' unset). */
  readonly allowedHostname?: string;
}

export type ClusterState = 'new' | 'existing';
export type AutoCompactionMode = 'periodic' | 'revision';

/** Logger settings (--logger, --log-level, --log-outputs). */
export interface LogConfig {
  /** 'zap' (JSON lines) or 'capnslog' (accepted, printed as zap). */
  readonly logger: string;
  /** debug | info | warn | error | panic | fatal */
  readonly level: string;
  /** 'default' | 'stderr' | 'stdout' | file paths */
  readonly outputs: readonly string[];
}

/** etcd embed.Config Durl, Dproxy, DNSCluster, DNSClusterServiceName and etcdmain's fallback. */
export interface DiscoveryConfig {
  /** --discovery: the discovery URL (v2 keys protocol), '' for none */
  readonly url: string;
  /** --discovery-proxy: HTTP proxy for the discovery service, '' for none */
  readonly proxy: string;
  /** --discovery-fallback: 'exit' or 'proxy' (the default) when the cluster is full */
  readonly fallback: string;
  /** --discovery-srv: the domain of the SRV records, '' for none */
  readonly srv: string;
  /** --discovery-srv-name: suffix of the SRV service names, '' for none */
  readonly srvName: string;
}

export interface EmbedConfig {
  readonly name: string;
  readonly dataDir: string;
  /** empty: <dataDir>/member/wal */
  readonly walDir: string;

  readonly listenClientUrls: readonly URL[];
  readonly advertiseClientUrls: readonly URL[];
  readonly listenPeerUrls: readonly URL[];
  readonly initialAdvertisePeerUrls: readonly URL[];
  readonly listenMetricsUrls: readonly URL[];

  /** --initial-cluster parsed: member name → peer URLs (order kept). */
  readonly initialCluster: ReadonlyMap<string, readonly string[]>;
  readonly initialClusterState: ClusterState;
  readonly initialClusterToken: string;
  /**
   * Bootstrap by discovery (etcd's --discovery, --discovery-srv and companions); absent or
   * empty strings: not used. See embed/discovery-srv.ts and etcdserver/api/v2discovery.
   */
  readonly discovery?: DiscoveryConfig;

  /** entries between raft snapshots (default 100000). */
  readonly snapshotCount: number;
  /** files of each kind kept (--max-snapshots, --max-wals; 5 each, 0 = unlimited). */
  readonly maxSnapFiles: number;
  readonly maxWalFiles: number;
  /** ms, default 100 */
  readonly heartbeatMs: number;
  /** ms, default 1000 */
  readonly electionMs: number;
  /** --enable-v2: serve the v2 API (/v2/keys, /v2/members, /v2/machines, /v2/stats) on the client URLs. */
  readonly enableV2?: boolean;
  /** bytes, 0 = default 2 GiB */
  readonly quotaBackendBytes: number;
  /**
   * --backend-batch-interval: longest time between backend commits, ms (0 or absent: etcd's
   * default 100; a negative value commits on every timer turn, as Go's timer fires at once).
   */
  readonly backendBatchIntervalMs?: number;
  /**
   * --backend-batch-limit: pending backend writes that force a commit (0 or absent: etcd's
   * default 10000; a negative value commits after every write transaction).
   */
  readonly backendBatchLimit?: number;
  /** bytes, default 1.5 MiB */
  readonly maxRequestBytes: number;
  /** default 128 */
  readonly maxTxnOps: number;
  readonly autoCompactionMode: AutoCompactionMode;
  /** raw retention string: '0' disables; periodic: duration ('1h', '30m') or hours; revision: count */
  readonly autoCompactionRetention: string;
  /** --strict-reconfig-check */
  readonly strictReconfigCheck: boolean;
  /** --pre-vote */
  readonly preVote: boolean;
  /** --enable-pprof etc. are accepted and ignored */

  readonly clientTls: TlsConfig;
  readonly peerTls: TlsConfig;

  /** --auth-token: 'simple' or 'jwt,sign-method=...,priv-key=...' (checked when the server starts: auth/token-jwt.ts) */
  readonly authToken: string;
  /** --bcrypt-cost */
  readonly bcryptCost: number;

  readonly log: LogConfig;
  /** --force-new-cluster */
  readonly forceNewCluster: boolean;
  /** --experimental-... flags that change behaviour we implement */
  readonly experimentalWatchProgressNotifyIntervalMs: number;

  /** --initial-election-tick-advance (default true): fast-forward election ticks on boot. */
  readonly initialElectionTickAdvance: boolean;
  /** --max-concurrent-streams per client connection (default 2^32-1). */
  readonly maxConcurrentStreams: number;
  /** --grpc-keepalive-min-time, ms (default 5000). */
  readonly grpcKeepAliveMinTimeMs: number;
  /** --grpc-keepalive-interval, ms (default 7200000; 0 disables). */
  readonly grpcKeepAliveIntervalMs: number;
  /** --grpc-keepalive-timeout, ms (default 20000; 0 disables). */
  readonly grpcKeepAliveTimeoutMs: number;
  /** --auth-token-ttl, seconds (default 300). */
  readonly authTokenTtlSec: number;
  /** --unsafe-no-fsync */
  readonly unsafeNoFsync: boolean;
  /** --experimental-enable-lease-checkpoint */
  readonly experimentalEnableLeaseCheckpoint: boolean;
  /** --experimental-compaction-batch-limit (0: etcd's default 1000) */
  readonly experimentalCompactionBatchLimit: number;
  /** --experimental-warning-apply-duration, ms (default 100) */
  readonly experimentalWarningApplyDurationMs: number;
  /** --experimental-initial-corrupt-check: compare KV hashes with peers before a restarted member starts. */
  readonly experimentalInitialCorruptCheck: boolean;
  /** --experimental-corrupt-check-time, ms (0: off): the leader's periodic hash check with its peers. */
  readonly experimentalCorruptCheckTimeMs: number;
  /** --enable-grpc-gateway (default true): the /v3 JSON gateway on the client listeners. */
  readonly enableGrpcGateway?: boolean;
}
