// `etcdctl snapshot restore` writes etcd 3.4's data-dir format, compared with the real
// etcdctl 3.4.23 restoring the same snapshot of a real etcd (keys, deletes, a lease,
// a compaction, auth buckets):
//
// - stdout, exit code and the log lines on stderr (time stamps removed) are equal;
// - the files, their modes and sizes are equal, and the WAL segment and the raft
//   snapshot file are equal byte for byte (same member IDs, cluster ID, conf-change
//   entries, hard state, v2 store); the db file is compact where etcdctl copies the
//   snapshot, so only its buckets and key/values are compared (with
//   meta/consistent_index = the member count in both);
// - for one member (defaults, in the working directory) and for each member of a
//   3-member restore (a cluster token, one member with --wal-dir);
// - real etcd 3.4 started on our restored directories serves the same keys at the
//   same revision as on etcdctl's: one member, and the three members as a cluster;
//   our server started on it (it imports etcd's format) serves them too.
//
// Serve mode: skipped (no server of ours is involved).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRealEtcd, stopAll, ETCD_BIN, OUR_ETCD_BIN, type RealEtcd } from '../harness/etcd.js';
import { spawnEtcdProcess, type RawEtcdProcess } from '../harness/cluster.js';
import { getFreePorts } from '../harness/ports.js';
import { bytesToText, OURS, REAL, runCli, type RunResult } from '../harness/run.js';
import { skipInServe } from '../harness/target.js';
import { BoltReader } from '../../src/util/bbolt-reader.js';

let server: RealEtcd;
let dir: string;
let snap: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-test-'));
  server = await startRealEtcd();
  const ep = `--endpoints=${server.endpoint}`;
  const ctl = async (...args: string[]) => {
    const r = await runCli(REAL, [ep, ...args]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return bytesToText(r.stdout);
  };
  for (let i = 0; i < 30; i++) await ctl('put', `k${String(i).padStart(2, '0')}`, `value ${i}`);
  await ctl('del', 'k05');
  const lease = /lease ([0-9a-f]+) granted/.exec(await ctl('lease', 'grant', '600'))![1]!;
  await ctl('put', '--lease', lease, 'leased', 'x');
  await ctl('compaction', '10');
  await ctl('user', 'add', 'alice:pw');
  await ctl('role', 'add', 'reader');
  snap = path.join(dir, 'snap.db');
  await ctl('snapshot', 'save', snap);
});

after(async () => {
  await stopAll(server);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Every bucket and key/value of a bbolt file, one `bucket key = value` line each (hex). */
function bboltContents(file: string): string {
  const r = BoltReader.open(file);
  try {
    const lines: string[] = [];
    for (const b of r.rootEntries()) {
      for (const e of r.entries(r.bucketRoot(b))) lines.push(`${b.key.toString('utf8')} ${e.key.toString('hex')} = ${e.raw.toString('hex')}`);
    }
    return lines.join('\n');
  } finally {
    r.close();
  }
}

/** The files under `root`: relative path, mode and size (the db's size left out). */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.statSync(p);
      const rel = path.relative(root, p);
      out.push(`${(st.mode & 0o777).toString(8)} ${st.isDirectory() ? 'dir' : n === 'db' ? 'file' : st.size} ${rel}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

/** stderr with the time stamps (and nothing else) normalized. */
const logText = (r: RunResult) => r.stderr.replace(/"ts":[0-9.e+-]+/g, '"ts":0');

/** Runs the same restore with both binaries, each in a working directory of its own; compares. */
async function restoreBoth(label: string, args: string[], dataDir: string, walDir?: string): Promise<{ real: string; ours: string }> {
  const roots = { real: path.join(dir, `${label}.real`), ours: path.join(dir, `${label}.ours`) };
  const run = async (bin: string, root: string) => {
    fs.mkdirSync(root);
    return runCli(bin, ['snapshot', 'restore', snap, ...args], { cwd: root });
  };
  const [r, o] = await Promise.all([run(REAL, roots.real), run(OURS, roots.ours)]);
  const msg = `real: ${r.stderr}\nours: ${o.stderr}`;
  assert.equal(r.code, 0, msg);
  assert.deepEqual({ stdout: bytesToText(o.stdout), code: o.code, log: logText(o) }, { stdout: bytesToText(r.stdout), code: r.code, log: logText(r) }, msg);
  assert.deepEqual(tree(roots.ours), tree(roots.real));
  const member = (root: string) => path.join(root, dataDir, 'member');
  const wal = (root: string) => path.join(root, walDir ?? path.join(dataDir, 'member', 'wal'));
  const [walFile] = fs.readdirSync(wal(roots.real));
  assert.ok(walFile?.endsWith('.wal'));
  assert.ok(fs.readFileSync(path.join(wal(roots.ours), walFile)).equals(fs.readFileSync(path.join(wal(roots.real), walFile))), `${label}: WAL segments differ`);
  const snapFile = fs.readdirSync(path.join(member(roots.real), 'snap')).find((n) => n.endsWith('.snap'))!;
  assert.ok(fs.readFileSync(path.join(member(roots.ours), 'snap', snapFile)).equals(fs.readFileSync(path.join(member(roots.real), 'snap', snapFile))), `${label}: snap files differ`);
  assert.equal(bboltContents(path.join(member(roots.ours), 'snap', 'db')), bboltContents(path.join(member(roots.real), 'snap', 'db')));
  return { real: path.join(roots.real, dataDir), ours: path.join(roots.ours, dataDir) };
}

interface Started {
  procs: RawEtcdProcess[];
  endpoints: string[];
}

/** Starts real etcd on restored data dirs (one per member), waits until `endpoint health` answers. */
async function startOn(members: Array<{ name: string; dataDir: string; walDir?: string; peerPort: number }>, token: string, binary = ETCD_BIN): Promise<Started> {
  const clientPorts = await getFreePorts(members.length);
  const cluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  const procs = members.map((m, i) =>
    spawnEtcdProcess(binary, [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      ...(m.walDir ? [`--wal-dir=${m.walDir}`] : []),
      `--listen-client-urls=http://127.0.0.1:${clientPorts[i]}`,
      `--advertise-client-urls=http://127.0.0.1:${clientPorts[i]}`,
      `--listen-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--initial-cluster=${cluster}`,
      `--initial-cluster-token=${token}`,
    ]),
  );
  const endpoints = clientPorts.map((p) => `127.0.0.1:${p}`);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await runCli(REAL, [`--endpoints=${endpoints.join(',')}`, 'endpoint', 'health'], { timeoutMs: 5000 });
    if (r.code === 0) break;
    if (Date.now() > deadline || procs.some((p) => p.exited())) {
      await Promise.all(procs.map((p) => p.kill()));
      assert.fail(`${binary} did not become healthy on the restored data dirs:\n${r.stderr}\n${procs.map((p) => p.log().slice(-3000)).join('\n---\n')}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  return { procs, endpoints };
}

/** The keys and revision a member serves (`get "" --prefix -w json`). */
async function contents(ep: string): Promise<{ revision: unknown; kvs: unknown }> {
  const g = await runCli(REAL, [`--endpoints=${ep}`, 'get', '', '--prefix', '-w', 'json']);
  assert.equal(g.code, 0, g.stderr);
  const j = JSON.parse(bytesToText(g.stdout)) as { header: Record<string, unknown>; kvs: unknown };
  return { revision: j.header.revision, kvs: j.kvs };
}

describe('snapshot restore writes etcd 3.4 data dirs', { skip: skipInServe('compares our etcdctl with the real one; no server of ours involved') }, () => {
  test('one member, default flags: the same files as etcdctl', async () => {
    await restoreBoth('defaults', [], 'default.etcd');
  });

  test('one member: the same files as etcdctl; real etcd and ours serve the snapshot\'s keys and revision on them', async () => {
    const [peerPort] = await getFreePorts(1);
    const url = `http://127.0.0.1:${peerPort}`;
    const { real, ours } = await restoreBoth('single', ['--name=m1', `--initial-cluster=m1=${url}`, `--initial-advertise-peer-urls=${url}`, '--data-dir=d'], 'd');
    // our server imports etcd's format (server/etcdserver/import-etcd.ts): give it a copy
    const oursForServe = `${ours}.serve`;
    fs.cpSync(ours, oursForServe, { recursive: true });
    const want = await contents(server.endpoint);
    for (const [binary, d] of [[ETCD_BIN, real], [ETCD_BIN, ours], [OUR_ETCD_BIN, oursForServe]] as const) {
      const s = await startOn([{ name: 'm1', dataDir: d, peerPort: peerPort! }], 'etcd-cluster', binary);
      try {
        assert.deepEqual(await contents(s.endpoints[0]!), want, `${binary} on ${d}`);
        const m = await runCli(REAL, [`--endpoints=${s.endpoints[0]}`, 'put', 'after', 'restore']);
        assert.equal(m.code, 0, m.stderr);
      } finally {
        await Promise.all(s.procs.map((p) => p.kill()));
      }
    }
  });

  test('three members (a token, one with --wal-dir): the same files as etcdctl for each; real etcd forms the cluster on ours', async () => {
    const ports = await getFreePorts(3);
    const names = ['m1', 'm2', 'm3'];
    const cluster = names.map((n, i) => `${n}=http://127.0.0.1:${ports[i]}`).join(',');
    const members: Array<{ name: string; dataDir: string; walDir?: string; peerPort: number }> = [];
    for (const [i, name] of names.entries()) {
      const walDir = name === 'm2' ? 'wal-m2' : undefined;
      const args = [`--name=${name}`, `--initial-cluster=${cluster}`, `--initial-advertise-peer-urls=http://127.0.0.1:${ports[i]}`, '--initial-cluster-token=restored-token', `--data-dir=${name}.dir`];
      if (walDir) args.push(`--wal-dir=${walDir}`);
      const { ours } = await restoreBoth(`three-${name}`, args, `${name}.dir`, walDir);
      members.push({ name, dataDir: ours, ...(walDir ? { walDir: path.join(path.dirname(ours), walDir) } : {}), peerPort: ports[i]! });
    }
    const want = await contents(server.endpoint);
    const s = await startOn(members, 'restored-token');
    try {
      for (const ep of s.endpoints) assert.deepEqual(await contents(ep), want, ep);
      const m = await runCli(REAL, [`--endpoints=${s.endpoints[0]}`, 'member', 'list']);
      assert.equal(m.code, 0, m.stderr);
      assert.equal(bytesToText(m.stdout).split('\n').filter((l) => l.includes(', started, ')).length, 3, bytesToText(m.stdout));
    } finally {
      await Promise.all(s.procs.map((p) => p.kill()));
    }
  });
});
