/**
 * @module server/lease/leasepb
 * The record stored per lease in the backend `lease` bucket, byte-compatible
 * with etcd's `leasepb.Lease` so that a bolt file written by etcd reads the
 * same:
 *
 * - key: the lease ID as an 8-byte big-endian int64 (etcd `int64ToBytes`);
 * - value: the protobuf encoding of
 *   `message Lease { int64 ID = 1; int64 TTL = 2; int64 RemainingTTL = 3; }`
 *   (each field a varint with tag `field << 3 | 0`; zero fields are left out,
 *   as proto3 does; negative int64s take 10 bytes).
 *
 * Example: `{ID: 0x1234, TTL: 10, RemainingTTL: 0}` is key
 * `00 00 00 00 00 00 12 34` and value `08 b4 24 10 0a`.
 *
 * Decoding is strict about lengths (a malformed record is an error, never an
 * out-of-bounds read); unknown fields are skipped as protobuf requires.
 */

/** One stored lease (etcd `leasepb.Lease`); all values are int64. */
export interface LeaseRecord {
  /** The lease ID. */
  readonly id: bigint;
  /** The granted TTL in seconds. */
  readonly ttl: bigint;
  /** The remaining TTL from the last checkpoint in seconds; 0n: none. */
  readonly remainingTtl: bigint;
}

/** A stored lease record could not be decoded. */
export class LeaseRecordError extends Error {
  override readonly name = 'LeaseRecordError';
}

/** The backend key of lease `id` (8 bytes, big-endian int64). */
export function leaseIdToBytes(id: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt.asIntN(64, id), false);
  return b;
}

/** The lease ID stored in backend key `b`; throws {@link LeaseRecordError} unless it is 8 bytes. */
export function bytesToLeaseId(b: Uint8Array): bigint {
  if (b.length !== 8) throw new LeaseRecordError(`lease ID must be 8-byte, got ${b.length}`);
  return new DataView(b.buffer, b.byteOffset, 8).getBigInt64(0, false);
}

function putVarint(out: number[], v: bigint): void {
  let u = BigInt.asUintN(64, v);
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
}

/** Encodes `r` as etcd's `leasepb.Lease` protobuf. */
export function encodeLeaseRecord(r: LeaseRecord): Uint8Array {
  const out: number[] = [];
  const fields: [number, bigint][] = [
    [1, r.id],
    [2, r.ttl],
    [3, r.remainingTtl],
  ];
  for (const [f, v] of fields) {
    if (v === 0n) continue;
    out.push(f << 3);
    putVarint(out, v);
  }
  return Uint8Array.from(out);
}

/** Decodes a `leasepb.Lease`; throws {@link LeaseRecordError} on malformed input. */
export function decodeLeaseRecord(b: Uint8Array): LeaseRecord {
  const vals = [0n, 0n, 0n, 0n];
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (i >= b.length) throw new LeaseRecordError('truncated varint in lease record');
      const c = b[i++]!;
      v |= BigInt(c & 0x7f) << shift;
      if (c < 0x80) return BigInt.asIntN(64, v);
    }
    throw new LeaseRecordError('varint too long in lease record');
  };
  while (i < b.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field <= 0) throw new LeaseRecordError(`invalid field number ${field} in lease record`);
    switch (wire) {
      case 0: {
        const v = varint();
        if (field <= 3) vals[field] = v;
        break;
      }
      case 1:
      case 5: {
        const n = wire === 1 ? 8 : 4;
        if (field <= 3 || i + n > b.length) throw new LeaseRecordError('bad fixed field in lease record');
        i += n;
        break;
      }
      case 2: {
        const n = varint();
        if (field <= 3 || n < 0n || BigInt(i) + n > BigInt(b.length)) {
          throw new LeaseRecordError('bad length-delimited field in lease record');
        }
        i += Number(n);
        break;
      }
      default:
        throw new LeaseRecordError(`unsupported wire type ${wire} in lease record`);
    }
  }
  return { id: vals[1]!, ttl: vals[2]!, remainingTtl: vals[3]! };
}
