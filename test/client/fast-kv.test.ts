// The client's hand codecs for Range, Put and Alarm write and read exactly what protobuf-es does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AlarmRequestSchema,
  AlarmResponseSchema,
  PutRequestSchema,
  PutResponseSchema,
  RangeRequestSchema,
  RangeResponseSchema,
  KV,
  Maintenance,
} from '../../src/gen/etcdserverpb/rpc_pb.js';
import type { KeyValue, KeyValueSchema } from '../../src/gen/mvccpb/kv_pb.js';
import { ALARM_RPC, PUT_RPC, RANGE_RPC, type UnaryRpc } from '../../src/client/fast-kv.js';
import { INT64_SAMPLES, rng, UINT64_SAMPLES } from '../harness/codec-samples.js';

const I64 = INT64_SAMPLES;
const U64 = UINT64_SAMPLES;

const pick = <T>(r: (n: number) => number, xs: readonly T[]): T => xs[r(xs.length)]!;
const bytes = (r: (n: number) => number, max: number) => Uint8Array.from({ length: r(max + 1) }, () => r(256));
const maybe = <T>(r: (n: number) => number, v: () => T): T | undefined => (r(3) === 0 ? undefined : v());

function randomKv(r: (n: number) => number): MessageInitShape<typeof KeyValueSchema> {
  return {
    key: bytes(r, 20),
    createRevision: pick(r, I64),
    modRevision: pick(r, I64),
    version: pick(r, I64),
    value: bytes(r, r(4) === 0 ? 3000 : 10),
    lease: pick(r, I64),
  };
}
function randomHeader(r: (n: number) => number) {
  return { clusterId: pick(r, U64), memberId: pick(r, U64), revision: pick(r, I64), raftTerm: pick(r, U64) };
}

/** encode(init) must equal toBinary(create(init)); decode(bytes) must deep-equal fromBinary(bytes). */
function check<I extends DescMessage, O extends DescMessage>(rpc: UnaryRpc<I, O>, input: I, output: O, req: MessageInitShape<I>, resp: MessageInitShape<O>): void {
  assert.deepEqual(Buffer.from(rpc.encode(req)), Buffer.from(toBinary(input, create(input, req))));
  const wire = toBinary(output, create(output, resp));
  assert.deepStrictEqual(rpc.decode(wire), fromBinary(output, wire));
}

test('Range: random requests and responses equal protobuf-es both ways', () => {
  const r = rng(7);
  for (let i = 0; i < 400; i++) {
    const req: MessageInitShape<typeof RangeRequestSchema> = {
      key: maybe(r, () => bytes(r, 10)),
      rangeEnd: maybe(r, () => bytes(r, 10)),
      limit: maybe(r, () => pick(r, I64)),
      revision: maybe(r, () => pick(r, I64)),
      sortOrder: maybe(r, () => r(3)),
      sortTarget: maybe(r, () => r(5)),
      serializable: maybe(r, () => r(2) === 1),
      keysOnly: maybe(r, () => r(2) === 1),
      countOnly: maybe(r, () => r(2) === 1),
      minModRevision: maybe(r, () => pick(r, I64)),
      maxModRevision: maybe(r, () => pick(r, I64)),
      minCreateRevision: maybe(r, () => pick(r, I64)),
      maxCreateRevision: maybe(r, () => pick(r, I64)),
    };
    const resp: MessageInitShape<typeof RangeResponseSchema> = {
      header: maybe(r, () => randomHeader(r)),
      kvs: Array.from({ length: r(4) }, () => randomKv(r)),
      more: r(2) === 1,
      count: pick(r, I64),
    };
    check(RANGE_RPC, RangeRequestSchema, RangeResponseSchema, req, resp);
  }
  // 64-bit integers given as numbers, and an already-created message
  check(RANGE_RPC, RangeRequestSchema, RangeResponseSchema, { key: Uint8Array.of(1), limit: 5 as unknown as bigint }, {});
  const made = create(RangeRequestSchema, { key: Uint8Array.of(1), revision: 9n });
  assert.deepEqual(Buffer.from(RANGE_RPC.encode(made)), Buffer.from(toBinary(RangeRequestSchema, made)));
  // values of the wrong type: protobuf-es's answer, bytes or error
  for (const bad of [{ limit: 'x' }, { limit: 1.5 }, { key: 'k' }, { revision: '12' }] as unknown as MessageInitShape<typeof RangeRequestSchema>[]) {
    let want: Buffer | Error;
    try {
      want = Buffer.from(toBinary(RangeRequestSchema, create(RangeRequestSchema, bad)));
    } catch (e) {
      want = e as Error;
    }
    if (want instanceof Error) assert.throws(() => RANGE_RPC.encode(bad), { message: want.message }, JSON.stringify(bad));
    else assert.deepEqual(Buffer.from(RANGE_RPC.encode(bad)), want, JSON.stringify(bad));
  }
});

test('Put: random requests and responses equal protobuf-es both ways', () => {
  const r = rng(11);
  for (let i = 0; i < 400; i++) {
    const req: MessageInitShape<typeof PutRequestSchema> = {
      key: maybe(r, () => bytes(r, 10)),
      value: maybe(r, () => bytes(r, r(5) === 0 ? 70000 : 20)),
      lease: maybe(r, () => pick(r, I64)),
      prevKv: maybe(r, () => r(2) === 1),
      ignoreValue: maybe(r, () => r(2) === 1),
      ignoreLease: maybe(r, () => r(2) === 1),
    };
    const resp: MessageInitShape<typeof PutResponseSchema> = { header: maybe(r, () => randomHeader(r)), prevKv: maybe(r, () => randomKv(r)) };
    check(PUT_RPC, PutRequestSchema, PutResponseSchema, req, resp);
  }
});

test('Alarm: random requests and responses equal protobuf-es both ways', () => {
  const r = rng(13);
  for (let i = 0; i < 200; i++) {
    const req: MessageInitShape<typeof AlarmRequestSchema> = { action: maybe(r, () => r(3)), memberID: maybe(r, () => pick(r, U64)), alarm: maybe(r, () => r(3)) };
    const resp: MessageInitShape<typeof AlarmResponseSchema> = {
      header: maybe(r, () => randomHeader(r)),
      alarms: Array.from({ length: r(4) }, () => ({ memberID: pick(r, U64), alarm: r(3) })),
    };
    check(ALARM_RPC, AlarmRequestSchema, AlarmResponseSchema, req, resp);
  }
});

test('what the hand decoders do not handle goes to protobuf-es: unknown fields, merged headers, bad bytes', () => {
  const resp = toBinary(RangeResponseSchema, create(RangeResponseSchema, { header: { revision: 5n }, kvs: [{ key: Uint8Array.of(1), value: Uint8Array.of(2) }], count: 1n }));
  // a field 15 the response does not define (a newer server): kept as $unknown, as fromBinary does
  const unknown = Buffer.concat([resp, Uint8Array.of(0x78, 0x01)]);
  const viaFast = RANGE_RPC.decode(unknown);
  assert.deepStrictEqual(viaFast, fromBinary(RangeResponseSchema, unknown));
  assert.ok(viaFast.$unknown && viaFast.$unknown.length === 1);
  // an unknown field inside a KeyValue
  const kvUnknown = toBinary(RangeResponseSchema, create(RangeResponseSchema, { kvs: [{ key: Uint8Array.of(1) }] }));
  const patched = Buffer.concat([Uint8Array.of(0x12, kvUnknown[1]! + 2), kvUnknown.subarray(2), Uint8Array.of(0x38, 0x01)]);
  assert.deepStrictEqual(RANGE_RPC.decode(patched), fromBinary(RangeResponseSchema, patched));
  assert.ok((RANGE_RPC.decode(patched).kvs[0] as KeyValue).$unknown);
  // the header twice: protobuf merges the two
  const h1 = toBinary(PutResponseSchema, create(PutResponseSchema, { header: { revision: 5n } }));
  const h2 = toBinary(PutResponseSchema, create(PutResponseSchema, { header: { raftTerm: 3n } }));
  const twice = Buffer.concat([h1, h2]);
  assert.deepStrictEqual(PUT_RPC.decode(twice), fromBinary(PutResponseSchema, twice));
  assert.equal(PUT_RPC.decode(twice).header?.revision, 5n);
  assert.equal(PUT_RPC.decode(twice).header?.raftTerm, 3n);
  // truncated and malformed: the same error as fromBinary
  for (const bad of [resp.subarray(0, resp.length - 1), Uint8Array.of(0x0a, 0x09, 0x61), Uint8Array.of(0x0f)]) {
    let want: unknown;
    try {
      fromBinary(RangeResponseSchema, bad);
    } catch (e) {
      want = e;
    }
    assert.ok(want instanceof Error, 'fromBinary rejects it');
    assert.throws(() => RANGE_RPC.decode(bad), { message: (want as Error).message });
  }
  // a field of the right number with the wrong wire type
  const wrongWire = Uint8Array.of(0x1a, 0x00); // more (3) as length-delimited
  let want: unknown;
  try {
    fromBinary(RangeResponseSchema, wrongWire);
  } catch (e) {
    want = e;
  }
  if (want) assert.throws(() => RANGE_RPC.decode(wrongWire), { message: (want as Error).message });
  else assert.deepStrictEqual(RANGE_RPC.decode(wrongWire), fromBinary(RangeResponseSchema, wrongWire));
});

test('the RPC paths are those of the methods in rpc.proto', () => {
  const path = (m: { parent: { typeName: string }; name: string }) => `/${m.parent.typeName}/${m.name}`;
  assert.equal(RANGE_RPC.path, path(KV.method.range));
  assert.equal(PUT_RPC.path, path(KV.method.put));
  assert.equal(ALARM_RPC.path, path(Maintenance.method.alarm));
});
