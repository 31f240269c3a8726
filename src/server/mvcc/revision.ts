/**
 * @module server/mvcc/revision
 * Revisions and their backend encoding (etcd mvcc/revision.go, kvstore.go).
 *
 * A revision is a pair `{main, sub}`: `main` numbers the write transactions (the
 * store revision; every write txn that changes something gets the next one), and
 * `sub` numbers the changes inside that txn from 0. Revisions order by main, then
 * sub.
 *
 * The `key` bucket of the backend is keyed by revision, not by user key. A
 * backend key is 17 bytes, big-endian so that byte order is revision order:
 *
 * ```
 *   offset 0        8   9        17  (18)
 *          | main   | _ | sub    | t? |
 * ```
 * e.g. `{main: 5, sub: 1}` is `00 00 00 00 00 00 00 05 5f 00 00 00 00 00 00 00 01`;
 * a deletion (tombstone) appends one byte `'t'` (0x74), giving 18 bytes. The value
 * under it is the marshalled `mvccpb.KeyValue` (for a tombstone: only the key).
 *
 * Revisions are JavaScript numbers here: safe up to 2^53 - 1, far beyond any
 * reachable store revision; conversion to the int64 (bigint) protobuf fields
 * happens at the edges.
 */

import { MvccInvariantError } from './errors.js';

/** A main/sub revision pair (both non-negative safe integers). */
export interface Revision {
  readonly main: number;
  readonly sub: number;
}

/** Length of an encoded revision: 8 + 1 + 8 bytes. */
export const REV_BYTES_LEN = 17;
/** Length of an encoded revision with the tombstone mark. */
export const MARKED_REV_BYTES_LEN = REV_BYTES_LEN + 1;
/** The tombstone mark byte, `'t'`. */
export const MARK_TOMBSTONE = 0x74;

const TWO_32 = 0x1_0000_0000;

/** Builds a revision. */
export function rev(main: number, sub = 0): Revision {
  return { main, sub };
}

/** True if `a` is after `b` (etcd `revision.GreaterThan`). */
export function revGreaterThan(a: Revision, b: Revision): boolean {
  return a.main > b.main || (a.main === b.main && a.sub > b.sub);
}

/** Orders revisions: negative, 0 or positive as `a` is before, equal to or after `b`. */
export function compareRevisions(a: Revision, b: Revision): number {
  return a.main !== b.main ? a.main - b.main : a.sub - b.sub;
}

/** True if both revisions are the same pair. */
export function revEqual(a: Revision, b: Revision): boolean {
  return a.main === b.main && a.sub === b.sub;
}

function writeUint64(buf: Uint8Array, off: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new MvccInvariantError(`mvcc: revision component out of range: ${n}`);
  const hi = Math.floor(n / TWO_32);
  const lo = n % TWO_32;
  buf[off] = hi >>> 24;
  buf[off + 1] = (hi >>> 16) & 0xff;
  buf[off + 2] = (hi >>> 8) & 0xff;
  buf[off + 3] = hi & 0xff;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = (lo >>> 16) & 0xff;
  buf[off + 6] = (lo >>> 8) & 0xff;
  buf[off + 7] = lo & 0xff;
}

function readUint64(buf: Uint8Array, off: number): number {
  const hi = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const lo = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  const n = hi * TWO_32 + lo;
  if (!Number.isSafeInteger(n)) throw new MvccInvariantError('mvcc: stored revision exceeds 2^53');
  return n;
}

/**
 * Encodes a revision as its backend key: 17 bytes, or 18 with the tombstone mark.
 * Throws {@link MvccInvariantError} for negative or unsafe numbers.
 */
export function revToBytes(r: Revision, tombstone = false): Uint8Array {
  const buf = new Uint8Array(tombstone ? MARKED_REV_BYTES_LEN : REV_BYTES_LEN);
  writeUint64(buf, 0, r.main);
  buf[8] = 0x5f; // '_'
  writeUint64(buf, 9, r.sub);
  if (tombstone) buf[REV_BYTES_LEN] = MARK_TOMBSTONE;
  return buf;
}

/** Decodes the revision of a backend key (17 or 18 bytes; the mark is ignored). */
export function bytesToRev(b: Uint8Array): Revision {
  if (b.length < REV_BYTES_LEN) throw new MvccInvariantError(`mvcc: revision key too short (${b.length} bytes)`);
  return { main: readUint64(b, 0), sub: readUint64(b, 9) };
}

/** True if the backend key carries the tombstone mark (etcd `isTombstone`). */
export function isTombstone(b: Uint8Array): boolean {
  return b.length === MARKED_REV_BYTES_LEN && b[REV_BYTES_LEN] === MARK_TOMBSTONE;
}

/** A string that identifies a revision, for use as a Map/Set key. */
export function revKey(r: Revision): string {
  return `${r.main}_${r.sub}`;
}

/**
 * A set of revisions (etcd's `map[revision]struct{}`), used for the revisions a
 * compaction must keep.
 */
export class RevisionSet {
  private readonly m = new Map<string, Revision>();

  /** Adds `r`. */
  add(r: Revision): void {
    this.m.set(revKey(r), r);
  }

  /** Removes `r` if present. */
  delete(r: Revision): void {
    this.m.delete(revKey(r));
  }

  /** True if `r` is in the set. */
  has(r: Revision): boolean {
    return this.m.has(revKey(r));
  }

  /** Number of revisions. */
  get size(): number {
    return this.m.size;
  }

  /** The revisions in ascending order. */
  sorted(): Revision[] {
    return [...this.m.values()].sort(compareRevisions);
  }
}
