// The backend conformance suite: one set of tests for every Backend implementation
// (hono's runTest / kysely's per-dialect suites). Each implementation's test file calls
// runBackendSuite with a factory; see memory-backend.test.ts.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BackendError, type Backend } from '../../../src/server/backend/backend.js';

/** How the suite creates and restarts backends of one implementation. */
export interface BackendSuiteOptions {
  /** Suite title, e.g. "memory". */
  name: string;
  /** A new, empty backend. */
  create(): Backend;
  /**
   * What `b` would contain after a crash and restart (only committed writes).
   * `b` may be closed by this call. Without it the durability tests are skipped.
   */
  reopen?(b: Backend): Backend;
  /** Closes and removes everything `create` made (called once per test). */
  dispose?(b: Backend): void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** UTF-8 bytes of a string. */
const b = (s: string): Uint8Array => enc.encode(s);
/** Keys of a range result as strings. */
const strs = (xs: Uint8Array[]): string[] => xs.map((x) => dec.decode(x));

/** Runs the conformance tests against one implementation. */
export function runBackendSuite(opts: BackendSuiteOptions): void {
  /** Runs `body` with a fresh backend and disposes of it afterwards. */
  function withBackend(body: (be: Backend) => void): () => void {
    return () => {
      const be = opts.create();
      try {
        body(be);
      } finally {
        if (opts.dispose) opts.dispose(be);
        else be.close();
      }
    };
  }

  /** Writes the given entries to `bucket` in one batch transaction (creating the bucket). */
  function write(be: Backend, bucket: string, entries: [string | Uint8Array, string][]): void {
    const tx = be.batchTx();
    tx.lock();
    tx.createBucket(bucket);
    for (const [k, v] of entries) tx.put(bucket, typeof k === 'string' ? b(k) : k, b(v));
    tx.unlock();
  }

  describe(`backend conformance: ${opts.name}`, () => {
    test('a new backend has no buckets, and reading a missing bucket finds nothing', withBackend((be) => {
      const r = be.readTx();
      assert.deepEqual(r.buckets(), []);
      assert.deepEqual(r.range('key', b('a'), b('z'), 0), { keys: [], values: [] });
      assert.equal(r.get('key', b('a')), undefined);
      let n = 0;
      r.forEach('key', () => void n++);
      assert.equal(n, 0);
      r.release();
    }));

    test('getMany gives what get gives for each key: committed, pending in the batch, deleted, missing, empty and large values', withBackend((be) => {
      const big = 'x'.repeat(200_000); // larger than any scratch area a backend starts with
      write(be, 'kv', [['a', '1'], ['b', ''], ['c', big], ['d', '4'], ['e', '5']]);
      for (let i = 0; i < 300; i++) write(be, 'kv', [[`m${String(i).padStart(3, '0')}`, `value-${i}-${'y'.repeat(i)}`]]);
      const keys = ['e', 'missing', 'a', 'b', 'c', 'd', 'zz', ...Array.from({ length: 300 }, (_, i) => `m${String(299 - i).padStart(3, '0')}`)].map(b);
      const check = (r: { get(bucket: string, k: Uint8Array): Uint8Array | undefined; getMany(bucket: string, ks: readonly Uint8Array[]): Array<Uint8Array | undefined> }) => {
        const many = r.getMany('kv', keys);
        assert.equal(many.length, keys.length);
        keys.forEach((k, i) => {
          const one = r.get('kv', k);
          assert.deepEqual(many[i] === undefined ? undefined : Buffer.from(many[i]!), one === undefined ? undefined : Buffer.from(one), dec.decode(k));
        });
        assert.deepEqual(r.getMany('kv', []), []);
        assert.deepEqual(r.getMany('nobucket', [b('a')]), [undefined]);
      };
      const r = be.readTx();
      check(r);
      // values stay valid after later reads (they are copies)
      const first = r.getMany('kv', [b('a'), b('d')]);
      r.getMany('kv', keys);
      assert.deepEqual(strs(first as Uint8Array[]), ['1', '4']);
      r.release();
      // the batch transaction sees its own pending writes and deletes
      const tx = be.batchTx();
      tx.lock();
      tx.put('kv', b('a'), b('changed'));
      tx.delete('kv', b('d'));
      tx.put('kv', b('zz'), b('new'));
      check(tx);
      assert.deepEqual(strs(tx.getMany('kv', [b('a'), b('zz')]) as Uint8Array[]), ['changed', 'new']);
      assert.equal(tx.getMany('kv', [b('d')])[0], undefined);
      tx.unlock();
      const r2 = be.readTx();
      check(r2);
      r2.release();
    }));

    test('deferPublish: readers opened inside see every write unlocked before them, old views keep their version, a commit inside publishes first, nesting joins', withBackend((be) => {
      write(be, 'kv', [['a', '0']]);
      const before = be.readTx();
      const put = (k: string, v: string) => {
        const tx = be.batchTx();
        tx.lock();
        tx.put('kv', b(k), b(v));
        tx.unlock();
      };
      const seen = (k: string): string | undefined => {
        const r = be.readTx();
        try {
          const v = r.get('kv', b(k));
          return v === undefined ? undefined : dec.decode(v);
        } finally {
          r.release();
        }
      };
      const out = be.deferPublish(() => {
        put('a', '1');
        put('b', '1');
        assert.equal(seen('a'), '1', 'a read view opened after an unlock sees the write');
        put('a', '2');
        const mid = be.readTx();
        put('a', '3');
        assert.equal(dec.decode(mid.get('kv', b('a'))!), '2', 'a view keeps the version it was opened on');
        mid.release();
        // the batch tx unlocked reads the published state: it sees the writes too
        assert.equal(dec.decode(be.batchTx().get('kv', b('a'))!), '3');
        put('c', '1');
        be.forceCommit(); // publishes what was written, then commits it
        put('c', '2');
        const nested = be.deferPublish(() => {
          put('d', '1');
          return 'inner';
        });
        assert.equal(nested, 'inner');
        put('d', '2');
        return 'outer';
      });
      assert.equal(out, 'outer');
      assert.equal(dec.decode(before.get('kv', b('a'))!), '0', 'a view opened before the scope keeps its version');
      before.release();
      assert.deepEqual([seen('a'), seen('b'), seen('c'), seen('d')], ['3', '1', '2', '2']);
      // a throw inside still publishes what was unlocked before it
      assert.throws(() => be.deferPublish(() => {
        put('e', '1');
        throw new Error('boom');
      }), /boom/);
      assert.equal(seen('e'), '1');
      be.forceCommit();
      assert.equal(seen('e'), '1');
    }));

    test('range: [key, end) in byte order, limit, and exact lookup without an end', withBackend((be) => {
      write(be, 'kv', [['b', '2'], ['a', '1'], ['c', '3'], ['ab', '12'], ['d', '4']]);
      const r = be.readTx();
      assert.deepEqual(strs(r.range('kv', b('a'), b('c'), 0).keys), ['a', 'ab', 'b']);
      assert.deepEqual(strs(r.range('kv', b('a'), b('c'), 0).values), ['1', '12', '2']);
      assert.deepEqual(strs(r.range('kv', b('a'), b('z'), 2).keys), ['a', 'ab']);
      assert.deepEqual(strs(r.range('kv', b('a'), b('z'), -1).keys), ['a', 'ab', 'b', 'c', 'd']);
      assert.deepEqual(strs(r.range('kv', b('aa'), b('ab'), 0).keys), []);
      // no end key (or an empty one): only the key itself
      assert.deepEqual(strs(r.range('kv', b('b'), undefined, 0).values), ['2']);
      assert.deepEqual(strs(r.range('kv', b('b'), new Uint8Array(0), 0).values), ['2']);
      assert.deepEqual(r.range('kv', b('bb'), undefined, 0).keys, []);
      assert.equal(dec.decode(r.get('kv', b('ab'))!), '12');
      r.release();
    }));

    test('keys sort as unsigned bytes; a prefix sorts before its extensions', withBackend((be) => {
      const keys = [Uint8Array.of(0xff), Uint8Array.of(0x7f), Uint8Array.of(0x80, 0), Uint8Array.of(0x80), Uint8Array.of(0), new Uint8Array(0)];
      write(be, 'raw', keys.map((k, i) => [k, String(i)]));
      const r = be.readTx();
      const all: number[][] = [];
      r.forEach('raw', (k) => void all.push([...k]));
      assert.deepEqual(all, [[], [0], [0x7f], [0x80], [0x80, 0], [0xff]]);
      assert.deepEqual(r.range('raw', Uint8Array.of(0x7f), Uint8Array.of(0x80, 0), 0).keys.map((k) => [...k]), [[0x7f], [0x80]]);
      r.release();
    }));

    test('forEach visits in order and stops when the visitor returns false', withBackend((be) => {
      write(be, 'kv', [['c', '3'], ['a', '1'], ['b', '2']]);
      const r = be.readTx();
      const seen: string[] = [];
      r.forEach('kv', (k, v) => void seen.push(`${dec.decode(k)}=${dec.decode(v)}`));
      assert.deepEqual(seen, ['a=1', 'b=2', 'c=3']);
      const firstTwo: string[] = [];
      r.forEach('kv', (k) => {
        firstTwo.push(dec.decode(k));
        return firstTwo.length < 2;
      });
      assert.deepEqual(firstTwo, ['a', 'b']);
      r.release();
    }));

    test('buckets are listed in byte order and are independent', withBackend((be) => {
      write(be, 'meta', [['k', 'meta']]);
      write(be, 'key', [['k', 'key']]);
      write(be, 'auth', [['k', 'auth']]);
      const r = be.readTx();
      assert.deepEqual(r.buckets(), ['auth', 'key', 'meta']);
      assert.equal(dec.decode(r.get('key', b('k'))!), 'key');
      assert.equal(dec.decode(r.get('meta', b('k'))!), 'meta');
      r.release();
    }));

    test('overwrite, delete, delete of a missing key, deleteBucket', withBackend((be) => {
      write(be, 'kv', [['a', '1'], ['b', '2']]);
      const tx = be.batchTx();
      tx.lock();
      tx.put('kv', b('a'), b('one'));
      tx.delete('kv', b('b'));
      tx.delete('kv', b('nope'));
      tx.createBucket('gone');
      tx.put('gone', b('x'), b('y'));
      tx.unlock();
      let r = be.readTx();
      assert.deepEqual(strs(r.range('kv', b('a'), b('z'), 0).values), ['one']);
      assert.deepEqual(r.buckets(), ['gone', 'kv']);
      r.release();
      tx.lock();
      tx.deleteBucket('gone');
      tx.deleteBucket('never-existed');
      tx.unlock();
      r = be.readTx();
      assert.deepEqual(r.buckets(), ['kv']);
      assert.equal(r.get('gone', b('x')), undefined);
      r.release();
    }));

    test('writing to a missing bucket throws BackendError', withBackend((be) => {
      const tx = be.batchTx();
      tx.lock();
      assert.throws(() => tx.put('missing', b('a'), b('1')), BackendError);
      assert.throws(() => tx.delete('missing', b('a')), BackendError);
      tx.unlock();
    }));

    test('one write transaction at a time; no commit while it is locked; no writes without the lock', withBackend((be) => {
      const tx = be.batchTx();
      assert.equal(be.batchTx(), tx);
      assert.throws(() => tx.createBucket('kv'), BackendError);
      tx.lock();
      assert.throws(() => tx.lock(), BackendError);
      assert.throws(() => tx.commit(), BackendError);
      assert.throws(() => be.forceCommit(), BackendError);
      tx.unlock();
      assert.throws(() => tx.unlock(), BackendError);
      be.forceCommit();
    }));

    test('the write transaction reads its own writes; readers see them only after unlock', withBackend((be) => {
      write(be, 'kv', [['a', '1']]);
      const before = be.readTx();
      const tx = be.batchTx();
      tx.lock();
      tx.put('kv', b('b'), b('2'));
      tx.put('kv', b('a'), b('1bis'));
      assert.deepEqual(strs(tx.range('kv', b('a'), b('z'), 0).values), ['1bis', '2']);
      const during = be.readTx();
      assert.deepEqual(strs(during.range('kv', b('a'), b('z'), 0).values), ['1']);
      tx.unlock();
      const after = be.readTx();
      assert.deepEqual(strs(after.range('kv', b('a'), b('z'), 0).values), ['1bis', '2']);
      // earlier readers keep their snapshot
      assert.deepEqual(strs(before.range('kv', b('a'), b('z'), 0).values), ['1']);
      assert.deepEqual(strs(during.range('kv', b('a'), b('z'), 0).values), ['1']);
      // and so does `after` when more writes come (uncommitted or committed)
      tx.lock();
      tx.delete('kv', b('a'));
      tx.unlock();
      be.forceCommit();
      assert.deepEqual(strs(after.range('kv', b('a'), b('z'), 0).keys), ['a', 'b']);
      before.release();
      during.release();
      after.release();
      const latest = be.readTx();
      assert.deepEqual(strs(latest.range('kv', b('a'), b('z'), 0).keys), ['b']);
      latest.release();
    }));

    test('stored bytes do not alias the caller\'s buffers', withBackend((be) => {
      const key = b('k');
      const val = b('v');
      const tx = be.batchTx();
      tx.lock();
      tx.createBucket('kv');
      tx.put('kv', key, val);
      tx.unlock();
      key[0] = 0x41;
      val[0] = 0x41;
      const r = be.readTx();
      assert.equal(dec.decode(r.get('kv', b('k'))!), 'v');
      const got = r.range('kv', b('k'), undefined, 0).keys[0]!;
      assert.notEqual(got, key);
      r.release();
    }));

    test('seqPut copies like put; seqPutOwned keeps the given arrays, sorted, read back, overwritten and committed like any write', withBackend((be) => {
      const tx = be.batchTx();
      tx.lock();
      tx.createBucket('kv');
      const copied = b('c');
      tx.seqPut('kv', b('k1'), copied);
      copied[0] = 0x41;
      const owned = b('o');
      tx.seqPutOwned('kv', b('k3'), owned);
      tx.seqPutOwned('kv', b('k2'), b('x'));
      tx.seqPutOwned('kv', b('k2'), b('y')); // overwrite
      tx.unlock();
      const r = be.readTx();
      assert.equal(dec.decode(r.get('kv', b('k1'))!), 'c');
      const got = r.range('kv', b('k'), b('l'), 0);
      assert.deepEqual(strs(got.keys), ['k1', 'k2', 'k3']);
      assert.deepEqual(strs(got.values), ['c', 'y', 'o']);
      r.release();
      assert.equal(be.batchTx().pending(), 5);
      be.forceCommit();
      const r2 = be.readTx();
      assert.deepEqual(strs(r2.range('kv', b('k'), b('l'), 0).values), ['c', 'y', 'o']);
      r2.release();
    }));

    test('openReadTxN counts open read views; a released view cannot be used', withBackend((be) => {
      assert.equal(be.openReadTxN(), 0);
      const r1 = be.readTx();
      const r2 = be.readTx();
      assert.equal(be.openReadTxN(), 2);
      r1.release();
      r1.release();
      assert.equal(be.openReadTxN(), 1);
      assert.throws(() => r1.get('kv', b('a')), BackendError);
      r2.release();
      assert.equal(be.openReadTxN(), 0);
    }));

    test('size grows with puts and shrinks with deletes', withBackend((be) => {
      // sizes may lag until commit (etcd updates Size/SizeInUse in commit()), so commit first
      write(be, 'kv', [['a', 'x'.repeat(1000)]]);
      be.forceCommit();
      const s1 = be.size();
      assert.ok(s1 >= 1000, `size ${s1}`);
      assert.ok(be.sizeInUse() <= s1);
      write(be, 'kv', [['b', 'y'.repeat(5000)]]);
      be.forceCommit();
      assert.ok(be.size() >= s1 + 5000 || be.sizeInUse() >= 6000);
      const tx = be.batchTx();
      tx.lock();
      tx.delete('kv', b('b'));
      tx.unlock();
      be.forceCommit();
      assert.ok(be.sizeInUse() < 6000);
    }));

    test('pending counts writes until commit', withBackend((be) => {
      write(be, 'kv', [['a', '1'], ['b', '2']]);
      const tx = be.batchTx();
      assert.ok(tx.pending() > 0);
      be.forceCommit();
      assert.equal(tx.pending(), 0);
    }));

    const reopen = opts.reopen;
    test('after a restart only committed writes are there', { skip: reopen ? false : 'no reopen' }, () => {
      let be = opts.create();
      write(be, 'kv', [['a', '1']]);
      be.forceCommit();
      write(be, 'kv', [['b', '2']]);
      be = reopen!(be);
      const r = be.readTx();
      assert.deepEqual(strs(r.range('kv', b('a'), b('z'), 0).keys), ['a']);
      r.release();
      if (opts.dispose) opts.dispose(be);
      else be.close();
    });
  });
}
