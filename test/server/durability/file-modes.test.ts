// Permissions of the data dir, as etcd 3.4.23 sets them, on the real etcd and on ours.
//
// 1. A fresh data dir (not existing before the start), some writes with
//    --snapshot-count=3 so that raft snapshot files exist too: every directory and file
//    is stat-ed on both servers and the modes are compared kind by kind (the data dir,
//    member, member/snap, member/wal, WAL segments, .snap files, the backend db). The
//    expectations come from the real etcd: dirs 0700 (pkg/fileutil PrivateDirMode), WAL
//    segments and db 0600 (PrivateFileMode, bolt.Open(..., 0600)), .snap files 0666 with
//    the umask applied (WriteAndSyncFile(..., 0666)). Files only one server has (etcd's
//    preallocated WAL `0.tmp`, our LMDB `db-lock`) must still be private (no access for
//    group or others).
// 2. An existing data dir with mode 0755, and later a member/snap dir with 0750: both
//    servers start, keep the modes as they are and warn with pkg/fileutil's
//    CheckDirPermission text, once per checked directory and start.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { goFileModeString, touchDirAll } from '../../../src/server/etcdserver/bootstrap.js';
import { runCli, REAL } from '../../harness/run.js';
import { serverTargets, ServerUnderTest, type ServerTarget } from '../../harness/server-under-test.js';

/** The kind of a data dir entry, so that real and ours compare despite different file names. */
function kindOf(rel: string): string {
  const base = path.basename(rel);
  if (rel === '.') return 'data dir';
  if (/^[0-9a-f]{16}-[0-9a-f]{16}\.wal$/.test(base)) return `${path.dirname(rel)}/<segment>.wal`;
  if (/^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/.test(base)) return `${path.dirname(rel)}/<term>-<index>.snap`;
  return rel;
}

/** Every entry under `dir` (itself included): kind → set of permission bits seen. */
function modesOf(dir: string): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    const st = fs.statSync(abs);
    const k = kindOf(rel);
    if (!out.has(k)) out.set(k, new Set());
    out.get(k)!.add(st.mode & 0o7777);
    if (st.isDirectory()) for (const e of fs.readdirSync(abs)) walk(rel === '.' ? e : path.join(rel, e));
  };
  walk('.');
  return out;
}

const fmt = (m: Map<string, Set<number>>) =>
  [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k} ${[...v].map((x) => x.toString(8)).join('/')}`).join('\n');

async function ctl(sut: ServerUnderTest, args: string[]): Promise<void> {
  const r = await runCli(REAL, [`--endpoints=${sut.endpoint}`, ...args]);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
}

/** Starts `target` on a data dir that does not exist yet, writes enough for two raft snapshots, stops it, returns the modes. */
async function freshDataDirModes(target: ServerTarget): Promise<Map<string, Set<number>>> {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), `modes-${target.name}-`));
  const dataDir = path.join(parent, 'data');
  const sut = await ServerUnderTest.start(target, { dataDir, extraArgs: ['--snapshot-count=3'] });
  try {
    for (let i = 0; i < 10; i++) await ctl(sut, ['put', `k${i}`, 'v']);
    const snapDir = path.join(dataDir, 'member', 'snap');
    const deadline = Date.now() + 30_000;
    while (!fs.readdirSync(snapDir).some((f) => f.endsWith('.snap'))) {
      assert.ok(Date.now() < deadline, `no .snap file in ${snapDir}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await sut.kill9();
    return modesOf(dataDir);
  } finally {
    await sut.stop();
    fs.rmSync(parent, { recursive: true, force: true });
  }
}

describe('data dir file modes (etcd pkg/fileutil)', () => {
  test('a fresh data dir: same modes as etcd for every kind of file and directory', { timeout: 120_000 }, async () => {
    const targets = serverTargets();
    const umask = process.umask();
    const got = new Map<string, Map<string, Set<number>>>();
    for (const t of targets) got.set(t.name, await freshDataDirModes(t));
    const real = got.get('real')!;
    // the golden values, as measured on etcd 3.4.23 (so that this test cannot pass vacuously)
    const expected: [string, number][] = [
      ['data dir', 0o700],
      ['member', 0o700],
      ['member/snap', 0o700],
      ['member/wal', 0o700],
      ['member/wal/<segment>.wal', 0o600],
      ['member/snap/db', 0o600],
      ['member/snap/<term>-<index>.snap', 0o666 & ~umask],
    ];
    for (const [k, m] of expected) assert.deepEqual([...(real.get(k) ?? [])], [m], `real etcd: ${k}\n${fmt(real)}`);
    const ours = got.get('ours');
    if (!ours) return;
    const problems: string[] = [];
    for (const [k, modes] of real) {
      const o = ours.get(k);
      if (o && [...o].join() !== [...modes].join()) problems.push(`${k}: ours ${[...o].map((x) => x.toString(8))}, etcd ${[...modes].map((x) => x.toString(8))}`);
    }
    for (const [k] of expected) if (!ours.has(k)) problems.push(`${k}: missing in ours`);
    for (const [k, modes] of ours) {
      if (real.has(k)) continue;
      for (const m of modes) if (m & 0o077) problems.push(`${k} (ours only): mode ${m.toString(8)} gives access to group/others`);
    }
    for (const [k, modes] of real) {
      if (ours.has(k)) continue;
      for (const m of modes) assert.equal(m & 0o077, 0, `${k} (etcd only): mode ${m.toString(8)}`);
    }
    assert.deepEqual(problems, [], `--- real ---\n${fmt(real)}\n--- ours ---\n${fmt(ours)}`);
  });

  for (const target of serverTargets()) {
    test(`an existing data dir with wider permissions: kept, with etcd's warning (${target.name})`, { timeout: 120_000 }, async () => {
      const parent = fs.mkdtempSync(path.join(os.tmpdir(), `modes-${target.name}-`));
      const dataDir = path.join(parent, 'data');
      fs.mkdirSync(dataDir);
      fs.chmodSync(dataDir, 0o755);
      const warning = (dir: string, mode: string) =>
        `W | pkg/fileutil: check file permission: directory "${dir}" exist, but the permission is "${mode}". ` +
        'The recommended permission is "-rwx------" to prevent possible unprivileged access to the data.\n';
      const count = (log: string, line: string) => log.split(line).length - 1;
      const sut = await ServerUnderTest.start(target, { dataDir });
      try {
        await ctl(sut, ['put', 'k', 'v']);
        let log = sut.log();
        assert.equal(count(log, warning(dataDir, 'drwxr-xr-x')), 1, `first start, data dir 0755:\n${log}`);
        assert.equal(log.split('check file permission').length - 1, 1, `one warning only:\n${log}`);
        assert.equal(fs.statSync(dataDir).mode & 0o777, 0o755, 'the data dir mode is left alone');
        assert.equal(fs.statSync(path.join(dataDir, 'member')).mode & 0o777, 0o700);
        assert.ok(!fs.existsSync(path.join(dataDir, '.touch')), 'the writability probe is removed');

        await sut.kill9();
        const snapDir = path.join(dataDir, 'member', 'snap');
        fs.chmodSync(snapDir, 0o750);
        await sut.restart();
        log = sut.log().slice(sut.log().lastIndexOf('--- start 2:'));
        assert.equal(count(log, warning(dataDir, 'drwxr-xr-x')), 1, `restart:\n${log}`);
        assert.equal(count(log, warning(snapDir, 'drwxr-x---')), 1, `restart, member/snap 0750:\n${log}`);
        assert.equal(log.split('check file permission').length - 1, 2, `two warnings only:\n${log}`);
        assert.equal(fs.statSync(snapDir).mode & 0o777, 0o750);
      } finally {
        await sut.stop();
        fs.rmSync(parent, { recursive: true, force: true });
      }
    });
  }
});

describe('goFileModeString (Go os.FileMode.String)', () => {
  test('type and special letters in Go order, then rwx', () => {
    assert.equal(goFileModeString(0o40755, true), 'drwxr-xr-x');
    assert.equal(goFileModeString(0o700, false), '-rwx------');
    assert.equal(goFileModeString(0o41777, true), 'dtrwxrwxrwx');
    assert.equal(goFileModeString(0o46750, true), 'dugrwxr-x---');
    assert.equal(goFileModeString(0o100644, false), '-rw-r--r--');
  });

  test('touchDirAll creates missing dirs 0700, warns once for a wider existing dir, leaves no probe file', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'touch-'));
    try {
      const warnings: string[] = [];
      const deep = path.join(parent, 'a', 'b');
      touchDirAll(deep, (t) => warnings.push(t));
      assert.equal(fs.statSync(deep).mode & 0o777, 0o700);
      assert.equal(fs.statSync(path.join(parent, 'a')).mode & 0o777, 0o700);
      assert.equal(warnings.length, 0);
      fs.chmodSync(deep, 0o711);
      touchDirAll(deep, (t) => warnings.push(t));
      assert.deepEqual(warnings, [
        `check file permission: directory "${deep}" exist, but the permission is "drwx--x--x". The recommended permission is "-rwx------" to prevent possible unprivileged access to the data.`,
      ]);
      assert.deepEqual(fs.readdirSync(deep), []);
      const file = path.join(parent, 'f');
      fs.writeFileSync(file, '');
      assert.throws(() => touchDirAll(path.join(file, 'x'), () => undefined), { message: `mkdir ${path.join(file, 'x')}: not a directory` });
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});
