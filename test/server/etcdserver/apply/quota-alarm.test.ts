// Quota (etcd quota.go), the NOSPACE/CORRUPT alarms and the chain rebuild
// (etcd restoreAlarms), and AlarmStore persistence (v3alarm/alarms.go).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AlarmMemberSchema,
  AlarmRequest_AlarmAction as Action,
  AlarmType,
  type AlarmResponse,
  type PutResponse,
} from '../../../../src/gen/etcdserverpb/rpc_pb.js';
import { Buckets } from '../../../../src/server/backend/backend.js';
import { MemoryBackend } from '../../../../src/server/backend/memory-backend.js';
import { AlarmStore } from '../../../../src/server/etcdserver/api/v3alarm/alarms.js';
import {
  costPut,
  costTxn,
  DEFAULT_QUOTA_BYTES,
  LEASE_OVERHEAD,
  newBackendQuota,
  PassthroughQuota,
  QuotaAlarmer,
} from '../../../../src/server/etcdserver/apply/quota.js';
import { ErrCorrupt, ErrNoSpace } from '../../../../src/server/etcdserver/errors.js';
import { create as _c } from '@bufbuild/protobuf';
import { LeaseGrantRequestSchema } from '../../../../src/gen/etcdserverpb/rpc_pb.js';
import { b, opDel, opPut, opRange, opTxn, put, rng, setup, txn } from './fixture.js';

void _c;

describe('quota', () => {
  test('costs: put 256 + key + value; txn the larger branch, nested included; lease 64', () => {
    assert.equal(costPut(put('key', 'value')), 256 + 3 + 5);
    assert.equal(costTxn(txn([], [opPut('a', '1'), opPut('b', '22')], [opPut('c', '')])), 258 + 259);
    assert.equal(costTxn(txn([], [opRange('a'), opDel('b')])), 0);
    assert.equal(costTxn(txn([], [opTxn(txn([], [opPut('a', '1')]))])), 258);
    const q = newBackendQuota(new MemoryBackend(), 0);
    assert.equal(q.cost(create(LeaseGrantRequestSchema, { ID: 1n, TTL: 5n })), LEASE_OVERHEAD);
    assert.equal(q.remaining() > DEFAULT_QUOTA_BYTES - 1_000_000, true);
    assert.ok(newBackendQuota(new MemoryBackend(), -1) instanceof PassthroughQuota);
    assert.throws(() => newBackendQuota(new MemoryBackend(), NaN), RangeError);
  });

  test('QuotaAlarmer raises and answers ErrNoSpace when a request does not fit', () => {
    const be = new MemoryBackend();
    let raised = 0;
    const qa = new QuotaAlarmer(newBackendQuota(be, be.size() + 300), () => void raised++);
    assert.equal(qa.check(put('k', 'v')), undefined);
    assert.ok(qa.check(put('k', 'x'.repeat(100))) instanceof ErrNoSpace);
    assert.equal(raised, 1);
  });

  test('over quota: the put is applied but answers ErrNoSpace and asks for the alarm once; then NOSPACE caps writes', () => {
    const probe = setup();
    const f = setup({ quotaBytes: probe.be.size() + 1000 });
    assert.equal(f.apply({ put: put('small', 'v') }).err, undefined);
    const big = f.apply({ put: put('big', 'x'.repeat(2000)) });
    assert.ok(big.err instanceof ErrNoSpace);
    assert.equal((big.resp as PutResponse).header?.revision, 3n, 'applied on every member anyway');
    assert.equal(f.noSpaceCalls, 1);
    // the server proposes the alarm; applying it switches to the capped chain
    const act = f.apply({ alarm: { action: Action.ACTIVATE, memberID: 0x1234n, alarm: AlarmType.NOSPACE } });
    assert.deepEqual((act.resp as AlarmResponse).alarms.map((a) => [a.memberID, a.alarm]), [[0x1234n, AlarmType.NOSPACE]]);
    assert.deepEqual(f.ua.chain(), ['Capped', 'Auth', 'Quota', 'Backend']);
    assert.ok(f.apply({ put: put('tiny', '') }).err instanceof ErrNoSpace);
    assert.ok(f.apply({ leaseGrant: { ID: 1n, TTL: 10n } }).err instanceof ErrNoSpace);
    assert.ok(f.apply({ txn: txn([], [opRange('a')], [opTxn(txn([], [opPut('n', '1')]))]) }).err instanceof ErrNoSpace);
    assert.equal(f.noSpaceCalls, 1, 'refusals under the alarm do not raise it again');
    // reads, deletes and compaction still work
    assert.equal(f.apply({ range: rng('big') }).err, undefined);
    assert.equal(f.apply({ txn: txn([], [opDel('big')]) }).err, undefined);
    assert.equal(f.apply({ compaction: { revision: 4n } }).err, undefined);
    // disarm
    f.apply({ alarm: { action: Action.DEACTIVATE, memberID: 0x1234n, alarm: AlarmType.NOSPACE } });
    assert.deepEqual(f.ua.chain(), ['Auth', 'Quota', 'Backend']);
    // the backend is still over quota (no defragment): the put applies, answers ErrNoSpace and asks again
    const again = f.apply({ put: put('tiny', '') });
    assert.ok(again.err instanceof ErrNoSpace);
    assert.ok(again.resp);
    assert.equal(f.noSpaceCalls, 2);
  });

  test('CORRUPT refuses kv and lease requests, still applies alarms; survives a restart', () => {
    const f = setup();
    f.apply({ alarm: { action: Action.ACTIVATE, memberID: 7n, alarm: AlarmType.CORRUPT } });
    f.apply({ alarm: { action: Action.ACTIVATE, memberID: 8n, alarm: AlarmType.NOSPACE } });
    assert.deepEqual(f.ua.chain(), ['Corrupt', 'Capped', 'Auth', 'Quota', 'Backend']);
    for (const req of [{ put: put('k', 'v') }, { range: rng('k') }, { txn: txn([], []) }, { compaction: { revision: 1n } }, { leaseRevoke: { ID: 1n } }]) {
      assert.ok(f.apply(req).err instanceof ErrCorrupt, JSON.stringify(Object.keys(req)));
    }
    f.rebuild(); // restart: alarms come back from the backend
    assert.deepEqual(f.ua.chain(), ['Corrupt', 'Capped', 'Auth', 'Quota', 'Backend']);
    f.apply({ alarm: { action: Action.DEACTIVATE, memberID: 7n, alarm: AlarmType.CORRUPT } });
    assert.deepEqual(f.ua.chain(), ['Capped', 'Auth', 'Quota', 'Backend'], 'NOSPACE stays (etcd 3.4 would drop it until restart)');
  });
});

describe('alarms', () => {
  test('GET ignores the member ID; NONE lists all; ACTIVATE twice is one alarm; DEACTIVATE of nothing answers nothing', () => {
    const f = setup();
    const get = (alarm: AlarmType, memberID = 0n) =>
      (f.apply({ alarm: { action: Action.GET, memberID, alarm } }).resp as AlarmResponse).alarms.map((a) => `${a.memberID}:${AlarmType[a.alarm]}`);
    f.apply({ alarm: { action: Action.ACTIVATE, memberID: 2n, alarm: AlarmType.NOSPACE } });
    f.apply({ alarm: { action: Action.ACTIVATE, memberID: 2n, alarm: AlarmType.NOSPACE } });
    f.apply({ alarm: { action: Action.ACTIVATE, memberID: 1n, alarm: AlarmType.NOSPACE } });
    f.apply({ alarm: { action: Action.ACTIVATE, memberID: 0n, alarm: AlarmType.CORRUPT } });
    assert.deepEqual(get(AlarmType.NONE), ['1:NOSPACE', '2:NOSPACE', '0:CORRUPT']);
    assert.deepEqual(get(AlarmType.NOSPACE, 99n), ['1:NOSPACE', '2:NOSPACE']);
    const none = f.apply({ alarm: { action: Action.DEACTIVATE, memberID: 5n, alarm: AlarmType.NOSPACE } });
    assert.deepEqual((none.resp as AlarmResponse).alarms, []);
    f.apply({ alarm: { action: Action.DEACTIVATE, memberID: 0n, alarm: AlarmType.CORRUPT } });
    assert.deepEqual(get(AlarmType.NONE), ['1:NOSPACE', '2:NOSPACE']);
  });

  test('persisted in the alarm bucket keyed by the marshalled AlarmMember; restored by a new store', () => {
    const be = new MemoryBackend();
    const a = new AlarmStore(be);
    a.activate(3n, AlarmType.NOSPACE);
    a.activate(4n, AlarmType.CORRUPT);
    a.deactivate(4n, AlarmType.CORRUPT);
    be.forceCommit();
    const r = be.readTx();
    const stored: Uint8Array[] = [];
    r.forEach(Buckets.alarm, (k, v) => {
      stored.push(k.slice());
      assert.equal(v.length, 0);
    });
    r.release();
    assert.deepEqual(stored, [toBinary(AlarmMemberSchema, create(AlarmMemberSchema, { memberID: 3n, alarm: AlarmType.NOSPACE }))]);
    const again = new AlarmStore(be);
    assert.deepEqual(again.get(AlarmType.NONE).map((m) => [m.memberID, m.alarm]), [[3n, AlarmType.NOSPACE]]);
    void b;
  });
});
