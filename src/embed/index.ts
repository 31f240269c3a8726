/**
 * @module embed
 * Starting etcd from a Node program or a test suite (the role of Go's `embed` package):
 *
 * ```js
 * import { startEtcd } from 'etcdctl-ts';
 * const etcd = await startEtcd();                 // one member, free ports, temp data dir
 * // etcd.endpoints: ['127.0.0.1:41234'], etcd.clientUrls: ['http://127.0.0.1:41234']
 * await etcd.close();                             // stops it and removes the temp dir
 * const cluster = await startEtcd({ clusterSize: 3 });
 * ```
 *
 * Each member is this package's `bin/etcd` run as a child process (not in the calling
 * process: a server's event loop and fsyncs stay out of the program's), listening on
 * 127.0.0.1 on ports the OS handed out, and is ready when its `/health` answers
 * `{"health":"true"}`. `close()` ends every member with SIGTERM (SIGKILL after 10 s) and
 * removes data directories it created. Members still running when the program exits
 * are killed.
 *
 * This module imports nothing of the server or the CLI; it only starts processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Options of {@link startEtcd}; all optional. */
export interface StartEtcdOptions {
  /** Members of the cluster (default 1). */
  clusterSize?: number;
  /**
   * Data directory of a single member (kept on close), or the parent of one directory
   * per member `<name>.etcd` for a cluster. Default: a new temporary directory, removed
   * by close().
   */
  dataDir?: string;
  /** Member names (default `default` for one member, `m1`..`mN` for a cluster). */
  names?: string[];
  /** More etcd flags for every member, e.g. `['--auth-token=jwt,...']`. */
  args?: string[];
  /** How long to wait for every member to be healthy, ms (default 30000). */
  startupTimeoutMs?: number;
  /** The etcd binary (default: this package's bin/etcd; a real etcd works too). */
  binary?: string;
  /** Called with each line a member writes to stderr (its log), e.g. for debugging. */
  onLog?: (member: string, line: string) => void;
}

/** One running member. */
export interface EmbeddedMember {
  readonly name: string;
  /** `http://127.0.0.1:<port>` */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly pid: number;
}

/** What {@link startEtcd} started. */
export interface EmbeddedEtcd {
  /** Every member's client URL (`http://127.0.0.1:<port>`), in member order. */
  readonly clientUrls: string[];
  /** The same as `127.0.0.1:<port>`, the form etcd clients and `--endpoints` take. */
  readonly endpoints: string[];
  readonly members: EmbeddedMember[];
  /** Stops every member (SIGTERM, SIGKILL after 10 s) and removes temporary data directories. */
  close(): Promise<void>;
}

const DEFAULT_BINARY = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'etcd');
const live = new Set<ChildProcess>();
let exitHook = false;

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const r = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await r.json()) as { health?: string };
    return r.ok && body.health === 'true';
  } catch {
    return false;
  }
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts an etcd member, or a cluster of `clusterSize` members, and resolves once every
 * member is healthy (see the module comment).
 * @throws Error when a member exits during start-up (with the end of its log) or is not
 *   healthy within `startupTimeoutMs`; the members started are stopped first
 */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EmbeddedEtcd> {
  const size = opts.clusterSize ?? 1;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`clusterSize must be a positive integer, got ${size}`);
  const names = opts.names ?? (size === 1 ? ['default'] : Array.from({ length: size }, (_, i) => `m${i + 1}`));
  if (names.length !== size) throw new RangeError(`${names.length} names for ${size} members`);
  const tempRoot = opts.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'etcd-embed-')) : undefined;
  const root = opts.dataDir ?? tempRoot!;
  const ports: number[] = [];
  for (let i = 0; i < 2 * size; i++) ports.push(await freePort());
  const members: EmbeddedMember[] = [];
  const specs = names.map((name, i) => ({
    name,
    clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
    dataDir: size === 1 ? root : join(root, `${name}.etcd`),
  }));
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const token = `embed-${randomUUID()}`;
  const children: ChildProcess[] = [];
  const logs = new Map<string, string>();
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  const closeAll = async () => {
    await Promise.all(children.map(stop));
    if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
  };
  try {
    for (const s of specs) {
      const child = spawn(
        process.execPath,
        [
          opts.binary ?? DEFAULT_BINARY,
          `--name=${s.name}`,
          `--data-dir=${s.dataDir}`,
          `--listen-client-urls=${s.clientUrl}`,
          `--advertise-client-urls=${s.clientUrl}`,
          `--listen-peer-urls=${s.peerUrl}`,
          `--initial-advertise-peer-urls=${s.peerUrl}`,
          `--initial-cluster=${initialCluster}`,
          `--initial-cluster-token=${token}`,
          ...(opts.args ?? []),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      children.push(child);
      live.add(child);
      child.once('exit', () => live.delete(child));
      logs.set(s.name, '');
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        const all = (logs.get(s.name) ?? '') + chunk;
        logs.set(s.name, all.length > 65536 ? all.slice(-65536) : all);
        if (opts.onLog) for (const line of chunk.split('\n')) if (line) opts.onLog(s.name, line);
      });
      members.push({ ...s, pid: child.pid ?? 0 });
    }
    const deadline = Date.now() + (opts.startupTimeoutMs ?? 30_000);
    for (const [i, s] of specs.entries()) {
      for (;;) {
        const c = children[i]!;
        if (c.exitCode !== null || c.signalCode !== null) throw new Error(`etcd member ${s.name} exited during start-up (${c.exitCode ?? c.signalCode}):\n${(logs.get(s.name) ?? '').slice(-4000)}`);
        if (await healthy(s.clientUrl)) break;
        if (Date.now() > deadline) throw new Error(`etcd member ${s.name} was not healthy at ${s.clientUrl}/health within ${opts.startupTimeoutMs ?? 30_000} ms:\n${(logs.get(s.name) ?? '').slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    clientUrls: specs.map((s) => s.clientUrl),
    endpoints: specs.map((s) => s.clientUrl.replace(/^http:\/\//, '')),
    members,
    close: () => (closing ??= closeAll()),
  };
}
