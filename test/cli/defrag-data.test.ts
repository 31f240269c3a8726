// `etcdctl defrag --data-dir <dir>`: offline defragmentation of a stopped member's
// backend (commands/defrag-data.ts), compared with the real etcdctl 3.4.23:
//
// - a real etcd data dir (keys written, most deleted, compacted: free pages), copied
//   twice: the real etcdctl and ours both print nothing and exit 0; ours leaves the
//   same buckets and keys in a file no larger than before, and real etcd starts on it
//   and serves the same keys;
// - our server's data dir (LMDB): the file shrinks, our server starts on it and serves
//   the same keys;
// - a data dir in use (real etcd running on it): ours prints etcdctl's waiting line
//   after 1 s and finishes once etcd has stopped;
// - errors, exit 1 with etcdctl's `Failed to defragment etcd data[...]`: a missing
//   backend, a file of neither format (deliberate difference: etcdctl panics, exit 2).
//
// Serve mode: skipped (no server of ours answers requests here; ours is only started on
// its own data dir).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ETCD_BIN, OUR_ETCD_BIN } from '../harness/etcd.js';
import { getFreePorts } from '../harness/ports.js';
import { killAllProcs, procStderr, startProc, stopProc, waitFor, type Proc } from '../harness/proc.js';
import { bytesToText, OURS, REAL, runCli } from '../harness/run.js';
import { skipInServe } from '../harness/target.js';
import { BoltReader } from '../../src/util/bbolt-reader.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'defrag-data-'));
});
after(() => {
  killAllProcs();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function startMember(binary: string, dataDir: string): Promise<{ p: Proc; ep: string }> {
  const [client, peer] = await getFreePorts(2);
  const c = `http://127.0.0.1:${client}`;
  const p = startProc(binary, [`--data-dir=${dataDir}`, `--listen-client-urls=${c}`, `--advertise-client-urls=${c}`, `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=default=http://127.0.0.1:${peer}`]);
  const ep = `127.0.0.1:${client}`;
  await waitFor(`${binary} on ${dataDir}`, async () => p.exited !== undefined || (await runCli(REAL, [`--endpoints=${ep}`, 'endpoint', 'health'], { timeoutMs: 3000 })).code === 0, 20_000);
  assert.equal(p.exited, undefined, procStderr(p));
  return { p, ep };
}

async function ctl(ep: string, ...args: string[]): Promise<string> {
  const r = await runCli(REAL, [`--endpoints=${ep}`, ...args]);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return bytesToText(r.stdout);
}

/** Writes 300 keys of 2 KiB, deletes most of them and compacts: the backend gets free pages. */
async function fragment(ep: string): Promise<string> {
  const big = 'x'.repeat(2048);
  for (let i = 0; i < 300; i++) await ctl(ep, 'put', `k${String(i).padStart(3, '0')}`, big);
  for (let i = 0; i < 290; i++) await ctl(ep, 'del', `k${String(i).padStart(3, '0')}`);
  const rev = (JSON.parse(await ctl(ep, 'get', 'k299', '-w', 'json')) as { header: { revision: string } }).header.revision;
  await ctl(ep, 'compaction', '--physical', String(rev));
  return ctl(ep, 'get', '', '--prefix', '-w', 'json').then((s) => JSON.stringify((JSON.parse(s) as { kvs: unknown }).kvs));
}

function bboltContents(file: string): string {
  const r = BoltReader.open(file);
  try {
    const lines: string[] = [];
    for (const b of r.rootEntries()) for (const e of r.entries(r.bucketRoot(b))) lines.push(`${b.key.toString()} ${e.key.toString('hex')} ${e.raw.toString('hex')}`);
    return lines.join('\n');
  } finally {
    r.close();
  }
}

const db = (d: string) => path.join(d, 'member', 'snap', 'db');

describe('defrag --data-dir', { skip: skipInServe('offline tool; no server answers requests') }, () => {
  test('a real etcd data dir: like etcdctl; real etcd serves the same keys after ours', async () => {
    const src = path.join(dir, 'real');
    const m = await startMember(ETCD_BIN, src);
    let keys: string;
    try {
      keys = await fragment(m.ep);
    } finally {
      await stopProc(m.p, 'SIGTERM');
    }
    const [a, b] = [path.join(dir, 'real-a'), path.join(dir, 'real-b')];
    fs.cpSync(src, a, { recursive: true });
    fs.cpSync(src, b, { recursive: true });
    const [r, o] = await Promise.all([runCli(REAL, ['defrag', '--data-dir', a]), runCli(OURS, ['defrag', '--data-dir', b])]);
    assert.deepEqual({ out: bytesToText(o.stdout), err: o.stderr, code: o.code }, { out: bytesToText(r.stdout), err: r.stderr, code: r.code });
    assert.equal(o.code, 0);
    assert.ok(fs.statSync(db(b)).size < fs.statSync(db(src)).size, `ours ${fs.statSync(db(b)).size} < before ${fs.statSync(db(src)).size}`);
    assert.equal(fs.statSync(db(b)).mode & 0o777, 0o600);
    assert.equal(bboltContents(db(b)), bboltContents(db(src)));
    const again = await startMember(ETCD_BIN, b);
    try {
      assert.equal(JSON.stringify((JSON.parse(await ctl(again.ep, 'get', '', '--prefix', '-w', 'json')) as { kvs: unknown }).kvs), keys!);
    } finally {
      await stopProc(again.p, 'SIGTERM');
    }
  });

  test('our server\'s data dir (LMDB) shrinks; our server serves the same keys after', async () => {
    const d = path.join(dir, 'ours');
    const m = await startMember(OUR_ETCD_BIN, d);
    let keys: string;
    try {
      keys = await fragment(m.ep);
    } finally {
      await stopProc(m.p, 'SIGTERM');
    }
    const before = fs.statSync(db(d)).size;
    const o = await runCli(OURS, ['defrag', '--data-dir', d]);
    assert.deepEqual({ out: bytesToText(o.stdout), err: o.stderr, code: o.code }, { out: '', err: '', code: 0 });
    assert.ok(fs.statSync(db(d)).size < before, `after ${fs.statSync(db(d)).size} < before ${before}`);
    const again = await startMember(OUR_ETCD_BIN, d);
    try {
      assert.equal(JSON.stringify((JSON.parse(await ctl(again.ep, 'get', '', '--prefix', '-w', 'json')) as { kvs: unknown }).kvs), keys!);
    } finally {
      await stopProc(again.p, 'SIGTERM');
    }
  });

  test('a data dir in use: etcdctl\'s waiting line after 1 s, done once etcd stopped', async () => {
    const d = path.join(dir, 'busy');
    const m = await startMember(ETCD_BIN, d);
    const p = startProc(OURS, ['defrag', '--data-dir', d]);
    try {
      await waitFor('the waiting line', () => procStderr(p).includes('waiting for etcd to close'), 10_000);
      assert.equal(procStderr(p), `waiting for etcd to close and release its lock on "${db(d)}". To defrag a running etcd instance, omit --data-dir.\n`);
      assert.equal(p.exited, undefined);
    } finally {
      await stopProc(m.p, 'SIGTERM');
    }
    await waitFor('defrag to finish', () => p.exited !== undefined, 10_000);
    assert.deepEqual(p.exited, { code: 0, signal: null }, procStderr(p));
  });

  test('errors: a missing backend, a file of neither format', async () => {
    const missing = path.join(dir, 'none');
    const o = await runCli(OURS, ['defrag', '--data-dir', missing]);
    assert.deepEqual({ err: o.stderr, code: o.code }, { err: `Failed to defragment etcd data[${missing}] (open ${db(missing)}: no such file or directory)\n`, code: 1 });
    const junk = path.join(dir, 'junk');
    fs.mkdirSync(path.join(junk, 'member', 'snap'), { recursive: true });
    fs.writeFileSync(db(junk), 'not a database\n'.repeat(1000));
    const j = await runCli(OURS, ['defrag', '--data-dir', junk]);
    assert.equal(j.code, 1);
    assert.match(j.stderr, /^Failed to defragment etcd data\[.*\] \(.*invalid database/);
    assert.equal(fs.readFileSync(db(junk), 'utf8'), 'not a database\n'.repeat(1000), 'the file is unchanged');
    // etcdctl 3.4 panics on both (exit 2): our documented difference
    const r = await runCli(REAL, ['defrag', '--data-dir', missing]);
    assert.equal(r.code, 2);
  });
});
