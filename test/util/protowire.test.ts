// Varint and length primitives shared by the hand-written codecs, against protobuf-es's writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { putUvarint, putVarintField, readLength, readTag, readUvarint, uvarintSize, varintFieldSize } from '../../src/util/protowire.js';
import { rng } from '../harness/codec-samples.js';

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

test('every bit length, both sides of each byte boundary, and random values: as protobuf-es writes and reads them', () => {
  const next = rng(0x5eed);
  const values: bigint[] = [];
  for (let bits = 0; bits <= 64; bits++) {
    const top = 1n << BigInt(bits);
    values.push(top - 1n, top, top + 1n);
    // a random value of exactly `bits` bits
    let r = 0n;
    for (let i = 0; i < 4; i++) r = (r << 16n) | BigInt(next(0x10000));
    if (bits > 0) values.push((1n << BigInt(bits - 1)) | (r & ((1n << BigInt(bits - 1)) - 1n)));
  }
  for (const v0 of values) {
    const v = BigInt.asUintN(64, v0);
    const want = new BinaryWriter().uint64(v).finish();
    const buf = new Uint8Array(12).fill(0xee);
    const end = putUvarint(buf, 1, v);
    assert.deepEqual([...buf.subarray(1, end)], [...want], `put ${v}`);
    assert.equal(buf[end], 0xee, 'nothing written past the end');
    assert.equal(uvarintSize(v), want.length, `size ${v}`);
    assert.equal(uvarintSize(BigInt.asIntN(64, v)), want.length, `size of ${v} as int64`);
    if (v < 1n << 53n) {
      const asNumber = Number(v);
      const w2 = new Uint8Array(10);
      assert.deepEqual([...w2.subarray(0, putUvarint(w2, 0, asNumber))], [...want], `put number ${v}`);
      assert.equal(uvarintSize(asNumber), want.length, `size of number ${v}`);
    }
    const c = { pos: 0 };
    assert.equal(readUvarint(want, c), v, `read ${v}`);
    assert.equal(c.pos, want.length);
  }
});

test('a 10-byte varint with bits past the 64th reads as its low 64 bits, as protobuf-es reads it', () => {
  const cases = [
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
    [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e],
    [0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x03],
    [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
  ];
  for (const bytes of cases) {
    const b = Uint8Array.from(bytes);
    const want = new BinaryReader(b).uint64();
    const c = { pos: 0 };
    assert.equal(readUvarint(b, c), BigInt.asUintN(64, BigInt(want)), bytes.join(','));
    assert.equal(c.pos, 10);
  }
  // a non-minimal encoding of a small value
  const c = { pos: 0 };
  assert.equal(readUvarint(Uint8Array.of(0x85, 0x80, 0x80, 0x80, 0x80, 0x00), c), 5n);
  assert.equal(c.pos, 6);
});

test('readTag: keys as numbers; -1 past the end, over 5 bytes or over 2^32 - 1', () => {
  for (const tag of [0, 8, 0x0a, 127, 128, 100 * 8 + 2, (1 << 29) * 8 - 1]) {
    const b = new BinaryWriter().uint32(tag).finish();
    const c = { pos: 0 };
    assert.equal(readTag(b, c), tag);
    assert.equal(c.pos, b.length);
  }
  assert.equal(readTag(Uint8Array.of(0x80), { pos: 0 }), -1);
  assert.equal(readTag(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x1f), { pos: 0 }), -1);
  assert.equal(readTag(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x00), { pos: 0 }), -1);
});

test('varint fields: left out when zero, else the tag and the value as protobuf-es writes an int64 field', () => {
  for (const v of [0n, 1n, 300n, (1n << 40n) + 7n, -1n, -(1n << 63n)]) {
    const want = v === 0n ? new Uint8Array(0) : new BinaryWriter().tag(3, 0).int64(v).finish();
    const buf = new Uint8Array(13).fill(0xee);
    const end = putVarintField(buf, 1, 0x18, v);
    assert.deepEqual([...buf.subarray(1, end)], [...want], String(v));
    assert.equal(buf[end], 0xee, 'nothing written past the field');
    assert.equal(varintFieldSize(v), want.length, String(v));
  }
});
