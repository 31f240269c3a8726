/**
 * @module util/etcd-format/wal
 * etcd 3.4's write-ahead log format (wal/doc.go, encoder.go, decoder.go, wal.go), to
 * write the WAL of a restored member and to read a real etcd member's WAL.
 *
 * A WAL is a directory of segments `<seq:016x>-<index:016x>.wal` (seq counts from 0;
 * index is the raft index the segment starts after). A segment is a sequence of
 * frames: an 8-byte little-endian length field (the low 56 bits give the record's
 * size; when the top bit is set, the low 3 bits of the top byte give the zero bytes
 * padding the record to a multiple of 8), then a walpb.Record {type, crc, data}.
 * `crc` is the CRC-32C of every record's data since the start of the WAL, chained
 * across segments: each segment starts with a crc record carrying the running value.
 * A length field of zero ends a segment (etcd preallocates segments with zeros,
 * 64,000,000 bytes). Record types: 1 metadata (etcdserverpb.Metadata, the same in every
 * segment), 2 raftpb.Entry, 3 raftpb.HardState, 4 crc, 5 walpb.Snapshot.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Crc32c } from '../crc32c.js';
import { syncDirSync } from '../fs-sync.js';
import { bytesField, ProtoWriter, readFields, uintField } from './proto.js';
import { decodeEntry, decodeHardState, decodeWalSnapshot, encodeWalSnapshot, type EtcdEntry, type EtcdHardState, type EtcdWalSnapshot } from './raft.js';

export const METADATA_TYPE = 1;
export const ENTRY_TYPE = 2;
export const STATE_TYPE = 3;
export const CRC_TYPE = 4;
export const SNAPSHOT_TYPE = 5;

/** etcd's wal.SegmentSizeBytes: the size a segment is preallocated to. */
export const SEGMENT_SIZE_BYTES = 64 * 1000 * 1000;

/** A WAL that etcd would refuse, with etcd's error text (`wal: crc mismatch`, ...). */
export class EtcdWalError extends Error {
  override name = 'EtcdWalError';
}

/** `<seq:016x>-<index:016x>.wal` */
export function walName(seq: bigint, index: bigint): string {
  return `${seq.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.wal`;
}

/** Parses a segment name; undefined when it is not one. */
export function parseWalName(name: string): { seq: bigint; index: bigint } | undefined {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/.exec(name);
  return m ? { seq: BigInt('0x' + m[1]), index: BigInt('0x' + m[2]) } : undefined;
}

/** Builds segment bytes: frames of walpb.Record with the chained CRC (wal/encoder.go). */
export class EtcdWalEncoder {
  private crc: Crc32c;
  private parts: Uint8Array[] = [];
  private size = 0;

  /** @param prevCrc the running CRC the segment continues from (0 for the first) */
  constructor(prevCrc = 0) {
    this.crc = new Crc32c(prevCrc);
  }

  /** Appends one record; `data` undefined is Go's nil (no data field). */
  record(type: number, data?: Uint8Array): this {
    if (data !== undefined) this.crc.update(data);
    const w = new ProtoWriter().uint(1, type).uint(2, this.crc.sum());
    if (data !== undefined) w.bytes(3, data);
    const rec = w.finish();
    const pad = (8 - (rec.length % 8)) % 8;
    const frame = new Uint8Array(8 + rec.length + pad);
    const view = new DataView(frame.buffer);
    view.setUint32(0, rec.length, true);
    view.setUint32(4, pad === 0 ? 0 : (0x80 | pad) << 24, true);
    frame.set(rec, 8);
    this.parts.push(frame);
    this.size += frame.length;
    return this;
  }

  /** A segment's first records (wal.Create / cut): crc, metadata. */
  header(metadata: Uint8Array): this {
    return this.record(CRC_TYPE).record(METADATA_TYPE, metadata);
  }

  /** The running CRC after the records so far. */
  get lastCrc(): number {
    return this.crc.sum();
  }

  /** The encoded frames. */
  bytes(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

/**
 * Writes a new one-segment WAL as etcd's wal.Create followed by Save/SaveSnapshot
 * does: the directory is built as `<walDir>.tmp` and renamed, the segment
 * `0000000000000000-0000000000000000.wal` (mode 0600) holds a crc record, the metadata,
 * an empty snapshot marker, then `records`, and is extended with zeros to
 * SEGMENT_SIZE_BYTES (a sparse file: etcd's fallocate reserves the blocks, the bytes
 * read the same). Everything is fsynced. Throws on I/O errors (Node's fs errors).
 */
export function writeNewEtcdWal(walDir: string, metadata: Uint8Array, records: ReadonlyArray<{ type: number; data: Uint8Array }>): void {
  const tmp = walDir.replace(/\/+$/, '') + '.tmp';
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const enc = new EtcdWalEncoder().header(metadata).record(SNAPSHOT_TYPE, encodeWalSnapshot({ index: 0n, term: 0n }));
  for (const r of records) enc.record(r.type, r.data);
  const bytes = enc.bytes();
  const file = join(tmp, walName(0n, 0n));
  const fd = openSync(file, 'w', 0o600);
  try {
    writeSync(fd, bytes);
    if (bytes.length < SEGMENT_SIZE_BYTES) ftruncateSync(fd, SEGMENT_SIZE_BYTES);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDirSync(tmp);
  if (existsSync(walDir)) rmSync(walDir, { recursive: true }); // only ever an empty dir here (callers check)
  renameSync(tmp, walDir);
  syncDirSync(join(walDir, '..'));
}

/** One record as read. */
export interface EtcdWalRecord {
  readonly type: number;
  readonly crc: number;
  readonly data?: Uint8Array;
}

/**
 * Decodes the frames of one segment, continuing the CRC chain from `crc`. Stops at a
 * zero length field (the preallocated tail). A frame cut short by the end of the
 * file is a torn write: `torn` is set and decoding stops (etcd repairs such a tail
 * when it opens the WAL for writing). A record whose CRC does not match throws
 * EtcdWalError('wal: crc mismatch'), unless it is the last one before the zeros
 * (also a torn write, wal/decoder.go isTornEntry, approximated here by "nothing
 * but zeros follows"). `end` is the offset after the last whole record.
 */
export function decodeSegment(buf: Uint8Array, crc: number, file: string): { records: EtcdWalRecord[]; crc: number; torn: boolean; end: number } {
  const records: EtcdWalRecord[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  let running = new Crc32c(crc);
  while (off + 8 <= buf.length) {
    const lo = view.getUint32(off, true);
    const hi = view.getUint32(off + 4, true);
    if (lo === 0 && hi === 0) return { records, crc: running.sum(), torn: false, end: off };
    const top = hi >>> 24;
    const recBytes = lo + (hi & 0xffffff) * 2 ** 32;
    const pad = top & 0x80 ? top & 0x7 : 0;
    if (off + 8 + recBytes + pad > buf.length) return { records, crc: running.sum(), torn: true, end: off };
    const fields = readFields(buf.subarray(off + 8, off + 8 + recBytes), `${file}: walpb.Record at offset ${off}`);
    const rec: EtcdWalRecord = { type: Number(uintField(fields, 1)), crc: Number(uintField(fields, 2)), data: bytesField(fields, 3) };
    if (rec.type === CRC_TYPE) {
      const sum = running.sum();
      if (sum !== 0 && rec.crc !== sum) throw new EtcdWalError('wal: crc mismatch');
      running = new Crc32c(rec.crc);
    } else {
      if (rec.data !== undefined) running.update(rec.data);
      if (rec.crc !== running.sum()) {
        if (buf.subarray(off + 8 + recBytes + pad).every((b) => b === 0)) return { records, crc: running.sum(), torn: true, end: off };
        throw new EtcdWalError('wal: crc mismatch');
      }
    }
    records.push(rec);
    off += 8 + recBytes + pad;
  }
  return { records, crc: running.sum(), torn: off !== buf.length, end: off };
}

/** What etcd's WAL.ReadAll returns for a start snapshot, plus where it came from. */
export interface EtcdWalContents {
  /** The metadata record (etcdserverpb.Metadata bytes). */
  readonly metadata: Uint8Array;
  readonly hardState: EtcdHardState;
  /** The entries after the start snapshot, later writes replacing earlier ones. */
  readonly entries: EtcdEntry[];
  /** Every snapshot marker seen, in order. */
  readonly snapshots: EtcdWalSnapshot[];
  /** The segments read, in order. */
  readonly files: string[];
  /** True when the last segment ended in a torn record (not an error: etcd repairs it). */
  readonly tornTail: boolean;
  /** False when `start` was not among the snapshot markers (only with `allowMissingSnapshot`). */
  readonly snapshotFound: boolean;
}

/**
 * Reads an etcd WAL directory from the segment holding `start` (the newest raft
 * snapshot's index and term; {0, 0} for none) as etcd's wal.Open + ReadAll do.
 * @throws EtcdWalError with etcd's messages: `wal: file not found` (no segment),
 *   `wal: crc mismatch`, `wal: conflicting metadata found`, `wal: snapshot mismatch`,
 *   `wal: snapshot not found`, `wal: slice bounds out of range`, and
 *   `wal: segments out of sequence` for a gap in the sequence numbers
 * @param opts.allowMissingSnapshot return what was read instead of throwing
 *   `wal: snapshot not found` (etcdctl backup goes on after ErrSnapshotNotFound)
 */
export function readEtcdWal(walDir: string, start: EtcdWalSnapshot = { index: 0n, term: 0n }, opts: { allowMissingSnapshot?: boolean } = {}): EtcdWalContents {
  const names = readdirSync(walDir)
    .map((n) => ({ n, p: parseWalName(n) }))
    .filter((x): x is { n: string; p: { seq: bigint; index: bigint } } => x.p !== undefined)
    .sort((a, b) => (a.p.seq < b.p.seq ? -1 : a.p.seq > b.p.seq ? 1 : 0));
  if (names.length === 0) throw new EtcdWalError('wal: file not found');
  // wal.searchIndex: the last segment starting at or before the snapshot's index
  let first = -1;
  for (let i = names.length - 1; i >= 0; i--) {
    if (names[i]!.p.index <= start.index) {
      first = i;
      break;
    }
  }
  if (first < 0) throw new EtcdWalError('wal: file not found');
  const picked = names.slice(first);
  for (let i = 1; i < picked.length; i++) {
    if (picked[i]!.p.seq !== picked[i - 1]!.p.seq + 1n) throw new EtcdWalError('wal: segments out of sequence');
  }
  let metadata: Uint8Array | undefined;
  let hardState: EtcdHardState = { term: 0n, vote: 0n, commit: 0n };
  let entries: EtcdEntry[] = [];
  const snapshots: EtcdWalSnapshot[] = [];
  let match = false;
  let crc = 0;
  let tornTail = false;
  for (let i = 0; i < picked.length; i++) {
    const { n } = picked[i]!;
    const seg = decodeSegment(readFileSync(join(walDir, n)), crc, n);
    crc = seg.crc;
    if (seg.torn) {
      if (i !== picked.length - 1) throw new EtcdWalError(`wal: segment ${n} ends in a torn record but is not the last one`);
      tornTail = true;
    }
    for (const rec of seg.records) {
      const data = rec.data ?? new Uint8Array(0);
      switch (rec.type) {
        case ENTRY_TYPE: {
          const e = decodeEntry(data);
          if (e.index > start.index) {
            const up = e.index - start.index - 1n;
            if (up > BigInt(entries.length)) throw new EtcdWalError('wal: slice bounds out of range');
            entries = entries.slice(0, Number(up));
            entries.push(e);
          }
          break;
        }
        case STATE_TYPE:
          hardState = decodeHardState(data);
          break;
        case METADATA_TYPE:
          if (metadata !== undefined && Buffer.compare(metadata, data) !== 0) throw new EtcdWalError('wal: conflicting metadata found');
          metadata = data;
          break;
        case CRC_TYPE:
          break;
        case SNAPSHOT_TYPE: {
          const s = decodeWalSnapshot(data);
          snapshots.push(s);
          if (s.index === start.index) {
            if (s.term !== start.term) throw new EtcdWalError('wal: snapshot mismatch');
            match = true;
          }
          break;
        }
        default:
          throw new EtcdWalError(`unexpected block type ${rec.type}`);
      }
    }
  }
  if (!match && !opts.allowMissingSnapshot) throw new EtcdWalError('wal: snapshot not found');
  return { metadata: metadata ?? new Uint8Array(0), hardState, entries, snapshots, files: picked.map((x) => x.n), tornTail, snapshotFound: match };
}
