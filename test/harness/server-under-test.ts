// ServerUnderTest: one etcd process (the real etcd 3.4.23 or ours) that a test or a
// benchmark can start on a data dir and ports of its choosing, kill -9, and restart on
// the same data dir and ports. Used by the durability test (test/server/durability)
// and the server benchmark (bench/server.mjs, through dist/).
//
// Both binaries get exactly the same etcd flags (etcdmain/config.go names):
//   --name --data-dir --listen-client-urls --advertise-client-urls
//   --listen-peer-urls --initial-advertise-peer-urls --initial-cluster
// Readiness is "a linearizable Range succeeds" (a gRPC call, not a log message), so
// it means the same for both servers: the member has a leader and applies requests.
//
// Targets: serverTargets() lists real etcd always and ours only when our server is
// built (dist/src/server/etcdmain/main.js exists). The binaries can be overridden with
// ETCD_BIN (real) and OUR_ETCD_BIN (ours; default bin/etcd), the same variables as
// test/harness/etcd.ts.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { RangeRequestSchema } from '../../src/gen/etcdserverpb/rpc_pb.js';
import { getFreePort } from './ports.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Which server a target runs. */
export type TargetName = 'real' | 'ours';

/** An etcd-compatible executable taking etcd's command-line flags. */
export interface ServerTarget {
  name: TargetName;
  /** Path of the executable. */
  binary: string;
}

/** The module whose presence means "our server is built" (tsc output of src/server/etcdmain/main.ts). */
export const OUR_SERVER_MAIN = path.join(REPO_ROOT, 'dist', 'src', 'server', 'etcdmain', 'main.js');

/** The real etcd 3.4.23 (ETCD_BIN or /usr/bin/etcd). */
export function realTarget(): ServerTarget {
  return { name: 'real', binary: process.env.ETCD_BIN || '/usr/bin/etcd' };
}

/**
 * Our server (OUR_ETCD_BIN or bin/etcd), or undefined while it is not built
 * (OUR_SERVER_MAIN missing).
 */
export function oursTarget(): ServerTarget | undefined {
  if (!fs.existsSync(OUR_SERVER_MAIN)) return undefined;
  return { name: 'ours', binary: process.env.OUR_ETCD_BIN || path.join(REPO_ROOT, 'bin', 'etcd') };
}

/** Real etcd, then ours when it is built. */
export function serverTargets(): ServerTarget[] {
  const ours = oursTarget();
  return ours ? [realTarget(), ours] : [realTarget()];
}

/** Loopback ports of one member. */
export interface ServerPorts {
  client: number;
  peer: number;
}

/** Options of ServerUnderTest.start. */
export interface StartOptions {
  /** Data dir to use (kept by stop()); default: a fresh temp dir removed by stop(). */
  dataDir?: string;
  /** Ports to listen on; default: two free loopback ports. */
  ports?: ServerPorts;
  /** --name (default "default"). */
  name?: string;
  /** How long to wait for readiness, ms (default 30000). */
  startupTimeoutMs?: number;
  /** Flags appended after the common ones (use only flags both servers accept). */
  extraArgs?: string[];
}

const MAX_LOG = 2 * 1024 * 1024;
const live = new Set<ServerUnderTest>();
let exitHookInstalled = false;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One member process. `start` spawns it and waits until a linearizable Range succeeds;
 * `kill9` sends SIGKILL and waits for the exit; `restart` spawns it again with the same
 * flags (same data dir and ports); `stop` kills it and removes a temp data dir.
 * Every live process is SIGKILLed when the test process exits.
 */
export class ServerUnderTest {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private logText = '';
  private stopped = false;
  /** How many times the process was started (1 after start, +1 per restart). */
  starts = 0;

  private constructor(
    readonly target: ServerTarget,
    readonly dataDir: string,
    readonly ports: ServerPorts,
    private readonly ownsDataDir: boolean,
    readonly args: string[],
    private readonly startupTimeoutMs: number,
  ) {}

  /** "127.0.0.1:PORT", for --endpoints / grpc targets. */
  get endpoint(): string {
    return `127.0.0.1:${this.ports.client}`;
  }

  /** Process id of the current process (undefined while not running). */
  get pid(): number | undefined {
    return this.exitInfo ? undefined : this.child?.pid;
  }

  /** stderr of all starts so far (last MAX_LOG characters). */
  log(): string {
    return this.logText;
  }

  /**
   * Starts `target` and waits until it serves linearizable reads.
   * @throws Error with the command line and the server's log if it exits or is not ready in time.
   */
  static async start(target: ServerTarget, opts: StartOptions = {}): Promise<ServerUnderTest> {
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const s of live) s.child?.kill('SIGKILL');
      });
    }
    if (!fs.existsSync(target.binary)) {
      throw new Error(`ServerUnderTest: ${target.name} server binary ${target.binary} does not exist` +
        (target.name === 'ours' ? ' (set OUR_ETCD_BIN or create bin/etcd)' : ''));
    }
    const ports = opts.ports ?? { client: await getFreePort(), peer: await getFreePort() };
    const ownsDataDir = opts.dataDir === undefined;
    const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `sut-${target.name}-`));
    const name = opts.name ?? 'default';
    const clientURL = `http://127.0.0.1:${ports.client}`;
    const peerURL = `http://127.0.0.1:${ports.peer}`;
    const args = [
      `--name=${name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientURL}`,
      `--advertise-client-urls=${clientURL}`,
      `--listen-peer-urls=${peerURL}`,
      `--initial-advertise-peer-urls=${peerURL}`,
      `--initial-cluster=${name}=${peerURL}`,
      ...(opts.extraArgs ?? []),
    ];
    const s = new ServerUnderTest(target, dataDir, ports, ownsDataDir, args, opts.startupTimeoutMs ?? 30_000);
    live.add(s);
    try {
      await s.spawnAndWait();
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  private async spawnAndWait(): Promise<void> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_') && !k.startsWith('ETCDCTL_')) env[k] = v;
    const child = spawn(this.target.binary, this.args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.exitInfo = undefined;
    this.starts++;
    this.logText += `--- start ${this.starts}: ${this.target.binary} ${this.args.join(' ')}\n`;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.logText += chunk;
      if (this.logText.length > MAX_LOG) this.logText = this.logText.slice(this.logText.length - MAX_LOG);
    });
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
      child.once('error', (err) => {
        this.logText += `spawn error: ${err.message}\n`;
        this.exitInfo ??= { code: null, signal: null };
        resolve();
      });
    });
    const deadline = Date.now() + this.startupTimeoutMs;
    for (;;) {
      const exit = this.exitState();
      if (exit) {
        throw new Error(`${this.target.name} server exited during startup ` +
          `(code ${exit.code}, signal ${exit.signal})\n--- log ---\n${this.logText}--- end of log ---`);
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.target.name} server not ready after ${this.startupTimeoutMs} ms\n--- log ---\n${this.logText}--- end of log ---`);
      }
      if (await linearizableRangeOk(this.endpoint, 1000)) return;
      await sleep(50);
    }
  }

  /** How the current process exited; undefined while it runs. */
  exitState(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exitInfo;
  }

  /** SIGKILL (kill -9) and wait until the process has exited. No-op if it is not running. */
  async kill9(): Promise<void> {
    if (!this.child || this.exitInfo) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /**
   * Starts the process again with the same flags, data dir and ports (kills it first
   * if it still runs) and waits for readiness.
   * @throws Error as start
   */
  async restart(): Promise<void> {
    await this.kill9();
    await this.spawnAndWait();
  }

  /** CPU time (user + system, seconds) of the running process and its descendants, from /proc. */
  cpuSeconds(): number {
    return this.pid === undefined ? 0 : processTreeCpuSeconds(this.pid);
  }

  /** Resident memory (VmRSS, bytes) of the running process and its descendants, from /proc. */
  rssBytes(): number {
    return this.pid === undefined ? 0 : processTreeRssBytes(this.pid);
  }

  /** Kills the process and removes the data dir if start() created it. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.kill9();
    live.delete(this);
    if (this.ownsDataDir) {
      for (let i = 0; i < 5; i++) {
        try {
          fs.rmSync(this.dataDir, { recursive: true, force: true });
          break;
        } catch {
          await sleep(100);
        }
      }
    }
  }
}

/** Resolves true when one linearizable Range on `endpoint` succeeds within `timeoutMs`. */
function linearizableRangeOk(endpoint: string, timeoutMs: number): Promise<boolean> {
  const req = Buffer.from(toBinary(RangeRequestSchema, create(RangeRequestSchema, { key: Buffer.from('sut-ready') })));
  const client = new grpc.Client(endpoint, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/etcdserverpb.KV/Range',
      (b: Buffer) => b,
      (b: Buffer) => b,
      req,
      { deadline: Date.now() + timeoutMs },
      (err) => {
        client.close();
        resolve(!err);
      },
    );
  });
}

const CLK_TCK = 100; // USER_HZ on Linux (sysconf(_SC_CLK_TCK)), the unit of /proc/<pid>/stat times

/** `pid` and its descendants (from the parent ids in /proc/<n>/stat), with their stat fields after comm. */
function processTree(pid: number): Array<{ pid: number; fields: string[] }> {
  const parentOf = new Map<number, number>();
  const fieldsOf = new Map<number, string[]>();
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${ent}/stat`, 'utf8');
    } catch {
      continue;
    }
    // comm (field 2) may contain spaces and parentheses: fields restart after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parentOf.set(Number(ent), Number(rest[1]));
    fieldsOf.set(Number(ent), rest);
  }
  const tree: Array<{ pid: number; fields: string[] }> = [];
  for (const [p, fields] of fieldsOf) {
    for (let q: number | undefined = p; q !== undefined && q > 1; q = parentOf.get(q)) {
      if (q === pid) {
        tree.push({ pid: p, fields });
        break;
      }
    }
  }
  return tree;
}

/** utime + stime of `pid` and all its descendants, seconds (0 for processes that are gone). */
export function processTreeCpuSeconds(pid: number): number {
  let total = 0;
  for (const { fields } of processTree(pid)) total += Number(fields[11]) + Number(fields[12]);
  return total / CLK_TCK;
}

/** VmRSS of `pid` and all its descendants, bytes (/proc/<n>/status; 0 for processes that are gone). */
export function processTreeRssBytes(pid: number): number {
  let total = 0;
  for (const { pid: p } of processTree(pid)) {
    try {
      const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}
