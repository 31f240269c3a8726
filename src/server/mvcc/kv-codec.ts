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
import { putUvarint, putVarintField, readLength, readUvarint, uvarintSize, varintFieldSize, type WireCursor } from '../../util/protowire.js';

const EMPTY: Uint8Array = new Uint8Array(0);

/** The fields of a KeyValue that are encoded. */
type KeyValueFields = Pick<KeyValue, 'key' | 'createRevision' | 'modRevision' | 'version' | 'value' | 'lease'>;

/** The protobuf encoding of `kv` (same bytes as `toBinary(KeyValueSchema, kv)`). */
export function encodeKeyValue(kv: KeyValueFields): Uint8Array {
  const b = new Uint8Array(keyValueSize(kv));
  putKeyValue(b, 0, kv);
  return b;
}

/** Bytes of {@link encodeKeyValue}'s encoding of `kv`, without making it. */
export function keyValueSize(kv: KeyValueFields): number {
  let size = 0;
  if (kv.key.length > 0) size += 1 + uvarintSize(kv.key.length) + kv.key.length;
  size += varintFieldSize(kv.createRevision);
  size += varintFieldSize(kv.modRevision);
  size += varintFieldSize(kv.version);
  if (kv.value.length > 0) size += 1 + uvarintSize(kv.value.length) + kv.value.length;
  size += varintFieldSize(kv.lease);
  return size;
}

/**
 * Writes {@link encodeKeyValue}'s encoding of `kv` into `b` at `p` (which must have
 * {@link keyValueSize} bytes of room); returns the position after it.
 */
export function putKeyValue(b: Uint8Array, p: number, kv: KeyValueFields): number {
  if (kv.key.length > 0) {
    b[p++] = 0x0a;
    p = putUvarint(b, p, kv.key.length);
    b.set(kv.key, p);
    p += kv.key.length;
  }
  p = putVarintField(b, p, 0x10, kv.createRevision);
  p = putVarintField(b, p, 0x18, kv.modRevision);
  p = putVarintField(b, p, 0x20, kv.version);
  if (kv.value.length > 0) {
    b[p++] = 0x2a;
    p = putUvarint(b, p, kv.value.length);
    b.set(kv.value, p);
    p += kv.value.length;
  }
  p = putVarintField(b, p, 0x30, kv.lease);
  return p;
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
  const c: WireCursor = { pos: 0 };
  while (c.pos < b.length) {
    const t = b[c.pos++]!;
    if (t === 0x0a || t === 0x2a) {
      const len = readLength(b, c);
      if (len < 0) return fromBinary(KeyValueSchema, b);
      const f = b.subarray(c.pos, c.pos + len);
      c.pos += len;
      if (t === 0x0a) key = f;
      else value = f;
    } else if (t === 0x10 || t === 0x18 || t === 0x20 || t === 0x30) {
      const u = readUvarint(b, c);
      if (u < 0n) return fromBinary(KeyValueSchema, b);
      const v = BigInt.asIntN(64, u);
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
