/**
 * `etcd --cluster-size N` (and `etcdctl serve --cluster-size N`): a local N-member
 * cluster in one command. Not an etcd flag: it is ours, in the spirit of etcd's
 * Procfile (goreman), which starts infra1..infra3 on 127.0.0.1 with client ports
 * 2379/22379/32379 and peer ports 12380/22380/32380 (we give infra1 etcd's default peer
 * port 2380 instead of 12380).
 *
 * The launcher starts N child processes of our own server (process.execPath + bin/etcd),
 * one per member, named infra1..infraN, and sets per member: --name, --data-dir,
 * --listen-client-urls, --advertise-client-urls, --listen-peer-urls,
 * --initial-advertise-peer-urls, --initial-cluster, --initial-cluster-token and
 * --initial-cluster-state=new. Every other flag is passed to every member unchanged.
 *
 * Ports (`memberLayout`):
 * - without --listen-client-urls: member 1 serves clients on 127.0.0.1:2379, member i ≥ 2
 *   on 127.0.0.1:(i·10000 + 2379), i.e. 2379, 22379, 32379, ... 62379 (etcd's Procfile,
 *   continued), so at most 6 members (7 to 9 need the URL flags);
 * - with --listen-client-urls holding one URL `scheme://host:B`: member i serves on
 *   `scheme://host:(B + i − 1)`;
 * - the same two rules for peers with --listen-peer-urls and 2380 instead of 2379.
 * All 2N ports must differ and be free (checked by binding them before any member
 * starts); otherwise the launcher exits 1 naming the port and the member.
 *
 * Data: --data-dir D (default `default.etcd-cluster`) holds D/infra1 ... D/infraN and
 * D/cluster-launcher.json (size and peer URLs). Running the same command again restarts
 * the same members on their data: a member whose data dir holds a member ignores
 * --initial-cluster* as etcd does (etcdmain startEtcdOrProxyV2: "already initialized as
 * member before"). A different size or different peer URLs over existing data are
 * refused (the members keep their peer URLs in their data).
 *
 * Once every member answers gRPC Maintenance.Status and all report the same leader, the
 * launcher prints the members, their client URLs and an `export ETCDCTL_API=3
 * ETCDCTL_ENDPOINTS=...` line on stdout. Member output is copied line by line with a
 * `infraI | ` prefix (stderr to stderr, stdout to stdout). SIGINT, SIGTERM and SIGHUP
 * stop all members (SIGHUP is passed on as SIGTERM: members close gracefully only on
 * SIGINT/SIGTERM, as etcd); the launcher then exits 0. A second signal at least 2 s after
 * the first kills the members (SIGKILL); members still running 30 s after the signal are
 * killed too, and the launcher exits 1. A member that exits by itself
 * stops the others and makes the launcher exit 1; so does a startup that is not ready
 * within 60 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { etcdFlagKind, parseEtcdConfig } from '../embed/config.js';
import { usageline } from './help.js';
import { capnslogLine } from '../logger.js';

/** Largest --cluster-size. */
export const MAX_CLUSTER_SIZE = 9;
/** Default --data-dir of the launcher (members use D/infraI). */
export const DEFAULT_CLUSTER_DATA_DIR = 'default.etcd-cluster';
/** Default --initial-cluster-token of the launcher (etcd's Procfile uses the same). */
export const DEFAULT_CLUSTER_TOKEN = 'etcd-cluster-1';
/** How long startup may take before the launcher gives up (ms). */
export const STARTUP_TIMEOUT_MS = 60_000;
/** How long members get to stop after a signal before they are killed (ms). */
const STOP_TIMEOUT_MS = 30_000;
/** The file in the data dir recording the cluster's size and peer URLs. */
export const LAYOUT_FILE = 'cluster-launcher.json';

/** Flags the launcher sets for each member itself: refused on its command line. */
const PER_MEMBER_FLAGS = new Set(['name', 'advertise-client-urls', 'initial-advertise-peer-urls', 'initial-cluster', 'initial-cluster-state', 'wal-dir', 'config-file']);
/** ETCD_* variables that would override or clash with the per-member flags. */
const REFUSED_ENV = ['ETCD_CONFIG_FILE', 'ETCD_WAL_DIR'];
const DROPPED_ENV = ['ETCD_NAME', 'ETCD_DATA_DIR', 'ETCD_LISTEN_CLIENT_URLS', 'ETCD_LISTEN_PEER_URLS', 'ETCD_ADVERTISE_CLIENT_URLS', 'ETCD_INITIAL_ADVERTISE_PEER_URLS', 'ETCD_INITIAL_CLUSTER', 'ETCD_INITIAL_CLUSTER_STATE', 'ETCD_INITIAL_CLUSTER_TOKEN'];

/** Where the launcher writes (main's MainIo subset). */
export interface LauncherIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The launcher's reading of a command line. */
export interface LauncherArgs {
  /** The --cluster-size value as written. */
  sizeText: string;
  dataDir: string;
  /** --listen-client-urls / --listen-peer-urls as written, when given. */
  listenClientUrls?: string;
  listenPeerUrls?: string;
  token: string;
  /** Flags passed to every member, in their order. */
  forwarded: string[];
}

/** One member as the launcher starts it. */
export interface MemberPlan {
  name: string;
  dataDir: string;
  clientURL: string;
  peerURL: string;
  /** What each URL listens on (for the free-port check). */
  clientListen: { host: string; port: number };
  peerListen: { host: string; port: number };
}

/** A rejected launcher command line: what to print (etcd-style) and the exit code. */
export class LauncherUsageError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

/**
 * Finds --cluster-size in an etcd command line (Go flag syntax: `-f`, `--f`, `-f=v`,
 * `-f v`; flag parsing stops at the first non-flag argument and after `--`) and splits
 * the rest into the launcher's own flags and the flags forwarded to every member.
 * Returns undefined when there is no --cluster-size (a plain etcd command line).
 * @throws LauncherUsageError for per-member flags given by the user, or a missing value.
 */
export function parseLauncherArgs(argv: readonly string[]): LauncherArgs | undefined {
  let sizeText: string | undefined;
  let dataDir: string | undefined;
  let listenClientUrls: string | undefined;
  let listenPeerUrls: string | undefined;
  let token: string | undefined;
  const forwarded: string[] = [];
  let refused: string | undefined;
  let i = 0;
  const valueOf = (name: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    if (i >= argv.length) throw new LauncherUsageError(`flag needs an argument: -${name}\n${usageline}`, 2);
    return argv[i++];
  };
  while (i < argv.length) {
    const s = argv[i];
    if (s.length < 2 || s[0] !== '-' || s === '--') break;
    const m = /^--?([^=]*)(?:=([\s\S]*))?$/.exec(s);
    if (!m || m[1] === '' || m[1].startsWith('-')) break; // bad syntax: left to the members' parser
    const name = m[1];
    const inline = m[2];
    i++;
    switch (name) {
      case 'cluster-size':
        sizeText = valueOf(name, inline);
        continue;
      case 'data-dir':
        dataDir = valueOf(name, inline);
        continue;
      case 'listen-client-urls':
        listenClientUrls = valueOf(name, inline);
        continue;
      case 'listen-peer-urls':
        listenPeerUrls = valueOf(name, inline);
        continue;
      case 'initial-cluster-token':
        token = valueOf(name, inline);
        continue;
    }
    if (PER_MEMBER_FLAGS.has(name)) refused ??= name;
    forwarded.push(s);
    if (inline === undefined && etcdFlagKind(name) === 'value' && i < argv.length) forwarded.push(argv[i++]);
  }
  forwarded.push(...argv.slice(i));
  if (sizeText === undefined) return undefined;
  if (refused !== undefined) throw new LauncherUsageError(`--${refused} cannot be used with --cluster-size: the launcher sets it for each member`);
  return { sizeText, dataDir: dataDir ?? DEFAULT_CLUSTER_DATA_DIR, listenClientUrls, listenPeerUrls, token: token ?? DEFAULT_CLUSTER_TOKEN, forwarded };
}

/**
 * The --cluster-size value as a member count.
 * @throws LauncherUsageError unless it is a decimal integer from 1 to MAX_CLUSTER_SIZE.
 */
export function parseClusterSize(text: string): number {
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_CLUSTER_SIZE) {
    throw new LauncherUsageError(`--cluster-size must be an integer from 1 to ${MAX_CLUSTER_SIZE}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** One listen URL of the launcher's flags: scheme, host and port. */
function baseUrl(flag: string, text: string): { scheme: string; host: string; port: number } {
  const list = text.split(',').filter((u) => u !== '');
  if (list.length !== 1) throw new LauncherUsageError(`--${flag} must hold exactly one URL with --cluster-size (the first member's; the others add 1 to its port), got ${JSON.stringify(text)}`);
  let u: URL;
  try {
    u = new URL(list[0]);
  } catch {
    throw new LauncherUsageError(`--${flag}: invalid URL ${JSON.stringify(list[0])}`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.port === '' || (u.pathname !== '' && u.pathname !== '/')) {
    throw new LauncherUsageError(`--${flag} must be http://host:port or https://host:port with --cluster-size, got ${JSON.stringify(list[0])}`);
  }
  return { scheme: u.protocol.slice(0, -1), host: u.hostname, port: Number(u.port) };
}

/** The host clients and peers are told to use for a listen host (wildcards become loopback). */
function advertiseHost(host: string): string {
  if (host === '0.0.0.0' || host === '[::]' || host === '::' || host === '') return '127.0.0.1';
  return host;
}

/**
 * The members' names, URLs and data dirs for `size` members (rules in the module comment).
 * @throws LauncherUsageError for ports out of range or used twice.
 */
export function memberLayout(size: number, args: Pick<LauncherArgs, 'dataDir' | 'listenClientUrls' | 'listenPeerUrls'>): MemberPlan[] {
  const client = args.listenClientUrls !== undefined ? baseUrl('listen-client-urls', args.listenClientUrls) : undefined;
  const peer = args.listenPeerUrls !== undefined ? baseUrl('listen-peer-urls', args.listenPeerUrls) : undefined;
  const procfilePort = (i: number, base: number) => (i === 1 ? base : i * 10_000 + base);
  const plans: MemberPlan[] = [];
  const used = new Map<number, string>();
  for (let i = 1; i <= size; i++) {
    const name = `infra${i}`;
    const c = client ? { ...client, port: client.port + i - 1 } : { scheme: 'http', host: '127.0.0.1', port: procfilePort(i, 2379) };
    const p = peer ? { ...peer, port: peer.port + i - 1 } : { scheme: 'http', host: '127.0.0.1', port: procfilePort(i, 2380) };
    for (const [what, x, flag] of [['client', c, 'listen-client-urls'], ['peer', p, 'listen-peer-urls']] as const) {
      if (x.port > 65535) {
        throw new LauncherUsageError(
          (what === 'client' ? client : peer)
            ? `--${flag}: ${name} would need ${what} port ${x.port}, above 65535`
            : `${size} members need --listen-client-urls and --listen-peer-urls: the default ports (2379, 22379, ... 62379) are enough for 6`,
        );
      }
      const other = used.get(x.port);
      if (other) throw new LauncherUsageError(`port ${x.port} would be both ${other} and ${name}'s ${what} port: choose --listen-client-urls and --listen-peer-urls ports at least ${size} apart`);
      used.set(x.port, `${name}'s ${what} port`);
    }
    const fmtHost = (h: string) => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);
    plans.push({
      name,
      dataDir: join(args.dataDir, name),
      clientURL: `${c.scheme}://${fmtHost(advertiseHost(c.host))}:${c.port}`,
      peerURL: `${p.scheme}://${fmtHost(advertiseHost(p.host))}:${p.port}`,
      clientListen: { host: c.host, port: c.port },
      peerListen: { host: p.host, port: p.port },
    });
  }
  return plans;
}

/** The command line of one member: the launcher's per-member flags, then the forwarded ones. */
export function memberArgs(m: MemberPlan, all: MemberPlan[], token: string, forwarded: readonly string[]): string[] {
  const listen = (x: { host: string; port: number }, url: string) => `${url.slice(0, url.indexOf('://'))}://${x.host.includes(':') && !x.host.startsWith('[') ? `[${x.host}]` : x.host}:${x.port}`;
  return [
    `--name=${m.name}`,
    `--data-dir=${m.dataDir}`,
    `--listen-client-urls=${listen(m.clientListen, m.clientURL)}`,
    `--advertise-client-urls=${m.clientURL}`,
    `--listen-peer-urls=${listen(m.peerListen, m.peerURL)}`,
    `--initial-advertise-peer-urls=${m.peerURL}`,
    `--initial-cluster=${all.map((x) => `${x.name}=${x.peerURL}`).join(',')}`,
    `--initial-cluster-token=${token}`,
    '--initial-cluster-state=new',
    ...forwarded,
  ];
}

/** Resolves with undefined if host:port can be listened on, else with the error code. */
function portFree(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    srv.listen({ host: host === '' ? undefined : host.replace(/^\[|\]$/g, ''), port, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

/** Layout recorded in D/cluster-launcher.json. */
interface RecordedLayout {
  clusterSize: number;
  peerURLs: string[];
}

/**
 * Refuses to start members over data of a different cluster shape (size or peer URLs),
 * then records this one.
 * @throws LauncherUsageError naming what differs.
 */
function checkAndRecordLayout(dataDir: string, plans: MemberPlan[]): void {
  const file = join(dataDir, LAYOUT_FILE);
  const withData = [];
  for (let i = 1; i <= MAX_CLUSTER_SIZE; i++) if (existsSync(join(dataDir, `infra${i}`, 'member'))) withData.push(i);
  const layout: RecordedLayout = { clusterSize: plans.length, peerURLs: plans.map((p) => p.peerURL) };
  if (withData.length > 0) {
    let old: RecordedLayout | undefined;
    try {
      old = JSON.parse(readFileSync(file, 'utf8')) as RecordedLayout;
    } catch {
      old = undefined;
    }
    const beyond = withData.filter((i) => i > plans.length);
    if (beyond.length > 0 || (old && old.clusterSize !== plans.length)) {
      const size = old?.clusterSize ?? Math.max(...withData);
      throw new LauncherUsageError(`data dir ${dataDir} holds a ${size}-member cluster: start it with --cluster-size ${size}, or use another --data-dir`);
    }
    if (old && old.peerURLs.join(',') !== layout.peerURLs.join(',')) {
      throw new LauncherUsageError(`data dir ${dataDir} holds a cluster whose members have peer URLs ${old.peerURLs.join(',')} (members keep them in their data): start it with the same --listen-peer-urls, or use another --data-dir`);
    }
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(layout, null, 2) + '\n');
}

/** Copies a child's output to `write`, each line prefixed with `prefix`. */
function prefixLines(stream: NodeJS.ReadableStream, prefix: string, write: (s: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const text = rest + chunk;
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      rest = text;
      return;
    }
    rest = text.slice(end + 1);
    write(
      text
        .slice(0, end)
        .split('\n')
        .map((l) => `${prefix}${l}\n`)
        .join(''),
    );
  });
  stream.on('end', () => {
    if (rest !== '') write(`${prefix}${rest}\n`);
    rest = '';
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The path of bin/etcd (this file is dist/src/server/etcdmain/cluster-launcher.js). */
export function etcdBinPath(): string {
  return fileURLToPath(new URL('../../../../bin/etcd', import.meta.url));
}

/** A running member process. */
interface RunningMember {
  plan: MemberPlan;
  child: ChildProcess;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  exit: Promise<void>;
}

const describeExit = (e: { code: number | null; signal: NodeJS.Signals | null }) => (e.signal ? `signal ${e.signal}` : `exit code ${e.code}`);

/**
 * Runs the launcher for the etcd command line `argv` and resolves with the launcher's exit
 * code, or with undefined when `argv` has no --cluster-size (then it did nothing). Codes: 0 after a signal stopped every member, 1 when a member exited by
 * itself, startup did not complete in STARTUP_TIMEOUT_MS or the command line was
 * rejected (2 for Go flag syntax errors). Members' own flag errors are reported by
 * `reportMemberArgs` (etcd main on the first member's command line, which prints them
 * as etcd does and starts nothing).
 */
export async function runClusterLauncher(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: LauncherIo,
  reportMemberArgs: (argv: string[], env: Record<string, string | undefined>) => Promise<number | NodeJS.Signals>,
): Promise<number | undefined> {
  const fail = (msg: string) => {
    io.stderr(capnslogLine('E', 'etcdmain', `error verifying flags, ${msg}. See 'etcd --help'.`, Date.now()));
    return 1;
  };
  let plans: MemberPlan[];
  let args: LauncherArgs;
  const childEnv: Record<string, string | undefined> = { ...env };
  try {
    const a = parseLauncherArgs(argv);
    if (a === undefined) return undefined;
    args = a;
    const size = parseClusterSize(args.sizeText);
    for (const k of REFUSED_ENV) if (env[k] !== undefined && env[k] !== '') throw new LauncherUsageError(`${k} cannot be used with --cluster-size: the launcher sets it for each member`);
    for (const k of DROPPED_ENV) delete childEnv[k];
    plans = memberLayout(size, args);
  } catch (e) {
    if (e instanceof LauncherUsageError) {
      if (e.code === 2) {
        io.stderr(e.message + '\n');
        return 2;
      }
      return fail(e.message);
    }
    throw e;
  }

  // the members' flags as etcd reads them: any error is printed by etcd's own main
  const argvOf = (m: MemberPlan) => memberArgs(m, plans, args.token, args.forwarded);
  const parsed = parseEtcdConfig(argvOf(plans[0]), childEnv);
  if (parsed.kind !== 'ok') {
    const r = await reportMemberArgs(argvOf(plans[0]), childEnv);
    return typeof r === 'number' ? r : 1;
  }

  try {
    checkAndRecordLayout(args.dataDir, plans);
  } catch (e) {
    if (e instanceof LauncherUsageError) return fail(e.message);
    return fail(`cannot use data dir ${args.dataDir}: ${(e as Error).message}`);
  }
  for (const m of plans) {
    for (const [what, x] of [['client', m.clientListen], ['peer', m.peerListen]] as const) {
      const err = await portFree(x.host, x.port);
      if (err) return fail(`port ${x.port} (${m.name}'s ${what} URL) is not free: ${err}`);
    }
  }

  const launcherLine = (s: string) => io.stderr(`launcher | ${s}\n`);
  const bin = etcdBinPath();
  const members: RunningMember[] = [];
  let stopping: NodeJS.Signals | undefined;
  let failed: string | undefined;
  let wake: () => void = () => {};
  const changed = new Promise<void>((r) => (wake = r));

  const stopAll = async (sig: NodeJS.Signals): Promise<boolean> => {
    for (const m of members) if (!m.exited) m.child.kill(sig);
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([Promise.all(members.map((m) => m.exit)).then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STOP_TIMEOUT_MS)))]);
    clearTimeout(timer);
    if (done) return true;
    for (const m of members) {
      if (!m.exited) {
        launcherLine(`${m.plan.name} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it (SIGKILL)`);
        m.child.kill('SIGKILL');
      }
    }
    await Promise.all(members.map((m) => m.exit));
    return false;
  };

  let stoppingSince = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      // a second signal (Ctrl-C again) kills the members instead of waiting for them to
      // close; one arriving right after the first is the same signal sent twice (to the
      // launcher and to its process group, as `npm start` and `timeout` do)
      if (Date.now() - stoppingSince < 2000) return;
      launcherLine(`received ${sig} again; killing the members (SIGKILL)`);
      for (const m of members) if (!m.exited) m.child.kill('SIGKILL');
      return;
    }
    stopping = sig;
    stoppingSince = Date.now();
    launcherLine(`received ${sig}; stopping ${members.length} members`);
    wake();
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const h = () => onSignal(sig);
    process.on(sig, h);
    return () => process.off(sig, h);
  });

  for (const plan of plans) {
    const child = spawn(process.execPath, [bin, ...argvOf(plan)], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const m: RunningMember = { plan, child, exit: Promise.resolve() };
    prefixLines(child.stdout!, `${plan.name} | `, io.stdout);
    prefixLines(child.stderr!, `${plan.name} | `, io.stderr);
    m.exit = new Promise<void>((resolve) => {
      child.once('error', (e) => {
        m.exited ??= { code: null, signal: null };
        if (!stopping && !failed) failed = `${plan.name} could not be started: ${e.message}`;
        wake();
        resolve();
      });
      child.once('close', (code, signal) => {
        m.exited = { code, signal };
        resolve();
        if (stopping || failed) return;
        // a terminal's Ctrl-C reaches the members too: give our own signal a moment to arrive
        const grace = signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGHUP' ? 300 : 0;
        setTimeout(() => {
          if (stopping || failed) return;
          failed = `${plan.name} exited unexpectedly (${describeExit(m.exited!)})`;
          wake();
        }, grace);
      });
    });
    members.push(m);
  }

  const stopReason = () => stopping ?? failed;
  let code: number;
  try {
    const ready = await Promise.race([waitReady(plans, stopReason, STARTUP_TIMEOUT_MS), changed.then(() => undefined)]);
    if (stopReason() === undefined) {
      if (ready && 'notReady' in ready) {
        failed = `startup did not complete within ${STARTUP_TIMEOUT_MS / 1000} s; not ready: ${ready.notReady.join('; ')}`;
      } else if (ready) {
        io.stdout(readyText(plans, ready.leader, args.dataDir));
        await changed;
      }
    }
    if (failed) {
      launcherLine(`${failed}; stopping the other members`);
      await stopAll('SIGTERM');
      code = 1;
    } else {
      const sig = stopping === 'SIGHUP' ? 'SIGTERM' : stopping!;
      const clean = await stopAll(sig);
      const bad = members.filter((m) => !(m.exited!.code === 0 || m.exited!.signal === 'SIGINT' || m.exited!.signal === 'SIGTERM' || m.exited!.signal === 'SIGHUP'));
      for (const m of bad) launcherLine(`${m.plan.name} ended with ${describeExit(m.exited!)}`);
      code = clean && bad.length === 0 ? 0 : 1;
      if (code === 0) launcherLine('all members stopped');
    }
  } finally {
    for (const off of handlers) off();
  }
  return code;
}

/**
 * Polls Maintenance.Status on every member (every 500 ms) until all answer and report the
 * same leader, one of them. Resolves with the leader's name, with the members not ready
 * (and why) after `timeoutMs`, or with undefined when `stopReason` says to stop.
 */
async function waitReady(plans: MemberPlan[], stopReason: () => string | undefined, timeoutMs: number): Promise<{ leader: string } | { notReady: string[] } | undefined> {
  const { EtcdClient } = await import('../../client/client.js');
  type Client = Awaited<ReturnType<typeof EtcdClient.connect>>;
  const clients = new Map<string, Client>();
  const deadline = Date.now() + timeoutMs;
  const why = new Map<string, string>(plans.map((p) => [p.name, `no answer at ${p.clientURL}`]));
  try {
    while (stopReason() === undefined) {
      const ids = new Map<string, string>();
      const leaders = new Map<string, string>();
      await Promise.all(
        plans.map(async (p) => {
          try {
            let c = clients.get(p.name);
            if (!c) {
              c = await EtcdClient.connect({
                endpoints: [p.clientURL],
                dialTimeoutMs: 1000,
                commandTimeoutMs: 1000,
                keepaliveTimeMs: 30_000,
                keepaliveTimeoutMs: 10_000,
                ...(p.clientURL.startsWith('https:') ? { tls: { insecureSkipVerify: true } } : {}),
              });
              clients.set(p.name, c);
            }
            const s = await c.status({ timeoutMs: 1000 });
            const id = s.header?.memberId ?? 0n;
            ids.set(id.toString(16), p.name);
            if (!s.leader) why.set(p.name, 'answers but knows no leader');
            else leaders.set(p.name, s.leader.toString(16));
          } catch (e) {
            why.set(p.name, `no answer at ${p.clientURL} (${(e as Error).message.split('\n')[0]})`);
          }
        }),
      );
      const agreed = new Set(leaders.values());
      if (leaders.size === plans.length && agreed.size === 1) {
        const leader = ids.get([...agreed][0]);
        if (leader) return { leader };
      }
      if (leaders.size === plans.length) for (const p of plans) why.set(p.name, `reports leader ${leaders.get(p.name)}, not agreed by all members yet`);
      if (Date.now() >= deadline) return { notReady: plans.filter((p) => !leaders.has(p.name) || agreed.size !== 1).map((p) => `${p.name} (${why.get(p.name)})`) };
      await sleep(500);
    }
    return undefined;
  } finally {
    for (const c of clients.values()) c.close();
  }
}

/** What the launcher prints on stdout once the cluster is ready. */
export function readyText(plans: MemberPlan[], leader: string, dataDir: string): string {
  const w = Math.max(...plans.map((p) => p.clientURL.length));
  const lines = plans.map((p) => `  ${p.name}  ${p.clientURL.padEnd(w)}  peer ${p.peerURL}${p.name === leader ? '  (leader)' : ''}`);
  return (
    `\netcd cluster of ${plans.length} member${plans.length === 1 ? '' : 's'} is ready (data in ${dataDir}):\n` +
    lines.join('\n') +
    '\nTalk to it from another shell with:\n' +
    `  export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=${plans.map((p) => p.clientURL).join(',')}\n` +
    '  bin/etcdctl member list -w table\n' +
    '  bin/etcdctl endpoint status --cluster -w table\n' +
    'Press Ctrl-C to stop all members.\n\n'
  );
}
