// --backend-batch-interval and --backend-batch-limit, seen through the disk metrics
// etcd exports for them (etcd_disk_backend_commit_duration_seconds counts backend commits
// that wrote something; etcd_disk_wal_fsync_duration_seconds and
// etcd_disk_wal_write_bytes_total the WAL's durable writes). Each case starts a real etcd
// 3.4.23 and ours with the same flags, makes the same puts with the real etcdctl, and
// checks that the counts move (or stay) alike on both.

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcd, type EtcdProcess, type ServerKind } from '../../harness/etcd.js';
import { REAL, runCli } from '../../harness/run.js';

const KINDS: ServerKind[] = ['real', 'ours'];
const FAMILIES = ['etcd_disk_backend_commit_duration_seconds', 'etcd_disk_wal_fsync_duration_seconds', 'etcd_disk_wal_write_bytes_total'];

const running: EtcdProcess[] = [];
after(() => Promise.all(running.map((s) => s.stop())));

async function start(kind: ServerKind, extraArgs: string[]): Promise<EtcdProcess> {
  const s = await startEtcd({ serverKind: kind, extraArgs });
  running.push(s);
  return s;
}

async function metricsText(s: EtcdProcess): Promise<string> {
  const res = await fetch(`${s.clientURL}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of the sample line `name` (no labels), or NaN when absent. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

interface Counts {
  commits: number;
  fsyncs: number;
  walBytes: number;
}

async function counts(s: EtcdProcess): Promise<Counts> {
  const t = await metricsText(s);
  return {
    commits: sample(t, 'etcd_disk_backend_commit_duration_seconds_count'),
    fsyncs: sample(t, 'etcd_disk_wal_fsync_duration_seconds_count'),
    walBytes: sample(t, 'etcd_disk_wal_write_bytes_total'),
  };
}

async function puts(s: EtcdProcess, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await runCli(REAL, ['--endpoints', s.clientURL, 'put', `k${i}`, 'v'], { env: { ETCDCTL_API: '3' } });
    assert.equal(r.code, 0, r.stderr);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts once the member has settled after start (its own startup writes committed). */
async function settled(s: EtcdProcess): Promise<Counts> {
  await sleep(300);
  return counts(s);
}

describe('disk metrics and the backend batch flags (real etcd 3.4.23 and ours)', () => {
  test('the three families: HELP, TYPE and histogram buckets as etcd exports them', async () => {
    const [real, ours] = await Promise.all(KINDS.map((k) => start(k, [])));
    await Promise.all([puts(real, 1), puts(ours, 1)]);
    // per family, in exposition order (the Go client sorts families by name, prom-client keeps registration order)
    const shape = (t: string) =>
      FAMILIES.flatMap((f) => t.split('\n').filter((l) => l.startsWith(`# HELP ${f} `) || l.startsWith(`# TYPE ${f} `) || l.startsWith(`${f}_bucket{`)))
        .map((l) => l.replace(/\} \d+(\.\d+)?(e[+-]?\d+)?$/, '}'));
    const [rt, ot] = await Promise.all([metricsText(real), metricsText(ours)]);
    assert.ok(shape(rt).length === 2 * 3 + 2 * 15, `reference shape: ${shape(rt).join('\n')}`);
    assert.deepEqual(shape(ot), shape(rt));
    for (const t of [rt, ot]) {
      const c = { fsyncs: sample(t, 'etcd_disk_wal_fsync_duration_seconds_count'), bytes: sample(t, 'etcd_disk_wal_write_bytes_total') };
      assert.ok(c.fsyncs >= 1 && c.bytes > 0, JSON.stringify(c));
    }
  });

  test('--backend-batch-interval=1h: puts are not committed to the backend, the WAL syncs each', async () => {
    const servers = await Promise.all(KINDS.map((k) => start(k, ['--backend-batch-interval=1h'])));
    for (const s of servers) {
      const before = await settled(s);
      await puts(s, 3);
      await sleep(500);
      const now = await counts(s);
      assert.equal(now.commits, before.commits, `${s.kind}: backend commits`);
      assert.ok(now.fsyncs >= before.fsyncs + 3, `${s.kind}: WAL syncs ${before.fsyncs} -> ${now.fsyncs}`);
      assert.ok(now.walBytes > before.walBytes, `${s.kind}: WAL bytes ${before.walBytes} -> ${now.walBytes}`);
    }
  });

  test('--backend-batch-limit=1: every put commits, even with an hour-long interval', async () => {
    const servers = await Promise.all(KINDS.map((k) => start(k, ['--backend-batch-limit=1', '--backend-batch-interval=1h'])));
    for (const s of servers) {
      const before = await settled(s);
      await puts(s, 3);
      const now = await counts(s);
      assert.ok(now.commits >= before.commits + 3, `${s.kind}: backend commits ${before.commits} -> ${now.commits}`);
    }
  });

  test('defaults (0 for both flags): a put is committed within the 100 ms interval', async () => {
    const servers = await Promise.all(KINDS.map((k) => start(k, ['--backend-batch-interval=0', '--backend-batch-limit=0'])));
    for (const s of servers) {
      const before = await settled(s);
      await puts(s, 1);
      const deadline = Date.now() + 5000;
      let now = await counts(s);
      while (now.commits === before.commits && Date.now() < deadline) {
        await sleep(50);
        now = await counts(s);
      }
      assert.ok(now.commits > before.commits, `${s.kind}: backend commits ${before.commits} -> ${now.commits}`);
    }
  });
});
