/**
 * Protobuf wire primitives for the hand-written codecs of the hot paths
 * (mvcc KeyValue, KV.Put, InternalRaftRequest): unsigned varints (uint64, and
 * int64 as its two's complement) and lengths. Field encoding rules are the
 * protobuf spec's ("Encoding", developers.google.com/protocol-buffers).
 */

/** Bytes the varint encoding of `v` takes (1..10); `v` is read as uint64. */
export function uvarintSize(v: bigint | number): number {
  if (typeof v === 'number' && v >= 0 && v < 0x80000000) {
    return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
  }
  let x = BigInt.asUintN(64, BigInt(v));
  let n = 1;
  while (x >= 0x80n) {
    x >>= 7n;
    n++;
  }
  return n;
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
  let x = BigInt.asUintN(64, BigInt(v));
  while (x >= 0x80n) {
    buf[pos++] = Number(x & 0x7fn) | 0x80;
    x >>= 7n;
  }
  buf[pos++] = Number(x);
  return pos;
}

/** A read position, advanced by the read functions. */
export interface WireCursor {
  pos: number;
}

/**
 * Reads a varint at `c.pos` as uint64 and advances past it; -1n when the
 * bytes end first or the varint is longer than 10 bytes (then `c.pos` is
 * meaningless). The first 4 groups are summed as numbers, the rest as bigint.
 */
export function readUvarint(b: Uint8Array, c: WireCursor): bigint {
  let p = c.pos;
  let lo = 0;
  let hi = 0n;
  for (let i = 0; ; i++) {
    if (p >= b.length || i >= 10) return -1n;
    const x = b[p++]!;
    if (i < 4) lo |= (x & 0x7f) << (7 * i);
    else hi |= BigInt(x & 0x7f) << BigInt(7 * i);
    if (x < 0x80) {
      c.pos = p;
      return i < 4 ? BigInt(lo >>> 0) : BigInt.asUintN(64, hi | BigInt(lo >>> 0));
    }
  }
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
