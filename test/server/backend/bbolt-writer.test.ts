// The bbolt writer: files it writes from a backend read view are read back by our
// bbolt reader (every bucket, key and value; inline buckets, overflow pages, branch
// levels; bbolt's Tx.Check finds nothing), and, end to end, a snapshot our server
// streams is read by the real etcdctl 3.4.23 (`snapshot status`, `snapshot restore`)
// and a real etcd started on the restored data dir serves its keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MemoryBackend } from '../../../src/server/backend/memory-backend.js';
import type { Backend } from '../../../src/server/backend/backend.js';
import { BoltReader, BUCKET_LEAF, BRANCH_PAGE, LEAF_PAGE, type PageView } from '../../../src/util/bbolt-reader.js';
import { writeBoltFile } from '../../../src/util/bbolt-writer.js';
import { startEtcd, stopAll, type EtcdProcess } from '../../harness/etcd.js';
import { getFreePort } from '../../harness/ports.js';

const run = promisify(execFile);
const enc = new TextEncoder();
const ETCDCTL = process.env.ETCDCTL_BIN || '/usr/bin/etcdctl';

type Contents = Map<string, Map<string, Buffer>>;

/** Fills a memory backend with `contents` (bucket → hex key → value). */
function backendWith(contents: Contents): Backend {
  const be = new MemoryBackend();
  const tx = be.batchTx();
  tx.lock();
  for (const [bucket, kvs] of contents) {
    tx.createBucket(bucket);
    for (const [k, v] of kvs) tx.put(bucket, Buffer.from(k, 'hex'), v);
  }
  tx.unlock();
  be.forceCommit();
  return be;
}

/** Everything a bbolt file holds, via our reader, and the page types of each bucket's tree. */
function readBack(path: string): { contents: Contents; inline: Set<string>; branchPages: number; overflowPages: number } {
  const r = BoltReader.open(path);
  try {
    assert.deepEqual(r.check(), [], 'bbolt Tx.Check');
    assert.equal(r.pageSize, 4096);
    assert.equal(BigInt(r.fileSize), r.size, 'file size = pgid × page size');
    const contents: Contents = new Map();
    const inline = new Set<string>();
    let branchPages = 0;
    let overflowPages = 0;
    const walk = (id: bigint): void => {
      const p = r.page(id);
      overflowPages += p.overflow;
      if (p.flags & BRANCH_PAGE) {
        branchPages++;
        for (let i = 0; i < p.count; i++) walk(p.buf.readBigUInt64LE(16 + i * 16 + 8));
      } else assert.ok(p.flags & LEAF_PAGE);
    };
    for (const b of r.rootEntries()) {
      assert.ok(b.flags & BUCKET_LEAF, 'root entries are buckets');
      const root = r.bucketRoot(b);
      const name = b.key.toString('utf8');
      if (typeof root === 'bigint') walk(root);
      else inline.add(name);
      const kvs = new Map<string, Buffer>();
      for (const e of r.entries(root as bigint | PageView)) {
        assert.equal(e.flags, 0);
        kvs.set(e.key.toString('hex'), Buffer.from(e.value!));
      }
      contents.set(name, kvs);
    }
    return { contents, inline, branchPages, overflowPages };
  } finally {
    r.close();
  }
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'bbolt-writer-'));
}

test('round trip: etcd buckets, empty and inline buckets, many keys (branch pages), large values (overflow)', () => {
  const contents: Contents = new Map();
  // etcd's buckets; `key` with many keys, 17-byte revision keys as etcd's
  const key = new Map<string, Buffer>();
  for (let i = 1; i <= 20_000; i++) {
    const k = Buffer.alloc(17);
    k.writeBigUInt64BE(BigInt(i), 0);
    k[8] = 0x5f;
    key.set(k.toString('hex'), Buffer.from(`value-${i}-${'x'.repeat(i % 97)}`));
  }
  // large values on overflow pages, and one exactly at a page boundary
  key.set('ff01', Buffer.alloc(100_000, 7));
  key.set('ff02', Buffer.alloc(4096 - 16 - 16 - 2, 9));
  key.set('ff03', Buffer.alloc(4096 - 16 - 16 - 2 + 1, 10));
  contents.set('key', key);
  contents.set('meta', new Map([[Buffer.from('consistent_index').toString('hex'), Buffer.from('0000000000000009', 'hex')]]));
  for (const n of ['lease', 'auth', 'authUsers', 'authRoles', 'members', 'members_removed', 'cluster', 'alarm']) contents.set(n, new Map());
  contents.set('authUsers', new Map([[Buffer.from('root').toString('hex'), Buffer.alloc(800, 1)]]));
  // just over an inline page (pageSize/4 = 1024): a page of its own
  contents.set('cluster', new Map([[Buffer.from('k').toString('hex'), Buffer.alloc(1024 - 16 - 16 - 1 + 1, 2)]]));
  // keys with every byte value, out of insertion order (bytes order, not string order)
  const bytes = new Map<string, Buffer>();
  for (let i = 255; i >= 0; i--) bytes.set(Buffer.from([i, 0xff - i]).toString('hex'), Buffer.from([i]));
  contents.set('members', bytes);

  const be = backendWith(contents);
  const dir = tmp();
  try {
    const file = join(dir, 'db');
    const tx = be.readTx();
    const stats = writeBoltFile(file, tx);
    tx.release();
    const back = readBack(file);
    assert.equal(stats.size, statSync(file).size);
    assert.equal(stats.buckets, contents.size);
    assert.equal(stats.keys, [...contents.values()].reduce((n, m) => n + m.size, 0));
    assert.deepEqual([...back.contents.keys()], [...contents.keys()].sort());
    for (const [name, kvs] of contents) {
      const got = back.contents.get(name)!;
      const want = [...kvs.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')));
      assert.deepEqual([...got.entries()], want, `bucket ${name}`);
    }
    assert.ok(back.branchPages >= 2, `branch pages: ${back.branchPages}`);
    assert.ok(back.overflowPages >= 24 + 1, `overflow pages: ${back.overflowPages}`);
    // inline exactly as bbolt: small leaf-only buckets, not `cluster` (1041 > 1024), not `key`
    assert.deepEqual([...back.inline].sort(), ['alarm', 'auth', 'authRoles', 'authUsers', 'lease', 'members_removed', 'meta']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an empty backend gives a valid file with no buckets; bad input is refused', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'db');
    const be = new MemoryBackend();
    const tx = be.readTx();
    const stats = writeBoltFile(file, tx);
    assert.deepEqual(stats, { pages: 4, size: 16384, buckets: 0, keys: 0 });
    assert.equal(readBack(file).contents.size, 0);
    assert.throws(() => writeBoltFile(file, tx, { pageSize: 3000 }), /invalid page size 3000/);
    tx.release();
    // a source with keys out of order (a backend must never do this)
    const bad = {
      buckets: () => ['b'],
      forEach: (_b: string, f: (k: Uint8Array, v: Uint8Array) => void) => {
        f(enc.encode('b'), enc.encode('1'));
        f(enc.encode('a'), enc.encode('2'));
      },
      range: () => ({ keys: [], values: [] }),
      get: () => undefined,
    };
    assert.throws(() => writeBoltFile(file, bad), /bucket "b": keys not in strictly increasing byte order/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('end to end: real etcdctl snapshot save/status/restore of our server, real etcd serves the restored keys', { timeout: 120_000 }, async () => {
  const dir = tmp();
  let ours: EtcdProcess | undefined;
  let restored: ChildProcess | undefined;
  try {
    ours = await startEtcd({ serverKind: 'ours' });
    const ep = `--endpoints=${ours.endpoint}`;
    for (let i = 0; i < 30; i++) await run(ETCDCTL, [ep, 'put', `k${i}`, `v${i}`], { env: { ETCDCTL_API: '3' } });
    await run(ETCDCTL, [ep, 'put', 'big', 'z'.repeat(20_000)], { env: { ETCDCTL_API: '3' } });
    await run(ETCDCTL, [ep, 'del', 'k0'], { env: { ETCDCTL_API: '3' } });
    const snap = join(dir, 'snap.db');
    const saved = await run(ETCDCTL, [ep, 'snapshot', 'save', snap], { env: { ETCDCTL_API: '3' } });
    assert.match(saved.stdout, /Snapshot saved at/);
    const st = JSON.parse((await run(ETCDCTL, ['snapshot', 'status', '-w', 'json', snap], { env: { ETCDCTL_API: '3' } })).stdout) as {
      hash: number;
      revision: number;
      totalKey: number;
      totalSize: number;
    };
    // 30 puts, a put, a delete: revision 33 (etcd starts at 1); 32 revisions in `key`
    assert.equal(st.revision, 33);
    assert.ok(st.totalKey >= 32, `totalKey ${st.totalKey}`);
    // the saved file keeps the 32-byte sha256 trailer; totalSize is bbolt's pgid × page size
    assert.equal(st.totalSize, statSync(snap).size - 32);
    assert.equal(st.totalSize % 4096, 0);
    assert.ok(st.hash !== 0);

    const dataDir = join(dir, 'restored');
    const peerPort = await getFreePort();
    const clientPort = await getFreePort();
    const peer = `http://127.0.0.1:${peerPort}`;
    const res = await run(
      ETCDCTL,
      ['snapshot', 'restore', snap, `--data-dir=${dataDir}`, '--name=r', `--initial-cluster=r=${peer}`, `--initial-advertise-peer-urls=${peer}`],
      { env: { ETCDCTL_API: '3' } },
    );
    assert.match(res.stderr + res.stdout, /restored snapshot/);
    assert.ok(statSync(join(dataDir, 'member', 'snap', 'db')).size > 0);

    // real etcd on the restored data dir
    const client = `http://127.0.0.1:${clientPort}`;
    restored = spawn('/usr/bin/etcd', [
      '--name=r',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=r=${peer}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'], env: {} });
    let log = '';
    restored.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const ep2 = `--endpoints=127.0.0.1:${clientPort}`;
    let got = '';
    for (let i = 0; i < 100 && !got; i++) {
      try {
        got = (await run(ETCDCTL, [ep2, '--command-timeout=1s', 'get', 'k', '--prefix', '--keys-only'], { env: { ETCDCTL_API: '3' } })).stdout;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.ok(got, `restored etcd did not serve:\n${log.slice(-3000)}`);
    const keys = got.split('\n').filter(Boolean);
    assert.equal(keys.length, 29, got);
    assert.ok(!keys.includes('k0'));
    const v = (await run(ETCDCTL, [ep2, 'get', 'k17', '--print-value-only'], { env: { ETCDCTL_API: '3' } })).stdout;
    assert.equal(v, 'v17\n');
    const big = (await run(ETCDCTL, [ep2, 'get', 'big', '--print-value-only'], { env: { ETCDCTL_API: '3' }, maxBuffer: 1 << 20 })).stdout;
    assert.equal(big, 'z'.repeat(20_000) + '\n');
    const status = JSON.parse((await run(ETCDCTL, [ep2, 'endpoint', 'status', '-w', 'json'], { env: { ETCDCTL_API: '3' } })).stdout) as Array<{ Status: { header: { revision: number } } }>;
    assert.equal(status[0]!.Status.header.revision, 33);
  } finally {
    if (restored && restored.exitCode === null) {
      restored.kill('SIGKILL');
      await new Promise((r) => restored!.once('exit', r));
    }
    await stopAll(ours);
    rmSync(dir, { recursive: true, force: true });
  }
});
