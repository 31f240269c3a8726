// Multi-process 3-member clusters, the same scenarios against real etcd 3.4.23 and
// against ours (bin/etcd), driven by the real etcdctl 3.4.23 and a Go clientv3 load
// (bench/go/loadgen):
//   - the seed article's three commands (localhost URLs, token etcd-cluster-1) form a
//     cluster: three started members, one leader, a put through one member read
//     linearizably through another;
//   - kill -9 of the leader: a new leader within 3 s (1 s election timeout), writes
//     continue, a watcher on a follower sees every event in order across the change, a
//     lease keeps its TTL (no expiry by the election) and is kept alive through a
//     follower, the survivors log the lost stream and the new leader "failed to reach the
//     peer URL", the killed member restarts and catches up (equal hashes);
//   - a follower frozen (SIGSTOP) while the others write 7000 keys with
//     --snapshot-count=1000 catches up by a raft snapshot (etcd keeps 5000 entries
//     behind a snapshot) and ends with the same hash;
//   - 5000 concurrent puts across the three members with zero errors, then
//     `endpoint hashkv --cluster` equal on every member;
//   - a member of another cluster (same peer URL, other --initial-cluster-token) is
//     refused with etcd's "cluster ID mismatch" log lines and never joins.
// Timing: the 3 s failover bound is the requirement for a 1 s election timeout
// (etcd's default); polling is every 50 ms.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { memberStatus, spawnEtcdProcess, startRealCluster, type ClusterMember, type RealCluster } from '../../harness/cluster.js';
import { ETCD_BIN, OUR_ETCD_BIN } from '../../harness/etcd.js';
import { REAL, REPO_ROOT, runCli } from '../../harness/run.js';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Backend } from '../../../src/server/backend/backend.js';
import { replaceWithBoltFile } from '../../../src/server/backend/bbolt-import.js';
import { writeBoltFile } from '../../../src/util/bbolt-writer.js';
import { LmdbBackend } from '../../../src/server/backend/lmdb-backend.js';
import { MemoryBackend } from '../../../src/server/backend/memory-backend.js';
import { KeyValueSchema } from '../../../src/gen/mvccpb/kv_pb.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const TARGETS = [
  { name: 'etcd 3.4.23', binary: ETCD_BIN },
  { name: 'ours (bin/etcd)', binary: OUR_ETCD_BIN },
];

/** Runs the real etcdctl against `eps` (comma-separated) and returns stdout; asserts exit 0. */
async function ctl(eps: string, ...args: string[]): Promise<string> {
  const r = await runCli(REAL, [`--endpoints=${eps}`, ...args], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

let loadgenPath: string | undefined;
/** Builds bench/go/loadgen (cached under $TMPDIR) and returns its path. */
async function loadgen(): Promise<string> {
  if (loadgenPath) return loadgenPath;
  const r = await runCli(process.execPath, [`${REPO_ROOT}/bench/go/build.mjs`, 'loadgen'], { timeoutMs: 600_000 });
  const m = /^loadgen: (\S+)/m.exec(r.stdout.toString());
  if (r.code !== 0 || !m) throw new Error(`building bench/go/loadgen failed: ${r.stdout.toString()}${r.stderr}`);
  return (loadgenPath = m[1]!);
}

interface LoadResult {
  ok: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
}

/** Puts `keys` distinct keys (256-byte values) with 100 clients spread over `eps`. */
async function fill(eps: string[], keys: number, prefix: string, valSize = 256): Promise<LoadResult> {
  const bin = await loadgen();
  const r = await runCli(
    bin,
    [`--endpoint=${eps.join(',')}`, '--kind=put', '--fill', `--keys=${keys}`, `--prefix=${prefix}`, `--val-size=${valSize}`, '--clients=100', `--conns=${eps.length * 2}`],
    { timeoutMs: 180_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()) as LoadResult;
}

/** Polls the running members until all report the same applied index for 2 polls; returns it. */
async function waitConverged(members: ClusterMember[], ms = 30_000): Promise<bigint> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    const st = await Promise.all(members.map((m) => memberStatus(m.clientURL)));
    const idx = st.map((s) => (s ? `${s.raftAppliedIndex}` : '?'));
    const now = idx.join(',');
    if (!now.includes('?') && new Set(idx).size === 1 && now === last) return st[0]!.raftAppliedIndex;
    if (Date.now() > deadline) throw new Error(`members did not converge: applied ${now}`);
    last = now;
    await sleep(300);
  }
}

/** `endpoint hashkv` of every member at the revision of the first one; asserts they are equal. */
async function assertEqualHashes(members: ClusterMember[]): Promise<void> {
  const rev = JSON.parse(await ctl(members[0]!.endpoint, 'endpoint', 'status', '-w', 'json')) as Array<{ Status: { header: { revision: number } } }>;
  const r = rev[0]!.Status.header.revision;
  const out = await ctl(members.map((m) => m.endpoint).join(','), 'endpoint', 'hashkv', `--rev=${r}`, '-w', 'json');
  const hashes = (JSON.parse(out) as Array<{ HashKV: { hash: number; compact_revision?: number } }>).map((h) => h.HashKV.hash);
  assert.equal(hashes.length, members.length, out);
  assert.equal(new Set(hashes).size, 1, `hashes differ at revision ${r}: ${out}`);
}

/** Changes the first byte of every key and value in the `key` bucket (etcd's e2e corruptHash). */
function corruptKeys(b: Backend): void {
  const tx = b.batchTx();
  tx.lock();
  try {
    const all: Array<[Uint8Array, Uint8Array]> = [];
    tx.forEach('key', (k, v) => void all.push([new Uint8Array(k), new Uint8Array(v)]));
    for (const [k, v] of all) {
      const kv = fromBinary(KeyValueSchema, v);
      kv.key[0]!++;
      kv.value[0]!++;
      tx.put('key', k, toBinary(KeyValueSchema, kv));
    }
  } finally {
    tx.unlock();
  }
  b.forceCommit();
}

/** Corrupts a stopped member's backend file offline: real etcd's bbolt file, or our LMDB one. */
function corruptBackend(dataDir: string, ours: boolean): void {
  const file = `${dataDir}/member/snap/db`;
  if (ours) {
    const b = new LmdbBackend({ path: file });
    try {
      corruptKeys(b);
    } finally {
      b.close();
    }
    return;
  }
  const b = new MemoryBackend();
  replaceWithBoltFile(b, file);
  corruptKeys(b);
  const rt = b.readTx();
  try {
    writeBoltFile(file, rt);
  } finally {
    rt.release();
  }
}

async function roles(c: RealCluster): Promise<{ leader: ClusterMember; followers: ClusterMember[] }> {
  const name = await c.waitForLeader(15_000);
  const leader = c.member(name);
  return { leader, followers: c.members.filter((m) => m !== leader && m.running()) };
}

for (const target of TARGETS) {
  describe(`3-member cluster: ${target.name}`, { timeout: 600_000 }, () => {
    const clusters: RealCluster[] = [];
    const start = async (opts: Parameters<typeof startRealCluster>[1] = {}) => {
      const c = await startRealCluster(3, { binary: target.binary, ...opts });
      clusters.push(c);
      return c;
    };
    after(async () => {
      await Promise.all(clusters.map((c) => c.stopAll()));
    });

    test("the seed article's three commands: started members, one leader, a put read through another member", async () => {
      const c = await start({ names: ['etcd1', 'etcd2', 'etcd3'], token: 'etcd-cluster-1', host: 'localhost' });
      const [e1, , e3] = c.members;
      const list = await ctl(e1!.endpoint, 'member', 'list');
      const rows = list.trim().split('\n').map((l) => l.split(', '));
      assert.equal(rows.length, 3, list);
      assert.deepEqual(rows.map((r) => r[1]), ['started', 'started', 'started'], list);
      assert.deepEqual(rows.map((r) => r[2]).sort(), ['etcd1', 'etcd2', 'etcd3'], list);
      for (const m of c.members) assert.ok(list.includes(`, ${m.name}, http://localhost:${m.peerPort}, http://localhost:${m.clientPort}, false`), list);
      // one leader, the same for every member
      // (IDs are uint64: read them as text, not through JSON numbers)
      const st = await ctl(e1!.endpoint, 'endpoint', 'status', '--cluster', '-w', 'json');
      const memberIds = [...st.matchAll(/"member_id":(\d+)/g)].map((m) => m[1]);
      const leaders = new Set([...st.matchAll(/"leader":(\d+)/g)].map((m) => m[1]));
      assert.equal(memberIds.length, 3, st);
      assert.equal(leaders.size, 1, st);
      assert.ok(memberIds.includes([...leaders][0]), 'the leader is one of the members');
      // a put through etcd1, a linearizable get through etcd3
      assert.equal(await ctl(e1!.endpoint, 'put', 'seed-key', 'hello'), 'OK\n');
      assert.equal(await ctl(e3!.endpoint, 'get', 'seed-key'), 'seed-key\nhello\n');
      await waitConverged(c.members);
      await assertEqualHashes(c.members);
    });

    test('kill -9 of the leader: a new leader within 3 s, writes continue, leases and watches survive, the member restarts and catches up', async () => {
      const c = await start();
      const { leader, followers } = await roles(c);
      const eps = followers.map((m) => m.endpoint).join(',');
      const watchOn = followers[0]!;
      // a watcher on a follower that survives, a lease kept alive through a follower
      const watcher = spawn(REAL, [`--endpoints=${watchOn.endpoint}`, 'watch', '--prefix', 'w/'], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let watched = '';
      watcher.stdout.setEncoding('utf8').on('data', (d: string) => { watched += d; });
      try {
        const lease = /lease ([0-9a-f]+) granted/.exec(await ctl(watchOn.endpoint, 'lease', 'grant', '30'))![1]!;
        assert.equal(await ctl(c.endpoint, 'put', '--lease', lease, 'leased', 'x'), 'OK\n');
        await sleep(300); // the watch is registered
        for (let i = 0; i < 5; i++) assert.equal(await ctl(c.endpoint, 'put', `w/${i}`, `${i}`), 'OK\n');
        const killedAt = Date.now();
        await leader.stop(); // SIGKILL of the etcd process itself
        let newLeader: string | undefined;
        while (Date.now() - killedAt < 10_000) {
          const st = await Promise.all(followers.map((m) => memberStatus(m.clientURL)));
          if (st.every((x) => x && x.leaderHex !== leader.memberIdHex && x.leaderHex === st[0]!.leaderHex)) {
            newLeader = st[0]!.leaderHex;
            break;
          }
          await sleep(50);
        }
        const took = Date.now() - killedAt;
        assert.ok(newLeader, 'no new leader within 10 s');
        assert.ok(took <= 3000, `new leader after ${took} ms (expected ≤ 3000 ms)`);
        assert.ok(followers.some((m) => m.memberIdHex === newLeader));
        // writes continue on the two survivors; the watcher sees every event in order
        for (let i = 5; i < 10; i++) assert.equal(await ctl(eps, 'put', `w/${i}`, `${i}`), 'OK\n');
        const want = Array.from({ length: 10 }, (_, i) => `PUT\nw/${i}\n${i}\n`).join('');
        const deadline = Date.now() + 10_000;
        while (watched !== want && Date.now() < deadline) await sleep(100);
        assert.equal(watched, want);
        // the lease was not expired by the election; keep-alive through a follower is forwarded
        assert.match(await ctl(watchOn.endpoint, 'lease', 'keep-alive', '--once', lease), new RegExp(`lease ${lease} keepalived with TTL\\(30\\)`));
        assert.equal(await ctl(eps, 'get', 'leased', '--print-value-only'), 'x\n');
        const ttl = await ctl(eps, 'lease', 'timetolive', lease);
        const remaining = Number(/remaining\((-?\d+)s\)/.exec(ttl)?.[1]);
        assert.ok(remaining > 20 && remaining <= 30, ttl);
        // the broken link is visible at once in the survivors' logs, and the new leader's
        // /version probe names the unreachable member every few seconds (etcd monitorVersions)
        const nl = followers.find((m) => m.memberIdHex === newLeader)!;
        assert.match(nl.log(), new RegExp(`"msg":"lost TCP streaming connection with remote peer".*"remote-peer-id":"${leader.memberIdHex}"`));
        const probeBy = Date.now() + 12_000;
        const reached = new RegExp(`"msg":"failed to reach the peer URL".*"remote-member-id":"${leader.memberIdHex}"`);
        while (!reached.test(nl.log()) && Date.now() < probeBy) await sleep(200);
        assert.match(nl.log(), reached);
      } finally {
        watcher.kill('SIGKILL');
      }
      // the killed member restarts on its data dir and catches up
      await leader.restart();
      await waitConverged(c.members);
      assert.equal(await ctl(leader.endpoint, 'get', 'w/9', '--consistency=s', '--print-value-only'), '9\n');
      await assertEqualHashes(c.members);
    });

    test('a frozen follower catches up by snapshot after the others compacted their log', async () => {
      const c = await start({ extraArgs: ['--snapshot-count=1000'] });
      const { leader, followers } = await roles(c);
      const frozen = followers[1]!;
      frozen.signal('SIGSTOP');
      let res: LoadResult;
      try {
        // 10000 entries of 4 KiB: snapshots every 1000 keep 5000 entries behind them,
        // so the leader's log starts near index 4000-5000. The appends sent to the
        // frozen member before it stopped answering (sitting in socket buffers and the
        // stream queue) are bounded by the inflights window — 512 messages, and for
        // ours 8 MiB of entries, about 2000 of these — so its next entry is compacted
        // away on the leader and only a snapshot can bring it up to date.
        res = await fill([leader.endpoint, followers[0]!.endpoint], 10000, 'snap/', 4096);
      } finally {
        frozen.signal('SIGCONT');
      }
      assert.equal(res.errors, 0, JSON.stringify(res.errorSamples));
      assert.equal(res.ok, 10000);
      const deadline = Date.now() + 60_000;
      while (!/"msg":"applied snapshot"/.test(frozen.log())) {
        if (Date.now() > deadline) throw new Error(`the frozen member installed no snapshot\n--- frozen member ${frozen.name} log (tail) ---\n${frozen.log().slice(-6000)}\n--- leader log (tail) ---\n${leader.log().slice(-6000)}`);
        await sleep(200);
      }
      // (etcd 3.4 reports the applied index of a snapshot in Status only once an entry
      // after it is applied: write one)
      assert.equal(await ctl(leader.endpoint, 'put', 'after-snapshot', 'x'), 'OK\n');
      await waitConverged(c.members);
      const count = await ctl(frozen.endpoint, 'get', 'snap/', '--prefix', '--keys-only', '--limit=1', '--consistency=s', '-w', 'fields');
      assert.equal(/"Count" : (\d+)/.exec(count)?.[1], '10000', count);
      await assertEqualHashes(c.members);
    });

    test('5000 concurrent puts across the members, equal hashes; a member of another cluster is refused', async () => {
      const c = await start();
      const res = await fill(c.members.map((m) => m.endpoint), 5000, 'load/');
      assert.deepEqual([res.ok, res.errors], [5000, 0], JSON.stringify(res.errorSamples));
      await waitConverged(c.members);
      const out = await ctl(c.members[0]!.endpoint, 'endpoint', 'hashkv', '--cluster', '-w', 'json');
      const hashes = (JSON.parse(out) as Array<{ HashKV: { hash: number } }>).map((h) => h.HashKV.hash);
      assert.equal(hashes.length, 3, out);
      assert.equal(new Set(hashes).size, 1, out);

      // m3 is replaced by a process with an empty data dir and another token: another
      // cluster ID, which the members refuse on every peer request
      const m3 = c.member('m3');
      await m3.stop();
      fs.rmSync(m3.dataDir, { recursive: true, force: true });
      fs.mkdirSync(m3.dataDir);
      const args = m3.args().map((a) => (a.startsWith('--initial-cluster-token=') ? '--initial-cluster-token=some-other-cluster' : a));
      const stranger = spawnEtcdProcess(target.binary, args);
      try {
        const m1 = c.member('m1');
        const deadline = Date.now() + 20_000;
        while (!(/"msg":"request cluster ID mismatch"/.test(m1.log()) && /cluster ID mismatch/.test(stranger.log()))) {
          if (Date.now() > deadline) throw new Error(`no cluster ID mismatch logged\n--- m1 ---\n${m1.log().slice(-3000)}\n--- stranger ---\n${stranger.log().slice(-3000)}`);
          await sleep(200);
        }
        // the remaining members still serve writes (after electing a leader if m3 led); the stranger never joined
        await c.waitForLeader(15_000);
        assert.equal(await ctl(`${m1.endpoint},${c.member('m2').endpoint}`, '--command-timeout=15s', 'put', 'still', 'ok'), 'OK\n');
        const list = await ctl(m1.endpoint, 'member', 'list');
        assert.equal(list.trim().split('\n').length, 3, list);
        const s = await memberStatus(m3.clientURL);
        assert.ok(s === undefined || s.leaderHex !== (await memberStatus(m1.clientURL))?.leaderHex, 'the stranger does not follow the cluster');
      } finally {
        await stranger.kill();
      }
    });

    test('--experimental-initial-corrupt-check: a member whose data differs refuses to restart', async () => {
      const c = await start({ extraArgs: ['--experimental-initial-corrupt-check', '--snapshot-count=3'] });
      for (let i = 0; i < 10; i++) assert.equal(await ctl(c.endpoint, 'put', `foo${String(i).padStart(5, '0')}`, `v${i}`), 'OK\n');
      await waitConverged(c.members);
      const m1 = c.member('m1');
      await m1.stop();
      corruptBackend(m1.dataDir, target.binary !== ETCD_BIN);
      const p = spawnEtcdProcess(target.binary, [...m1.args()]);
      try {
        const deadline = Date.now() + 20_000;
        while (!p.exited() && Date.now() < deadline) await sleep(100);
        assert.ok(p.exited(), `the corrupted member did not exit\n${p.log().slice(-3000)}`);
        assert.match(p.log(), new RegExp(`${m1.memberIdHex} found data inconsistency with peers`));
        assert.match(p.log(), /"msg":"found different hash values from remote peer"/);
      } finally {
        await p.kill();
      }
      // the healthy members were not affected
      await c.waitForLeader(15_000);
      assert.equal(await ctl(`${c.member('m2').endpoint},${c.member('m3').endpoint}`, '--command-timeout=15s', 'put', 'after', 'x'), 'OK\n');
    });

    test('member remove: the removed member logs it and exits with status 0; the others go on', async () => {
      const c = await start();
      const { leader, followers } = await roles(c);
      const gone = followers[0]!;
      await c.waitReconfigurable();
      assert.match(await ctl(leader.endpoint, 'member', 'remove', gone.memberIdHex), new RegExp(`Member ${gone.memberIdHex} removed from cluster ${c.clusterIdHex}`));
      let timer: NodeJS.Timeout | undefined;
      const status = await Promise.race([gone.exited(), new Promise((r) => { timer = setTimeout(() => r('still running after 15 s'), 15_000); })]);
      clearTimeout(timer);
      assert.equal(status, 0, gone.log().slice(-3000));
      assert.match(gone.log(), /the member has been permanently removed from the cluster/);
      const list = await ctl(leader.endpoint, 'member', 'list');
      assert.equal(list.trim().split('\n').length, 2, list);
      assert.equal(await ctl(`${leader.endpoint},${followers[1]!.endpoint}`, 'put', 'after-remove', 'x'), 'OK\n');
    });
  });
}
