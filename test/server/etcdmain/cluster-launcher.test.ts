// `bin/etcd --cluster-size N` (ours, src/server/etcdmain/cluster-launcher.ts): three
// member processes form one cluster (checked with the real etcdctl), a key written on one
// member is read on another, SIGINT stops every member and the launcher exits 0, and a
// second start on the same data dir brings the same cluster back with the key. Bad sizes
// are refused with exit code 1, and a member that dies stops the launcher with exit 1.
//
// Ports: the launcher gives member i client port B+i-1 and peer port P+i-1 from
// --listen-client-urls / --listen-peer-urls, and refuses to start ("... is not free") when
// one is taken. The test picks B at random in 20000-32000 (below Linux's ephemeral range,
// where getFreePort's ports come from), P = B+3, and tries another B on that refusal.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, runCli } from '../../harness/run.js';
import { memberArgs, memberLayout, parseLauncherArgs } from '../../../src/server/etcdmain/cluster-launcher.js';
import { describeProc, procStderr, procStdout, sleep, startProc, type Proc } from '../../harness/proc.js';

const ETCD = path.join(REPO_ROOT, 'bin', 'etcd');
const ETCDCTL_REAL = process.env.REAL_ETCDCTL || '/usr/bin/etcdctl';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cluster-launcher-'));
const dataDir = path.join(work, 'data');

/** Every PID started here (launchers and their members), SIGKILLed in after(). */
const pids = new Set<number>();
after(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  fs.rmSync(work, { recursive: true, force: true });
});

/** PIDs whose parent is `ppid` (from /proc). */
function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'
      const ppidField = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppidField === ppid) out.push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits up to `ms` for the launcher to print its ready text or exit; true when ready. */
async function waitReady(p: Proc, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (procStdout(p).includes('Press Ctrl-C to stop all members.')) return true;
    if (p.exited) return false;
    await sleep(100);
  }
  return false;
}

/** Starts the launcher for 3 members at client base port `base`; waits until it is ready (75 s). */
async function launch(base: number): Promise<Proc> {
  const p = startProc(ETCD, ['--cluster-size', '3', '--data-dir', dataDir, '--listen-client-urls', `http://127.0.0.1:${base}`, '--listen-peer-urls', `http://127.0.0.1:${base + 3}`]);
  if (p.child.pid) pids.add(p.child.pid);
  const ready = await waitReady(p, 75_000);
  for (const c of p.child.pid ? childPids(p.child.pid) : []) pids.add(c);
  if (!ready && !p.exited) {
    p.child.kill('SIGKILL');
    await p.exit;
    assert.fail(describeProc('launcher not ready within 75 s', p));
  }
  return p;
}

/** Stops the launcher with `sig` (by PID); asserts it exits 0 within 40 s and its members are gone. */
async function stopAndCheck(p: Proc, sig: NodeJS.Signals): Promise<void> {
  const members = childPids(p.child.pid!);
  assert.equal(members.length, 3, `three member processes under the launcher: ${members.join(',')}`);
  p.child.kill(sig);
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.exit.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 40_000)))]);
  clearTimeout(timer);
  assert.ok(done, describeProc(`launcher did not exit within 40 s of ${sig}`, p));
  assert.deepEqual(p.exited, { code: 0, signal: null }, describeProc('launcher exit', p));
  for (const pid of members) assert.ok(!alive(pid), `member process ${pid} still running`);
  assert.match(procStderr(p), /launcher \| all members stopped/);
}

const etcdctl = (endpoints: string, args: string[]) => runCli(ETCDCTL_REAL, ['--endpoints', endpoints, '--command-timeout=5s', ...args], { env: { ETCDCTL_API: '3' }, timeoutMs: 15_000 });

test('bin/etcd --cluster-size 3: forms, serves, stops on SIGINT, restarts on its data', { timeout: 300_000 }, async () => {
  let base = 0;
  let p: Proc | undefined;
  for (let attempt = 0; attempt < 5 && !p; attempt++) {
    base = 20_000 + Math.floor(Math.random() * 12_000);
    const q = await launch(base);
    if (!q.exited) p = q;
    else if (!/is not free/.test(procStderr(q))) assert.fail(describeProc('launcher exited during startup', q));
  }
  assert.ok(p, 'no free port range found in 5 attempts');
  const urls = [0, 1, 2].map((i) => `http://127.0.0.1:${base + i}`);
  const out = procStdout(p);
  assert.ok(out.includes(`export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=${urls.join(',')}\n`), out);
  for (const [i, u] of urls.entries()) assert.match(out, new RegExp(`infra${i + 1}  ${u}  peer http://127\\.0\\.0\\.1:${base + 3 + i}`));
  // member logs come prefixed with the member's name
  for (const n of ['infra1', 'infra2', 'infra3']) assert.match(procStderr(p), new RegExp(`^${n} \\| .* I \\| etcdmain: etcd Version: 3\\.4\\.23$`, 'm'));

  const list = await etcdctl(urls.join(','), ['member', 'list']);
  assert.equal(list.code, 0, list.stderr);
  const rows = list.stdout.toString().trim().split('\n').map((l) => l.split(', '));
  assert.deepEqual(rows.map((r) => [r[1], r[2]]).sort(), [['started', 'infra1'], ['started', 'infra2'], ['started', 'infra3']]);

  const st = await etcdctl(urls[0], ['endpoint', 'status', '--cluster']);
  assert.equal(st.code, 0, st.stderr);
  const status = st.stdout.toString().trim().split('\n').map((l) => l.split(', '));
  assert.equal(status.length, 3, st.stdout.toString());
  assert.equal(status.filter((r) => r[4] === 'true').length, 1, `one leader:\n${st.stdout}`);

  assert.equal((await etcdctl(urls[0], ['put', 'launcher-key', 'v1'])).code, 0);
  const got = await etcdctl(urls[2], ['get', 'launcher-key']);
  assert.equal(got.stdout.toString(), 'launcher-key\nv1\n', got.stderr);

  await stopAndCheck(p, 'SIGINT');

  // the same command again: the members restart on their data dirs
  const again = await launch(base);
  assert.ok(!again.exited, describeProc('second start', again));
  assert.match(procStderr(again), /infra1 \| .*already initialized as member before/);
  const kept = await etcdctl(urls[1], ['get', 'launcher-key']);
  assert.equal(kept.stdout.toString(), 'launcher-key\nv1\n', kept.stderr);
  await stopAndCheck(again, 'SIGTERM');

  // a member that dies makes the launcher stop the others and exit 1, naming it
  const third = await launch(base);
  assert.ok(!third.exited, describeProc('third start', third));
  const members = childPids(third.child.pid!);
  const victim = members.find((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--name=infra2'));
  assert.ok(victim, `infra2 among ${members.join(',')}`);
  process.kill(victim, 'SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([third.exit.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 40_000)))]);
  clearTimeout(timer);
  assert.ok(ended, describeProc('launcher did not exit within 40 s of a member dying', third));
  assert.deepEqual(third.exited, { code: 1, signal: null }, describeProc('launcher exit', third));
  assert.match(procStderr(third), /launcher \| infra2 exited unexpectedly \(signal SIGKILL\); stopping the other members/);
  for (const pid of members) assert.ok(!alive(pid), `member process ${pid} still running`);

  // another size over the same data is refused before any member starts
  const resized = await runCli(ETCD, ['--cluster-size', '2', '--data-dir', dataDir, '--listen-client-urls', `http://127.0.0.1:${base}`, '--listen-peer-urls', `http://127.0.0.1:${base + 3}`]);
  assert.equal(resized.code, 1, resized.stderr);
  assert.match(resized.stderr, /holds a 3-member cluster: start it with --cluster-size 3, or use another --data-dir/);
});

test('launcher command line: own flags, forwarded flags, member ports', () => {
  const a = parseLauncherArgs(['-cluster-size=3', '--log-outputs', 'stderr', '--enable-v2', '--data-dir', 'd', '--snapshot-count=5', '--initial-cluster-token', 't'])!;
  assert.deepEqual(a, { sizeText: '3', dataDir: 'd', listenClientUrls: undefined, listenPeerUrls: undefined, token: 't', forwarded: ['--log-outputs', 'stderr', '--enable-v2', '--snapshot-count=5'] });
  assert.equal(parseLauncherArgs(['--name', 'x']), undefined);
  // etcd's Procfile ports by default
  const procfile = memberLayout(3, { dataDir: 'd' });
  assert.deepEqual(procfile.map((m) => [m.name, m.dataDir, m.clientURL, m.peerURL]), [
    ['infra1', path.join('d', 'infra1'), 'http://127.0.0.1:2379', 'http://127.0.0.1:2380'],
    ['infra2', path.join('d', 'infra2'), 'http://127.0.0.1:22379', 'http://127.0.0.1:22380'],
    ['infra3', path.join('d', 'infra3'), 'http://127.0.0.1:32379', 'http://127.0.0.1:32380'],
  ]);
  assert.throws(() => memberLayout(7, { dataDir: 'd' }), /7 members need --listen-client-urls and --listen-peer-urls/);
  // consecutive ports from the given URLs; a wildcard host is advertised as 127.0.0.1
  const given = memberLayout(2, { dataDir: 'd', listenClientUrls: 'http://0.0.0.0:30000', listenPeerUrls: 'http://127.0.0.1:30010' });
  assert.deepEqual(given.map((m) => [m.clientURL, m.peerURL, m.clientListen.host]), [
    ['http://127.0.0.1:30000', 'http://127.0.0.1:30010', '0.0.0.0'],
    ['http://127.0.0.1:30001', 'http://127.0.0.1:30011', '0.0.0.0'],
  ]);
  assert.deepEqual(memberArgs(given[1], given, 't', ['--enable-v2']), [
    '--name=infra2',
    `--data-dir=${path.join('d', 'infra2')}`,
    '--listen-client-urls=http://0.0.0.0:30001',
    '--advertise-client-urls=http://127.0.0.1:30001',
    '--listen-peer-urls=http://127.0.0.1:30011',
    '--initial-advertise-peer-urls=http://127.0.0.1:30011',
    '--initial-cluster=infra1=http://127.0.0.1:30010,infra2=http://127.0.0.1:30011',
    '--initial-cluster-token=t',
    '--initial-cluster-state=new',
    '--enable-v2',
  ]);
  assert.throws(() => memberLayout(3, { dataDir: 'd', listenClientUrls: 'http://127.0.0.1:30000', listenPeerUrls: 'http://127.0.0.1:30002' }), /port 30002 would be both/);
  assert.throws(() => memberLayout(2, { dataDir: 'd', listenClientUrls: 'http://a:1,http://b:2' }), /exactly one URL/);
});

test('bin/etcd --cluster-size refuses sizes outside 1..9 and per-member flags', { timeout: 60_000 }, async () => {
  for (const size of ['0', 'x', '10']) {
    const r = await runCli(ETCD, ['--cluster-size', size, '--data-dir', path.join(work, 'never')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`E \\| etcdmain: error verifying flags, --cluster-size must be an integer from 1 to 9, got "${size}"\\. See 'etcd --help'\\.\\n$`));
  }
  const named = await runCli(ETCD, ['--cluster-size=3', '--name', 'x']);
  assert.equal(named.code, 1);
  assert.match(named.stderr, /--name cannot be used with --cluster-size/);
  assert.ok(!fs.existsSync(path.join(work, 'never')), 'nothing is created for a refused command line');
});
