// Start etcd servers for tests: the real etcd 3.4 (/usr/bin/etcd) or ours (bin/etcd,
// the etcd-compatible server of this project), with the same options.
//
// Every server listens on 127.0.0.1 with a random client port and a random
// peer port, uses a fresh data dir under os.tmpdir(), and logs (zap JSON) to a
// buffer that is only printed if startup fails.
//
// Determinism: for a single-member cluster etcd derives the member ID from the
// advertised peer URLs + initial cluster token, and the cluster ID from the
// member IDs + token. The advertised peer URL does not have to be listened on
// for a single member, so by default we advertise the fixed URL
// DEFAULT_ADVERTISE_PEER_URL while listening for peers on a random port. Hence
// every server started with default options has the same member_id and
// cluster_id, which is what twin (differential) tests rely on. Our server derives
// its IDs the same way, so a real etcd and ours started with the same options are
// twins too.
//
// Test target (ETCDTS_TARGET, see target.ts): in the default 'cli' mode the suites
// compare our etcdctl with the real one, both against real etcd; in 'serve' mode they
// compare the real etcdctl against real etcd with the real etcdctl against our server.
// startTwinEtcds and startComparedEtcd pick the servers for the mode.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getFreePort } from './ports.js';
import { SERVE } from './target.js';

/** The generic server abstraction used by run.ts. */
export interface TestServer {
  /** "127.0.0.1:PORT" (no scheme), suitable for --endpoints. */
  endpoint: string;
  /** "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT". */
  clientURL: string;
  /**
   * The server the side under test talks to, when it is not this one: in serve mode,
   * our server started as this (real) server's twin and seeded the same way (see
   * startComparedEtcd). Absent: both sides use this server.
   */
  subject?: TestServer;
  stop(): Promise<void>;
}

/** Which etcd binary a harness server runs. */
export type ServerKind = 'real' | 'ours';

export interface EtcdTlsOptions {
  certFile: string;
  keyFile: string;
  trustedCAFile?: string;
  /** --client-cert-auth (requires trustedCAFile to be useful). */
  clientCertAuth?: boolean;
}

export interface StartEtcdOptions {
  /** --name (default "default", etcd's own default). */
  name?: string;
  /** Client TLS; the client URL becomes https://. */
  tls?: EtcdTlsOptions;
  /** Appended to the command line last. */
  extraArgs?: string[];
  /** --initial-advertise-peer-urls (default DEFAULT_ADVERTISE_PEER_URL). */
  advertisePeerURL?: string;
  /** --initial-cluster-token (default "etcd-cluster", etcd's own default). */
  initialClusterToken?: string;
  /** Startup timeout in ms (default 15000). */
  startupTimeoutMs?: number;
  /** 'real' (default): /usr/bin/etcd; 'ours': bin/etcd of this repository. */
  serverKind?: ServerKind;
  /** Binary overriding the kind's default (ETCD_BIN / OUR_ETCD_BIN). */
  binary?: string;
}

/** An etcd process started by the harness (real etcd or ours, per `kind`). */
export interface EtcdProcess extends TestServer {
  kind: ServerKind;
  name: string;
  dataDir: string;
  pid: number;
  clientPort: number;
  peerPort: number;
  /** Member / cluster IDs as logged by etcd at startup (lower-case hex, no padding). */
  memberIdHex: string;
  clusterIdHex: string;
  /** The etcd log so far (zap JSON lines). */
  log(): string;
}

/** Former name of EtcdProcess (most suites start real etcd only). */
export type RealEtcd = EtcdProcess;

export const ETCD_BIN = process.env.ETCD_BIN || '/usr/bin/etcd';
/** Our server: bin/etcd of this repository (runs the bundle dist/etcd.cjs; build first). */
export const OUR_ETCD_BIN = process.env.OUR_ETCD_BIN ||
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'etcd');
/** Advertised (never listened on) peer URL used by default so IDs are stable. */
export const DEFAULT_ADVERTISE_PEER_URL = 'http://127.0.0.1:1';
export const DEFAULT_CLUSTER_TOKEN = 'etcd-cluster';

const MAX_LOG = 4 * 1024 * 1024;

interface Live {
  child: ChildProcess;
  dataDir: string;
}
const live = new Set<Live>();
let handlersInstalled = false;

function killAllSync(): void {
  for (const l of live) {
    try { l.child.kill('SIGKILL'); } catch { /* ignore */ }
    try { fs.rmSync(l.dataDir, { recursive: true, force: true }); } catch { /* ignore */ }
  }
  live.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSig = () => {
      killAllSync();
      // Restore the default disposition and re-raise, so the process still dies of the signal.
      process.removeListener(sig, onSig);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSig);
  }
}

function tcpConnectOnce(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * GET `${clientURL}/version` once: true when the cluster version is decided
 * (etcdcluster is not "not_decided"). Over https the server's own certificate is
 * presented as client certificate (the test certs allow clientAuth) for
 * --client-cert-auth servers.
 */
function clusterVersionDecided(clientURL: string, tls: EtcdTlsOptions | undefined, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const url = `${clientURL}/version`;
    const onRes = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          const v = JSON.parse(body) as { etcdcluster?: string };
          resolve(res.statusCode === 200 && typeof v.etcdcluster === 'string' && v.etcdcluster !== 'not_decided');
        } catch {
          resolve(false);
        }
      });
      res.on('error', () => resolve(false));
    };
    const req = tls
      ? https.get(url, {
        agent: false,
        ca: tls.trustedCAFile ? fs.readFileSync(tls.trustedCAFile) : undefined,
        rejectUnauthorized: tls.trustedCAFile !== undefined,
        cert: fs.readFileSync(tls.certFile),
        key: fs.readFileSync(tls.keyFile),
      }, onRes)
      : http.get(url, { agent: false }, onRes);
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
  });
}

/** Resolves when `p` settles or after `ms`, without keeping the event loop alive afterwards. */
async function waitAtMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise((r) => { timer = setTimeout(r, ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts a real single-member etcd (/usr/bin/etcd) and waits until it is ready:
 * the client listener is serving, the member is published and the cluster
 * version is set (so raft index / revision are at their deterministic
 * post-startup values, revision 1, raft term 2, raft index 5 for etcd 3.4.23).
 * @throws Error (with the etcd log) if it exits or is not ready in time.
 */
export function startRealEtcd(opts: StartEtcdOptions = {}): Promise<EtcdProcess> {
  return startEtcd({ ...opts, serverKind: 'real' });
}

/**
 * Starts our server (bin/etcd, a real process: kill -9 and exit codes are realistic)
 * with the same command line startRealEtcd gives the real etcd, and waits for the
 * same readiness (the same zap log messages as etcd plus a TCP connect).
 * @throws Error (with the server log) if it exits or is not ready in time.
 */
export function startOurEtcd(opts: StartEtcdOptions = {}): Promise<EtcdProcess> {
  return startEtcd({ ...opts, serverKind: 'ours' });
}

/** Starts the server of `opts.serverKind` (default 'real'); see startRealEtcd. */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdProcess> {
  installHandlers();
  const kind: ServerKind = opts.serverKind ?? 'real';
  const name = opts.name ?? 'default';
  const token = opts.initialClusterToken ?? DEFAULT_CLUSTER_TOKEN;
  const advertisePeerURL = opts.advertisePeerURL ?? DEFAULT_ADVERTISE_PEER_URL;
  const timeoutMs = opts.startupTimeoutMs ?? (kind === 'ours' ? 30_000 : 15_000);
  const binary = opts.binary ?? (kind === 'ours' ? OUR_ETCD_BIN : ETCD_BIN);

  const clientPort = await getFreePort();
  const peerPort = await getFreePort();
  const scheme = opts.tls ? 'https' : 'http';
  const clientURL = `${scheme}://127.0.0.1:${clientPort}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-test-data-'));

  const args = [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${clientURL}`,
    `--advertise-client-urls=${clientURL}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=${advertisePeerURL}`,
    `--initial-cluster=${name}=${advertisePeerURL}`,
    `--initial-cluster-token=${token}`,
    '--initial-cluster-state=new',
    '--logger=zap',
    '--log-outputs=stderr',
  ];
  if (opts.tls) {
    args.push(`--cert-file=${opts.tls.certFile}`, `--key-file=${opts.tls.keyFile}`);
    if (opts.tls.trustedCAFile) args.push(`--trusted-ca-file=${opts.tls.trustedCAFile}`);
    if (opts.tls.clientCertAuth) args.push('--client-cert-auth');
  }
  if (opts.extraArgs) args.push(...opts.extraArgs);

  // Strip ETCD_* env vars so the environment of the test process cannot change the config.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_')) env[k] = v;

  const child = spawn(binary, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const entry: Live = { child, dataDir };
  live.add(entry);

  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    log += chunk;
    if (log.length > MAX_LOG) log = log.slice(log.length - MAX_LOG);
  });

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      exited ??= { code: null, signal: null };
      resolve();
    });
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      try { child.kill('SIGKILL'); } catch { /* ignore */ }
      await waitAtMost(exitPromise, 5000);
    }
    live.delete(entry);
    for (let i = 0; i < 5; i++) {
      try {
        fs.rmSync(dataDir, { recursive: true, force: true });
        break;
      } catch {
        await sleep(100);
      }
    }
  };

  const deadline = Date.now() + timeoutMs;
  const fail = async (why: string): Promise<never> => {
    await stop();
    const msg = `startEtcd(${kind} ${name}): ${why}\n` +
      `command: ${binary} ${args.join(' ')}\n--- etcd log ---\n${log}--- end of etcd log ---`;
    process.stderr.write(msg + '\n');
    throw new Error(msg);
  };

  // Wait for: client listener serving + cluster version applied. Real etcd logs both;
  // ours logs "serving client traffic" and is asked for the cluster version (/version).
  for (;;) {
    if (spawnError) return fail(`failed to spawn: ${spawnError.message}`);
    if (exited) return fail(`etcd exited during startup (code ${exited.code}, signal ${exited.signal})`);
    if (Date.now() > deadline) return fail(`not ready after ${timeoutMs} ms`);
    if (/"msg":"serving client traffic/.test(log)) {
      if (kind === 'real') {
        if (/"msg":"cluster version is updated"/.test(log) && await tcpConnectOnce(clientPort, 1000)) break;
      } else if (await clusterVersionDecided(clientURL, opts.tls, 1000)) {
        break;
      }
    }
    await sleep(25);
  }

  const ids = /"msg":"starting local member","local-member-id":"([0-9a-f]+)","cluster-id":"([0-9a-f]+)"/.exec(log);

  return {
    kind,
    name,
    endpoint: `127.0.0.1:${clientPort}`,
    clientURL,
    dataDir,
    pid: child.pid!,
    clientPort,
    peerPort,
    memberIdHex: ids?.[1] ?? '',
    clusterIdHex: ids?.[2] ?? '',
    log: () => log,
    stop,
  };
}

/**
 * Starts two etcd servers configured so that they have identical member and
 * cluster IDs (same name, advertised peer URL and token). After running the same
 * sequence of mutating requests against each, their response headers
 * (cluster_id, member_id, revision, raft_term) and raft index are identical.
 * `kinds` default per test target: ['real', 'real'] in cli mode, ['real', 'ours']
 * in serve mode (the second twin is the one the side under test uses).
 * @throws Error if either fails to start or their IDs differ.
 */
export async function startTwinEtcds(
  opts: StartEtcdOptions = {},
  kinds: [ServerKind, ServerKind] = SERVE ? ['real', 'ours'] : ['real', 'real'],
): Promise<[EtcdProcess, EtcdProcess]> {
  const o: StartEtcdOptions = {
    ...opts,
    name: opts.name ?? 'default',
    advertisePeerURL: opts.advertisePeerURL ?? DEFAULT_ADVERTISE_PEER_URL,
    initialClusterToken: opts.initialClusterToken ?? DEFAULT_CLUSTER_TOKEN,
  };
  const results = await Promise.allSettled([startEtcd({ ...o, serverKind: kinds[0] }), startEtcd({ ...o, serverKind: kinds[1] })]);
  const ok = results.filter((r): r is PromiseFulfilledResult<EtcdProcess> => r.status === 'fulfilled').map((r) => r.value);
  const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) {
    await Promise.all(ok.map((s) => s.stop()));
    throw bad.reason;
  }
  const [a, b] = ok as [EtcdProcess, EtcdProcess];
  if (a.memberIdHex !== b.memberIdHex || a.clusterIdHex !== b.clusterIdHex) {
    await Promise.all([a.stop(), b.stop()]);
    throw new Error(`startTwinEtcds: IDs differ: A member=${a.memberIdHex} cluster=${a.clusterIdHex}, ` +
      `B member=${b.memberIdHex} cluster=${b.clusterIdHex}`);
  }
  return [a, b];
}

/**
 * A server for compareCli (both sides run the same read-only commands): in cli mode
 * one real etcd that both etcdctls use; in serve mode a real etcd whose `subject` is
 * our server started as its twin (same IDs), and stop() stops both. Seed it with
 * seedCli (run.ts) so that both servers get the same writes.
 */
export async function startComparedEtcd(opts: StartEtcdOptions = {}): Promise<EtcdProcess> {
  if (!SERVE) return startRealEtcd(opts);
  const [real, ours] = await startTwinEtcds(opts, ['real', 'ours']);
  const stopReal = real.stop;
  return { ...real, subject: ours, stop: async () => { await Promise.all([stopReal(), ours.stop()]); } };
}

/** Stops all given servers (ignores undefined), in parallel. */
export async function stopAll(...servers: Array<TestServer | undefined>): Promise<void> {
  await Promise.all(servers.map((s) => s?.stop()));
}
