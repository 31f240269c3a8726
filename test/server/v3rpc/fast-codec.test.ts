// The hand-written codecs (Put, Range, Watch) give exactly what the generated protobuf code gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, equals, toBinary } from '@bufbuild/protobuf';
import { DeleteRangeResponseSchema, LeaseGrantResponseSchema, PutRequestSchema, PutResponseSchema, RangeResponseSchema, TxnResponseSchema, WatchResponseSchema, type ResponseOp, type TxnResponse } from '../../../src/gen/etcdserverpb/rpc_pb.js';
import { EventSchema, Event_EventType, KeyValueSchema, type KeyValue } from '../../../src/gen/mvccpb/kv_pb.js';
import { decodePutRequest, encodeDeleteRangeResponse, encodeEvent, encodeLeaseGrantResponse, encodePutResponse, encodeRangeResponse, encodeTxnResponse, encodeWatchResponse, WatchEventsFramer } from '../../../src/server/etcdserver/api/v3rpc/fast-codec.js';
import { encodeMessage } from '../../../src/util/grpc/message.js';
import { INT64_SAMPLES, rng, UINT64_SAMPLES } from '../../harness/codec-samples.js';

const enc = new TextEncoder();

test('PutRequest decoding equals the generated decoder', () => {
  const cases = [
    create(PutRequestSchema, {}),
    create(PutRequestSchema, { key: enc.encode('k'), value: new Uint8Array(300).fill(1) }),
    create(PutRequestSchema, { key: enc.encode('k'), value: new Uint8Array(70000), lease: 0x694d7a1f2b3c4d5en, prevKv: true, ignoreValue: true, ignoreLease: true }),
    create(PutRequestSchema, { key: Uint8Array.of(0, 255), lease: -5n }),
  ];
  for (const r of cases) {
    const b = toBinary(PutRequestSchema, r);
    assert.ok(equals(PutRequestSchema, decodePutRequest(b), r));
  }
  // out of order, repeated and unknown fields: same answer as protobuf (last value wins, unknown kept)
  const odd = Uint8Array.of(0x12, 0x01, 0x76, 0x0a, 0x01, 0x6b, 0x0a, 0x01, 0x6c, 0x38, 0x01);
  const r = decodePutRequest(odd);
  assert.deepEqual([...r.key], [0x6c]);
  assert.deepEqual([...r.value], [0x76]);
  assert.throws(() => decodePutRequest(Uint8Array.of(0x0a, 0x09, 0x61)));
});

test('PutResponse encoding equals the generated encoder', () => {
  const cases = [
    create(PutResponseSchema, {}),
    create(PutResponseSchema, { header: { clusterId: 0xcdf818194e3a8c32n, memberId: 0x8e9e05c52164694dn, revision: 12345n, raftTerm: 2n } }),
    create(PutResponseSchema, {
      header: { revision: 1n },
      prevKv: { key: enc.encode('k'), value: enc.encode('old'), createRevision: 2n, modRevision: 3n, version: 2n, lease: 7n },
    }),
  ];
  for (const r of cases) assert.deepEqual(Buffer.from(encodePutResponse(r)), Buffer.from(toBinary(PutResponseSchema, r)));
});

test('LeaseGrantResponse encoding equals the generated encoder (IDs and TTLs around the varint sizes, negatives, errors, headers)', () => {
  const r = rng(11);
  const cases = [create(LeaseGrantResponseSchema, {}), create(LeaseGrantResponseSchema, { error: 'lease already exists ✓' })];
  for (let i = 0; i < 200; i++) {
    cases.push(create(LeaseGrantResponseSchema, {
      ...(r(4) ? { header: { clusterId: UINT64_SAMPLES[r(UINT64_SAMPLES.length)]!, memberId: UINT64_SAMPLES[r(UINT64_SAMPLES.length)]!, revision: INT64_SAMPLES[r(8)]!, raftTerm: INT64_SAMPLES[r(5)]! } } : {}),
      ID: INT64_SAMPLES[r(INT64_SAMPLES.length)]!,
      TTL: INT64_SAMPLES[r(INT64_SAMPLES.length)]!,
      ...(r(5) === 0 ? { error: 'x'.repeat(r(200)) } : {}),
    }));
  }
  for (const m of cases) assert.deepEqual(Buffer.from(encodeLeaseGrantResponse(m)), Buffer.from(toBinary(LeaseGrantResponseSchema, m)), JSON.stringify(m, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  // unknown fields: the generated encoder, which keeps them
  const withUnknown = create(LeaseGrantResponseSchema, { ID: 5n });
  (withUnknown as { $unknown?: unknown[] }).$unknown = [{ no: 99, wireType: 0, data: Uint8Array.of(1) }];
  assert.deepEqual(Buffer.from(encodeLeaseGrantResponse(withUnknown)), Buffer.from(toBinary(LeaseGrantResponseSchema, withUnknown)));
});

const BIG = INT64_SAMPLES;
const U64 = UINT64_SAMPLES;

function randomKv(r: (n: number) => number): KeyValue {
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => r(256));
  return create(KeyValueSchema, {
    key: bytes(r(3) === 0 ? 0 : 1 + r(40)),
    value: bytes([0, 1, 200, 5000][r(4)]!),
    createRevision: BIG[r(8)]!,
    modRevision: BIG[r(8)]!,
    version: BIG[r(5)]!,
    lease: BIG[r(BIG.length)]!,
  });
}

test('RangeResponse encoding equals the generated encoder (random responses, keys_only values)', () => {
  const r = rng(7);
  for (let i = 0; i < 300; i++) {
    const kvs = Array.from({ length: r(4) === 0 ? 0 : r(30) }, () => randomKv(r));
    const res = create(RangeResponseSchema, {
      ...(r(5) ? { header: { clusterId: U64[r(U64.length)]!, memberId: U64[r(U64.length)]!, revision: BIG[r(8)]!, raftTerm: BIG[r(5)]! } } : {}),
      kvs,
      more: r(2) === 0,
      count: BIG[r(BIG.length)]!,
    });
    assert.deepEqual(Buffer.from(encodeRangeResponse(res)), Buffer.from(toBinary(RangeResponseSchema, res)), `case ${i}`);
  }
});

test('WatchResponse encoding equals the generated encoder (random responses; events encoded once, reused)', () => {
  const r = rng(11);
  const events = Array.from({ length: 40 }, () =>
    create(EventSchema, {
      type: r(2) ? Event_EventType.PUT : Event_EventType.DELETE,
      ...(r(6) ? { kv: randomKv(r) } : {}),
      ...(r(2) ? { prevKv: randomKv(r) } : {}),
    }),
  );
  for (const e of events) assert.deepEqual(Buffer.from(encodeEvent(e)), Buffer.from(toBinary(EventSchema, e)));
  for (let i = 0; i < 300; i++) {
    const res = create(WatchResponseSchema, {
      ...(r(5) ? { header: { clusterId: U64[r(U64.length)]!, memberId: U64[r(U64.length)]!, revision: BIG[r(8)]!, raftTerm: BIG[r(5)]! } } : {}),
      watchId: BIG[r(BIG.length)]!,
      created: r(3) === 0,
      canceled: r(3) === 0,
      compactRevision: BIG[r(6)]!,
      cancelReason: ['', 'etcdserver: mvcc: required revision has been compacted', 'ü'][r(3)]!,
      fragment: r(3) === 0,
      events: Array.from({ length: r(4) === 0 ? 0 : r(12) }, () => events[r(events.length)]!),
    });
    // the same event objects in many responses (as a fan-out to many watchers sends them)
    assert.deepEqual(Buffer.from(encodeWatchResponse(res)), Buffer.from(toBinary(WatchResponseSchema, res)), `case ${i}`);
  }
});

test('WatchEventsFramer: framed event responses equal the generated encoder, also when header and events bytes are reused', () => {
  const r = rng(13);
  const events = Array.from({ length: 12 }, () =>
    create(EventSchema, { type: r(2) ? Event_EventType.PUT : Event_EventType.DELETE, kv: randomKv(r), ...(r(3) === 0 ? { prevKv: randomKv(r) } : {}) }),
  );
  const framer = new WatchEventsFramer();
  let header = { clusterId: U64[4]!, memberId: U64[3]!, revision: 5n, raftTerm: 2n };
  let batch = [events[0]!];
  let reused = 0;
  for (let i = 0; i < 400; i++) {
    // mostly the same revision and event objects for many watch IDs, as a fan-out sends them
    if (r(10) === 0) header = { clusterId: U64[r(U64.length)]!, memberId: U64[r(U64.length)]!, revision: BIG[r(8)]!, raftTerm: BIG[r(5)]! };
    else if (r(6) === 0) header = { ...header, revision: header.revision + 1n }; // the next revision
    else if (r(20) === 0) header = { ...header, raftTerm: header.raftTerm + 1n }; // a new leader's term
    if (r(8) === 0) batch = Array.from({ length: 1 + r(4) }, () => events[r(events.length)]!);
    else if (r(8) === 0) batch = batch.slice(); // equal objects in a new array: still reused
    else reused++;
    const watchId = BIG[r(BIG.length)]!;
    const want = encodeMessage(toBinary(WatchResponseSchema, create(WatchResponseSchema, { header, watchId, events: batch })));
    assert.deepEqual(Buffer.from(framer.frame({ ...header }, watchId, batch)), want, `case ${i}`);
  }
  assert.ok(reused > 100);
});

test('DeleteRangeResponse and TxnResponse encodings equal the generated encoder (random responses, nested txns, empty ops)', () => {
  const r = rng(13);
  const header = () => (r(5) ? { header: { clusterId: U64[r(U64.length)]!, memberId: U64[r(U64.length)]!, revision: BIG[r(8)]!, raftTerm: BIG[r(5)]! } } : {});
  const del = () => create(DeleteRangeResponseSchema, { ...header(), deleted: BIG[r(6)]!, prevKvs: Array.from({ length: r(3) === 0 ? 0 : r(5) }, () => randomKv(r)) });
  const txn = (depth: number): TxnResponse => {
    const responses: ResponseOp['response'][] = Array.from({ length: r(5) }, () => {
      switch (r(depth > 0 ? 5 : 4)) {
        case 0:
          return { case: 'responseRange', value: create(RangeResponseSchema, { ...header(), kvs: Array.from({ length: r(4) }, () => randomKv(r)), more: r(2) === 0, count: BIG[r(BIG.length)]! }) };
        case 1:
          return { case: 'responsePut', value: create(PutResponseSchema, { ...header(), ...(r(2) ? { prevKv: randomKv(r) } : {}) }) };
        case 2:
          return { case: 'responseDeleteRange', value: del() };
        case 3:
          return { case: undefined };
        default:
          return { case: 'responseTxn', value: txn(depth - 1) };
      }
    });
    return create(TxnResponseSchema, { ...header(), succeeded: r(2) === 0, responses: responses.map((response) => ({ response })) });
  };
  for (let i = 0; i < 300; i++) {
    const d = del();
    assert.deepEqual(Buffer.from(encodeDeleteRangeResponse(d)), Buffer.from(toBinary(DeleteRangeResponseSchema, d)), `delete case ${i}`);
    const t = txn(3);
    assert.deepEqual(Buffer.from(encodeTxnResponse(t)), Buffer.from(toBinary(TxnResponseSchema, t)), `txn case ${i}`);
  }
});
