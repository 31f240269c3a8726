// The mvcc store: revisions, put/range/delete semantics, compaction, restore from the
// backend, consistent index and leases (etcd's kvstore_test.go and kv_test.go cases).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyValue } from '../../../src/gen/mvccpb/kv_pb.js';
import { Buckets } from '../../../src/server/backend/backend.js';
import { MemoryBackend } from '../../../src/server/backend/memory-backend.js';
import { ErrClosed, ErrCompacted, ErrFutureRev } from '../../../src/server/mvcc/errors.js';
import type { LeaseAttacher } from '../../../src/server/mvcc/kv.js';
import { MetaKeys, Store, type StoreConfig } from '../../../src/server/mvcc/kvstore.js';
import { bytesToRev, isTombstone } from '../../../src/server/mvcc/revision.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string): Uint8Array => enc.encode(s);
const EMPTY = new Uint8Array(0);
/** "key=value c:create m:mod v:version" (plus " l:lease" when set). */
const show = (kv: KeyValue): string =>
  `${dec.decode(kv.key)}=${dec.decode(kv.value)} c:${kv.createRevision} m:${kv.modRevision} v:${kv.version}${kv.lease ? ` l:${kv.lease}` : ''}`;

function newStore(cfg: StoreConfig = {}): { s: Store; be: MemoryBackend } {
  const be = new MemoryBackend();
  return { s: new Store(be, { compactionSleepMs: 0, ...cfg }), be };
}

/** Every entry of the key bucket as "main.sub[t]". */
function backendRevs(be: MemoryBackend): string[] {
  const out: string[] = [];
  const r = be.readTx();
  r.forEach(Buckets.key, (k) => {
    const rv = bytesToRev(k);
    out.push(`${rv.main}.${rv.sub}${isTombstone(k) ? 't' : ''}`);
  });
  r.release();
  return out;
}

/** Everything visible at every revision from `from` to the current one. */
function history(s: Store, from: number): string[][] {
  const out: string[][] = [];
  for (let r = from; r <= s.rev(); r++) out.push(s.range(b(''), EMPTY, { rev: r }).kvs.map(show));
  return out;
}

describe('store: revisions', () => {
  test('an empty store is at revision 1, never compacted', () => {
    const { s } = newStore();
    assert.equal(s.rev(), 1);
    assert.equal(s.firstRev(), -1);
    assert.deepEqual(s.range(b('a'), EMPTY), { kvs: [], count: 0, rev: 1 });
  });

  test('each write txn that changes something moves the revision by one; its changes get sub revisions', () => {
    const { s, be } = newStore();
    assert.equal(s.put(b('a'), b('1')), 2);
    const t = s.write();
    assert.equal(t.rev(), 2);
    assert.equal(t.put(b('b'), b('2')), 3);
    assert.equal(t.put(b('c'), b('3')), 3);
    assert.equal(t.put(b('b'), b('2bis')), 3);
    assert.equal(t.changes().length, 3);
    t.end();
    assert.equal(s.rev(), 3);
    assert.deepEqual(backendRevs(be), ['2.0', '3.0', '3.1', '3.2']);
    // a txn that changes nothing keeps the revision
    const t2 = s.write();
    assert.deepEqual(t2.deleteRange(b('zzz'), undefined), { deleted: 0, rev: 3 });
    t2.end();
    assert.equal(s.rev(), 3);
    assert.deepEqual(s.range(b('b'), undefined).kvs.map(show), ['b=2bis c:3 m:3 v:2']);
  });

  test('only one write txn at a time', () => {
    const { s } = newStore();
    const t = s.write();
    assert.throws(() => s.write(), /locked/);
    t.end();
    s.write().end();
  });
});

describe('store: put, range, delete', () => {
  test('create_revision, mod_revision and version; version restarts after a delete', () => {
    const { s } = newStore();
    s.put(b('foo'), b('a'));
    s.put(b('foo'), b('b'));
    assert.deepEqual(s.range(b('foo'), undefined).kvs.map(show), ['foo=b c:2 m:3 v:2']);
    s.deleteRange(b('foo'), undefined);
    assert.deepEqual(s.range(b('foo'), undefined).kvs, []);
    s.put(b('foo'), b('c'));
    assert.deepEqual(s.range(b('foo'), undefined).kvs.map(show), ['foo=c c:5 m:5 v:1']);
    assert.equal(s.range(b('foo'), undefined).rev, 5);
  });

  test('range at past revisions, and the header revision is the current one', () => {
    const { s } = newStore();
    s.put(b('foo'), b('0'));
    s.put(b('foo1'), b('1'));
    s.put(b('foo'), b('2'));
    s.deleteRange(b('foo1'), undefined);
    assert.deepEqual(history(s, 1), [
      [],
      ['foo=0 c:2 m:2 v:1'],
      ['foo=0 c:2 m:2 v:1', 'foo1=1 c:3 m:3 v:1'],
      ['foo=2 c:2 m:4 v:2', 'foo1=1 c:3 m:3 v:1'],
      ['foo=2 c:2 m:4 v:2'],
    ]);
    assert.equal(s.range(b('foo'), undefined, { rev: 2 }).rev, 5);
  });

  test('a future revision is ErrFutureRev; a compacted one ErrCompacted; the compaction revision itself is readable', async () => {
    const { s } = newStore();
    for (let i = 0; i < 4; i++) s.put(b('k'), b(String(i)));
    assert.throws(() => s.range(b('k'), undefined, { rev: 6 }), ErrFutureRev);
    assert.throws(() => s.range(b('k'), undefined, { rev: 6 }), { message: 'mvcc: required revision is a future revision' });
    await s.compact(3).done;
    assert.throws(() => s.range(b('k'), undefined, { rev: 2 }), ErrCompacted);
    assert.throws(() => s.range(b('k'), undefined, { rev: 2 }), { message: 'mvcc: required revision has been compacted' });
    assert.deepEqual(s.range(b('k'), undefined, { rev: 3 }).kvs.map(show), ['k=1 c:2 m:3 v:2']);
    assert.equal(s.firstRev(), 3);
  });

  test('limit cuts the kvs, count reports all; count only; keys only', () => {
    const { s } = newStore();
    for (const k of ['a', 'b', 'c', 'd']) s.put(b(k), b(`v${k}`));
    const lim = s.range(b('a'), EMPTY, { limit: 2 });
    assert.deepEqual(lim.kvs.map((kv) => dec.decode(kv.key)), ['a', 'b']);
    assert.equal(lim.count, 4);
    assert.equal(s.range(b('a'), EMPTY, { limit: 10 }).kvs.length, 4);
    assert.equal(s.range(b('a'), EMPTY, { limit: 0 }).kvs.length, 4);
    assert.deepEqual(s.range(b('b'), b('d'), { count: true }), { kvs: [], count: 2, rev: 5 });
    const ko = s.range(b('a'), b('c'), { keysOnly: true });
    assert.deepEqual(ko.kvs.map(show), ['a= c:2 m:2 v:1', 'b= c:3 m:3 v:1']);
    // count at a past revision
    assert.equal(s.range(b('a'), EMPTY, { count: true, rev: 3 }).count, 2);
  });

  test('deleteRange: number deleted, one tombstone per key at one revision, prev kvs read in the same txn', () => {
    const { s, be } = newStore();
    for (const k of ['foo', 'foo1', 'foo2', 'bar']) s.put(b(k), b(k));
    const t = s.write();
    const prev = t.range(b('foo'), b('fop')).kvs.map(show);
    const res = t.deleteRange(b('foo'), b('fop'));
    assert.deepEqual(res, { deleted: 3, rev: 6 });
    assert.deepEqual(t.changes().map((kv) => `${dec.decode(kv.key)} c:${kv.createRevision}`), ['foo c:0', 'foo1 c:0', 'foo2 c:0']);
    // the txn sees its own deletes
    assert.deepEqual(t.range(b('a'), EMPTY).kvs.map((kv) => dec.decode(kv.key)), ['bar']);
    t.end();
    assert.deepEqual(prev, ['foo=foo c:2 m:2 v:1', 'foo1=foo1 c:3 m:3 v:1', 'foo2=foo2 c:4 m:4 v:1']);
    assert.deepEqual(backendRevs(be).slice(-3), ['6.0t', '6.1t', '6.2t']);
    assert.equal(s.rev(), 6);
    // deleting nothing does not move the revision; deleting all from a key does
    assert.deepEqual(s.deleteRange(b('foo'), b('fop')), { deleted: 0, rev: 6 });
    assert.deepEqual(s.deleteRange(b('a'), EMPTY), { deleted: 1, rev: 7 });
    assert.equal(s.rev(), 7);
  });

  test('a put and a delete of the same key in one txn', () => {
    const { s } = newStore();
    s.put(b('k'), b('1'));
    const t = s.write();
    t.put(b('k'), b('2'));
    assert.deepEqual(t.range(b('k'), undefined).kvs.map(show), ['k=2 c:2 m:3 v:2']);
    assert.equal(t.deleteRange(b('k'), undefined).deleted, 1);
    t.put(b('k'), b('3'));
    t.end();
    assert.deepEqual(s.range(b('k'), undefined).kvs.map(show), ['k=3 c:3 m:3 v:1']);
  });

  test('a read txn keeps its revision while writes go on', () => {
    const { s } = newStore();
    s.put(b('a'), b('1'));
    const r = s.read();
    s.put(b('a'), b('2'));
    s.put(b('b'), b('3'));
    assert.equal(r.rev(), 2);
    assert.deepEqual(r.range(b('a'), EMPTY).kvs.map(show), ['a=1 c:2 m:2 v:1']);
    assert.throws(() => r.range(b('a'), EMPTY, { rev: 3 }), ErrFutureRev);
    r.end();
  });

  test('a read txn opened while the write txn is open sees the last ended write', () => {
    const { s } = newStore();
    s.put(b('a'), b('1'));
    const w = s.write();
    w.put(b('a'), b('2'));
    const r = s.read();
    assert.deepEqual(r.range(b('a'), undefined).kvs.map(show), ['a=1 c:2 m:2 v:1']);
    r.end();
    w.end();
    assert.deepEqual(s.range(b('a'), undefined).kvs.map(show), ['a=2 c:2 m:3 v:2']);
  });

  test('stored bytes are copies of the caller\'s buffers', () => {
    const { s } = newStore();
    const k = b('key');
    const v = b('val');
    s.put(k, v);
    k[0] = 0x41;
    v[0] = 0x41;
    assert.deepEqual(s.range(b('key'), undefined).kvs.map(show), ['key=val c:2 m:2 v:1']);
  });
});

describe('store: compaction', () => {
  test('keeps the newest revision at or below the compaction revision of each live key; drops deleted keys', async () => {
    const { s, be } = newStore();
    s.put(b('a'), b('1')); // 2
    s.put(b('a'), b('2')); // 3
    s.put(b('b'), b('1')); // 4
    s.deleteRange(b('b'), undefined); // 5
    s.put(b('a'), b('3')); // 6
    s.put(b('c'), b('1')); // 7
    const before = history(s, 5);
    const c = s.compact(5);
    // the index is compacted at once, the backend in the background
    assert.throws(() => s.range(b('a'), undefined, { rev: 4 }), ErrCompacted);
    await c.done;
    assert.deepEqual(backendRevs(be), ['3.0', '6.0', '7.0']);
    assert.deepEqual(history(s, 5), before);
    const r = be.readTx();
    assert.deepEqual(bytesToRev(r.get(Buckets.meta, MetaKeys.scheduledCompactRev)!), { main: 5, sub: 0 });
    assert.deepEqual(bytesToRev(r.get(Buckets.meta, MetaKeys.finishedCompactRev)!), { main: 5, sub: 0 });
    r.release();
  });

  test('compacting at or below the last compaction is ErrCompacted, above the current revision ErrFutureRev', async () => {
    const { s } = newStore();
    s.put(b('a'), b('1'));
    s.put(b('a'), b('2'));
    assert.throws(() => s.compact(4), ErrFutureRev);
    await s.compact(2).done;
    assert.throws(() => s.compact(2), ErrCompacted);
    assert.throws(() => s.compact(1), ErrCompacted);
    await s.compact(3).done;
    assert.equal(s.firstRev(), 3);
  });

  test('compaction works in batches, committing each', async () => {
    const { s, be } = newStore({ compactionBatchLimit: 3 });
    for (let i = 0; i < 10; i++) s.put(b('k'), b(String(i)));
    const commits = be.commitCount();
    await s.compact(11).done;
    assert.deepEqual(backendRevs(be), ['11.0']);
    assert.ok(be.commitCount() - commits >= 4, `commits: ${be.commitCount() - commits}`);
  });
});

describe('store: restore from the backend', () => {
  /** A store with history, deletes, compaction and a multi-change txn. */
  async function populated(): Promise<{ s: Store; be: MemoryBackend }> {
    const { s, be } = newStore({ compactionBatchLimit: 2 });
    s.put(b('a'), b('1'));
    s.put(b('b'), b('1'));
    s.put(b('a'), b('2'));
    s.deleteRange(b('b'), undefined);
    const t = s.write();
    t.put(b('c'), b('1'));
    t.put(b('d'), b('1'));
    t.deleteRange(b('c'), undefined);
    t.end();
    s.put(b('b'), b('2'));
    await s.compact(4).done;
    s.put(b('a'), b('3'));
    s.deleteRange(b('d'), undefined);
    return { s, be };
  }

  test('a store rebuilt from the committed backend has the same index, revisions and reads', async () => {
    const { s, be } = await populated();
    s.commit();
    const s2 = new Store(be.reopenCommitted(), { compactionSleepMs: 0 });
    assert.equal(s2.rev(), s.rev());
    assert.equal(s2.firstRev(), s.firstRev());
    assert.ok(s2.index.equal(s.index), "same key index");
    assert.deepEqual(history(s2, 4), history(s, 4));
    assert.deepEqual(s2.hashByRev(0), s.hashByRev(0));
    // and it goes on at the next revision, with versions continuing
    s2.put(b('a'), b('4'));
    assert.deepEqual(s2.range(b('a'), undefined).kvs.map(show), [`a=4 c:2 m:${s.rev() + 1} v:4`]);
  });

  test('restore() swaps in another backend', async () => {
    const { s, be } = await populated();
    s.commit();
    const { s: other } = newStore();
    other.put(b('zzz'), b('1'));
    other.restore(be.reopenCommitted());
    assert.deepEqual(history(other, 4), history(s, 4));
    assert.equal(other.rev(), s.rev());
  });

  test('when compaction removed every revision, the store restarts at the compaction revision', async () => {
    const { s, be } = newStore();
    s.put(b('a'), b('1'));
    s.deleteRange(b('a'), undefined);
    await s.compact(3).done;
    assert.deepEqual(backendRevs(be), []);
    const s2 = new Store(be.reopenCommitted());
    assert.equal(s2.rev(), 3);
    assert.equal(s2.firstRev(), 3);
    assert.equal(s2.put(b('a'), b('2')), 4);
  });

  test('an interrupted compaction is resumed', async () => {
    const { s, be } = newStore({ compactionBatchLimit: 1, compactionSleepMs: 1000 });
    for (let i = 0; i < 5; i++) s.put(b('k'), b(String(i)));
    s.compact(5); // scheduled and committed; backend deletions not done yet
    const crashed = be.reopenCommitted();
    s.close(); // stop the first run
    assert.equal(backendRevs(crashed).length, 5);
    const s2 = new Store(crashed, { compactionSleepMs: 0 });
    assert.equal(s2.firstRev(), 5);
    assert.ok(s2.resumedCompaction);
    await s2.resumedCompaction.done;
    assert.deepEqual(backendRevs(crashed), ['5.0', '6.0']);
    const r = crashed.readTx();
    assert.deepEqual(bytesToRev(r.get(Buckets.meta, MetaKeys.finishedCompactRev)!), { main: 5, sub: 0 });
    r.release();
  });

  test('uncommitted writes are lost on a crash; commit() makes them durable', () => {
    const { s, be } = newStore();
    s.put(b('a'), b('1'));
    assert.equal(new Store(be.reopenCommitted()).rev(), 1);
    s.commit();
    assert.equal(new Store(be.reopenCommitted()).rev(), 2);
  });
});

describe('store: consistent index and leases', () => {
  test('the consistent index is saved with each changing write and by commit, and survives a restart', () => {
    let ci = 7n;
    const { s, be } = newStore({ consistentIndex: { consistentIndex: () => ci } });
    assert.equal(s.consistentIndex(), 0n);
    s.put(b('a'), b('1'));
    assert.equal(s.consistentIndex(), 7n);
    ci = 8n;
    s.write().end(); // no change: not saved
    assert.equal(s.consistentIndex(), 7n);
    ci = 2n ** 63n + 5n;
    s.commit();
    assert.equal(s.consistentIndex(), 2n ** 63n + 5n);
    const r = be.readTx();
    assert.deepEqual([...r.get(Buckets.meta, MetaKeys.consistentIndex)!], [0x80, 0, 0, 0, 0, 0, 0, 5]);
    r.release();
    assert.equal(new Store(be.reopenCommitted()).consistentIndex(), 2n ** 63n + 5n);
  });

  test('puts attach and detach leases; deletes detach; restore re-attaches', () => {
    const log: string[] = [];
    const attached = new Map<string, bigint>();
    const lessor: LeaseAttacher = {
      getLease: (k) => attached.get(dec.decode(k)) ?? 0n,
      attach: (id, keys) => keys.forEach((k) => (log.push(`attach ${id} ${dec.decode(k)}`), attached.set(dec.decode(k), id))),
      detach: (id, keys) => keys.forEach((k) => (log.push(`detach ${id} ${dec.decode(k)}`), attached.delete(dec.decode(k)))),
    };
    const { s, be } = newStore({ lessor });
    s.put(b('a'), b('1'), 10n);
    s.put(b('a'), b('2'), 11n);
    s.put(b('b'), b('1'), 10n);
    s.put(b('b'), b('2'));
    s.put(b('c'), b('1'), 12n);
    s.deleteRange(b('c'), undefined);
    assert.deepEqual(log, ['attach 10 a', 'detach 10 a', 'attach 11 a', 'attach 10 b', 'detach 10 b', 'attach 12 c', 'detach 12 c']);
    assert.deepEqual(s.range(b('a'), undefined).kvs.map(show), ['a=2 c:2 m:3 v:2 l:11']);
    s.commit();
    log.length = 0;
    attached.clear();
    new Store(be.reopenCommitted(), { lessor });
    assert.deepEqual(log, ['attach 11 a']);
  });
});

describe('store: close', () => {
  test('a closed store refuses work with ErrClosed', () => {
    const { s } = newStore();
    s.close();
    assert.throws(() => s.read(), ErrClosed);
    assert.throws(() => s.put(b('a'), b('1')), { message: 'mvcc: closed' });
  });
});

test('keyRevisions answers what range answers (mod, create, version), in read and write txns, across deletes and a compaction', async () => {
  const { s } = newStore();
  let seed = 5;
  const r = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const keys = ['a', 'b', 'c', 'd', 'e'].map(b);
  const check = (view: { range: Store['range']; keyRevisions: Store['keyRevisions'] }, label: string): void => {
    for (const k of [...keys, b('never')]) {
      const kv = view.range(k, undefined).kvs[0];
      const ki = view.keyRevisions(k);
      const got = ki ? `c:${ki.created.main} m:${ki.modified.main} v:${ki.ver}` : 'none';
      const want = kv ? `c:${kv.createRevision} m:${kv.modRevision} v:${kv.version}` : 'none';
      assert.equal(got, want, `${label}: key ${dec.decode(k)}`);
    }
  };
  for (let round = 0; round < 200; round++) {
    const w = s.write();
    for (let n = 1 + r(3); n > 0; n--) {
      const k = keys[r(keys.length)]!;
      if (r(4) === 0) w.deleteRange(k, undefined);
      else w.put(k, b(`v${round}`));
      check(w, `round ${round}, inside the write txn`);
    }
    w.end();
    const rd = s.read();
    check(rd, `round ${round}, read txn`);
    rd.end();
    check(s, `round ${round}, store`);
    if (round === 199) assert.ok(s.rev() > 150, `the random ops changed the store (rev ${s.rev()})`);
    if (round === 120) await s.compact(s.rev() - 3).done;
  }
});
