/**
 * @module raft/confchange/codec
 *
 * The bytes of an EntryConfChange entry: raftpb.ConfChange in protobuf wire format, as
 * gogoproto writes it (fields in number order, non-nullable scalars always present):
 *
 * ```
 * 08 <varint ID> 10 <varint Type> 18 <varint NodeID> [22 <len> <Context>]
 * ```
 *
 * Written by hand so the pure core needs no protobuf runtime; the encoding is
 * byte-compatible with etcd's, so WAL entries can be exchanged with etcd tooling.
 */

import { ConfChangeType, type ConfChange } from '../types.js';

/** Encodes a ConfChange as raftpb wire bytes. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out: number[] = [];
  out.push(0x08);
  writeVarint(out, cc.id);
  out.push(0x10);
  writeVarint(out, BigInt(cc.type));
  out.push(0x18);
  writeVarint(out, cc.nodeId);
  if (cc.context !== undefined) {
    out.push(0x22);
    writeVarint(out, BigInt(cc.context.length));
    for (const b of cc.context) out.push(b);
  }
  return Uint8Array.from(out);
}

/**
 * Decodes raftpb.ConfChange wire bytes; unknown fields are skipped. Throws RangeError
 * on truncated or malformed input.
 */
export function decodeConfChange(data: Uint8Array): ConfChange {
  let id = 0n;
  let type = ConfChangeType.ConfChangeAddNode;
  let nodeId = 0n;
  let context: Uint8Array | undefined;
  const pos = { i: 0 };
  while (pos.i < data.length) {
    const key = Number(readVarint(data, pos));
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) {
      const v = readVarint(data, pos);
      if (field === 1) id = v;
      else if (field === 2) type = Number(v) as ConfChangeType;
      else if (field === 3) nodeId = v;
    } else if (wire === 2) {
      const len = Number(readVarint(data, pos));
      if (pos.i + len > data.length) throw new RangeError('confchange: truncated bytes field');
      const bytes = data.slice(pos.i, pos.i + len);
      pos.i += len;
      if (field === 4) context = bytes;
    } else if (wire === 1) {
      pos.i += 8;
    } else if (wire === 5) {
      pos.i += 4;
    } else {
      throw new RangeError(`confchange: unsupported wire type ${wire}`);
    }
  }
  if (pos.i > data.length) throw new RangeError('confchange: truncated input');
  return context === undefined ? { id, type, nodeId } : { id, type, nodeId, context };
}

function writeVarint(out: number[], v: bigint): void {
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}

function readVarint(data: Uint8Array, pos: { i: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos.i >= data.length) throw new RangeError('confchange: truncated varint');
    const b = data[pos.i++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    shift += 7n;
    if (shift > 63n) throw new RangeError('confchange: varint too long');
  }
}
