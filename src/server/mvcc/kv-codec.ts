/**
 * mvccpb.KeyValue to and from bytes without reflection: the value stored in
 * the `key` bucket for every revision (etcd marshals mvccpb.KeyValue in
 * kvstore_txn.go put/delete and unmarshals it on every range). Every write
 * and every read goes through here, so it is written by hand; the bytes are
 * exactly protobuf's (fields in number order, zero values omitted, int64 as
 * two's-complement varints), as the tests check against the generated code.
 *
 * Field numbers (mvcc/mvccpb/kv.proto): key 1 (bytes), create_revision 2,
 * mod_revision 3, version 4 (int64), value 5 (bytes), lease 6 (int64).
 */
import { fromBinary } from '@bufbuild/protobuf';
import { KeyValueSchema, type KeyValue } from '../../gen/mvccpb/kv_pb.js';

const EMPTY: Uint8Array = new Uint8Array(0);

function varintSize(v: bigint): number {
  if (v >= 0n && v < 0x80n) return 1;
  let x = BigInt.asUintN(64, v);
  let n = 1;
  while (x >= 0x80n) {
    x >>= 7n;
    n++;
  }
  return n;
}

function lenSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function putVarint(buf: Uint8Array, pos: number, v: bigint): number {
  if (v >= 0n && v <= 0x7fffffffn) {
    let x = Number(v);
    while (x >= 0x80) {
      buf[pos++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    buf[pos++] = x;
    return pos;
  }
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    buf[pos++] = Number(x & 0x7fn) | 0x80;
    x >>= 7n;
  }
  buf[pos++] = Number(x);
  return pos;
}

function putLen(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

/** The protobuf encoding of `kv` (same bytes as `toBinary(KeyValueSchema, kv)`). */
export function encodeKeyValue(kv: Pick<KeyValue, 'key' | 'createRevision' | 'modRevision' | 'version' | 'value' | 'lease'>): Uint8Array {
  let size = 0;
  if (kv.key.length > 0) size += 1 + lenSize(kv.key.length) + kv.key.length;
  if (kv.createRevision !== 0n) size += 1 + varintSize(kv.createRevision);
  if (kv.modRevision !== 0n) size += 1 + varintSize(kv.modRevision);
  if (kv.version !== 0n) size += 1 + varintSize(kv.version);
  if (kv.value.length > 0) size += 1 + lenSize(kv.value.length) + kv.value.length;
  if (kv.lease !== 0n) size += 1 + varintSize(kv.lease);
  const b = new Uint8Array(size);
  let p = 0;
  if (kv.key.length > 0) {
    b[p++] = 0x0a;
    p = putLen(b, p, kv.key.length);
    b.set(kv.key, p);
    p += kv.key.length;
  }
  if (kv.createRevision !== 0n) {
    b[p++] = 0x10;
    p = putVarint(b, p, kv.createRevision);
  }
  if (kv.modRevision !== 0n) {
    b[p++] = 0x18;
    p = putVarint(b, p, kv.modRevision);
  }
  if (kv.version !== 0n) {
    b[p++] = 0x20;
    p = putVarint(b, p, kv.version);
  }
  if (kv.value.length > 0) {
    b[p++] = 0x2a;
    p = putLen(b, p, kv.value.length);
    b.set(kv.value, p);
    p += kv.value.length;
  }
  if (kv.lease !== 0n) {
    b[p++] = 0x30;
    p = putVarint(b, p, kv.lease);
  }
  return b;
}

/** A KeyValue message object with the given fields (what `create(KeyValueSchema, ...)` gives, without reflection). */
export function newKeyValue(key: Uint8Array, createRevision: bigint, modRevision: bigint, version: bigint, value: Uint8Array, lease: bigint): KeyValue {
  return { $typeName: 'mvccpb.KeyValue', key, createRevision, modRevision, version, value, lease } as KeyValue;
}

/**
 * Decodes bytes written by {@link encodeKeyValue} (or any protobuf encoder of
 * KeyValue). Byte fields are views into `b` (the backend hands out fresh
 * copies). Falls back to the generated decoder for anything unusual (unknown
 * fields, repeated fields), which also reports malformed bytes.
 */
export function decodeKeyValue(b: Uint8Array): KeyValue {
  let key: Uint8Array = EMPTY;
  let value: Uint8Array = EMPTY;
  let createRevision = 0n;
  let modRevision = 0n;
  let version = 0n;
  let lease = 0n;
  let p = 0;
  const n = b.length;
  while (p < n) {
    const t = b[p++]!;
    if (t === 0x0a || t === 0x2a) {
      let len = 0;
      let shift = 0;
      for (;;) {
        if (p >= n || shift > 28) return fromBinary(KeyValueSchema, b);
        const c = b[p++]!;
        len |= (c & 0x7f) << shift;
        if (c < 0x80) break;
        shift += 7;
      }
      if (len < 0 || p + len > n) return fromBinary(KeyValueSchema, b);
      const f = b.subarray(p, p + len);
      p += len;
      if (t === 0x0a) key = f;
      else value = f;
    } else if (t === 0x10 || t === 0x18 || t === 0x20 || t === 0x30) {
      // varint: the first 4 groups in a number, the rest (at most 10 in all) in a bigint
      let lo = 0;
      let hi = 0n;
      let i = 0;
      for (;;) {
        if (p >= n || i >= 10) return fromBinary(KeyValueSchema, b);
        const c = b[p++]!;
        if (i < 4) lo |= (c & 0x7f) << (7 * i);
        else hi |= BigInt(c & 0x7f) << BigInt(7 * i);
        i++;
        if (c < 0x80) break;
      }
      const v = i <= 4 ? BigInt(lo >>> 0) : BigInt.asIntN(64, hi | BigInt(lo >>> 0));
      if (t === 0x10) createRevision = v;
      else if (t === 0x18) modRevision = v;
      else if (t === 0x20) version = v;
      else lease = v;
    } else {
      return fromBinary(KeyValueSchema, b);
    }
  }
  return newKeyValue(key, createRevision, modRevision, version, value, lease);
}
