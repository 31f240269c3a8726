// Varint and length primitives shared by the hand-written codecs, against protobuf-es's writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { putUvarint, readLength, readUvarint, uvarintSize } from '../../src/util/protowire.js';

test('uvarints are written and read as protobuf does', () => {
  const values: bigint[] = [0n, 1n, 127n, 128n, 16383n, 16384n, (1n << 31n) - 1n, 1n << 31n, 1n << 35n, (1n << 63n) + 5n, (1n << 64n) - 1n, -1n, -(1n << 63n)];
  for (const v of values) {
    const want = new BinaryWriter().uint64(BigInt.asUintN(64, v)).finish();
    const buf = new Uint8Array(10);
    const end = putUvarint(buf, 0, v);
    assert.deepEqual([...buf.subarray(0, end)], [...want], String(v));
    assert.equal(uvarintSize(v), want.length, String(v));
    if (v >= 0n && v < 1n << 31n) assert.equal(uvarintSize(Number(v)), want.length);
    const c = { pos: 0 };
    assert.equal(readUvarint(want, c), BigInt.asUintN(64, v));
    assert.equal(c.pos, want.length);
  }
});

test('truncated or overlong varints and lengths past the end read as -1', () => {
  assert.equal(readUvarint(Uint8Array.of(0x80, 0x80), { pos: 0 }), -1n);
  assert.equal(readUvarint(new Uint8Array(11).fill(0x80), { pos: 0 }), -1n);
  assert.equal(readLength(Uint8Array.of(0x05, 0x61), { pos: 0 }), -1);
  const c = { pos: 0 };
  assert.equal(readLength(Uint8Array.of(0x01, 0x61), c), 1);
  assert.equal(c.pos, 1);
});
