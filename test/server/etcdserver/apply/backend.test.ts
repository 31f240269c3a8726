// The backend applier through the UberApplier: Put (prev_kv, ignore_value,
// ignore_lease, leases), every Range option, DeleteRange, Txn (compares, ranges,
// nested txns, revisions), Compaction, leases, membership (etcd 3.4 apply.go).
// Cases marked "verified on etcd 3.4.23" were run against /usr/bin/etcd with
// etcdctl while writing this file.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import {
  Compare_CompareResult as R,
  LeaseCheckpointSchema,
  RangeRequest_SortOrder as Order,
  RangeRequest_SortTarget as Target,
  type DeleteRangeResponse,
  type LeaseGrantResponse,
  type PutResponse,
  type RangeResponse,
  type TxnResponse,
} from '../../../../src/gen/etcdserverpb/rpc_pb.js';
import { AttributesSchema } from '../../../../src/gen/membershippb/membership_pb.js';
import { ErrKeyNotFound, ErrUnknownMethod } from '../../../../src/server/etcdserver/errors.js';
import { ErrLeaseNotFound, ErrLeaseExists } from '../../../../src/server/lease/errors.js';
import { ErrCompacted, ErrFutureRev } from '../../../../src/server/mvcc/errors.js';
import { isTxnReadonly, isTxnSerializable } from '../../../../src/server/etcdserver/apply/auth.js';
import { noSideEffect, removeNeedlessRangeReqs } from '../../../../src/server/etcdserver/apply/uber-applier.js';
import { b, cmpInt, cmpValue, del, opDel, opPut, opRange, opTxn, put, rng, s, setup, txn, type Fixture } from './fixture.js';

function ok<T>(f: Fixture, fields: Parameters<Fixture['apply']>[0]): T {
  const r = f.apply(fields);
  assert.equal(r.err, undefined, `unexpected error ${r.err?.message}`);
  return r.resp as T;
}
const keys = (r: RangeResponse): string[] => r.kvs.map((kv) => s(kv.key));

/** a=1 (rev 2), b=2 (3), a=3 (4), c=1 (5), b=4 (6), b=5 (7): the data used on real etcd. */
function seeded(): Fixture {
  const f = setup();
  for (const [k, v] of [['a', '1'], ['b', '2'], ['a', '3'], ['c', '1'], ['b', '4'], ['b', '5']] as const) ok(f, { put: put(k, v) });
  return f;
}

describe('apply: put', () => {
  test('answers the new revision; prev_kv returns the previous pair only when asked and present', () => {
    const f = setup();
    const r1 = ok<PutResponse>(f, { put: put('k', 'v1', { prevKv: true }) });
    assert.equal(r1.header?.revision, 2n);
    assert.equal(r1.prevKv, undefined);
    const r2 = ok<PutResponse>(f, { put: put('k', 'v2', { prevKv: true }) });
    assert.equal(r2.header?.revision, 3n);
    assert.equal(s(r2.prevKv!.value), 'v1');
    assert.equal(r2.prevKv!.modRevision, 2n);
    assert.equal(ok<PutResponse>(f, { put: put('k', 'v3') }).prevKv, undefined);
  });

  test('ignore_value / ignore_lease on a missing key: "etcdserver: key not found" (verified on etcd 3.4.23), nothing written', () => {
    const f = setup();
    for (const more of [{ ignoreValue: true }, { ignoreLease: true }]) {
      const r = f.apply({ put: put('missing', '', more) });
      assert.ok(r.err instanceof ErrKeyNotFound);
      assert.equal(r.err.message, 'etcdserver: key not found');
    }
    assert.equal(f.kv.rev(), 1);
  });

  test('ignore_value keeps the value, ignore_lease keeps the lease', () => {
    const f = setup();
    ok(f, { leaseGrant: { ID: 7n, TTL: 10n } });
    ok(f, { put: put('k', 'v', { lease: 7n }) });
    ok(f, { put: put('k', '', { ignoreValue: true, lease: 7n }) });
    let kv = f.kv.range(b('k'), undefined).kvs[0]!;
    assert.equal(s(kv.value), 'v');
    assert.equal(kv.lease, 7n);
    ok(f, { put: put('k', 'w', { ignoreLease: true }) });
    kv = f.kv.range(b('k'), undefined).kvs[0]!;
    assert.equal(s(kv.value), 'w');
    assert.equal(kv.lease, 7n);
    assert.equal(kv.version, 3n);
  });

  test('an unknown lease is ErrLeaseNotFound ("requested lease not found" on etcd 3.4.23) and writes nothing', () => {
    const f = setup();
    const r = f.apply({ put: put('k', 'v', { lease: 1234n }) });
    assert.ok(r.err instanceof ErrLeaseNotFound);
    assert.equal(f.kv.rev(), 1);
  });
});

describe('apply: range', () => {
  test('sort target VERSION with order NONE sorts ascending (verified on etcd 3.4.23: c a b)', () => {
    const f = seeded();
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('d'), sortTarget: Target.VERSION }) })), ['c', 'a', 'b']);
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('d'), sortTarget: Target.VERSION, sortOrder: Order.DESCEND }) })), ['b', 'a', 'c']);
  });

  test('KEY with NONE keeps key order; KEY DESCEND reverses; CREATE/MOD orders', () => {
    const f = seeded();
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('d') }) })), ['a', 'b', 'c']);
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('d'), sortOrder: Order.DESCEND }) })), ['c', 'b', 'a']);
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('d'), sortTarget: Target.CREATE, sortOrder: Order.DESCEND }) })), ['c', 'b', 'a']);
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('d'), sortTarget: Target.MOD }) })), ['a', 'c', 'b']);
  });

  test('keys_only with sort by VALUE sorts by the real values, then empties them (verified on etcd 3.4.23: c a b)', () => {
    const f = seeded();
    const r = ok<RangeResponse>(f, { range: rng('a', { rangeEnd: b('d'), sortTarget: Target.VALUE, keysOnly: true }) });
    assert.deepEqual(keys(r), ['c', 'a', 'b']);
    assert.ok(r.kvs.every((kv) => kv.value.length === 0));
  });

  test('ties keep key order in both directions', () => {
    const f = setup();
    for (const k of ['d', 'a', 'c', 'b']) ok(f, { put: put(k, 'same') });
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('z'), sortTarget: Target.VALUE }) })), ['a', 'b', 'c', 'd']);
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('z'), sortTarget: Target.VALUE, sortOrder: Order.DESCEND }) })), ['a', 'b', 'c', 'd']);
  });

  test('limit: more and count (verified on etcd 3.4.23: count 3, more true, 2 kvs, revision 7)', () => {
    const f = seeded();
    const r = ok<RangeResponse>(f, { range: rng('a', { rangeEnd: b('d'), limit: 2n }) });
    assert.deepEqual([r.count, r.more, r.kvs.length, r.header?.revision], [3n, true, 2, 7n]);
    const exact = ok<RangeResponse>(f, { range: rng('a', { rangeEnd: b('d'), limit: 3n }) });
    assert.deepEqual([exact.count, exact.more, exact.kvs.length], [3n, false, 3]);
    const sorted = ok<RangeResponse>(f, { range: rng('a', { rangeEnd: b('d'), limit: 1n, sortTarget: Target.MOD, sortOrder: Order.DESCEND }) });
    assert.deepEqual([keys(sorted), sorted.more, sorted.count], [['b'], true, 3n]);
  });

  test('min/max mod/create revision filters apply before limit; count stays the unfiltered count', () => {
    const f = seeded(); // mod: a 4, b 7, c 5; create: a 2, b 3, c 5
    const r = ok<RangeResponse>(f, { range: rng('a', { rangeEnd: b('d'), minModRevision: 5n }) });
    assert.deepEqual([keys(r), r.count], [['b', 'c'], 3n]);
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('d'), maxModRevision: 5n }) })), ['a', 'c']);
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('d'), minCreateRevision: 3n }) })), ['b', 'c']);
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: b('d'), maxCreateRevision: 3n }) })), ['a', 'b']);
    const lim = ok<RangeResponse>(f, { range: rng('a', { rangeEnd: b('d'), minModRevision: 5n, limit: 1n }) });
    assert.deepEqual([keys(lim), lim.more, lim.count], [['b'], true, 3n]);
  });

  test('count_only returns no kvs and the count; revision reads history; "\\0" range end means from key', () => {
    const f = seeded();
    const c = ok<RangeResponse>(f, { range: rng('a', { rangeEnd: b('d'), countOnly: true, limit: 1n }) });
    assert.deepEqual([c.kvs.length, c.count, c.more], [0, 3n, false]);
    const old = ok<RangeResponse>(f, { range: rng('b', { revision: 3n }) });
    assert.equal(s(old.kvs[0]!.value), '2');
    assert.equal(old.header?.revision, 7n, 'header revision is the store revision, not the asked one');
    assert.deepEqual(keys(ok(f, { range: rng('b', { rangeEnd: Uint8Array.of(0) }) })), ['b', 'c']);
    assert.deepEqual(keys(ok(f, { range: rng('b') })), ['b']);
  });

  test('a future or compacted revision fails (verified on etcd 3.4.23)', () => {
    const f = seeded();
    assert.ok(f.apply({ range: rng('a', { revision: 8n }) }).err instanceof ErrFutureRev);
    ok(f, { compaction: { revision: 4n } });
    assert.ok(f.apply({ range: rng('a', { revision: 3n }) }).err instanceof ErrCompacted);
    ok(f, { range: rng('a', { revision: 4n }) });
  });
});

describe('apply: delete range', () => {
  test('prev_kv returns the deleted pairs; deleting nothing keeps the revision (verified on etcd 3.4.23: revision 7)', () => {
    const f = seeded();
    const none = ok<DeleteRangeResponse>(f, { deleteRange: del('nothing') });
    assert.deepEqual([none.deleted, none.header?.revision], [0n, 7n]);
    const r = ok<DeleteRangeResponse>(f, { deleteRange: del('a', { rangeEnd: b('c'), prevKv: true }) });
    assert.deepEqual([r.deleted, r.header?.revision, r.prevKvs.map((kv) => s(kv.value))], [2n, 8n, ['3', '5']]);
    assert.deepEqual(keys(ok(f, { range: rng('a', { rangeEnd: Uint8Array.of(0) }) })), ['c']);
  });
});

describe('apply: txn', () => {
  test('all compare targets and results, on keys and ranges', () => {
    const f = seeded(); // a: ver 2 create 2 mod 4 val 3; b: ver 3 create 3 mod 7 val 5; c: ver 1 create 5 mod 5 val 1
    const cases: [ReturnType<typeof cmpInt>, boolean][] = [
      [cmpInt('a', 'version', R.EQUAL, 2n), true],
      [cmpInt('a', 'version', R.GREATER, 2n), false],
      [cmpInt('a', 'createRevision', R.EQUAL, 2n), true],
      [cmpInt('a', 'modRevision', R.LESS, 5n), true],
      [cmpInt('a', 'modRevision', R.NOT_EQUAL, 4n), false],
      [cmpInt('a', 'lease', R.EQUAL, 0n), true],
      [cmpValue('a', R.EQUAL, '3'), true],
      [cmpValue('a', R.GREATER, '2'), true],
      [cmpValue('a', R.LESS, '3'), false],
      [cmpInt('missing', 'version', R.EQUAL, 0n), true],
      [cmpInt('missing', 'createRevision', R.LESS, 1n), true],
      [cmpValue('missing', R.NOT_EQUAL, 'x'), false], // a value compare on a missing key always fails
      [cmpInt('a', 'modRevision', R.GREATER, 3n, 'd'), true], // every key in [a, d) has mod > 3
      [cmpInt('a', 'modRevision', R.GREATER, 4n, 'd'), false], // a has mod 4
      [cmpInt('b', 'version', R.GREATER, 0n, '\0'), true],
      [cmpInt('x', 'version', R.EQUAL, 0n, 'z'), true], // empty range compares against a zero pair
    ];
    for (const [c, want] of cases) {
      const r = ok<TxnResponse>(f, { txn: txn([c], []) });
      assert.equal(r.succeeded, want, JSON.stringify({ target: c.target, result: c.result, key: s(c.key), end: s(c.rangeEnd) }));
    }
  });

  test('a write txn is one revision; responses follow the branch; the header is the new revision', () => {
    const f = seeded();
    const r = ok<TxnResponse>(f, {
      txn: txn([cmpValue('a', R.EQUAL, '3')], [opPut('x', '1'), opPut('y', '2', { prevKv: true }), opRange('x'), opDel('c', { prevKv: true })], [opPut('never', '1')]),
    });
    assert.equal(r.succeeded, true);
    assert.equal(r.header?.revision, 8n);
    const [p1, p2, rr, d] = r.responses.map((o) => o.response);
    assert.equal((p1!.value as PutResponse).header?.revision, 8n);
    assert.equal((p2!.value as PutResponse).prevKv, undefined);
    assert.deepEqual(keys(rr!.value as RangeResponse), ['x'], 'a range in the txn sees its earlier writes');
    assert.equal((rr!.value as RangeResponse).header?.revision, 8n);
    assert.equal((d!.value as DeleteRangeResponse).deleted, 1n);
    assert.equal(f.kv.rev(), 8);
    assert.equal(f.kv.range(b('x'), undefined).kvs[0]!.modRevision, 8n);
    assert.equal(f.kv.range(b('never'), undefined).count, 0);
  });

  test('read-only and no-op txns answer the current revision and change nothing', () => {
    const f = seeded();
    const ro = ok<TxnResponse>(f, { txn: txn([], [opRange('a')]) });
    assert.equal(ro.header?.revision, 7n);
    const failedNoOps = ok<TxnResponse>(f, { txn: txn([cmpValue('a', R.EQUAL, 'zzz')], [opPut('x', '1')]) });
    assert.deepEqual([failedNoOps.succeeded, failedNoOps.responses.length, failedNoOps.header?.revision], [false, 0, 7n]);
    assert.equal(f.kv.rev(), 7);
  });

  test('nested txns take their own branch; the path is evaluated before any write', () => {
    const f = seeded();
    const inner1 = txn([cmpValue('a', R.EQUAL, '3')], [opPut('in1', 'ok')], [opPut('in1', 'bad')]);
    const inner2 = txn([cmpInt('x', 'version', R.EQUAL, 0n)], [opPut('in2', 'x-was-missing')], [opPut('in2', 'x-existed')]);
    const r = ok<TxnResponse>(f, { txn: txn([], [opPut('x', '1'), opTxn(inner1), opTxn(inner2), opRange('in', { rangeEnd: b('io') })]) });
    assert.equal(r.header?.revision, 8n);
    const n1 = r.responses[1]!.response.value as TxnResponse;
    const n2 = r.responses[2]!.response.value as TxnResponse;
    assert.deepEqual([n1.succeeded, n2.succeeded], [true, true], 'inner2 compared before the outer put of x');
    assert.equal((n1.responses[0]!.response.value as PutResponse).header?.revision, 8n);
    const rr = r.responses[3]!.response.value as RangeResponse;
    assert.deepEqual(rr.kvs.map((kv) => `${s(kv.key)}=${s(kv.value)}`), ['in1=ok', 'in2=x-was-missing']);
  });

  test('request checks fail the whole txn before any write: ignore_value, lease, range revisions', () => {
    const f = seeded();
    const e1 = f.apply({ txn: txn([], [opPut('x', '1'), opPut('missing', '', { ignoreValue: true })]) });
    assert.ok(e1.err instanceof ErrKeyNotFound);
    const e2 = f.apply({ txn: txn([], [opPut('x', '1'), opTxn(txn([], [opPut('y', '1', { lease: 99n })]))]) });
    assert.ok(e2.err instanceof ErrLeaseNotFound, 'checked inside nested txns too');
    const e3 = f.apply({ txn: txn([], [opRange('a', { revision: 100n })]) });
    assert.ok(e3.err instanceof ErrFutureRev);
    ok(f, { compaction: { revision: 5n } });
    const e4 = f.apply({ txn: txn([], [opPut('x', '1'), opRange('a', { revision: 4n })]) });
    assert.ok(e4.err instanceof ErrCompacted);
    // a failing check in the branch not taken does not matter
    ok(f, { txn: txn([cmpValue('a', R.EQUAL, '3')], [opPut('x', '1')], [opPut('missing', '', { ignoreValue: true })]) });
    assert.equal(f.kv.rev(), 8);
  });

  test('isTxnReadonly / isTxnSerializable / removeNeedlessRangeReqs / noSideEffect', () => {
    assert.equal(isTxnReadonly(txn([], [opRange('a')], [opRange('b')])), true);
    assert.equal(isTxnReadonly(txn([], [opRange('a')], [opTxn(txn([], [opRange('b')]))])), false);
    assert.equal(isTxnSerializable(txn([], [opRange('a', { serializable: true })])), true);
    assert.equal(isTxnSerializable(txn([], [opRange('a', { serializable: true })], [opRange('b')])), false);
    const t = txn([], [opRange('a'), opPut('a', '1')], [opRange('b')]);
    removeNeedlessRangeReqs(t);
    assert.deepEqual([t.success.length, t.failure.length], [1, 0]);
    const f = setup();
    void f;
    assert.equal(noSideEffect({ range: rng('a') } as never), true);
    assert.equal(noSideEffect({ put: put('a', '1') } as never), false);
  });
});

describe('apply: compaction', () => {
  test('physc resolves when the backend is compacted; header is the current revision', async () => {
    const f = seeded();
    const r = f.apply({ compaction: { revision: 5n, physical: true } });
    assert.equal(r.err, undefined);
    assert.equal((r.resp as { header: { revision: bigint } }).header.revision, 7n);
    assert.ok(r.physc);
    await r.physc;
  });

  test('ErrCompacted carries a barrier physc; ErrFutureRev none (messages verified on etcd 3.4.23)', async () => {
    const f = seeded();
    ok(f, { compaction: { revision: 5n } });
    const again = f.apply({ compaction: { revision: 4n } });
    assert.ok(again.err instanceof ErrCompacted);
    assert.equal(again.err.message, 'mvcc: required revision has been compacted');
    assert.ok(again.physc);
    await again.physc;
    const same = f.apply({ compaction: { revision: 5n } });
    assert.ok(same.err instanceof ErrCompacted);
    const fut = f.apply({ compaction: { revision: 100n } });
    assert.ok(fut.err instanceof ErrFutureRev);
    assert.equal(fut.physc, undefined);
  });
});

describe('apply: leases', () => {
  test('grant uses the proposed ID and raises the TTL to the minimum; duplicates and ID 0 fail', () => {
    const f = setup();
    const g = ok<LeaseGrantResponse>(f, { leaseGrant: { ID: 42n, TTL: 1n } });
    assert.deepEqual([g.ID, g.TTL, g.header?.revision], [42n, 2n, 1n]);
    assert.ok(f.apply({ leaseGrant: { ID: 42n, TTL: 5n } }).err instanceof ErrLeaseExists);
    assert.ok(f.apply({ leaseGrant: { ID: 0n, TTL: 5n } }).err instanceof ErrLeaseNotFound);
  });

  test('revoke deletes attached keys at one revision and answers it; unknown lease fails', () => {
    const f = setup();
    ok(f, { leaseGrant: { ID: 5n, TTL: 10n } });
    ok(f, { put: put('k1', 'v', { lease: 5n }) });
    ok(f, { put: put('k2', 'v', { lease: 5n }) });
    const r = ok<{ header: { revision: bigint } }>(f, { leaseRevoke: { ID: 5n } });
    assert.equal(r.header.revision, 4n);
    assert.equal(f.kv.range(b('k'), b('l')).count, 0);
    assert.ok(f.apply({ leaseRevoke: { ID: 5n } }).err instanceof ErrLeaseNotFound);
  });

  test('checkpoint records the remaining TTL; unknown leases are ignored', () => {
    const f = setup();
    ok(f, { leaseGrant: { ID: 5n, TTL: 100n } });
    ok(f, { leaseCheckpoint: { checkpoints: [create(LeaseCheckpointSchema, { ID: 5n, remainingTTL: 30n }), create(LeaseCheckpointSchema, { ID: 6n, remainingTTL: 1n })] } });
    assert.equal(f.lessor.lookup(5n)?.remainingTtl, 30);
  });
});

describe('apply: membership and dispatch', () => {
  test('cluster_member_attr_set and cluster_version_set go to the MembershipApplier', () => {
    const f = setup();
    ok(f, { clusterMemberAttrSet: { memberID: 9n, memberAttributes: create(AttributesSchema, { name: 'n1', clientUrls: ['http://a'] }) } });
    ok(f, { clusterVersionSet: { ver: '3.4.0' } });
    assert.deepEqual(f.members.attrs, [[9n, 'n1', ['http://a']]]);
    assert.deepEqual(f.members.versions, ['3.4.0']);
  });

  test('a request with no field answers ErrUnknownMethod', () => {
    assert.ok(setup().apply({}).err instanceof ErrUnknownMethod);
  });
});
