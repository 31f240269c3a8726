/**
 * Hand-written codecs for the messages of the hottest RPC, KV.Put: decoding
 * PutRequest and encoding PutResponse without protobuf-es reflection (which
 * costs more per call than the rest of the gRPC layer). The bytes are
 * protobuf's (rpc.proto: PutRequest key 1, value 2, lease 3, prev_kv 4,
 * ignore_value 5, ignore_lease 6; PutResponse header 1, prev_kv 2;
 * ResponseHeader cluster_id 1, member_id 2, revision 3, raft_term 4); the
 * tests compare them with the generated code. Anything unusual (unknown or
 * repeated fields, malformed bytes) goes to the generated decoder, which also
 * produces its error.
 */
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { PutRequestSchema, PutResponseSchema, type PutRequest, type PutResponse, type ResponseHeader } from '../../../../gen/etcdserverpb/rpc_pb.js';
import { encodeKeyValue } from '../../../mvcc/kv-codec.js';

const EMPTY: Uint8Array = new Uint8Array(0);

function uvarintSize(v: bigint): number {
  let x = BigInt.asUintN(64, v);
  let n = 1;
  while (x >= 0x80n) {
    x >>= 7n;
    n++;
  }
  return n;
}

function putUvarint(b: Uint8Array, p: number, v: bigint): number {
  let x = BigInt.asUintN(64, v);
  if (x < 0x80000000n) {
    let n = Number(x);
    while (n >= 0x80) {
      b[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    b[p++] = n;
    return p;
  }
  while (x >= 0x80n) {
    b[p++] = Number(x & 0x7fn) | 0x80;
    x >>= 7n;
  }
  b[p++] = Number(x);
  return p;
}

function putLen(b: Uint8Array, p: number, n: number): number {
  while (n >= 0x80) {
    b[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  b[p++] = n;
  return p;
}

function lenSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/**
 * Decodes a PutRequest; byte fields are views into `b`. Same result as
 * `fromBinary(PutRequestSchema, b)`, which it falls back to for anything
 * but a plain encoding (and which throws on malformed bytes).
 */
export function decodePutRequest(b: Uint8Array): PutRequest {
  let key = EMPTY;
  let value = EMPTY;
  let lease = 0n;
  let prevKv = false;
  let ignoreValue = false;
  let ignoreLease = false;
  let p = 0;
  const n = b.length;
  let last = 0;
  while (p < n) {
    const t = b[p++]!;
    // fields must come once and in order, else use the generated decoder
    if (t <= last) return fromBinary(PutRequestSchema, b);
    last = t;
    if (t === 0x0a || t === 0x12) {
      let len = 0;
      let shift = 0;
      for (;;) {
        if (p >= n || shift > 28) return fromBinary(PutRequestSchema, b);
        const c = b[p++]!;
        len |= (c & 0x7f) << shift;
        if (c < 0x80) break;
        shift += 7;
      }
      if (len < 0 || p + len > n) return fromBinary(PutRequestSchema, b);
      const f = b.subarray(p, p + len);
      p += len;
      if (t === 0x0a) key = f;
      else value = f;
    } else if (t === 0x18 || t === 0x20 || t === 0x28 || t === 0x30) {
      let v = 0n;
      let shift = 0n;
      for (;;) {
        if (p >= n || shift > 63n) return fromBinary(PutRequestSchema, b);
        const c = b[p++]!;
        v |= BigInt(c & 0x7f) << shift;
        if (c < 0x80) break;
        shift += 7n;
      }
      if (t === 0x18) lease = BigInt.asIntN(64, v);
      else if (t === 0x20) prevKv = v !== 0n;
      else if (t === 0x28) ignoreValue = v !== 0n;
      else ignoreLease = v !== 0n;
    } else {
      return fromBinary(PutRequestSchema, b);
    }
  }
  return { $typeName: 'etcdserverpb.PutRequest', key, value, lease, prevKv, ignoreValue, ignoreLease } as PutRequest;
}

function headerSize(h: ResponseHeader): number {
  let n = 0;
  if (h.clusterId !== 0n) n += 1 + uvarintSize(h.clusterId);
  if (h.memberId !== 0n) n += 1 + uvarintSize(h.memberId);
  if (h.revision !== 0n) n += 1 + uvarintSize(h.revision);
  if (h.raftTerm !== 0n) n += 1 + uvarintSize(h.raftTerm);
  return n;
}

function putHeader(b: Uint8Array, p: number, h: ResponseHeader): number {
  if (h.clusterId !== 0n) {
    b[p++] = 0x08;
    p = putUvarint(b, p, h.clusterId);
  }
  if (h.memberId !== 0n) {
    b[p++] = 0x10;
    p = putUvarint(b, p, h.memberId);
  }
  if (h.revision !== 0n) {
    b[p++] = 0x18;
    p = putUvarint(b, p, h.revision);
  }
  if (h.raftTerm !== 0n) {
    b[p++] = 0x20;
    p = putUvarint(b, p, h.raftTerm);
  }
  return p;
}

/** Encodes a PutResponse (same bytes as `toBinary(PutResponseSchema, r)`); unknown fields go through the generated encoder. */
export function encodePutResponse(r: PutResponse): Uint8Array {
  if ((r as { $unknown?: unknown[] }).$unknown?.length) return toBinary(PutResponseSchema, r);
  const h = r.header;
  const hs = h ? headerSize(h) : 0;
  const kv = r.prevKv ? encodeKeyValue(r.prevKv) : undefined;
  const size = (h ? 1 + lenSize(hs) + hs : 0) + (kv ? 1 + lenSize(kv.length) + kv.length : 0);
  const b = new Uint8Array(size);
  let p = 0;
  if (h) {
    b[p++] = 0x0a;
    p = putLen(b, p, hs);
    p = putHeader(b, p, h);
  }
  if (kv) {
    b[p++] = 0x12;
    p = putLen(b, p, kv.length);
    b.set(kv, p);
  }
  return b;
}
