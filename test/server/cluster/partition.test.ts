// Network partitions of a 3-member cluster, against real etcd 3.4.23 and ours, with
// iptables. Each member runs in a network namespace of its own (`ip netns exec`),
// linked by a veth pair to this test's namespace, which routes between them; so a
// member's peer traffic crosses this namespace's FORWARD chain, where
// `iptables -A FORWARD -s ADDR -j DROP` cuts it off from the other members while the
// test (whose own traffic goes through INPUT/OUTPUT, not FORWARD) still reaches it.
//
// The routing namespace must not be the machine's own: the file re-runs itself under
// `unshare -n` (a private network namespace; needs root, `ip` and `iptables`) with
// ETCDTS_NETNS=1, and the outer test reports the inner run's result.
//
// Checked (Raft §5.2 / §6.4 with CheckQuorum, as etcd runs it):
// - the leader cut off: the other two elect a new leader and take writes; the old
//   leader steps down (CheckQuorum), cannot serve a linearizable read, serves a stale
//   serializable one; after healing it catches up and every member has equal hashes;
// - a follower cut off: writes go on; its linearizable reads fail; after healing it
//   catches up with every write.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { memberStatus, startRealCluster, type ClusterMember, type RealCluster } from '../../harness/cluster.js';
import { ETCD_BIN, OUR_ETCD_BIN } from '../../harness/etcd.js';
import { REAL, runCli } from '../../harness/run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const THIS_FILE = fileURLToPath(import.meta.url);

const TARGETS = [
  { name: 'etcd 3.4.23', binary: ETCD_BIN },
  { name: 'ours (bin/etcd)', binary: OUR_ETCD_BIN },
];

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.error ? String(r.error) : ''}`);
  return r.stdout;
}

if (process.env['ETCDTS_NETNS'] !== '1') {
  test('network partitions (run inside a private network namespace)', { timeout: 900_000 }, (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root (unshare -n, ip netns, iptables)');
      return;
    }
    for (const tool of ['unshare', 'ip', 'iptables']) {
      const w = spawnSync('sh', ['-c', `command -v ${tool}`]);
      assert.equal(w.status, 0, `${tool} is missing: install it (.ci/run installs iproute2 and iptables)`);
    }
    const r = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" --test --test-reporter=tap "$1"', process.execPath, THIS_FILE], {
      // (without NODE_TEST_CONTEXT, set by the outer runner, the inner `node --test` runs its file)
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), ETCDTS_NETNS: '1', NODE_TEST_REPORTER: 'tap' },
      encoding: 'utf8',
      timeout: 880_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = `${r.stdout}${r.stderr}`;
    for (const line of out.split('\n')) if (/^\s*(?:not )?ok \d+ - /.test(line)) t.diagnostic(line.trim());
    assert.equal(r.status, 0, `the partition tests failed inside the namespace:\n${out.slice(-20000)}`);
    assert.match(out, /^# pass [1-9]/m, out.slice(-3000));
    assert.match(out, /^# fail 0$/m, out.slice(-3000));
  });
} else {
  /** Member namespaces `etcdts-<pid>-<j>` with address 10.99.<j>.2, routed through this namespace. */
  const nsName = (j: number) => `etcdts-${process.pid}-${j}`;
  const addr = (j: number) => `10.99.${j}.2`;
  const made: number[] = [];
  const setupNamespaces = (): void => {
    sh('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    for (const j of [1, 2, 3]) {
      const ns = nsName(j);
      spawnSync('ip', ['link', 'del', `h${j}`]); // a leftover of an earlier case, if any
      sh('ip', ['netns', 'add', ns]);
      made.push(j);
      sh('ip', ['link', 'add', `h${j}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh('ip', ['addr', 'add', `10.99.${j}.1/24`, 'dev', `h${j}`]);
      sh('ip', ['link', 'set', `h${j}`, 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `${addr(j)}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', `10.99.${j}.1`]);
    }
  };
  const teardownNamespaces = (): void => {
    // delete the veth pairs explicitly: a namespace (and the pair with it) goes only
    // once the last process in it is gone, which may be later than `ip netns del`
    for (const j of made.splice(0)) {
      spawnSync('ip', ['link', 'del', `h${j}`]);
      spawnSync('ip', ['netns', 'del', nsName(j)]);
    }
  };

  /** Cuts the member at `host` off from the other members (not from this test). */
  const partition = (host: string): void => {
    sh('iptables', ['-A', 'FORWARD', '-s', host, '-j', 'DROP']);
    sh('iptables', ['-A', 'FORWARD', '-d', host, '-j', 'DROP']);
  };
  const heal = (): void => void sh('iptables', ['-F', 'FORWARD']);

  const hostOf = (m: ClusterMember): string => new URL(m.clientURL).hostname;

  /** The real etcdctl against `eps`; returns its result (does not assert). */
  const ctlRun = (eps: string, ...args: string[]) => runCli(REAL, [`--endpoints=${eps}`, ...args], { timeoutMs: 30_000 });
  const ctl = async (eps: string, ...args: string[]): Promise<string> => {
    const r = await ctlRun(eps, ...args);
    assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.toString();
  };

  /** Waits until every running member reports the same applied index twice in a row. */
  const waitConverged = async (members: ClusterMember[], ms = 30_000): Promise<void> => {
    const deadline = Date.now() + ms;
    let last = '';
    for (;;) {
      const st = await Promise.all(members.map((m) => memberStatus(m.clientURL)));
      const now = st.map((s) => (s ? `${s.raftAppliedIndex}` : '?')).join(',');
      if (!now.includes('?') && new Set(now.split(',')).size === 1 && now === last) return;
      if (Date.now() > deadline) throw new Error(`members did not converge: applied ${now}`);
      last = now;
      await sleep(300);
    }
  };

  const assertEqualHashes = async (members: ClusterMember[]): Promise<void> => {
    const st = JSON.parse(await ctl(members[0]!.endpoint, 'endpoint', 'status', '-w', 'json')) as Array<{ Status: { header: { revision: number } } }>;
    const rev = st[0]!.Status.header.revision;
    const out = await ctl(members.map((m) => m.endpoint).join(','), 'endpoint', 'hashkv', `--rev=${rev}`, '-w', 'json');
    const hashes = (JSON.parse(out) as Array<{ HashKV: { hash: number } }>).map((h) => h.HashKV.hash);
    assert.equal(hashes.length, members.length, out);
    assert.equal(new Set(hashes).size, 1, `hashes differ at revision ${rev}: ${out}`);
  };

  for (const target of TARGETS) {
    describe(`network partitions: ${target.name}`, { timeout: 400_000 }, () => {
      let cluster: RealCluster | undefined;
      const start = async (): Promise<RealCluster> => {
        heal();
        setupNamespaces();
        cluster = await startRealCluster(3, {
          binary: target.binary,
          hosts: [1, 2, 3].map(addr),
          spawnPrefix: (i) => ['ip', 'netns', 'exec', nsName(i + 1)],
        });
        return cluster;
      };
      const stop = async (): Promise<void> => {
        heal();
        await cluster?.stopAll();
        cluster = undefined;
        teardownNamespaces();
      };
      after(stop);

      test('the leader cut off: a new leader, writes go on, the old one steps down and catches up after healing', async () => {
        const c = await start();
        try {
          const oldName = await c.waitForLeader(15_000);
          const old = c.member(oldName);
          const others = c.members.filter((m) => m !== old);
          assert.equal(await ctl(old.endpoint, 'put', 'before', '1'), 'OK\n');
          await waitConverged(c.members);

          partition(hostOf(old));
          const cutAt = Date.now();
          // the two others elect one of them (1 s election timeout; measured, not asserted tightly)
          let newLeaderHex = '';
          while (!newLeaderHex) {
            assert.ok(Date.now() - cutAt < 15_000, 'no new leader among the majority within 15 s');
            const st = await Promise.all(others.map((m) => memberStatus(m.clientURL)));
            const l = st[0]?.leaderHex;
            if (l && l !== old.memberIdHex && st.every((s) => s?.leaderHex === l)) newLeaderHex = l;
            else await sleep(200);
          }
          const eps = others.map((m) => m.endpoint).join(',');
          assert.equal(await ctl(eps, 'put', 'during', '2'), 'OK\n');
          assert.equal(await ctl(eps, 'get', 'during', '--print-value-only'), '2\n');

          // CheckQuorum: the old leader stops leading within an election timeout or so
          for (;;) {
            const s = await memberStatus(old.clientURL);
            if (s === undefined || s.leaderHex !== old.memberIdHex) break;
            assert.ok(Date.now() - cutAt < 15_000, 'the cut-off leader still calls itself leader after 15 s');
            await sleep(200);
          }
          const lin = await ctlRun(old.endpoint, '--command-timeout=3s', 'get', 'during');
          assert.notEqual(lin.code, 0, `a linearizable read on the cut-off member succeeded: ${lin.stdout.toString()}`);
          assert.equal(await ctl(old.endpoint, 'get', 'during', '--consistency=s'), '', 'the cut-off member cannot have seen the write');
          assert.equal(await ctl(old.endpoint, 'get', 'before', '--consistency=s', '--print-value-only'), '1\n');

          heal();
          const healedAt = Date.now();
          for (;;) {
            const r = await ctlRun(old.endpoint, '--command-timeout=3s', 'get', 'during', '--print-value-only');
            if (r.code === 0 && r.stdout.toString() === '2\n') break;
            assert.ok(Date.now() - healedAt < 20_000, `the healed member did not catch up within 20 s: ${r.stderr}`);
            await sleep(300);
          }
          assert.equal(await ctl(c.endpoint, 'put', 'after', '3'), 'OK\n');
          await waitConverged(c.members);
          await assertEqualHashes(c.members);
        } finally {
          await stop();
        }
      });

      test('a follower cut off: writes go on without it, its linearizable reads fail, it catches up after healing', async () => {
        const c = await start();
        try {
          const leaderName = await c.waitForLeader(15_000);
          const leader = c.member(leaderName);
          const follower = c.members.find((m) => m !== leader)!;
          partition(hostOf(follower));
          for (let i = 0; i < 20; i++) assert.equal(await ctl(leader.endpoint, 'put', `k${String(i).padStart(2, '0')}`, `v${i}`), 'OK\n');
          const lin = await ctlRun(follower.endpoint, '--command-timeout=3s', 'get', 'k00');
          assert.notEqual(lin.code, 0, 'a linearizable read on the cut-off follower succeeded');
          heal();
          const healedAt = Date.now();
          for (;;) {
            const r = await ctlRun(follower.endpoint, '--command-timeout=3s', 'get', 'k', '--prefix', '--keys-only', '--limit=1', '-w', 'fields');
            if (r.code === 0 && /"Count" : 20\b/.test(r.stdout.toString())) break;
            assert.ok(Date.now() - healedAt < 20_000, `the healed follower did not catch up within 20 s: ${r.stdout.toString()}${r.stderr}`);
            await sleep(300);
          }
          await waitConverged(c.members);
          await assertEqualHashes(c.members);
        } finally {
          await stop();
        }
      });
    });
  }
}
