// The LMDB backend: the shared conformance suite (reopen = close and open the file
// again), its own rules, and a crash test (a child process committing batches is
// SIGKILLed; every batch it reported committed must be there after reopening).
//
// This file is also the crash test's child: run with LMDB_CRASH_CHILD=<db path>
// it commits batches forever and prints each batch number once commit() returned.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendError } from '../../../src/server/backend/backend.js';
import { LmdbBackend } from '../../../src/server/backend/lmdb-backend.js';
import { runBackendSuite } from './backend.case.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string): Uint8Array => enc.encode(s);
const KEYS_PER_BATCH = 50;

/** Key `i` of crash-test batch `n`: 8-byte big-endian batch number, then `i`. */
function batchKey(n: number, i: number): Uint8Array {
  const k = new Uint8Array(10);
  new DataView(k.buffer).setBigUint64(0, BigInt(n));
  new DataView(k.buffer).setUint16(8, i);
  return k;
}

/** Child mode: commit batches until killed, reporting each durable batch on stdout. */
function crashChild(path: string): void {
  const be = new LmdbBackend({ path });
  const tx = be.batchTx();
  tx.lock();
  tx.createBucket('batches');
  tx.createBucket('meta');
  tx.unlock();
  be.forceCommit();
  const payload = new Uint8Array(200).fill(7);
  for (let n = 1; ; n++) {
    tx.lock();
    for (let i = 0; i < KEYS_PER_BATCH; i++) tx.put('batches', batchKey(n, i), payload);
    tx.put('meta', b('last'), b(String(n)));
    tx.unlock();
    be.forceCommit();
    writeSync(1, `${n}\n`);
  }
}

const childPath = process.env.LMDB_CRASH_CHILD;
if (childPath) {
  crashChild(childPath);
} else {
  const dirs = new Map<LmdbBackend, string>();
  /** A new backend in a fresh temporary directory. */
  const create = (): LmdbBackend => {
    const dir = mkdtempSync(join(tmpdir(), 'lmdb-backend-'));
    const be = new LmdbBackend({ path: join(dir, 'member', 'snap', 'db') });
    dirs.set(be, dir);
    return be;
  };
  const dispose = (be: LmdbBackend): void => {
    be.close();
    const dir = dirs.get(be);
    dirs.delete(be);
    if (dir) rmSync(dir, { recursive: true, force: true });
  };

  runBackendSuite({
    name: 'lmdb',
    create,
    // a crash loses what is not committed (close() would commit it)
    reopen: (be) => {
      const old = be as LmdbBackend;
      old.closeWithoutCommit();
      const be2 = new LmdbBackend({ path: old.path });
      dirs.set(be2, dirs.get(old)!);
      dirs.delete(old);
      return be2;
    },
    dispose: (be) => dispose(be as LmdbBackend),
  });

  test('lmdb backend: data survives close and reopen; close commits unlocked writes', () => {
    const be = create();
    const dir = dirs.get(be)!;
    const tx = be.batchTx();
    tx.lock();
    tx.createBucket('kv');
    tx.createBucket('gone');
    tx.put('kv', b('a'), b('1'));
    tx.put('kv', new Uint8Array(0), b('empty key'));
    tx.put('kv', b('z'), new Uint8Array(0));
    tx.unlock();
    be.forceCommit();
    tx.lock();
    tx.put('kv', b('b'), b('2'));
    tx.deleteBucket('gone');
    tx.unlock();
    be.close();
    assert.throws(() => be.readTx(), BackendError);
    assert.throws(() => tx.lock(), BackendError);
    const be2 = new LmdbBackend({ path: be.path });
    const r = be2.readTx();
    assert.deepEqual(r.buckets(), ['kv']);
    const all: string[] = [];
    r.forEach('kv', (k, v) => void all.push(`${dec.decode(k)}=${dec.decode(v)}`));
    assert.deepEqual(all, ['=empty key', 'a=1', 'b=2', 'z=']);
    r.release();
    be2.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('lmdb backend: deleting and re-creating a bucket in one batch drops its committed keys', () => {
    const be = create();
    const tx = be.batchTx();
    tx.lock();
    tx.createBucket('kv');
    tx.createBucket('other');
    for (const k of ['a', 'b', 'c']) tx.put('kv', b(k), b(k));
    tx.put('other', b('a'), b('other'));
    tx.unlock();
    be.forceCommit();
    const before = be.readTx();
    tx.lock();
    tx.deleteBucket('kv');
    tx.createBucket('kv');
    tx.put('kv', b('b'), b('new'));
    assert.deepEqual(tx.range('kv', b('a'), b('z'), 0).keys.map((k) => dec.decode(k)), ['b']);
    tx.unlock();
    const mid = be.readTx();
    be.forceCommit();
    const after = be.readTx();
    for (const r of [mid, after]) {
      const seen: string[] = [];
      r.forEach('kv', (k, v) => void seen.push(`${dec.decode(k)}=${dec.decode(v)}`));
      assert.deepEqual(seen, ['b=new']);
      assert.equal(r.get('kv', b('a')), undefined);
      assert.equal(dec.decode(r.get('other', b('a'))!), 'other');
    }
    assert.deepEqual(before.range('kv', b('a'), b('z'), 0).keys.map((k) => dec.decode(k)), ['a', 'b', 'c']);
    before.release();
    mid.release();
    after.release();
    dispose(be);
  });

  test('lmdb backend: ranges merge pending puts and deletes with committed keys, with limits', () => {
    const be = create();
    const tx = be.batchTx();
    tx.lock();
    tx.createBucket('kv');
    for (const k of ['b', 'd', 'f', 'h']) tx.put('kv', b(k), b(`c${k}`));
    tx.unlock();
    be.forceCommit();
    tx.lock();
    tx.put('kv', b('a'), b('pa'));
    tx.put('kv', b('d'), b('pd'));
    tx.delete('kv', b('f'));
    tx.put('kv', b('g'), b('pg'));
    tx.unlock();
    const r = be.readTx();
    const vals = (lim: number): string[] => r.range('kv', b('a'), b('z'), lim).values.map((v) => dec.decode(v));
    assert.deepEqual(vals(0), ['pa', 'cb', 'pd', 'pg', 'ch']);
    assert.deepEqual(vals(3), ['pa', 'cb', 'pd']);
    assert.deepEqual(r.range('kv', b('c'), b('h'), 0).values.map((v) => dec.decode(v)), ['pd', 'pg']);
    assert.equal(r.get('kv', b('f')), undefined);
    assert.equal(r.range('kv', b('f'), undefined, 0).keys.length, 0);
    r.release();
    dispose(be);
  });

  test('lmdb backend: bad bucket names and over-long keys throw BackendError at the call', () => {
    const be = create();
    const tx = be.batchTx();
    tx.lock();
    assert.throws(() => tx.createBucket('a\0b'), BackendError);
    tx.createBucket('kv');
    assert.throws(() => tx.put('kv', new Uint8Array(2000), b('x')), BackendError);
    tx.put('kv', new Uint8Array(1970), b('x'));
    tx.unlock();
    be.forceCommit();
    assert.equal(be.readTx().range('kv', new Uint8Array(0), Uint8Array.of(1), 0).keys.length, 1);
    dispose(be);
  });

  test('lmdb backend: commits by itself at the batch limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmdb-backend-'));
    const be = new LmdbBackend({ path: join(dir, 'db'), batchLimit: 3 });
    const tx = be.batchTx();
    tx.lock();
    tx.createBucket('kv');
    tx.put('kv', b('a'), b('1'));
    tx.unlock();
    assert.equal(be.commitCount(), 0);
    tx.lock();
    tx.put('kv', b('b'), b('2'));
    tx.unlock();
    assert.equal(be.commitCount(), 1);
    assert.equal(tx.pending(), 0);
    be.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('lmdb backend: snapshotTo copies the committed state to a file that opens as a backend', async () => {
    const be = create();
    const dir = dirs.get(be)!;
    const tx = be.batchTx();
    tx.lock();
    tx.createBucket('kv');
    tx.put('kv', b('a'), b('1'));
    tx.unlock();
    const dest = join(dir, 'snap.db');
    await be.snapshotTo(dest);
    tx.lock();
    tx.put('kv', b('b'), b('2'));
    tx.unlock();
    be.forceCommit();
    const copy = new LmdbBackend({ path: dest });
    assert.deepEqual(copy.readTx().range('kv', b('a'), b('z'), 0).keys.map((k) => dec.decode(k)), ['a']);
    copy.close();
    dispose(be);
  });

  test('lmdb backend: defrag shrinks the file after deletes, keeps the data, holds writes made meanwhile, and refuses to run twice', async () => {
    const be = create();
    const dir = dirs.get(be)!;
    const tx = be.batchTx();
    const big = new Uint8Array(4096).fill(7);
    tx.lock();
    tx.createBucket('kv');
    for (let i = 0; i < 2000; i++) tx.put('kv', b(`k${String(i).padStart(5, '0')}`), big);
    tx.unlock();
    be.forceCommit();
    tx.lock();
    for (let i = 0; i < 1990; i++) tx.delete('kv', b(`k${String(i).padStart(5, '0')}`));
    tx.unlock();
    be.forceCommit();
    const before = be.size();
    assert.ok(before > 8_000_000, `file ${before} bytes`);
    const rt = be.readTx(); // a read view open when the defrag starts
    const running = be.defrag();
    await assert.rejects(be.defrag(), (e: unknown) => e instanceof BackendError && /already running/.test((e as Error).message));
    // a write and a commit during the copy: held until the new file is in place
    tx.lock();
    tx.put('kv', b('during'), b('x'));
    tx.unlock();
    be.forceCommit();
    assert.equal(rt.range('kv', b('k01990'), b('k01991'), 0).keys.length, 1);
    rt.release();
    await running;
    const after = be.size();
    assert.ok(after < before / 10, `size ${before} -> ${after}`);
    assert.equal(existsSync(`${be.path}.defrag`), false);
    const keys = be.readTx().range('kv', b('a'), b('z'), 0).keys.map((k) => dec.decode(k));
    assert.deepEqual(keys, ['during', ...Array.from({ length: 10 }, (_, i) => `k0${1990 + i}`)]);
    be.close();
    const again = new LmdbBackend({ path: be.path });
    assert.equal(again.readTx().range('kv', b('during'), undefined, 0).values.map((v) => dec.decode(v))[0], 'x');
    again.close();
    dispose(be);
  });

  test('lmdb backend: after SIGKILL every batch reported committed is there, and no batch is partial', { timeout: 120_000 }, async (t) => {
    const self = fileURLToPath(import.meta.url);
    for (let iter = 0; iter < 4; iter++) {
      const dir = mkdtempSync(join(tmpdir(), 'lmdb-crash-'));
      const path = join(dir, 'db');
      const reported = await runAndKill(self, path, 30 + Math.floor(Math.random() * 300));
      assert.ok(existsSync(path));
      const be = new LmdbBackend({ path });
      const r = be.readTx();
      const last = Number(dec.decode(r.get('meta', b('last')) ?? b('0')));
      assert.ok(last >= reported, `iteration ${iter}: last committed batch ${last} < last reported ${reported}`);
      // every batch up to `last` is complete, and nothing after it exists
      const counts = new Map<number, number>();
      r.forEach('batches', (k) => {
        const n = Number(new DataView(k.buffer, k.byteOffset, k.byteLength).getBigUint64(0));
        counts.set(n, (counts.get(n) ?? 0) + 1);
      });
      for (let n = 1; n <= last; n++) assert.equal(counts.get(n), KEYS_PER_BATCH, `iteration ${iter}: batch ${n}`);
      assert.equal(counts.size, last, `iteration ${iter}: batches beyond ${last}`);
      t.diagnostic(`iteration ${iter}: ${reported} batches reported, ${last} found`);
      r.release();
      be.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /**
   * Starts the child on `path`, SIGKILLs it `delayMs` after its first report, and
   * resolves with the highest batch number it printed (complete lines only).
   */
  function runAndKill(script: string, path: string, delayMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [script], {
        env: { ...process.env, LMDB_CRASH_CHILD: path },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      let timer: NodeJS.Timeout | undefined;
      const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        out += d;
        if (!timer) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      });
      child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(guard);
        if (timer) clearTimeout(timer);
        if (signal !== 'SIGKILL') return reject(new Error(`child exited with ${code} ${signal}: ${err}`));
        const lines = out.split('\n');
        lines.pop(); // a partial last line does not count
        if (lines.length === 0) return reject(new Error(`child reported nothing: ${err}`));
        resolve(Number(lines[lines.length - 1]));
      });
    });
  }
}
