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
import { putUvarint, readLength, readUvarint, uvarintSize, type WireCursor } from '../../../../util/protowire.js';

const EMPTY: Uint8Array = new Uint8Array(0);

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
  const c: WireCursor = { pos: 0 };
  let last = 0;
  while (c.pos < b.length) {
    const t = b[c.pos++]!;
    // fields must come once and in order, else use the generated decoder
    if (t <= last) return fromBinary(PutRequestSchema, b);
    last = t;
    if (t === 0x0a || t === 0x12) {
      const len = readLength(b, c);
      if (len < 0) return fromBinary(PutRequestSchema, b);
      const f = b.subarray(c.pos, c.pos + len);
      c.pos += len;
      if (t === 0x0a) key = f;
      else value = f;
    } else if (t === 0x18 || t === 0x20 || t === 0x28 || t === 0x30) {
      const v = readUvarint(b, c);
      if (v < 0n) return fromBinary(PutRequestSchema, b);
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
  const size = (h ? 1 + uvarintSize(hs) + hs : 0) + (kv ? 1 + uvarintSize(kv.length) + kv.length : 0);
  const b = new Uint8Array(size);
  let p = 0;
  if (h) {
    b[p++] = 0x0a;
    p = putUvarint(b, p, hs);
    p = putHeader(b, p, h);
  }
  if (kv) {
    b[p++] = 0x12;
    p = putUvarint(b, p, kv.length);
    b.set(kv, p);
  }
  return b;
}
