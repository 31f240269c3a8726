// treeIndex: point and range lookups at a revision, counts and limits, since, compaction
// (the cases of etcd's index_test.go).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TreeIndex, hashKey } from '../../../src/server/mvcc/tree-index.js';
import { ErrRevisionNotFound } from '../../../src/server/mvcc/errors.js';
import type { Revision } from '../../../src/server/mvcc/revision.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string): Uint8Array => enc.encode(s);
const fmt = (r: Revision): string => (r.sub === 0 ? `${r.main}` : `${r.main}.${r.sub}`);
const EMPTY = new Uint8Array(0);

/** foo: put 2, put 4, del 6; foo1: put 5.2, put 7; foo2: put 8; bar: put 9 */
function sample(): TreeIndex {
  const ti = new TreeIndex();
  ti.put(b('foo'), { main: 2, sub: 0 });
  ti.put(b('foo'), { main: 4, sub: 0 });
  ti.put(b('foo1'), { main: 5, sub: 2 });
  ti.tombstone(b('foo'), { main: 6, sub: 0 });
  ti.put(b('foo1'), { main: 7, sub: 0 });
  ti.put(b('foo2'), { main: 8, sub: 0 });
  ti.put(b('bar'), { main: 9, sub: 0 });
  return ti;
}

test('get: the revision holding the value at a revision', () => {
  const ti = sample();
  assert.equal(ti.get(b('foo'), 1), undefined);
  assert.deepEqual(ti.get(b('foo'), 3), { modified: { main: 2, sub: 0 }, created: { main: 2, sub: 0 }, ver: 1 });
  assert.deepEqual(ti.get(b('foo'), 5), { modified: { main: 4, sub: 0 }, created: { main: 2, sub: 0 }, ver: 2 });
  assert.equal(ti.get(b('foo'), 6), undefined);
  assert.equal(ti.get(b('nope'), 10), undefined);
});

test('range: single key, [key, end), and from key (empty end)', () => {
  const ti = sample();
  const r = (k: string, e: Uint8Array | string | undefined, at: number) => {
    const out = ti.range(b(k), typeof e === 'string' ? b(e) : e, at);
    return out.keys.map((x, i) => `${dec.decode(x)}@${fmt(out.revs[i]!)}`);
  };
  assert.deepEqual(r('foo', undefined, 5), ['foo@4']);
  assert.deepEqual(r('foo', 'fop', 5), ['foo@4', 'foo1@5.2']);
  assert.deepEqual(r('foo', 'fop', 9), ['foo1@7', 'foo2@8']);
  assert.deepEqual(r('foo', 'foo1', 9), []);
  assert.deepEqual(r('a', EMPTY, 9), ['bar@9', 'foo1@7', 'foo2@8']);
  assert.deepEqual(r('foo1', EMPTY, 9), ['foo1@7', 'foo2@8']);
  assert.deepEqual(r('a', 'z', 1), []);
});

test('revisions with limit report the total; countRevisions', () => {
  const ti = sample();
  assert.deepEqual(ti.revisions(b('a'), EMPTY, 9, 2), { revs: [{ main: 9, sub: 0 }, { main: 7, sub: 0 }], total: 3 });
  assert.deepEqual(ti.revisions(b('a'), EMPTY, 9), { revs: [{ main: 9, sub: 0 }, { main: 7, sub: 0 }, { main: 8, sub: 0 }], total: 3 });
  assert.deepEqual(ti.revisions(b('foo'), undefined, 9), { revs: [], total: 0 });
  assert.deepEqual(ti.revisions(b('foo'), undefined, 4, 1), { revs: [{ main: 4, sub: 0 }], total: 1 });
  assert.equal(ti.countRevisions(b('a'), EMPTY, 9), 3);
  assert.equal(ti.countRevisions(b('foo'), b('foo3'), 5), 2);
  assert.equal(ti.countRevisions(b('foo'), undefined, 6), 0);
});

test('tombstone of a missing or already deleted key is ErrRevisionNotFound', () => {
  const ti = sample();
  assert.throws(() => ti.tombstone(b('nope'), { main: 10, sub: 0 }), ErrRevisionNotFound);
  assert.throws(() => ti.tombstone(b('foo'), { main: 10, sub: 0 }), ErrRevisionNotFound);
});

test('rangeSince: every revision at or after, in revision order', () => {
  const ti = sample();
  assert.deepEqual(ti.rangeSince(b('foo'), b('fop'), 1).map(fmt), ['2', '4', '5.2', '6', '7', '8']);
  assert.deepEqual(ti.rangeSince(b('foo'), b('fop'), 6).map(fmt), ['6', '7', '8']);
  assert.deepEqual(ti.rangeSince(b('foo1'), undefined, 0).map(fmt), ['5.2', '7']);
  assert.deepEqual(ti.rangeSince(b('a'), EMPTY, 8).map(fmt), ['8', '9']);
});

test('compact removes emptied keys and returns the revisions to keep; keep agrees', () => {
  for (const at of [1, 2, 4, 5, 6, 7, 8, 9, 10]) {
    const kept = sample().keep(at);
    const ti = sample();
    const avail = ti.compact(at);
    assert.deepEqual(avail.sorted().map(fmt), kept.sorted().map(fmt), `at ${at}`);
    // every key live at `at` or later is still readable at any revision >= at
    const ref = sample();
    for (let r = at; r <= 10; r++) {
      assert.deepEqual(ti.range(b('a'), EMPTY, r), ref.range(b('a'), EMPTY, r), `range at ${r} after compact ${at}`);
    }
  }
  const ti = sample();
  assert.deepEqual(ti.compact(6).sorted().map(fmt), ['5.2']);
  assert.equal(ti.keyIndex(b('foo')), undefined, 'foo was deleted at 6: removed');
  assert.equal(ti.size(), 3);
});

test('equal and insert', () => {
  const a = sample();
  const c = sample();
  assert.ok(a.equal(c));
  c.put(b('zzz'), { main: 10, sub: 0 });
  assert.ok(!a.equal(c));
  a.put(b('zzz'), { main: 10, sub: 0 });
  assert.ok(a.equal(c));
});

test('keys whose hashes collide: each is found, replaced, compacted away and missed on its own', () => {
  // pairs of keys with the same 30-bit hash (found by search; checked here)
  const pairs: [string, string][] = [['key-287858', 'key-312325'], ['key-287857', 'key-312326'], ['key-287839', 'key-312344']];
  for (const [x, y] of pairs) assert.equal(hashKey(b(x)), hashKey(b(y)), `${x} and ${y} collide`);
  const [[a1, a2], [c1, c2], [d1, d2]] = pairs as [[string, string], [string, string], [string, string]];
  const ti = new TreeIndex();
  ti.put(b(a1), { main: 2, sub: 0 });
  ti.put(b(a2), { main: 3, sub: 0 });
  ti.put(b(c1), { main: 4, sub: 0 });
  ti.put(b(c2), { main: 5, sub: 0 });
  ti.put(b(d1), { main: 6, sub: 0 });
  assert.equal(ti.get(b(d2), 10), undefined, 'a key missing beside one with its hash');
  assert.equal(ti.keyIndex(b(d2)), undefined);
  for (const [k, rev] of [[a1, 2], [a2, 3], [c1, 4], [c2, 5], [d1, 6]] as const) {
    assert.deepEqual(ti.get(b(k), 10)?.modified, { main: rev, sub: 0 }, k);
    assert.equal(dec.decode(ti.keyIndex(b(k))!.key), k);
  }
  assert.deepEqual(ti.rangeSince(b(a2), undefined, 1).map(fmt), ['3']);
  // a tombstone, then a compaction that empties a1 only: a2 stays
  ti.tombstone(b(a1), { main: 7, sub: 0 });
  ti.put(b(a2), { main: 8, sub: 0 });
  ti.compact(8);
  assert.equal(ti.keyIndex(b(a1)), undefined, 'a1 compacted away');
  assert.deepEqual(ti.get(b(a2), 10)?.modified, { main: 8, sub: 0 });
  assert.throws(() => ti.tombstone(b(a1), { main: 9, sub: 0 }), ErrRevisionNotFound);
  // insert replaces the index of the same key and keeps its colliding neighbour
  const other = new TreeIndex();
  other.put(b(c2), { main: 20, sub: 0 });
  ti.insert(other.keyIndex(b(c2))!);
  assert.deepEqual(ti.get(b(c2), 30)?.modified, { main: 20, sub: 0 });
  assert.deepEqual(ti.get(b(c1), 30)?.modified, { main: 4, sub: 0 });
  assert.equal(ti.size(), 4);
  // an index holding the same key indexes is equal (equal also checks the hash lookup)
  const again = new TreeIndex();
  for (const k of [a2, c1, c2]) again.insert(ti.keyIndex(b(k))!);
  assert.ok(!again.equal(ti));
  again.insert(ti.keyIndex(b(d1))!);
  assert.ok(again.equal(ti));
});
