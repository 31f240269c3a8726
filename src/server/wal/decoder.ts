/**
 * @module server/wal/decoder
 * Reads framed records (see encoder.ts) out of one segment's bytes and decides whether
 * damage at the end is a torn write (cut it off) or corruption (refuse). The rule
 * (doc.md, "Crash recovery"):
 *
 * - a record that fails to frame (short header, bad header CRC, length past the end of
 *   the file, bad payload CRC) in the LAST segment is a torn tail if no valid record
 *   can be found after it at any 8-byte-aligned offset; the segment is valid up to that
 *   record's offset;
 * - otherwise (a valid record follows, or the segment is not the last) it is corruption:
 *   {@link WalCorruptError} with the file name and the offset of the bad record.
 *
 * Payload contents are not interpreted here; wal.ts decodes them with record.ts.
 */
import { crc32c } from '../../util/crc32c.js';
import { ALIGN_BYTES, HEADER_BYTES, framedSize } from './encoder.js';
import { WalCorruptError } from './errors.js';

/**
 * One framed record: its type byte, where its payload lies in the segment buffer
 * (`[start, end)`) and its offset.
 */
export interface RawRecord {
  readonly type: number;
  readonly start: number;
  readonly end: number;
  /** Byte offset of the record header inside its segment. */
  readonly offset: number;
}

/** The result of {@link decodeSegment}. */
export interface SegmentScan {
  readonly records: RawRecord[];
  /**
   * Bytes from the start of the segment that hold whole, valid records, always a
   * multiple of 8. It can exceed the buffer's length by up to 7 when a crash cut the
   * zero padding of the last record; the writer then re-extends the file with zeros.
   */
  readonly validBytes: number;
  /** Bytes after `validBytes` that are a torn tail (0 when the segment ends cleanly). */
  readonly tornBytes: number;
  /** Why the torn tail did not decode, when `tornBytes > 0`. */
  readonly tornReason?: string;
}

type Probe =
  | { readonly ok: true; readonly type: number; readonly start: number; readonly end: number; readonly next: number }
  /** `skipTo`: the first offset at which a later record may start (past a trusted header's payload). */
  | { readonly ok: false; readonly reason: string; readonly skipTo: number };

/** Tries to frame a record at `off` (a multiple of 8). Never throws. */
export function probeRecord(buf: Buffer, off: number): Probe {
  if (buf.length - off < HEADER_BYTES) return { ok: false, reason: `only ${buf.length - off} bytes left, a header needs ${HEADER_BYTES}`, skipTo: off + ALIGN_BYTES };
  const headerCrc = buf.readUInt32LE(off + 12);
  if (crc32c(buf, off, off + 12) !== headerCrc) return { ok: false, reason: 'header CRC mismatch', skipTo: off + ALIGN_BYTES };
  const len = buf.readUInt32LE(off);
  const end = off + framedSize(len);
  if (off + HEADER_BYTES + len > buf.length) {
    return { ok: false, reason: `record of ${len} payload bytes runs past the end of the file (${buf.length} bytes)`, skipTo: end };
  }
  const start = off + HEADER_BYTES;
  if (crc32c(buf, start, start + len) !== buf.readUInt32LE(off + 8)) return { ok: false, reason: 'payload CRC mismatch', skipTo: end };
  // `next` may lie past the end of the buffer when only padding is missing; the record is whole
  return { ok: true, type: buf[off + 4]!, start, end: start + len, next: end };
}

/** The offset of the first valid record at or after `from` (8-byte aligned), or -1. */
function findValidRecord(buf: Buffer, from: number): number {
  for (let p = from; p + HEADER_BYTES <= buf.length; p += ALIGN_BYTES) {
    if (probeRecord(buf, p).ok) return p;
  }
  return -1;
}

/**
 * Splits a segment's bytes into records. `file` names the segment in errors; `last`
 * says whether it is the newest segment (the only one that may have a torn tail).
 * Throws {@link WalCorruptError} for damage that is not a torn tail.
 */
export function decodeSegment(buf: Buffer, file: string, last: boolean): SegmentScan {
  const records: RawRecord[] = [];
  let off = 0;
  while (off < buf.length) {
    const p = probeRecord(buf, off);
    if (p.ok) {
      records.push({ type: p.type, start: p.start, end: p.end, offset: off });
      off = p.next;
      continue;
    }
    if (!last) throw new WalCorruptError(file, off, `${p.reason} (not the last segment)`);
    const later = findValidRecord(buf, p.skipTo);
    if (later >= 0) throw new WalCorruptError(file, off, `${p.reason}, followed by a valid record at offset ${later}`);
    return { records, validBytes: off, tornBytes: buf.length - off, tornReason: p.reason };
  }
  return { records, validBytes: off, tornBytes: 0 };
}
