// Multi-member real etcd 3.4 clusters for tests.
//
// startRealCluster(n) starts n etcd processes on 127.0.0.1, each with its own
// free client and peer port, sharing one --initial-cluster, and waits until
// every member serves clients, the cluster version is set and all members
// agree on one leader. Members can be stopped and restarted (same data dir),
// and a process can be started for a member that was added with
// `member add` (--initial-cluster-state=existing).
//
// IDs: etcd derives a member ID from sha1(sorted peer URLs + cluster token)
// and the cluster ID from sha1(sorted member IDs) (etcdserver/api/membership
// member.go newMember, cluster.go genID). The harness computes them up front
// and, by default, picks a cluster token for which the member IDs sort in name
// order (m1 < m2 < ...) and all of them and the cluster ID print as 16 hex
// digits (%16x pads shorter ones with spaces). Member lists (sorted by
// ID by etcd) are then in name order on every cluster started by the harness,
// so outputs of two clusters compare after replacing IDs and ports.

import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EtcdClient } from '../../src/client/client.js';
import { ETCD_BIN } from './etcd.js';
import { getFreePort } from './ports.js';

/** One member process of a RealCluster. */
export interface ClusterMember {
  name: string;
  /** "127.0.0.1:PORT" (no scheme), suitable for --endpoints. */
  endpoint: string;
  /** "http://127.0.0.1:PORT". */
  clientURL: string;
  /** The advertised peer URL "http://127.0.0.1:PORT" (also listened on). */
  peerURL: string;
  clientPort: number;
  peerPort: number;
  /** Lower-case hex, unpadded (as etcd logs it). */
  memberIdHex: string;
  dataDir: string;
  /** True while the process runs. */
  running(): boolean;
  /** The etcd log (zap JSON lines) of the current / last process. */
  log(): string;
  /** SIGKILLs the process (data dir kept, so restart() can bring it back). Idempotent. */
  stop(): Promise<void>;
  /** Starts the process again on the same data dir and ports; waits until it serves clients. */
  restart(): Promise<void>;
  /** Sends `sig` to the running process (e.g. SIGSTOP / SIGCONT to freeze a member). */
  signal(sig: NodeJS.Signals): void;
  /** The PID of the running process (undefined when stopped). */
  pid(): number | undefined;
  /** The command line (without the binary) the member is started with. */
  args(): readonly string[];
  /** Resolves with the exit status (or signal name) of the current process when it exits by itself or is killed. */
  exited(): Promise<number | string>;
  /**
   * For a member that was removed (MemberRemove) and added again (MemberAdd) under the
   * same peer URL: stops the process, empties the data dir and starts it again on the same
   * ports with --initial-cluster-state=existing and `initialCluster` ("name=peerURL,...",
   * this member included); later restarts keep those flags. `memberIdHex` is the ID
   * MemberAdd gave it. Waits until it serves clients.
   */
  rejoin(initialCluster: string, memberIdHex: string): Promise<void>;
}

/** A running cluster; also usable as a harness ServerLike (endpoint = all client endpoints). */
export interface RealCluster {
  kind: 'real-cluster';
  token: string;
  clusterIdHex: string;
  /** Initial members in name order (m1, m2, ...), then members started with startMember(). */
  members: ClusterMember[];
  /** Comma-separated client endpoints of the initial members (for --endpoints). */
  endpoint: string;
  /** The member named `name` (throws if unknown). */
  member(name: string): ClusterMember;
  /** A free port reserved for a member yet to be added (e.g. its peer URL for `member add`). */
  reservePort(): Promise<number>;
  /**
   * Starts a process for a member already added with `member add` (or MemberAdd):
   * --initial-cluster-state=existing and --initial-cluster = the current members' peer
   * URLs plus this one. Waits until it serves clients (learners serve too).
   */
  startMember(opts: StartAddedMemberOptions): Promise<ClusterMember>;
  /**
   * Waits until every member process has been up for etcd's HealthInterval (5 s):
   * with --strict-reconfig-check (the default) the leader refuses MemberAdd with
   * `etcdserver: unhealthy cluster` until it has been connected to all voting members
   * for that long (etcdserver/server.go mayAddMember, isConnectedFullySince).
   */
  waitReconfigurable(): Promise<void>;
  /** Polls Status on the endpoints of running members until one leader is agreed on; returns its name. */
  waitForLeader(timeoutMs?: number): Promise<string>;
  /** Stops every member process (including added ones) and removes their data dirs. */
  stopAll(): Promise<void>;
  /** Same as stopAll (ServerLike). */
  stop(): Promise<void>;
}

export interface StartAddedMemberOptions {
  name: string;
  /** Peer port to advertise and listen on (e.g. from reservePort()). */
  peerPort: number;
  /** More peer ports to listen on (for `member update --peer-urls` to a second URL). */
  extraPeerPorts?: number[];
  /** Names and peer URLs of the other members, default: the cluster's running members. */
  initialCluster?: Array<{ name: string; peerURL: string }>;
}

export interface StartClusterOptions {
  /** Member names (default m1..mn). */
  names?: string[];
  /**
   * --initial-cluster-token. Default: "cluster-<k>" for the first k (from a random
   * start) whose member IDs sort in name order and whose member and cluster IDs have
   * 16 hex digits each.
   */
  token?: string;
  /** Appended to every member's command line. */
  extraArgs?: string[];
  /** Startup timeout in ms (default 30000). */
  startupTimeoutMs?: number;
  binary?: string;
  /** Host written in the peer and client URLs (default 127.0.0.1; e.g. localhost as in etcd's docs). */
  host?: string;
  /**
   * One host per member (e.g. 127.0.0.11, .12, .13 inside a private network namespace,
   * so firewall rules can separate members); overrides `host` for those members.
   */
  hosts?: string[];
  /**
   * A command each initial member is run through, by member index (it must exec its
   * arguments in the same process, as `ip netns exec NS` does, so signals reach etcd).
   */
  spawnPrefix?: (index: number) => string[];
  /** Peer ports of the initial members, by index (default: free ports picked here). */
  peerPorts?: number[];
}

const MAX_LOG = 4 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Proc {
  child: ChildProcess;
  log: string;
  exited: boolean;
  exit: Promise<void>;
  /** Exit status, or the signal name; set when `exited`. */
  status?: number | string;
}

const liveProcs = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let handlersInstalled = false;

function killAllSync(): void {
  for (const c of liveProcs) {
    try { c.kill('SIGKILL'); } catch { /* ignore */ }
  }
  liveProcs.clear();
  for (const d of liveDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
  liveDirs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSig = () => {
      killAllSync();
      process.removeListener(sig, onSig);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSig);
  }
}

/** etcd's member ID for these peer URLs and token (membership.newMember without a timestamp). */
export function computeMemberId(peerURLs: string[], token: string): bigint {
  const b = [...peerURLs].sort().join('') + token;
  return crypto.createHash('sha1').update(b).digest().readBigUInt64BE(0);
}

/** etcd's cluster ID for these member IDs (membership RaftCluster.genID). */
export function computeClusterId(memberIds: bigint[]): bigint {
  const ids = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * ids.length);
  ids.forEach((id, i) => buf.writeBigUInt64BE(id, 8 * i));
  return crypto.createHash('sha1').update(buf).digest().readBigUInt64BE(0);
}

function tcpConnectOnce(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
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

/** A process started with {@link spawnEtcdProcess}. */
export interface RawEtcdProcess {
  /** Its stderr so far (the last 4 MiB). */
  log(): string;
  exited(): boolean;
  /** SIGKILLs it and waits (at most 5 s) for it to exit. */
  kill(): Promise<void>;
}

/**
 * Starts `binary args` (an etcd) without waiting for anything, ETCD_* variables
 * removed from its environment; killed with the harness's other processes on exit.
 */
export function spawnEtcdProcess(binary: string, args: string[]): RawEtcdProcess {
  installHandlers();
  const p = spawnEtcd(binary, args);
  return { log: () => p.log, exited: () => p.exited, kill: () => killProc(p) };
}

/** Spawns `binary args`, run through `prefix` (a command that execs its arguments, e.g. `ip netns exec NS`) if given. */
function spawnEtcd(binary: string, args: string[], prefix: readonly string[] = []): Proc {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_')) env[k] = v;
  const [cmd, ...pre] = prefix.length > 0 ? [...prefix, binary] : [binary];
  const child = spawn(cmd!, [...pre, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  liveProcs.add(child);
  const p: Proc = { child, log: '', exited: false, exit: Promise.resolve() };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    p.log += chunk;
    if (p.log.length > MAX_LOG) p.log = p.log.slice(p.log.length - MAX_LOG);
  });
  p.exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      p.status = code ?? signal ?? 'unknown';
      p.exited = true;
      liveProcs.delete(child);
      resolve();
    });
    child.once('error', (e) => {
      p.exited = true;
      p.log += `\n[harness] spawn error: ${e.message}\n`;
      liveProcs.delete(child);
      resolve();
    });
  });
  return p;
}

async function killProc(p: Proc | undefined): Promise<void> {
  if (!p || p.exited) return;
  try { p.child.kill('SIGKILL'); } catch { /* ignore */ }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.exit, new Promise((r) => { timer = setTimeout(r, 5000); })]);
  clearTimeout(timer);
}

/** Waits until the process logs that it serves clients and its client port accepts connections. */
async function waitServing(p: Proc, port: number, deadline: number, what: string, needClusterVersion: boolean, host = '127.0.0.1'): Promise<void> {
  for (;;) {
    if (p.exited) throw new Error(`${what}: etcd exited during startup\n--- etcd log ---\n${p.log}--- end ---`);
    if (Date.now() > deadline) throw new Error(`${what}: not ready in time\n--- etcd log ---\n${p.log}--- end ---`);
    if (/"msg":"serving client traffic/.test(p.log) && (!needClusterVersion || /"msg":"(?:cluster version is updated|set initial cluster version)"/.test(p.log))) {
      if (await tcpConnectOnce(port, 1000, host)) return;
    }
    await sleep(50);
  }
}

interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
  extraPeerPorts: number[];
  memberIdHex: string;
  state: 'new' | 'existing';
  initialCluster: string;
  /** See StartClusterOptions.spawnPrefix. */
  prefix?: string[];
}

/**
 * Starts an n-member etcd cluster (see the module comment) and waits until all
 * members serve clients and agree on a leader. Throws (after stopping
 * everything it started and printing the logs) if that takes longer than
 * startupTimeoutMs.
 */
export async function startRealCluster(n: number, opts: StartClusterOptions = {}): Promise<RealCluster> {
  installHandlers();
  const binary = opts.binary ?? ETCD_BIN;
  const timeoutMs = opts.startupTimeoutMs ?? 30_000;
  const names = opts.names ?? Array.from({ length: n }, (_, i) => `m${i + 1}`);
  if (names.length !== n) throw new Error('startRealCluster: names.length !== n');

  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < n; i++) {
    clientPorts.push(await getFreePort());
    peerPorts.push(opts.peerPorts?.[i] ?? (await getFreePort()));
  }
  const host = opts.host ?? '127.0.0.1';
  /** The host of each port (member i's client and peer ports are on opts.hosts[i]). */
  const hostOfPort = new Map<number, string>();
  opts.hosts?.forEach((h, i) => {
    if (clientPorts[i] !== undefined) hostOfPort.set(clientPorts[i]!, h);
    if (peerPorts[i] !== undefined) hostOfPort.set(peerPorts[i]!, h);
  });
  const hostOf = (port: number) => hostOfPort.get(port) ?? host;
  const peerURL = (port: number) => `http://${hostOf(port)}:${port}`;

  let token = opts.token;
  if (token === undefined) {
    const start = crypto.randomInt(1_000_000);
    for (let k = start; ; k++) {
      const t = `cluster-${k}`;
      const ids = peerPorts.map((p) => computeMemberId([peerURL(p)], t));
      const ordered = ids.every((id, i) => id >= 1n << 60n && (i === 0 || ids[i - 1]! < id)) && computeClusterId(ids) >= 1n << 60n;
      if (ordered) { token = t; break; }
      if (k - start > 100_000) throw new Error('startRealCluster: no suitable token found');
    }
  }
  const ids = peerPorts.map((p) => computeMemberId([peerURL(p)], token!));
  const clusterIdHex = computeClusterId(ids).toString(16);
  const initialCluster = names.map((nm, i) => `${nm}=${peerURL(peerPorts[i]!)}`).join(',');

  const members: ClusterMember[] = [];
  /** When the last member process became ready (ms since the epoch). */
  let lastStartedAt = Date.now();
  const makeMember = (spec: MemberSpec): ClusterMember & { start(deadline: number): Promise<void> } => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `etcd-cluster-${spec.name}-`));
    liveDirs.add(dataDir);
    const clientURL = `http://${hostOf(spec.clientPort)}:${spec.clientPort}`;
    const args = [
      `--name=${spec.name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientURL}`,
      `--advertise-client-urls=${clientURL}`,
      `--listen-peer-urls=${[spec.peerPort, ...spec.extraPeerPorts].map(peerURL).join(',')}`,
      `--initial-advertise-peer-urls=${peerURL(spec.peerPort)}`,
      `--initial-cluster=${spec.initialCluster}`,
      `--initial-cluster-token=${token}`,
      `--initial-cluster-state=${spec.state}`,
      '--logger=zap',
      '--log-outputs=stderr',
      ...(opts.extraArgs ?? []),
    ];
    let proc: Proc | undefined;
    let lastLog = '';
    const m = {
      name: spec.name,
      endpoint: `${hostOf(spec.clientPort)}:${spec.clientPort}`,
      clientURL,
      peerURL: peerURL(spec.peerPort),
      clientPort: spec.clientPort,
      peerPort: spec.peerPort,
      memberIdHex: spec.memberIdHex,
      dataDir,
      running: () => proc !== undefined && !proc.exited,
      log: () => proc?.log ?? lastLog,
      async stop() {
        await killProc(proc);
      },
      async start(deadline: number) {
        if (proc && !proc.exited) return;
        const first = proc === undefined;
        if (proc) lastLog = proc.log;
        proc = spawnEtcd(binary, args, spec.prefix);
        // The first start of an initial member also waits for the cluster version to be set.
        await waitServing(proc, spec.clientPort, deadline, `cluster member ${spec.name}`, first && spec.state === 'new', hostOf(spec.clientPort));
        lastStartedAt = Date.now();
        if (!m.memberIdHex) {
          const id = /"local-member-id":"([0-9a-f]+)"/.exec(proc.log);
          if (id) m.memberIdHex = id[1]!;
        }
      },
      async restart() {
        await m.start(Date.now() + timeoutMs);
      },
      signal(sig: NodeJS.Signals) {
        if (proc && !proc.exited) proc.child.kill(sig);
      },
      pid: () => (proc && !proc.exited ? proc.child.pid : undefined),
      exited: async () => {
        if (!proc) throw new Error(`${spec.name} was never started`);
        const p = proc;
        await p.exit;
        return p.status ?? 'unknown';
      },
      args: () => args,
      async rejoin(initialCluster: string, memberIdHex: string) {
        await killProc(proc);
        fs.rmSync(dataDir, { recursive: true, force: true });
        fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
        for (const [i, a] of args.entries()) {
          if (a.startsWith('--initial-cluster=')) args[i] = `--initial-cluster=${initialCluster}`;
          if (a.startsWith('--initial-cluster-state=')) args[i] = '--initial-cluster-state=existing';
        }
        m.memberIdHex = memberIdHex;
        await m.start(Date.now() + timeoutMs);
      },
    };
    return m;
  };

  const cluster: RealCluster = {
    kind: 'real-cluster',
    token: token!,
    clusterIdHex,
    members,
    endpoint: clientPorts.map((p) => `${hostOf(p)}:${p}`).join(','),
    member(name) {
      const m = members.find((x) => x.name === name);
      if (!m) throw new Error(`no member ${name}`);
      return m;
    },
    reservePort: () => getFreePort(),
    async startMember(o) {
      const others = o.initialCluster ?? members.filter((x) => x.running()).map((x) => ({ name: x.name, peerURL: x.peerURL }));
      const spec: MemberSpec = {
        name: o.name,
        clientPort: await getFreePort(),
        peerPort: o.peerPort,
        extraPeerPorts: o.extraPeerPorts ?? [],
        memberIdHex: '',
        state: 'existing',
        initialCluster: [...others.map((x) => `${x.name}=${x.peerURL}`), `${o.name}=${peerURL(o.peerPort)}`].join(','),
      };
      const m = makeMember(spec);
      members.push(m);
      try {
        await m.start(Date.now() + timeoutMs);
      } catch (e) {
        await m.stop();
        throw e;
      }
      return m;
    },
    async waitReconfigurable() {
      const wait = lastStartedAt + 5_500 - Date.now();
      if (wait > 0) await sleep(wait);
    },
    async waitForLeader(waitMs = timeoutMs) {
      return waitForLeader(members.filter((x) => x.running()), Date.now() + waitMs);
    },
    async stopAll() {
      await Promise.all(members.map((m) => m.stop()));
      for (const m of members) {
        for (let i = 0; i < 5; i++) {
          try {
            fs.rmSync(m.dataDir, { recursive: true, force: true });
            break;
          } catch {
            await sleep(100);
          }
        }
        liveDirs.delete(m.dataDir);
      }
    },
    stop: () => cluster.stopAll(),
  };

  names.forEach((name, i) =>
    members.push(
      makeMember({
        name,
        clientPort: clientPorts[i]!,
        peerPort: peerPorts[i]!,
        extraPeerPorts: [],
        memberIdHex: ids[i]!.toString(16),
        state: 'new',
        initialCluster,
        prefix: opts.spawnPrefix?.(i),
      }),
    ),
  );
  const deadline = Date.now() + timeoutMs;
  try {
    await Promise.all(members.map((m) => (m as ReturnType<typeof makeMember>).start(deadline)));
    await waitForLeader(members, deadline);
  } catch (e) {
    process.stderr.write(`startRealCluster(${n}) failed: ${(e as Error).message}\n`);
    await cluster.stopAll();
    throw e;
  }
  return cluster;
}

/** One member's view of the cluster, from Maintenance.Status. IDs in lower-case hex. */
export interface MemberStatus {
  memberIdHex: string;
  leaderHex: string;
  raftTerm: bigint;
  raftIndex: bigint;
  raftAppliedIndex: bigint;
  isLearner: boolean;
}

/**
 * Status of the member serving `clientURL`, through gRPC Maintenance.Status with the typed
 * client (not the /v3 JSON gateway, so it works on servers without one). Undefined if it
 * does not answer within 2 s or knows no leader.
 */
export async function memberStatus(clientURL: string): Promise<MemberStatus | undefined> {
  let c: EtcdClient | undefined;
  try {
    c = await EtcdClient.connect({ endpoints: [clientURL], dialTimeoutMs: 2000, commandTimeoutMs: 2000, keepaliveTimeMs: 30_000, keepaliveTimeoutMs: 10_000 });
    const j = await c.status({ timeoutMs: 2000 });
    if (!j.header?.memberId || !j.leader) return undefined;
    return {
      memberIdHex: j.header.memberId.toString(16),
      leaderHex: j.leader.toString(16),
      raftTerm: j.raftTerm,
      raftIndex: j.raftIndex,
      raftAppliedIndex: j.raftAppliedIndex,
      isLearner: j.isLearner,
    };
  } catch {
    return undefined;
  } finally {
    c?.close();
  }
}

/** Polls the members' Status until all report the same non-zero leader that is one of them; returns its name. */
async function waitForLeader(members: ClusterMember[], deadline: number): Promise<string> {
  for (;;) {
    const st = await Promise.all(members.map((m) => memberStatus(m.clientURL)));
    if (st.every((s) => s !== undefined)) {
      const leaders = new Set(st.map((s) => s!.leaderHex));
      if (leaders.size === 1) {
        const lid = st[0]!.leaderHex;
        const m = members.find((x) => x.memberIdHex === lid);
        if (m) return m.name;
      }
    }
    if (Date.now() > deadline) throw new Error(`no agreed leader among ${members.map((m) => m.name).join(',')}: ${JSON.stringify(st)}`);
    await sleep(100);
  }
}
