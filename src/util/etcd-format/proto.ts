/**
 * @module util/etcd-format/proto
 * A small protobuf writer and field reader for the records of etcd's on-disk format
 * (walpb, snappb, raftpb, etcdserverpb.Metadata), which gogoproto marshals with
 * every non-nullable scalar written, zero included, in field-number order. Callers
 * write fields in the order etcd's generated `Marshal` does; this module only
 * knows the wire encoding (developers.google.com/protocol-buffers, "Encoding").
 */
import { putUvarint, readLength, readUvarint, uvarintSize } from '../protowire.js';

/** A malformed protobuf record in an etcd file. */
export class ProtoDecodeError extends Error {
  override name = 'ProtoDecodeError';
}

/** Builds one protobuf message; fields go out in the order they are added. */
export class ProtoWriter {
  private parts: Uint8Array[] = [];
  private size = 0;

  /** A varint field (uint64/int64/uint32/enum; negative int64 as two's complement). */
  uint(field: number, v: bigint | number): this {
    const tag = field << 3;
    const b = new Uint8Array(uvarintSize(tag) + uvarintSize(v));
    putUvarint(b, putUvarint(b, 0, tag), v);
    return this.push(b);
  }

  /** A length-delimited field (bytes, string, sub-message). */
  bytes(field: number, data: Uint8Array | string): this {
    const d = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const tag = (field << 3) | 2;
    const b = new Uint8Array(uvarintSize(tag) + uvarintSize(d.length));
    putUvarint(b, putUvarint(b, 0, tag), d.length);
    return this.push(b).push(d);
  }

  /** The message's bytes. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let pos = 0;
    for (const p of this.parts) {
      out.set(p, pos);
      pos += p.length;
    }
    return out;
  }

  private push(b: Uint8Array): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
}

/** One field as read: varints as bigint, length-delimited fields as bytes. */
export interface ProtoField {
  readonly field: number;
  readonly value: bigint | Uint8Array;
}

/**
 * Reads the fields of one message in wire order. Fixed32/fixed64 fields (which
 * etcd's records do not use) are skipped.
 * @throws ProtoDecodeError on truncated input or an unknown wire type
 */
export function readFields(b: Uint8Array, what: string): ProtoField[] {
  const out: ProtoField[] = [];
  const c = { pos: 0 };
  while (c.pos < b.length) {
    const key = readUvarint(b, c);
    if (key < 0n) throw new ProtoDecodeError(`${what}: truncated field key`);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const v = readUvarint(b, c);
      if (v < 0n) throw new ProtoDecodeError(`${what}: truncated varint in field ${field}`);
      out.push({ field, value: v });
    } else if (wire === 2) {
      const n = readLength(b, c);
      if (n < 0) throw new ProtoDecodeError(`${what}: bad length in field ${field}`);
      out.push({ field, value: b.subarray(c.pos, c.pos + n) });
      c.pos += n;
    } else if (wire === 1 || wire === 5) {
      c.pos += wire === 1 ? 8 : 4;
      if (c.pos > b.length) throw new ProtoDecodeError(`${what}: truncated fixed field ${field}`);
    } else {
      throw new ProtoDecodeError(`${what}: unknown wire type ${wire} in field ${field}`);
    }
  }
  return out;
}

/** The last varint of `field` (proto's last-one-wins), or 0n. */
export function uintField(fields: readonly ProtoField[], field: number): bigint {
  let v = 0n;
  for (const f of fields) if (f.field === field && typeof f.value === 'bigint') v = f.value;
  return v;
}

/** The last bytes of `field`, or undefined when absent. */
export function bytesField(fields: readonly ProtoField[], field: number): Uint8Array | undefined {
  let v: Uint8Array | undefined;
  for (const f of fields) if (f.field === field && typeof f.value !== 'bigint') v = f.value;
  return v;
}

/** Every varint of a repeated uint64 `field`, packed or not, in order. */
export function repeatedUint(fields: readonly ProtoField[], field: number, what: string): bigint[] {
  const out: bigint[] = [];
  for (const f of fields) {
    if (f.field !== field) continue;
    if (typeof f.value === 'bigint') out.push(f.value);
    else {
      const c = { pos: 0 };
      while (c.pos < f.value.length) {
        const v = readUvarint(f.value, c);
        if (v < 0n) throw new ProtoDecodeError(`${what}: truncated packed field ${field}`);
        out.push(v);
      }
    }
  }
  return out;
}
