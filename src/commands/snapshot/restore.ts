/**
 * @module commands/snapshot/restore
 * `etcdctl snapshot restore <filename> [options]` (etcdctl snapshot_command.go and
 * clientv3/snapshot v3_snapshot.go Restore). The flags, their defaults and the checks
 * are etcdctl 3.4's, in its order:
 *
 * 1. exactly one argument (exit 128); data dir defaults to `<name>.etcd`, WAL dir to
 *    `<data-dir>/member/wal`;
 * 2. `--initial-advertise-peer-urls` and `--initial-cluster` parse as peer URLs
 *    (pkg/types NewURLs / NewURLsMap);
 * 3. the bootstrap checks of etcdserver's VerifyBootstrap: the local name is in the
 *    initial cluster, its URLs match the advertised peer URLs, no URL appears twice;
 * 4. `data-dir "<d>" exists`, `wal-dir "<w>" exists`;
 * 5. the snapshot file: it opens, has a 32-byte sha256 trailer that matches (unless
 *    --skip-hash-check) and is a readable bbolt database that passes bbolt's check.
 *
 * 6. the data directory is written in etcd 3.4's format (util/etcd-format/restore.ts:
 *    db, WAL, raft snapshot; etcd 3.4 and our server both start on it), with
 *    etcdctl's log lines on stderr.
 *
 * All errors exit 1. Deliberate difference: etcdctl creates the data directory before
 * it checks the hash, and leaves it behind when the check fails; this command checks
 * first and creates nothing when a check fails. Host names in peer URLs are compared
 * as written (etcd resolves them through DNS when the strings differ).
 */

import type * as cryptoNs from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs, ExitError } from '../../cli/exit-codes.js';
import { goQuote } from '../../cli/go-format.js';
import { BoltError, BoltReader } from '../../util/bbolt-reader.js';
import { goPathError } from '../../util/go-errors.js';
import { zapJsonLogger } from '../../client/log.js';
import { checkPeerURLs } from '../member/args.js';
import { goByteSlice, hasChecksum } from './save.js';
import { integrityError } from './status.js';

const DEFAULT_NAME = 'default';
const SHA256_SIZE = 32;

/** Go's url.URL.String() for the URLs NewURLs accepts: scheme lower-cased, the rest as given. */
function urlString(s: string): string {
  s = s.trim();
  const i = s.indexOf(':');
  return s.slice(0, i).toLowerCase() + s.slice(i);
}

/**
 * pkg/types parse + NewURLsMap: `name=url,name=url` into name → URLs (in first-seen
 * order; Go's map order is random, so with several bad URLs the reported one may differ).
 */
function parseUrlsMap(s: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const item of s.split(',')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const [name, value] = eq >= 0 ? [item.slice(0, eq), item.slice(eq + 1)] : [item, ''];
    m.set(name, [...(m.get(name) ?? []), value]);
  }
  for (const urls of m.values()) checkPeerURLs(urls);
  return new Map([...m].map(([k, v]) => [k, v.map(urlString)]));
}

/** types.URLsMap String(): `name=url` pairs sorted, comma-joined. */
function urlsMapString(m: Map<string, string[]>): string {
  return [...m].flatMap(([name, urls]) => urls.map((u) => `${name}=${u}`)).sort().join(',');
}

/** Go's `%q` of a []string: `["a" "b"]`. */
function quoteList(list: string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

/** etcdserver ServerConfig.VerifyBootstrap (without DNS resolution). */
function verifyBootstrap(name: string, peerURLs: string[], cluster: Map<string, string[]>): void {
  const local = cluster.get(name);
  if (!local) throw new CliError(ExitError, `couldn't find local name ${goQuote(name)} in the initial cluster configuration`);
  const urls = [...local].sort();
  const apurls = [...peerURLs].sort();
  let why: string | undefined;
  if (urls.length !== apurls.length) why = `len(${quoteList(apurls)}) != len(${quoteList(urls)})`;
  else {
    const i = urls.findIndex((u, k) => u !== apurls[k]);
    if (i >= 0) why = `resolved urls: ${goQuote(apurls[i]!)} != ${goQuote(urls[i]!)}`;
  }
  if (why !== undefined) {
    const ap = new Set(apurls);
    const init = new Set(urls);
    const missingInit = [...init].filter((u) => !ap.has(u));
    if (missingInit.length > 0) {
      throw new CliError(ExitError, `--initial-cluster has ${missingInit.map((u) => `${name}=${u}`).join(',')} but missing from --initial-advertise-peer-urls=${apurls.join(',')} (${why})`);
    }
    const own = urlsMapString(new Map([[name, apurls]]));
    const missingAp = [...ap].filter((u) => !init.has(u));
    if (missingAp.length > 0) {
      throw new CliError(ExitError, `--initial-advertise-peer-urls has ${missingAp.join(',')} but missing from --initial-cluster=${own}`);
    }
    throw new CliError(ExitError, `failed to resolve ${apurls.join(',')} to match --initial-cluster=${own} (${why})`);
  }
  const seen = new Set<string>();
  for (const list of cluster.values()) {
    for (const u of list) {
      if (seen.has(u)) throw new CliError(ExitError, `initial cluster ${urlsMapString(cluster)} has duplicate url`);
      seen.add(u);
    }
  }
  if (urlsMapString(cluster) === '') throw new CliError(ExitError, 'initial cluster unset and no discovery URL found');
}

/**
 * The checks of v3_snapshot.go saveDB on the snapshot file itself: the sha256
 * trailer (unless skipped), then that the database opens and passes bbolt's check.
 * @throws CliError(ExitError)
 */
function verifySnapshotFile(file: string, skipHashCheck: boolean): void {
  let fd: number;
  let size: number;
  try {
    fd = openSync(file, 'r');
    size = fstatSync(fd).size;
  } catch (e) {
    throw new CliError(ExitError, goPathError('open', file, e));
  }
  try {
    // Go seeks to the trailer first: a directory or a file under 32 bytes fails there
    if (fstatSync(fd).isDirectory() || size < SHA256_SIZE) throw new CliError(ExitError, `seek ${file}: invalid argument`);
    const hasHash = hasChecksum(size);
    if (!hasHash && !skipHashCheck) throw new CliError(ExitError, 'snapshot missing hash but --skip-hash-check=false');
    if (hasHash && !skipHashCheck) {
      const want = Buffer.alloc(SHA256_SIZE);
      readSync(fd, want, 0, SHA256_SIZE, size - SHA256_SIZE);
      const h = (process.getBuiltinModule('node:crypto') as typeof cryptoNs).createHash('sha256');
      const chunk = Buffer.alloc(1 << 20);
      for (let pos = 0; pos < size - SHA256_SIZE; ) {
        const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - SHA256_SIZE - pos), pos);
        if (n <= 0) break;
        h.update(chunk.subarray(0, n));
        pos += n;
      }
      const got = h.digest();
      if (!got.equals(want)) throw new CliError(ExitError, `expected sha256 ${goByteSlice(want)}, got ${goByteSlice(got)}`);
    }
  } finally {
    closeSync(fd);
  }
  let db: BoltReader | undefined;
  try {
    db = BoltReader.open(file);
    const errors = db.check();
    if (errors.length > 0) throw new BoltError(integrityError(errors));
  } catch (e) {
    if (e instanceof BoltError) throw new CliError(ExitError, `snapshot file ${file} is not a valid bbolt database: ${e.message}`);
    throw e;
  } finally {
    db?.close();
  }
}

export const snapshotRestoreCommand: CommandSpec = {
  use: 'restore <filename> [options]',
  short: 'Restores an etcd member snapshot to an etcd directory',
  flags: [
    { name: 'data-dir', type: 'string', default: '', usage: 'Path to the data directory' },
    { name: 'wal-dir', type: 'string', default: '', usage: 'Path to the WAL directory (use --data-dir if none given)' },
    { name: 'initial-cluster', type: 'string', default: `${DEFAULT_NAME}=http://localhost:2380`, usage: 'Initial cluster configuration for restore bootstrap' },
    { name: 'initial-cluster-token', type: 'string', default: 'etcd-cluster', usage: 'Initial cluster token for the etcd cluster during restore bootstrap' },
    { name: 'initial-advertise-peer-urls', type: 'string', default: 'http://localhost:2380', usage: "List of this member's peer URLs to advertise to the rest of the cluster" },
    { name: 'name', type: 'string', default: DEFAULT_NAME, usage: 'Human-readable name for this member' },
    { name: 'skip-hash-check', type: 'bool', default: false, usage: 'Ignore snapshot integrity hash value (required if copied from data directory)' },
  ],
  light: true,
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'snapshot restore requires exactly one argument');
    const name = ctx.flags.string('name');
    const dataDir = ctx.flags.string('data-dir') || `${name}.etcd`;
    const walFlag = ctx.flags.string('wal-dir');
    const peers = ctx.flags.string('initial-advertise-peer-urls').split(',');
    checkPeerURLs(peers);
    const cluster = parseUrlsMap(ctx.flags.string('initial-cluster'));
    verifyBootstrap(name, peers.map(urlString), cluster);
    if (existsSync(dataDir)) throw new CliError(ExitError, `data-dir ${goQuote(dataDir)} exists`);
    if (walFlag !== '' && existsSync(walFlag)) throw new CliError(ExitError, `wal-dir ${goQuote(walFlag)} exists`);
    const file = ctx.args[0]!;
    verifySnapshotFile(file, ctx.flags.bool('skip-hash-check'));
    // etcdctl's snapshot manager logger: zap.NewProduction (epoch time stamps)
    const lg = zapJsonLogger(ctx.errWrite, 'info', undefined, 'epoch');
    // the writer (WAL, .snap, member IDs) is loaded only by this command
    const { restoreEtcdMember } = await import('../../util/etcd-format/restore.js');
    try {
      restoreEtcdMember({
        snapshotPath: file,
        name,
        initialCluster: cluster,
        clusterToken: ctx.flags.string('initial-cluster-token'),
        dataDir,
        walDir: walFlag,
        log: (caller, msg, fields) => lg.log('info', caller, msg, fields),
      });
    } catch (e) {
      if (e instanceof BoltError) throw new CliError(ExitError, `snapshot file ${file} is not a valid bbolt database: ${e.message}`);
      const err = e as NodeJS.ErrnoException;
      if (typeof err.code === 'string' && typeof err.path === 'string') throw new CliError(ExitError, goPathError(err.syscall ?? 'open', err.path, e));
      throw new CliError(ExitError, err.message);
    }
  },
};
