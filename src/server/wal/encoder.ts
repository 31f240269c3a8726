/**
 * @module server/wal/encoder
 * Record framing (doc.md, "Record framing"): a 16-byte header, the payload, then zero
 * padding up to the next multiple of 8 bytes.
 *
 * ```
 * offset  size  field
 *      0     4  payload length in bytes (u32 LE)
 *      4     1  record type (RecordType)
 *      5     3  reserved, zero
 *      8     4  CRC-32C of the payload
 *     12     4  CRC-32C of header bytes 0..11 (so a flipped length is caught before it is trusted)
 *     16     n  payload
 *   16+n     p  zero padding, p = (8 - n % 8) % 8
 * ```
 */
import { crc32c } from '../../util/crc32c.js';

/** Bytes in a record header. */
export const HEADER_BYTES = 16;
/** Every record starts at a multiple of this many bytes from the start of its segment. */
export const ALIGN_BYTES = 8;
/** Largest payload a record may carry (bytes); the u32 length field allows up to 4 GiB - 1. */
export const MAX_PAYLOAD_BYTES = 0xffff_ffff;

/** Zero bytes needed after a payload of `n` bytes to reach the next 8-byte boundary. */
export function paddingFor(n: number): number {
  return (ALIGN_BYTES - (n % ALIGN_BYTES)) % ALIGN_BYTES;
}

/** Total on-disk bytes of a record whose payload is `n` bytes (header + payload + padding). */
export function framedSize(n: number): number {
  return HEADER_BYTES + n + paddingFor(n);
}

/**
 * Frames one record: header, payload, padding. `type` is a RecordType (0..255).
 * Throws RangeError when the payload is larger than {@link MAX_PAYLOAD_BYTES}.
 */
export function encodeRecord(type: number, payload: Uint8Array): Buffer {
  if (payload.length > MAX_PAYLOAD_BYTES) throw new RangeError(`wal: record payload of ${payload.length} bytes is too large`);
  const out = Buffer.allocUnsafe(framedSize(payload.length));
  out.set(payload, HEADER_BYTES);
  frameInPlace(out, 0, type, payload.length);
  return out;
}

/**
 * Frames a record whose payload of `payloadLength` bytes is already in `out` at
 * `pos + HEADER_BYTES`: writes the header at `pos` and the zero padding after the
 * payload (what {@link encodeRecord} makes, without a buffer of its own). Returns the
 * position after the record. Throws RangeError when the payload is larger than
 * {@link MAX_PAYLOAD_BYTES} or does not fit in `out`.
 */
export function frameInPlace(out: Buffer, pos: number, type: number, payloadLength: number): number {
  if (payloadLength > MAX_PAYLOAD_BYTES) throw new RangeError(`wal: record payload of ${payloadLength} bytes is too large`);
  const start = pos + HEADER_BYTES;
  const end = start + payloadLength + paddingFor(payloadLength);
  if (end > out.length) throw new RangeError(`wal: a record of ${payloadLength} bytes does not fit at ${pos} of ${out.length}`);
  out.writeUInt32LE(payloadLength, pos);
  out[pos + 4] = type;
  out[pos + 5] = 0;
  out[pos + 6] = 0;
  out[pos + 7] = 0;
  out.writeUInt32LE(crc32c(out, start, start + payloadLength), pos + 8);
  out.writeUInt32LE(crc32c(out, pos, pos + 12), pos + 12);
  out.fill(0, start + payloadLength, end);
  return end;
}
