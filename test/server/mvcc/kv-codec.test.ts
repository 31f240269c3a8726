// The hand-written KeyValue codec writes exactly protobuf-es's bytes and reads them back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, equals, toBinary } from '@bufbuild/protobuf';
import { KeyValueSchema } from '../../../src/gen/mvccpb/kv_pb.js';
import { decodeKeyValue, encodeKeyValue } from '../../../src/server/mvcc/kv-codec.js';

test('KeyValue encoding equals protobuf and decodes back', () => {
  const big = new Uint8Array(70000).fill(0xab);
  const cases = [
    create(KeyValueSchema, {}),
    create(KeyValueSchema, { key: Uint8Array.of(0) }),
    create(KeyValueSchema, { key: new TextEncoder().encode('k'), value: new TextEncoder().encode('v'), createRevision: 1n, modRevision: 2n, version: 1n }),
    create(KeyValueSchema, { key: big, value: big, createRevision: 127n, modRevision: 128n, version: 16383n, lease: 16384n }),
    create(KeyValueSchema, { key: Uint8Array.of(1, 2), createRevision: (1n << 31n) - 1n, modRevision: 1n << 31n, version: (1n << 62n) + 5n, lease: 0x694d7a1f2b3c4d5en }),
    create(KeyValueSchema, { key: Uint8Array.of(9), lease: -1n, version: -(1n << 63n) }),
  ];
  for (const kv of cases) {
    const want = toBinary(KeyValueSchema, kv);
    const got = encodeKeyValue(kv);
    assert.deepEqual(Buffer.from(got), Buffer.from(want));
    assert.ok(equals(KeyValueSchema, decodeKeyValue(got), kv));
  }
});

test('unusual encodings fall back to the generated decoder', () => {
  // fields out of order and repeated: the last value wins, as in protobuf
  const b = Uint8Array.of(0x18, 0x05, 0x0a, 0x01, 0x61, 0x18, 0x07);
  const kv = decodeKeyValue(b);
  assert.equal(kv.modRevision, 7n);
  assert.deepEqual([...kv.key], [0x61]);
  // an unknown field
  const u = decodeKeyValue(Uint8Array.of(0x0a, 0x01, 0x61, 0x38, 0x01));
  assert.deepEqual([...u.key], [0x61]);
  assert.throws(() => decodeKeyValue(Uint8Array.of(0x0a, 0x05, 0x61)));
});
