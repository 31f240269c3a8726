/**
 * startEtcd: starts one member from a resolved config (etcd 3.4 embed/etcd.go
 * StartEtcd): binds the peer listeners first (so a port in use fails before any
 * state is written), opens or creates the member's data (EtcdServer), then
 * serves gRPC + HTTP on the client URLs.
 *
 * Peer listeners serve etcd's peer handler (the rafthttp transport, `/members`,
 * `/leases`, `/version`: EtcdServer.peerHandler), over TLS when the peer URLs are
 * https (--peer-cert-file ... or --peer-auto-tls). Until the server is created
 * they answer `/version` and 503 for everything else.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import type { PeerTlsOptions } from '../rafthttp/transport.js';
import { allowedCertCheck, goTlsErrorText, tls13AlertRecord } from '../rafthttp/peer-tls.js';
import { withCrlCheck } from './crl.js';
import type { X509Certificate } from 'node:crypto';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { EmbedConfig } from './config-types.js';
import { verifyBootstrapResolved } from './config.js';
import { peerUrlsFromDnsSrv, type SrvCluster } from './discovery-srv.js';
import { selfCert, serveClients, type ClientServers } from './serve.js';
import { newV2Handler } from '../etcdserver/api/v2http/client.js';
import { EtcdMetrics } from '../metrics/metrics.js';
import { CLUSTER_VERSION, ErrMemberRemoved, EtcdServer, SERVER_VERSION, type ServerLogger } from '../etcdserver/server.js';
import type { Logger } from '../logger.js';
import { newCompactor, parseCompactionRetention, realScheduler, type Compactor } from '../etcdserver/api/v3compactor/compactor.js';
import { create } from '@bufbuild/protobuf';
import { CompactionRequestSchema } from '../../gen/etcdserverpb/rpc_pb.js';
import { systemClock } from '../../util/clock.js';

/**
 * Starts auto compaction when --auto-compaction-retention is not 0 (etcd
 * embed.StartEtcd → v3compactor.New); it runs only while this member leads.
 */
function startCompactor(cfg: EmbedConfig, server: EtcdServer, log: Logger): { stop(): void } | undefined {
  const retention = parseCompactionRetention(cfg.autoCompactionMode, cfg.autoCompactionRetention);
  if (retention === 0n) return undefined;
  const c: Compactor = newCompactor(cfg.autoCompactionMode, retention, {
    clock: systemClock,
    scheduler: realScheduler,
    rev: () => Number(server.header().revision),
    compact: async (rev) => {
      await server.compact({}, create(CompactionRequestSchema, { revision: BigInt(rev) }));
    },
    logger: log,
  });
  c.run();
  let paused = false;
  const t = setInterval(() => {
    const leader = server.isLeader();
    if (leader && paused) c.resume();
    if (!leader && !paused) c.pause();
    paused = !leader;
  }, 1000);
  t.unref();
  log.info('auto compaction is enabled', { 'compaction-mode': cfg.autoCompactionMode, 'compaction-retention': cfg.autoCompactionRetention });
  return {
    stop: () => {
      clearInterval(t);
      c.stop();
    },
  };
}

/** A running member (etcd embed.Etcd). */
export interface Etcd {
  readonly server: EtcdServer;
  readonly clients: ClientServers;
  /** Bound peer addresses (host:port, or the socket path of a unix:// peer URL). */
  readonly peerAddresses: readonly string[];
  /**
   * Settles when the member stops by itself: rejects with the cause of a fatal raft/WAL
   * error, resolves when the member was removed from the cluster (etcd exits 0 then).
   */
  readonly stopped: Promise<unknown>;
  /** Stops serving and closes the member; idempotent. */
  close(): Promise<void>;
}

/** Routes peer requests: to the server's peer handler once it exists. */
type PeerRoute = { handler?: http.RequestListener };

function readPeerTlsFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`${flag}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * The peer TLS of this member (etcd PeerTLSInfo): the files of --peer-cert-file,
 * --peer-key-file, --peer-trusted-ca-file, or with --peer-auto-tls a self-signed
 * certificate in <data-dir>/fixtures/peer (then peers' certificates are not verified,
 * as etcd's selfCert client config). Undefined when no peer URL is https. Throws
 * naming the flag when a file cannot be read or the pair is unusable.
 */
async function resolvePeerTls(cfg: EmbedConfig): Promise<PeerTlsOptions | undefined> {
  const urls = [...cfg.listenPeerUrls, ...cfg.initialAdvertisePeerUrls];
  const secure = urls.some((u) => u.protocol === 'https:' || u.protocol === 'unixs:');
  const t = cfg.peerTls;
  if (!secure && !t.certFile) return undefined;
  let certFile = t.certFile;
  let keyFile = t.keyFile;
  let selfSigned = false;
  if (!certFile && !keyFile && t.autoTls) {
    const hosts = [...new Set(urls.map((u) => u.hostname.replace(/^\[|\]$/g, '')))];
    const files = await selfCert(path.join(cfg.dataDir, 'fixtures', 'peer'), hosts.length ? hosts : ['localhost']);
    certFile = files.certFile;
    keyFile = files.keyFile;
    selfSigned = true;
  }
  if (!certFile || !keyFile) {
    if (!secure) return undefined;
    throw new Error('both --peer-cert-file and --peer-key-file must be given for https peer URLs (or --peer-auto-tls)');
  }
  const opts: PeerTlsOptions = {
    cert: readPeerTlsFile('--peer-cert-file', certFile),
    key: readPeerTlsFile('--peer-key-file', keyFile),
    clientCertAuth: t.clientCertAuth,
    insecureSkipVerify: selfSigned,
    ...(t.allowedCn ? { allowedCn: t.allowedCn } : {}),
    ...(t.allowedHostname ? { allowedHostname: t.allowedHostname } : {}),
    ...(t.crlFile ? { crlFile: t.crlFile } : {}),
  };
  // etcd TLSInfo.baseConfig: the two allowed-name settings cannot be combined
  allowedCertCheck(opts);
  if (t.trustedCaFile) opts.ca = readPeerTlsFile('--peer-trusted-ca-file', t.trustedCaFile);
  try {
    tls.createSecureContext({ cert: opts.cert, key: opts.key, ca: opts.ca });
  } catch (e) {
    throw new Error(`peer TLS: cannot use --peer-cert-file ${certFile} / --peer-key-file ${keyFile}${t.trustedCaFile ? ` / --peer-trusted-ca-file ${t.trustedCaFile}` : ''}: ${(e as Error).message}`);
  }
  return opts;
}

/** The host outgoing peer connections bind to: the first --listen-peer-urls host when it is a specific IP. */
function peerLocalAddress(cfg: EmbedConfig): string | undefined {
  for (const u of cfg.listenPeerUrls) {
    if (u.protocol !== 'http:' && u.protocol !== 'https:') continue;
    const h = u.hostname.replace(/^\[|\]$/g, '');
    if (h === '0.0.0.0' || h === '::' || h === '' || h === 'localhost') return undefined;
    return h;
  }
  return undefined;
}

/**
 * Whether the peer listener requires a client certificate verified against the
 * trusted CA: with --peer-client-cert-auth, and also whenever --peer-trusted-ca-file
 * is given (etcd TLSInfo.ServerConfig: tls.RequireAndVerifyClientCert).
 */
function requiresClientCert(peerTls: PeerTlsOptions): boolean {
  return !!peerTls.clientCertAuth || peerTls.ca !== undefined;
}

/**
 * Logs a peer connection refused by TLS as etcd's logTLSHandshakeFailure does
 * (embed/config.go; zap: embed/config_logging.go): "rejected connection" with the
 * remote address, the requested server name, the SANs of the certificate presented
 * (when there was one) and the error in Go's wording (./peer-tls.ts goTlsErrorText).
 */
function logRejectedConnection(log: Logger, s: tls.TLSSocket, remoteAddr: string, err: Error): void {
  const error = goTlsErrorText(err);
  const serverName = String((s as unknown as { servername?: unknown }).servername || '');
  let cert: X509Certificate | undefined;
  try {
    cert = s.getPeerX509Certificate();
  } catch {
    cert = undefined;
  }
  const q = (v: string) => JSON.stringify(v);
  if (cert) {
    const san = (cert.subjectAltName ?? '').split(', ');
    const ips = san.filter((e) => e.startsWith('IP Address:')).map((e) => e.slice('IP Address:'.length));
    const dns = san.filter((e) => e.startsWith('DNS:')).map((e) => e.slice('DNS:'.length));
    const list = (a: string[]) => `[${a.map(q).join(' ')}]`;
    log.warn('rejected connection', { 'remote-addr': remoteAddr, 'server-name': serverName, 'ip-addresses': ips, 'dns-names': dns, error }, {
      level: 'I', pkg: 'embed',
      text: `rejected connection from ${q(remoteAddr)} (error ${q(error)}, ServerName ${q(serverName)}, IPAddresses ${list(ips)}, DNSNames ${list(dns)})`,
    });
  } else {
    log.warn('rejected connection', { 'remote-addr': remoteAddr, 'server-name': serverName, error }, {
      level: 'I', pkg: 'embed', text: `rejected connection from ${q(remoteAddr)} (error ${q(error)}, ServerName ${q(serverName)})`,
    });
  }
}

/**
 * Puts etcd's peer listener checks in front of an https peer server's request
 * handling: the allowed CN / hostname of the client certificate (only when client
 * certificates are required, as Go calls VerifyPeerCertificate only then), then
 * --peer-crl-file (./crl.ts). A refused connection, and any failed handshake, is
 * logged as "rejected connection" and closed; a certificate refused by the allowed
 * CN / hostname also gets the `bad_certificate` alert a Go server sends (TLS 1.3).
 */
function guardPeerServer(srv: https.Server, peerTls: PeerTlsOptions, log: Logger): void {
  const check = requiresClientCert(peerTls) ? allowedCertCheck(peerTls) : undefined;
  const addrs = new WeakMap<object, string>();
  srv.prependListener('connection', (raw: net.Socket) => addrs.set(raw, `${raw.remoteAddress}:${raw.remotePort}`));
  const addrOf = (s: tls.TLSSocket) => addrs.get((s as unknown as { _parent?: object })._parent ?? s) ?? `${s.remoteAddress}:${s.remotePort}`;
  const reject = (s: tls.TLSSocket, err: Error) => logRejectedConnection(log, s, addrOf(s), err);
  const serve = srv.listeners('secureConnection') as ((s: tls.TLSSocket) => void)[];
  srv.removeAllListeners('secureConnection');
  const pass = (s: tls.TLSSocket) => {
    for (const f of serve) f.call(srv, s);
  };
  const afterCrl = withCrlCheck(peerTls.crlFile ?? '', pass, reject);
  // the server application traffic secret of each connection, to send the bad_certificate
  // alert a Go server sends when VerifyPeerCertificate fails (./../rafthttp/peer-tls.ts)
  const appSecrets = new WeakMap<tls.TLSSocket, Buffer>();
  if (check) {
    srv.on('keylog', (line: Buffer, s: tls.TLSSocket) => {
      const [label, , secret] = line.toString('latin1').trim().split(' ');
      if (label === 'SERVER_TRAFFIC_SECRET_0' && secret) appSecrets.set(s, Buffer.from(secret, 'hex'));
    });
  }
  srv.on('secureConnection', (s: tls.TLSSocket) => {
    const err = check?.(s.getPeerX509Certificate(), s.authorized);
    if (err) {
      reject(s, err);
      // still within the handshake callback: nothing was sent with the application keys yet
      // (OpenSSL's session tickets are still buffered), so the alert is record 0 of them
      const raw = (s as unknown as { _parent?: net.Socket })._parent;
      const secret = appSecrets.get(s);
      const cipher = s.getCipher();
      const alert = raw && secret && cipher?.version === 'TLSv1.3' ? tls13AlertRecord(cipher.standardName, secret, 42) : undefined;
      if (raw && alert && typeof raw.write === 'function') raw.write(alert, () => s.destroy());
      else s.destroy();
      return;
    }
    afterCrl(s);
  });
  srv.on('tlsClientError', (err: Error, s: tls.TLSSocket) => reject(s, err));
}

function listenPeer(u: URL, log: Logger, route: PeerRoute, peerTls: PeerTlsOptions | undefined): Promise<http.Server> {
  const handler: http.RequestListener = (req, res) => {
    if (route.handler) {
      route.handler(req, res);
      return;
    }
    if (req.url === '/version') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: 'not_decided' }));
      return;
    }
    res.statusCode = 503;
    res.end('etcdserver: not started yet\n');
  };
  const secure = u.protocol === 'https:' || u.protocol === 'unixs:';
  const srv: http.Server =
    secure && peerTls
      ? https.createServer(
          { requestTimeout: 0, cert: peerTls.cert, key: peerTls.key, ca: peerTls.ca, requestCert: requiresClientCert(peerTls), rejectUnauthorized: requiresClientCert(peerTls), minVersion: 'TLSv1.2' },
          handler,
        )
      : http.createServer({ requestTimeout: 0 }, handler);
  if (secure && peerTls) guardPeerServer(srv as https.Server, peerTls, log);
  return new Promise((resolve, reject) => {
    const net = u.protocol === 'unix:' || u.protocol === 'unixs:' ? 'unix' : 'tcp';
    srv.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`listen ${net} ${u.host}: bind: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`)));
    const done = () => {
      log.info('serving peer traffic', { address: u.host }, { pkg: 'embed', text: `listening for peers on ${u.href.replace(/\/$/, '')}` });
      resolve(srv);
    };
    if (net === 'unix') {
      // etcd listens on the socket file named by the URL's host (and path), relative to the working directory
      const file = u.host + u.pathname;
      rmSync(file, { force: true });
      srv.listen(file, done);
      return;
    }
    const host = u.hostname.replace(/^\[|\]$/g, '');
    srv.listen(Number(u.port || 80), host === 'localhost' || host === '' ? undefined : host, done);
  });
}

/**
 * Refreshes the member's gauges from the server at each scrape (etcd updates
 * them in its loops; reading them at scrape time keeps the request path free).
 */
function watchMetrics(m: EtcdMetrics, server: EtcdServer): void {
  let leaderChanges = 0;
  let clusterVersion = '';
  m.onCollect(() => {
    const st = server.stats();
    m.hasLeader.set(st.hasLeader ? 1 : 0);
    m.isLeader.set(st.isLeader ? 1 : 0);
    m.isLearner.set(st.isLearner ? 1 : 0);
    if (st.leaderChanges > leaderChanges) {
      m.leaderChanges.inc(st.leaderChanges - leaderChanges);
      leaderChanges = st.leaderChanges;
    }
    m.proposalsCommitted.set(st.committedIndex);
    m.proposalsApplied.set(st.appliedIndex);
    m.proposalsPending.set(st.pendingProposals);
    m.quotaBackendBytes.set(st.quotaBytes);
    m.dbTotalSize.set(st.dbSize);
    m.dbTotalSizeDebugging.set(st.dbSize);
    m.dbTotalSizeInUse.set(st.dbSizeInUse);
    m.keysTotal.set(st.keys);
    m.watcherTotal.set(st.watchers);
    m.watchStreamTotal.set(st.watchStreams);
    m.currentRevision.set(st.revision);
    m.compactRevision.set(Math.max(0, st.compactRevision));
    const cv = server.cluster.clusterVersion();
    if (cv && cv !== clusterVersion) {
      clusterVersion = cv;
      m.setClusterVersion(cv.split('.').slice(0, 2).join('.'));
    }
  });
}

/**
 * Starts a member. Throws for bind errors, data dir errors (WAL corruption,
 * another cluster's backend) and TLS/listener errors; whatever was started
 * before the failure is closed first.
 */
export async function startEtcd(cfg: EmbedConfig, log: Logger): Promise<Etcd> {
  const peers: http.Server[] = [];
  const closePeers = async (): Promise<void> => {
    await Promise.all(
      peers.map((p) => {
        const closed = new Promise<void>((r) => p.close(() => r()));
        // streams from peers are long-lived: cut them so close() does not wait for them
        p.closeAllConnections?.();
        return closed;
      }),
    );
  };
  const route: PeerRoute = {};
  const peerTls = await resolvePeerTls(cfg);
  try {
    for (const u of cfg.listenPeerUrls) peers.push(await listenPeer(u, log, route, peerTls));
  } catch (e) {
    await closePeers();
    throw e;
  }
  const slog: ServerLogger = log;
  let server: EtcdServer;
  const metrics = new EtcdMetrics();
  try {
    // etcd embed.StartEtcd: a member without a WAL takes its initial cluster from DNS SRV records
    const d = cfg.discovery;
    if (d && d.url === '' && d.srv !== '' && !existsSync(cfg.walDir || path.join(cfg.dataDir, 'member', 'wal'))) {
      let found: SrvCluster;
      try {
        found = await peerUrlsFromDnsSrv(cfg, d.srv, d.srvName, log, cfg.log.logger === 'zap');
      } catch (e) {
        throw new Error(`error setting up initial cluster: ${(e as Error).message}`);
      }
      cfg = { ...cfg, initialCluster: found.initialCluster };
      if (peerTls && found.peerServerName !== '') peerTls.serverName = found.peerServerName;
      if (cfg.initialClusterState === 'new') await verifyBootstrapResolved(cfg);
    }
    const localAddress = peerLocalAddress(cfg);
    server = await EtcdServer.start(cfg, slog, {
      ...(peerTls ? { peerTls } : {}),
      ...(localAddress ? { peerLocalAddress: localAddress } : {}),
      disk: {
        walWritten: (sec, bytes) => {
          metrics.walFsyncDuration.observe(sec);
          metrics.walWriteBytes.inc(bytes);
        },
        backendCommitted: (sec) => metrics.backendCommitDuration.observe(sec),
      },
    });
  } catch (e) {
    await closePeers();
    throw e;
  }
  route.handler = server.peerHandler;
  metrics.setServerId(server.memberId);
  watchMetrics(metrics, server);
  let clients: ClientServers;
  try {
    clients = await serveClients(
      cfg,
      server,
      { info: (o, m) => log.info(m, o as Record<string, unknown>), warn: (o, m) => log.warn(m, o as Record<string, unknown>) },
      { clusterVersion: () => server.cluster.clusterVersion() || undefined, metrics, authEnabled: () => server.authStore.isAuthEnabled(), ...(cfg.enableV2 ? { v2Handler: newV2Handler(server.v2HttpDeps()) } : {}) },
    );
  } catch (e) {
    await server.stop();
    await closePeers();
    throw e;
  }
  let compactor: { stop(): void } | undefined;
  try {
    compactor = startCompactor(cfg, server, log);
  } catch (e) {
    await clients.close();
    await server.stop();
    await closePeers();
    throw e;
  }
  // etcd's serve() logs these once the member has published itself (<-s.ReadyNotify())
  server.readyNotify().then(
    () => {
      // etcd logs this line with capnslog only
      log.info('', {}, { pkg: 'embed', text: 'ready to serve client requests' });
      for (const a of clients.addresses) {
        if (a.kind !== 'client') continue;
        const addr = a.port === 0 ? a.host : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
        const secure = a.url.startsWith('https:') || a.url.startsWith('unixs:');
        if (secure) log.info('serving client traffic securely', { address: addr }, { pkg: 'embed', text: `serving client requests on ${addr}` });
        else log.info('serving client traffic insecurely; this is strongly discouraged!', { address: addr }, { level: 'N', pkg: 'embed', text: `serving insecure client requests on ${addr}, this is strongly discouraged!` });
      }
    },
    () => undefined,
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      compactor?.stop();
      await clients.close();
      await server.stop();
      await closePeers();
    })();
    return closing;
  };
  const stopped = server.fatal().then(async (err) => {
    await close();
    // a member removed from the cluster stops cleanly (etcd exits 0 through StopNotify)
    if (err instanceof ErrMemberRemoved) return;
    throw err;
  });
  stopped.catch(() => undefined);
  return {
    server,
    clients,
    peerAddresses: peers.map((p) => {
      const a = p.address() as AddressInfo | string;
      return typeof a === 'string' ? a : `${a.address}:${a.port}`;
    }),
    stopped,
    close,
  };
}
