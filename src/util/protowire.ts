/**
 * Protobuf wire primitives for the hand-written codecs of the hot paths
 * (mvcc KeyValue, KV.Put, InternalRaftRequest): unsigned varints (uint64, and
 * int64 as its two's complement) and lengths. Field encoding rules are the
 * protobuf spec's ("Encoding", developers.google.com/protocol-buffers).
 */

/** 2^28: the value of the fifth varint group's lowest bit. */
const TWO_28 = 0x10000000;

/**
 * Bytes the varint encoding of `v` takes (1..10); `v` is read as uint64. Values of 2^31
 * and up (member and request IDs) are split into two 32-bit halves with two BigInt
 * operations instead of being shifted 7 bits at a time, which allocates a BigInt per step.
 */
export function uvarintSize(v: bigint | number): number {
  if (typeof v === 'number' && v >= 0 && v < 0x80000000) return smallSize(v);
  const x = BigInt.asUintN(64, typeof v === 'bigint' ? v : BigInt(v));
  if (x < 0x80000000n) return smallSize(Number(x));
  const hi = Number(x >> 32n);
  // 32 bits of the low half plus the significant bits of the high half, 7 per byte
  return hi === 0 ? 5 : Math.ceil((64 - Math.clz32(hi)) / 7);
}

function smallSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Writes `v` (read as uint64) as a varint at `pos`; returns the position after it. */
export function putUvarint(buf: Uint8Array, pos: number, v: bigint | number): number {
  if (typeof v === 'bigint' ? v >= 0n && v < 0x80000000n : v >= 0 && v < 0x80000000) {
    let x = Number(v);
    while (x >= 0x80) {
      buf[pos++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    buf[pos++] = x;
    return pos;
  }
  const x = BigInt.asUintN(64, typeof v === 'bigint' ? v : BigInt(v));
  let lo = Number(x & 0xffffffffn);
  const hi = Number(x >> 32n);
  // x >= 2^31: the four low groups (28 bits) all carry the continuation bit
  for (let i = 0; i < 4; i++) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  // the rest, bits 28..63: under 2^36, exact as a double
  let rest = hi * 16 + lo;
  while (rest >= 0x80) {
    buf[pos++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  buf[pos++] = rest;
  return pos;
}

/**
 * Bytes of the varint field holding `v` under a one-byte tag (field numbers 1..15):
 * 0 when `v` is 0, which proto3 leaves out; `v` is read as uint64.
 */
export function varintFieldSize(v: bigint): number {
  return v === 0n ? 0 : 1 + uvarintSize(v);
}

/**
 * Writes the varint field `tag` (one byte) holding `v` at `pos`, unless `v` is 0 (left
 * out, as proto3 does); returns the position after it. `v` is read as uint64.
 */
export function putVarintField(buf: Uint8Array, pos: number, tag: number, v: bigint): number {
  if (v === 0n) return pos;
  buf[pos] = tag;
  return putUvarint(buf, pos + 1, v);
}

/** A read position, advanced by the read functions. */
export interface WireCursor {
  pos: number;
}

/**
 * Reads a varint at `c.pos` as uint64 and advances past it; -1n when the
 * bytes end first or the varint is longer than 10 bytes (then `c.pos` is
 * meaningless). Bits past the 64th (in a 10th byte) are dropped, as protobuf
 * does. The groups are summed as numbers (the first 4 as an int, bits 28..63 as
 * a double, exact under 2^36) and made a BigInt once at the end.
 */
export function readUvarint(b: Uint8Array, c: WireCursor): bigint {
  let p = c.pos;
  let lo = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= b.length) return -1n;
    const x = b[p++]!;
    lo |= (x & 0x7f) << shift;
    if (x < 0x80) {
      c.pos = p;
      return BigInt(lo);
    }
  }
  let hi = 0;
  let scale = 1;
  for (let i = 4; ; i++) {
    if (p >= b.length || i >= 10) return -1n;
    const x = b[p++]!;
    // the 10th byte holds bit 63 in its lowest bit; the rest would be bits 64..69
    hi += (i === 9 ? x & 0x01 : x & 0x7f) * scale;
    scale *= 0x80;
    if (x < 0x80) break;
  }
  c.pos = p;
  // hi * 2^28 + lo: exact as a double while hi < 2^25 (the sum is under 2^53)
  return hi < 0x2000000 ? BigInt(hi * TWO_28 + lo) : (BigInt(hi) << 28n) | BigInt(lo);
}

/**
 * Reads a field key (tag) at `c.pos` as a number and advances past it; -1 when the
 * bytes end first or the varint takes more than 5 bytes or exceeds 2^32 - 1 (no
 * valid key does: field numbers are under 2^29). For the hand decoders that fall
 * back to the generated decoder on anything unusual.
 */
export function readTag(b: Uint8Array, c: WireCursor): number {
  let p = c.pos;
  let v = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    if (p >= b.length) return -1;
    const x = b[p++]!;
    v += (x & 0x7f) * scale;
    if (x < 0x80) {
      if (v > 0xffffffff) return -1;
      c.pos = p;
      return v;
    }
    scale *= 0x80;
  }
  return -1;
}

/**
 * Reads the length of a length-delimited field at `c.pos` and advances past
 * it; -1 when it is malformed or longer than the bytes left.
 */
export function readLength(b: Uint8Array, c: WireCursor): number {
  let p = c.pos;
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    if (p >= b.length || shift > 28) return -1;
    const x = b[p++]!;
    len |= (x & 0x7f) << shift;
    if (x < 0x80) break;
  }
  if (len < 0 || p + len > b.length) return -1;
  c.pos = p;
  return len;
}
