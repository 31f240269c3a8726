/**
 * @module server/wal/record
 * The typed payloads of WAL records and their byte encodings (see doc.md). The WAL
 * knows nothing of Raft beyond these shapes: {@link WalEntry} and {@link WalHardState}
 * are structurally the same as the Raft core's `Entry` and `HardState`, so values pass
 * between them without conversion and without this module importing `server/raft`.
 * All integers are little-endian; terms and indexes are unsigned 64-bit on disk and
 * must be safe integers (<= 2^53 - 1) in memory.
 */

/** Record type byte (header offset 4). Values never change once released. */
export enum RecordType {
  /** Who wrote this WAL: node id and cluster id. First record of every segment. */
  Metadata = 1,
  /** The latest Raft hard state (term, vote, commit). */
  HardState = 2,
  /** One Raft log entry. */
  Entry = 3,
  /** A Raft snapshot was saved at (term, index); replay may start there. */
  Snapshot = 4,
}

/** The node and cluster the WAL belongs to (both 64-bit ids). */
export interface WalMetadata {
  readonly nodeId: bigint;
  readonly clusterId: bigint;
}

/** Raft hard state, structurally equal to raft's `HardState`. */
export interface WalHardState {
  readonly term: number;
  readonly vote: bigint;
  readonly commit: number;
}

/** A Raft log entry, structurally equal to raft's `Entry`. `type` is 0..255. */
export interface WalEntry {
  readonly term: number;
  readonly index: number;
  readonly type: number;
  readonly data: Uint8Array;
}

/** The position of a Raft snapshot in the log (snapshot marker payload). */
export interface WalSnapshot {
  readonly term: number;
  readonly index: number;
}

/** Thrown by the decode* functions when a payload has the wrong size or an out-of-range value. */
export class RecordDecodeError extends Error {}

const MAX_U64 = (1n << 64n) - 1n;

function putU64(b: Buffer, off: number, v: number | bigint, what: string): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`wal: ${what} ${v} is not a non-negative safe integer`);
    // two 32-bit halves: no BigInt for the common case (terms and indexes are numbers)
    b.writeUInt32LE(v % 0x1_0000_0000, off);
    b.writeUInt32LE(Math.floor(v / 0x1_0000_0000), off + 4);
    return;
  } else if (v < 0n || v > MAX_U64) {
    throw new RangeError(`wal: ${what} ${v} does not fit in 64 bits`);
  }
  b.writeBigUInt64LE(v, off);
}

function getNum(b: Buffer, off: number, what: string): number {
  const hi = b.readUInt32LE(off + 4);
  // 2^53-1 has 21 bits in the high word
  if (hi >= 0x200000) throw new RecordDecodeError(`${what} ${b.readBigUInt64LE(off)} exceeds 2^53-1`);
  return hi * 0x100000000 + b.readUInt32LE(off);
}

function expectLen(p: Buffer, n: number, what: string): void {
  if (p.length !== n) throw new RecordDecodeError(`${what} payload is ${p.length} bytes, expected ${n}`);
}

/** Metadata payload: nodeId u64 | clusterId u64 (16 bytes). Throws RangeError for ids outside u64. */
export function encodeMetadata(m: WalMetadata): Buffer {
  const b = Buffer.alloc(16);
  putU64(b, 0, m.nodeId, 'node id');
  putU64(b, 8, m.clusterId, 'cluster id');
  return b;
}

/** Inverse of {@link encodeMetadata}; throws RecordDecodeError. */
export function decodeMetadata(p: Buffer): WalMetadata {
  expectLen(p, 16, 'metadata');
  return { nodeId: p.readBigUInt64LE(0), clusterId: p.readBigUInt64LE(8) };
}

/** HardState payload: term u64 | vote u64 | commit u64 (24 bytes). Throws RangeError. */
export function encodeHardState(hs: WalHardState): Buffer {
  const b = Buffer.alloc(24);
  putU64(b, 0, hs.term, 'term');
  putU64(b, 8, hs.vote, 'vote');
  putU64(b, 16, hs.commit, 'commit');
  return b;
}

/** Inverse of {@link encodeHardState}; throws RecordDecodeError. */
export function decodeHardState(p: Buffer): WalHardState {
  expectLen(p, 24, 'hard state');
  return { term: getNum(p, 0, 'term'), vote: p.readBigUInt64LE(8), commit: getNum(p, 16, 'commit') };
}

/** Bytes of an entry payload before its data: term u64, index u64, type u8. */
export const ENTRY_HEADER_BYTES = 17;

/** Entry payload: term u64 | index u64 | type u8 | data (17 + data.length bytes). Throws RangeError. */
export function encodeEntry(e: WalEntry): Buffer {
  const b = Buffer.allocUnsafe(17 + e.data.length);
  putEntry(b, 0, e);
  return b;
}

/** Writes {@link encodeEntry}'s payload of `e` into `b` at `off` (17 + data.length bytes). Throws RangeError. */
export function putEntry(b: Buffer, off: number, e: WalEntry): void {
  if (!Number.isInteger(e.type) || e.type < 0 || e.type > 255) throw new RangeError(`wal: entry type ${e.type} is not 0..255`);
  putU64(b, off, e.term, 'entry term');
  putU64(b, off + 8, e.index, 'entry index');
  b[off + 16] = e.type;
  b.set(e.data, off + 17);
}

/** Inverse of {@link encodeEntry} (copies `data`); throws RecordDecodeError. */
export function decodeEntry(p: Buffer): WalEntry {
  return decodeEntryAt(p, 0, p.length);
}

/**
 * {@link decodeEntry} of the payload at `buf[start, end)` (a record inside a segment
 * buffer), without making a view of it; `data` is copied. Throws RecordDecodeError.
 */
export function decodeEntryAt(buf: Buffer, start: number, end: number): WalEntry {
  expectEntryLen(start, end);
  const term = getNum(buf, start, 'entry term');
  const index = getNum(buf, start + 8, 'entry index');
  const from = buf.byteOffset + start + 17;
  const data = new Uint8Array(buf.buffer.slice(from, from + (end - start - 17)));
  return { term, index, type: buf[start + 16]!, data };
}

/**
 * The index of the entry whose payload is at `buf[start, end)`, checking the payload
 * as far as {@link decodeEntryAt} does but not copying its data (replay skips entries
 * at or before the snapshot this way). Throws RecordDecodeError.
 */
export function entryIndexAt(buf: Buffer, start: number, end: number): number {
  expectEntryLen(start, end);
  getNum(buf, start, 'entry term');
  return getNum(buf, start + 8, 'entry index');
}

/** An entry payload holds term, index and type: at least 17 bytes. */
function expectEntryLen(start: number, end: number): void {
  if (end - start < 17) throw new RecordDecodeError(`entry payload is ${end - start} bytes, expected at least 17`);
}

/** Snapshot marker payload: term u64 | index u64 (16 bytes). Throws RangeError. */
export function encodeSnapshot(s: WalSnapshot): Buffer {
  const b = Buffer.alloc(16);
  putU64(b, 0, s.term, 'snapshot term');
  putU64(b, 8, s.index, 'snapshot index');
  return b;
}

/** Inverse of {@link encodeSnapshot}; throws RecordDecodeError. */
export function decodeSnapshot(p: Buffer): WalSnapshot {
  expectLen(p, 16, 'snapshot marker');
  return { term: getNum(p, 0, 'snapshot term'), index: getNum(p, 8, 'snapshot index') };
}
