// `etcdctl migrate` (v2 store keys of a stopped member written into its v3 backend),
// compared with the real etcdctl 3.4.23 on copies of the same data dirs, made by a real
// etcd 3.4.23 (--enable-v2) that the test starts and stops (SIGTERM):
//
// - "plain": no raft snapshot; v2 directories, nested keys, a key with a TTL, a hidden
//   key, an empty value, in-order keys, a delete, a compare-and-swap, an update, a
//   directory with a TTL, odd characters; v3 keys written first, so that one v2 key's
//   index equals a v3 key's revision (etcdctl overwrites that v3 key, and so do we);
// - "snapshots": --snapshot-count 8, a restart (member attributes published again),
//   more keys after the newest snapshot, a key whose TTL expires (SYNC) before the stop;
// - "v3only": no v2 key at all (`no v2 keys to migrate`).
//
// Each case runs both etcdctls with the same relative paths (one copy per side, in
// `real/` and `ours/`) and compares stdout, stderr and exit code, then the backends'
// `key` and `meta` buckets (read with our bbolt reader). For "plain" and "snapshots"
// real etcd is started on both migrated dirs and `get "" --prefix -w json` compared
// (the header's raft_term left out: it counts elections, not data).
// Also: --no-ttl, --wal-dir, an external transformer (the JSON it is sent, its frames,
// a failing one, a missing one), bad data dirs, a member still running (both wait for
// its lock, then finish), and a backend file that is not bbolt: etcdctl panics (exit 2),
// we print an Error line (exit 1) with the same stdout before it.
//
// Serve mode: skipped (no server of ours is involved).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_ADVERTISE_PEER_URL, ETCD_BIN } from '../harness/etcd.js';
import { getFreePorts } from '../harness/ports.js';
import { killAllProcs, startProc, stopProc, waitFor, type Proc } from '../harness/proc.js';
import { bytesToText, cleanEnv, OURS, REAL, runCli, type RunResult } from '../harness/run.js';
import { skipInServe } from '../harness/target.js';
import { BoltReader } from '../../src/util/bbolt-reader.js';

const SKIP = skipInServe('compares the two etcdctls on data dirs; no server of ours involved');

let tmp: string;
/** where the source data dirs are made */
let sources: string;

/** A running real etcd on `dataDir` (member m1, v2 API on). */
interface Running {
  proc: Proc;
  endpoint: string;
}

async function startEtcdOn(dataDir: string, extra: string[] = []): Promise<Running> {
  const [cp, pp] = await getFreePorts(2);
  const endpoint = `127.0.0.1:${cp}`;
  const proc = startProc(ETCD_BIN, [
    '--name=m1', `--data-dir=${dataDir}`, '--enable-v2',
    `--listen-client-urls=http://${endpoint}`, `--advertise-client-urls=http://${endpoint}`,
    `--listen-peer-urls=http://127.0.0.1:${pp}`, `--initial-advertise-peer-urls=${DEFAULT_ADVERTISE_PEER_URL}`,
    `--initial-cluster=m1=${DEFAULT_ADVERTISE_PEER_URL}`, ...extra,
  ]);
  await waitFor(`etcd on ${dataDir} to be healthy`, async () => {
    if (proc.exited) assert.fail(`etcd on ${dataDir} exited: ${Buffer.concat(proc.err).toString().slice(-3000)}`);
    return (await runCli(REAL, [`--endpoints=${endpoint}`, 'endpoint', 'health'], { timeoutMs: 5000 })).code === 0;
  }, 30_000);
  return { proc, endpoint };
}

/** Runs the real etcdctl against `r` (v2 with `v2`), failing on a non-zero exit. */
async function ctl(r: Running, args: string[], v2 = false): Promise<string> {
  const res = await runCli(REAL, [`--endpoints=${v2 ? "http://" : ""}${r.endpoint}`, ...args], { env: v2 ? { ETCDCTL_API: '2' } : {} });
  assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
  return bytesToText(res.stdout);
}

const v2 = (r: Running, ...args: string[]) => ctl(r, args, true);

async function makePlain(dir: string): Promise<void> {
  const r = await startEtcdOn(dir);
  try {
    for (const [k, v] of [['v3a', '1'], ['v3b', '2'], ['v3c', '3']] as const) await ctl(r, ['put', k, v]);
    await v2(r, 'set', '/a', '1');
    await v2(r, 'mkdir', '/dir1');
    await v2(r, 'set', '/dir2/sub/k', 'v<&>');
    await v2(r, 'set', '/ttl', 'x', '--ttl', '900');
    await v2(r, 'set', '/_hidden', 'h');
    await v2(r, 'set', '/a', '2');
    await v2(r, 'set', '/e', '');
    await v2(r, 'mk', '--in-order', '/q', 'first');
    await v2(r, 'mk', '--in-order', '/q', 'second');
    await v2(r, 'set', '/gone', 'x');
    await v2(r, 'rm', '/gone');
    await v2(r, 'set', '/cas', 'old');
    await v2(r, 'set', '/cas', 'new', '--swap-with-value', 'old');
    await v2(r, 'set', '/upd', 'u1');
    await v2(r, 'update', '/upd', 'u2');
    await v2(r, 'setdir', '/tdir', '--ttl', '900');
    await v2(r, 'set', '/tdir/in', 'z');
    await v2(r, 'set', '/we ird/ké"y', 'v\\ue\n');
    await ctl(r, ['put', 'v3d', '4']);
  } finally {
    await stopProc(r.proc);
  }
}

async function makeSnapshots(dir: string): Promise<void> {
  const snap = ['--snapshot-count=8'];
  let r = await startEtcdOn(dir, snap);
  try {
    for (let i = 0; i < 12; i++) await v2(r, 'set', `/k${i}`, `v${i}`);
    await ctl(r, ['put', 'v3', 'x']);
    await v2(r, 'mkdir', '/d');
    await v2(r, 'rmdir', '/d');
    await v2(r, 'set', '/long', 'y', '--ttl', '900');
  } finally {
    await stopProc(r.proc);
  }
  r = await startEtcdOn(dir, snap);
  try {
    for (let i = 12; i < 15; i++) await v2(r, 'set', `/k${i}`, `v${i}`);
    await v2(r, 'set', '/short', 's', '--ttl', '1');
    await v2(r, 'rm', '/k3');
    // the leader expires /short with a SYNC entry once its second is over
    await waitFor('/short to expire', async () => (await runCli(REAL, [`--endpoints=http://${r.endpoint}`, "get", "/short"], { env: { ETCDCTL_API: '2' } })).code !== 0);
    await v2(r, 'set', '/after', 'a');
  } finally {
    await stopProc(r.proc);
  }
  assert.ok(fs.readdirSync(path.join(dir, 'member', 'snap')).some((n) => n.endsWith('.snap')), 'etcd made a raft snapshot');
}

async function makeV3Only(dir: string): Promise<void> {
  const r = await startEtcdOn(dir);
  try {
    await ctl(r, ['put', 'only', 'v3']);
  } finally {
    await stopProc(r.proc);
  }
}

/** The transformer used by the tests: a Node script (see TRANSFORMER_SOURCE). */
let transformer: string;

/**
 * A transformer that appends its input to $TR_DUMP, and for each key sends
 * {key: "/x"+key, value: value+"|"+(ttl ? "ttl" : ""), revisions as given, version 1,
 * lease 7 for keys with a TTL}; $TR_EXIT is its exit status, $TR_GARBAGE adds a frame
 * that does not decode, $TR_LINGER_MS keeps it running that long after writing.
 */
const TRANSFORMER_SOURCE = `
const fs = require('node:fs');
const input = fs.readFileSync(0, 'utf8');
if (process.env.TR_DUMP) fs.appendFileSync(process.env.TR_DUMP, input);
const objs = []; let depth = 0, start = -1, inStr = false, esc = false;
for (let i = 0; i < input.length; i++) {
  const c = input[i];
  if (inStr) { if (esc) esc = false; else if (c === '\\\\') esc = true; else if (c === '"') inStr = false; continue; }
  if (c === '"') inStr = true;
  else if (c === '{') { if (depth++ === 0) start = i; }
  else if (c === '}') { if (--depth === 0) objs.push(JSON.parse(input.slice(start, i + 1))); }
}
const varint = (n) => { const out = []; n = BigInt(n); do { let b = Number(n & 0x7fn); n >>= 7n; if (n) b |= 0x80; out.push(b); } while (n); return Buffer.from(out); };
const num = (f, v) => Buffer.concat([varint(f << 3), varint(v)]);
const bytes = (f, b) => Buffer.concat([varint((f << 3) | 2), varint(b.length), b]);
const frames = [];
for (const n of objs) {
  if (n.dir) continue;
  const kv = Buffer.concat([bytes(1, Buffer.from('/x' + n.key)), num(2, n.createdIndex), num(3, n.modifiedIndex), num(4, 1),
    bytes(5, Buffer.from(n.value + '|' + (n.ttl ? 'ttl' : ''))), ...(n.ttl ? [num(6, 7)] : [])]);
  const len = Buffer.alloc(8); len.writeBigInt64LE(BigInt(kv.length));
  frames.push(len, kv);
}
if (process.env.TR_GARBAGE) frames.push(Buffer.from([5, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]));
if (frames.length > 0) process.stdout.write(Buffer.concat(frames));
process.exitCode = Number(process.env.TR_EXIT || 0);
// etcdctl's cmd.Wait closes the pipe it reads the frames from once the transformer has
// exited, whether read or not: lingering lets etcdctl read them all
setTimeout(() => {}, Number(process.env.TR_LINGER_MS || 0));
`;

before(async () => {
  if (SKIP) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'migrate-test-'));
  sources = path.join(tmp, 'sources');
  for (const side of ['real', 'ours']) fs.mkdirSync(path.join(tmp, side));
  fs.mkdirSync(sources);
  transformer = path.join(tmp, 'transformer.js');
  fs.writeFileSync(transformer, `#!${process.execPath}\n${TRANSFORMER_SOURCE}`, { mode: 0o755 });
  await makePlain(path.join(sources, 'plain'));
  await makeSnapshots(path.join(sources, 'snapshots'));
  await makeV3Only(path.join(sources, 'v3only'));
});

after(() => {
  killAllProcs();
  if (tmp && !process.env.MIGRATE_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Copies source `name` to `<side>/<as>` for both sides. */
function copyToSides(name: string, as: string): void {
  for (const side of ['real', 'ours']) {
    const dst = path.join(tmp, side, as);
    fs.rmSync(dst, { recursive: true, force: true });
    fs.cpSync(path.join(sources, name), dst, { recursive: true });
  }
}

/** Both etcdctls' `migrate args`, each in its side's directory. */
async function runBoth(args: string[], env: Record<string, string> = {}): Promise<{ real: RunResult; ours: RunResult }> {
  const run = (bin: string, side: string) => runCli(bin, ['migrate', ...args], { cwd: path.join(tmp, side), env, timeoutMs: 60_000 });
  return { real: await run(REAL, 'real'), ours: await run(OURS, 'ours') };
}

function assertSameRun(r: { real: RunResult; ours: RunResult }, what: string): void {
  assert.equal(bytesToText(r.ours.stdout), bytesToText(r.real.stdout), `${what}: stdout`);
  assert.equal(r.ours.stderr, r.real.stderr, `${what}: stderr`);
  assert.equal(r.ours.code, r.real.code, `${what}: exit code`);
}

/** The `key` and `meta` buckets of a backend, one hex `bucket key = value` line each. */
function backendKeys(dataDir: string): string {
  const r = BoltReader.open(path.join(dataDir, 'member', 'snap', 'db'));
  try {
    const lines: string[] = [];
    const tops = r.topBuckets();
    for (const b of ['key', 'meta']) {
      const top = tops.get(b);
      if (top) for (const e of r.entries(r.bucketRoot(top))) lines.push(`${b} ${e.key.toString('hex')} = ${e.value?.toString('hex')}`);
    }
    return lines.join('\n');
  } finally {
    r.close();
  }
}

function assertSameBackend(as: string): void {
  assert.equal(backendKeys(path.join(tmp, 'ours', as)), backendKeys(path.join(tmp, 'real', as)), `${as}: backend key and meta buckets`);
}

/** `get "" --prefix -w json` from real etcd started on `<side>/<as>`, raft_term left out. */
async function keysServed(side: string, as: string): Promise<unknown> {
  const r = await startEtcdOn(path.join(tmp, side, as));
  try {
    const j = JSON.parse(await ctl(r, ['get', '', '--prefix', '-w', 'json'])) as { header: Record<string, unknown> };
    delete j.header['raft_term'];
    return j;
  } finally {
    await stopProc(r.proc);
  }
}

describe('etcdctl migrate', { skip: SKIP }, () => {
  test('plain: output, backend, and the keys real etcd then serves', async () => {
    copyToSides('plain', 'p');
    const r = await runBoth(['--data-dir', 'p']);
    assertSameRun(r, 'migrate plain');
    assert.equal(r.real.code, 0);
    assert.match(bytesToText(r.real.stdout), /^using default transformer\n[\s\S]*finished transforming keys\n$/);
    assertSameBackend('p');
    const served = await keysServed('ours', 'p');
    assert.deepEqual(served, await keysServed('real', 'p'));
    const keys = (served as { kvs: Array<{ key: string }> }).kvs.map((kv) => Buffer.from(kv.key, 'base64').toString());
    // v2 keys (not directories, not hidden) with their /1 prefix cut; the v3 key whose
    // revision a v2 key's index took is gone, as with etcdctl
    assert.ok(keys.includes('/dir2/sub/k') && keys.includes('/ttl') && keys.includes('/we ird/ké"y') && keys.includes('v3d'), keys.join(' '));
    assert.ok(!keys.includes('/dir1') && !keys.includes('/_hidden') && !keys.includes('/gone'), keys.join(' '));
  });

  test('snapshots: newest raft snapshot plus the WAL after it', async () => {
    copyToSides('snapshots', 's');
    const r = await runBoth(['--data-dir', 's']);
    assertSameRun(r, 'migrate snapshots');
    assert.match(bytesToText(r.real.stdout), /recovered\/added member from store/);
    assertSameBackend('s');
    assert.deepEqual(await keysServed('ours', 's'), await keysServed('real', 's'));
  });

  test('--no-ttl leaves out keys with a TTL; --wal-dir names the WAL', async () => {
    copyToSides('plain', 'n');
    assertSameRun(await runBoth(['--data-dir', 'n', '--no-ttl']), 'migrate --no-ttl');
    assertSameBackend('n');
    assert.doesNotMatch(backendKeys(path.join(tmp, 'ours', 'n')), new RegExp(Buffer.from('/ttl').toString('hex')));
    copyToSides('snapshots', 'w');
    assertSameRun(await runBoth(['--data-dir', 'w', '--wal-dir', 'w/member/wal', '--no-ttl=false']), 'migrate --wal-dir');
    assertSameBackend('w');
  });

  test('no v2 keys', async () => {
    copyToSides('v3only', 'v3');
    const r = await runBoth(['--data-dir', 'v3']);
    assertSameRun(r, 'migrate v3only');
    assert.match(bytesToText(r.real.stdout), /no v2 keys to migrate\n$/);
    assertSameBackend('v3');
    const t = await runBoth(['--data-dir', 'v3', '--transformer', transformer]);
    assertSameRun(t, 'migrate v3only --transformer');
    assert.match(bytesToText(t.real.stdout), /no v2 keys to migrate\n$/);
  });

  test('an external transformer: its input, its frames, its failure', async () => {
    const dumps = (side: string) => path.join(tmp, side, 'dump.json');
    const ttlFree = (s: string) => s.replace(/"ttl":\d+/g, '"ttl":N');
    // etcdctl loses the frames it has not read when the transformer exits (its cmd.Wait
    // closes the pipe): the transformers that succeed linger a second so that etcdctl
    // reads everything, as we always do
    for (const [as, env, flags] of [
      ['t1', { TR_LINGER_MS: '1000' }, []],
      ['t2', { TR_GARBAGE: '1', TR_LINGER_MS: '1000' }, ['--no-ttl']],
      ['t3', { TR_EXIT: '3' }, []],
    ] as const) {
      copyToSides('snapshots', as);
      for (const side of ['real', 'ours']) fs.rmSync(dumps(side), { force: true });
      const run = (bin: string, side: string) =>
        runCli(bin, ['migrate', '--data-dir', as, '--transformer', transformer, ...flags], { cwd: path.join(tmp, side), env: { ...env, TR_DUMP: dumps(side) }, timeoutMs: 60_000 });
      const r = { real: await run(REAL, 'real'), ours: await run(OURS, 'ours') };
      assertSameRun(r, `transformer ${as}`);
      // a failed transformer: we leave the backend as it was; etcdctl's batch of the keys
      // read so far reaches the file if its 100 ms commit timer fired before it exited
      if (as === 't3') assert.equal(backendKeys(path.join(tmp, 'ours', as)), backendKeys(path.join(sources, 'snapshots')));
      else assertSameBackend(as);
      const sent = fs.readFileSync(dumps('real'), 'utf8');
      assert.equal(ttlFree(fs.readFileSync(dumps('ours'), 'utf8')), ttlFree(sent), `${as}: the JSON sent to the transformer`);
      assert.match(sent, /^\{"key":"\/","dir":true/);
      if (as === 't3') assert.match(bytesToText(r.real.stdout), /failed to transform keys\n$/);
    }
    for (const t of ['no-such-transformer', './no-such-transformer', 'transformer.js']) {
      // transformer.js without a slash is not looked up in the working directory
      assertSameRun(await runBoth(['--data-dir', 't1', '--transformer', t]), `transformer ${t}`);
    }
    fs.writeFileSync(path.join(tmp, 'real', 'noexec'), '');
    fs.writeFileSync(path.join(tmp, 'ours', 'noexec'), '');
    assertSameRun(await runBoth(['--data-dir', 't1', '--transformer', './noexec']), 'transformer without x bit');
  });

  test('bad data dirs: etcd errors with etcdctl texts', async () => {
    for (const side of ['real', 'ours']) {
      const root = path.join(tmp, side);
      fs.mkdirSync(path.join(root, 'nowal', 'member', 'snap'), { recursive: true });
      fs.mkdirSync(path.join(root, 'emptywal', 'member', 'wal'), { recursive: true });
      fs.mkdirSync(path.join(root, 'emptywal', 'member', 'snap'), { recursive: true });
      fs.writeFileSync(path.join(root, 'afile'), '');
      fs.mkdirSync(path.join(root, 'snapfile', 'member'), { recursive: true });
      fs.writeFileSync(path.join(root, 'snapfile', 'member', 'snap'), '');
    }
    for (const args of [
      [], ['--data-dir', 'missing'], ['--data-dir', 'nowal'], ['--data-dir', 'emptywal'], ['--data-dir', 'afile'],
      ['--data-dir', 'snapfile'], ['--data-dir', 'emptywal', '--wal-dir', 'missing-wal'],
    ]) {
      const r = await runBoth(args);
      assertSameRun(r, `migrate ${args.join(' ')}`);
      assert.equal(r.real.code, 1);
    }
  });

  test('a member still running: both wait for its lock, then finish', async () => {
    copyToSides('plain', 'running');
    const results: Record<string, { out: string; err: string; code: number | null }> = {};
    for (const [side, bin] of [['real', REAL], ['ours', OURS]] as const) {
      const etcd = await startEtcdOn(path.join(tmp, side, 'running'));
      const child = spawn(bin, ['migrate', '--data-dir', 'running'], { cwd: path.join(tmp, side), env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const done = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      try {
        await waitFor(`${side} migrate to wait for the lock`, () => Buffer.concat(err).toString().includes('waiting for etcd'));
      } finally {
        await stopProc(etcd.proc);
      }
      let code: number | null = null;
      await waitFor(`${side} migrate to finish`, async () => {
        code = await Promise.race([done, new Promise<null>((r) => setTimeout(() => r(null), 100))]);
        return code !== null;
      }, 30_000).finally(() => child.kill('SIGKILL'));
      results[side] = { out: bytesToText(Buffer.concat(out)), err: Buffer.concat(err).toString(), code };
    }
    assert.deepEqual(results['ours'], results['real']);
    assert.equal(results['real']!.err, 'waiting for etcd to close and release its lock on "running/member/snap/db"\n');
    assert.match(results['real']!.out, /finished transforming keys\n$/);
  });

  test('a backend that is not bbolt: etcdctl panics, we report it', async () => {
    copyToSides('plain', 'baddb');
    for (const side of ['real', 'ours']) fs.writeFileSync(path.join(tmp, side, 'baddb', 'member', 'snap', 'db'), Buffer.alloc(8192, 7));
    const r = await runBoth(['--data-dir', 'baddb']);
    assert.equal(bytesToText(r.ours.stdout), bytesToText(r.real.stdout));
    assert.equal(r.real.code, 2);
    assert.match(r.real.stderr, /panic: cannot open database at baddb\/member\/snap\/db \(invalid database\)/);
    assert.equal(r.ours.code, 1);
    assert.equal(r.ours.stderr, 'Error: cannot open database at baddb/member/snap/db (invalid database)\n');
  });

  test('migrate --help', async () => {
    const args = ['migrate', '--help'];
    const real = await runCli(REAL, args);
    const ours = await runCli(OURS, args);
    assert.equal(bytesToText(ours.stdout), bytesToText(real.stdout));
    assert.equal(ours.code, real.code);
  });
});
