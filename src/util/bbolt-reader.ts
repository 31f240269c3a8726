/**
 * @module util/bbolt-reader
 * A read-only reader of bbolt database files (go.etcd.io/bbolt v1.3.6, the backend
 * format of etcd 3.4 and of its snapshot files), written from the file format:
 *
 * - The file is a sequence of pages of `pageSize` bytes. Every page starts with a
 *   16-byte header: id u64, flags u16 (0x01 branch, 0x02 leaf, 0x04 meta,
 *   0x10 freelist), count u16, overflow u32 (the page spans overflow+1 pages). All
 *   integers are little-endian (amd64 layout).
 * - Pages 0 and 1 are meta pages: magic 0xED0CDAED u32, version 2 u32, pageSize u32,
 *   flags u32, root bucket (root pgid u64, sequence u64), freelist pgid u64, pgid
 *   (high-water mark) u64, txid u64, checksum u64 = FNV-1a 64 of the 56 bytes before
 *   it. The valid meta with the higher txid is the current one.
 * - Branch elements (16 bytes): pos u32, ksize u32, child pgid u64; leaf elements:
 *   flags u32 (0x01 = the value is a bucket), pos u32, ksize u32, vsize u32; `pos` is
 *   relative to the element. A bucket value is its root pgid u64 and sequence u64;
 *   root 0 means an inline bucket whose page follows in the value itself.
 *
 * Opening and checking follow bbolt's `Open(path, 0400, ReadOnly)` and `Tx.Check()`
 * so that the same files fail with the same messages. Where bbolt would read outside
 * the file (and crash the Go process with SIGBUS or a panic) this reader throws
 * `BoltCorruptError` instead.
 */

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { goPathError } from './go-errors.js';

/** bbolt's magic number, meta.magic. */
export const MAGIC = 0xed0cdaed;
/** bbolt's data file format version, meta.version. */
export const VERSION = 2;
/** meta.freelist when the freelist is not written to disk (etcd's NoFreelistSync). */
export const NO_FREELIST = 0xffffffffffffffffn;
/** bytes of a page header (id, flags, count, overflow) */
export const PAGE_HEADER = 16;
/** bytes of a leaf or branch element */
export const ELEMENT_SIZE = 16;
/** bytes of a bucket value's header (root pgid, sequence) */
export const BUCKET_HEADER = 16;
/** offset of meta.checksum in the meta struct: the checksum covers the bytes before it */
export const META_CHECKSUM_OFFSET = 56;

export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;
/** leaf element flag: the value is a nested bucket */
export const BUCKET_LEAF = 0x01;

/** An error whose message is what bbolt (or Go's os package) reports, e.g. `invalid database`. */
export class BoltError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BoltError';
  }
}

/** A structural problem with which bbolt itself would crash (read past the end, bad page). */
export class BoltCorruptError extends BoltError {
  constructor(message: string) {
    super(message);
    this.name = 'BoltCorruptError';
  }
}

/** A decoded meta page. pgids are bigints as stored. */
export interface BoltMeta {
  magic: number;
  version: number;
  pageSize: number;
  flags: number;
  /** root bucket's root page */
  root: bigint;
  sequence: bigint;
  /** freelist page, or NO_FREELIST */
  freelist: bigint;
  /** high-water mark: number of pages in use */
  pgid: bigint;
  txid: bigint;
  checksum: bigint;
}

/** A page (or an inline bucket's page) as a view into a buffer. */
export interface PageView {
  /** the id in the page header (not necessarily where it was read from) */
  id: number;
  flags: number;
  count: number;
  overflow: number;
  buf: Buffer;
  /** offset of the page header in `buf` */
  off: number;
}

/** One key of a bucket: `value` is undefined for nested buckets (as bbolt's cursor returns nil). */
export interface BoltEntry {
  key: Buffer;
  value: Buffer | undefined;
  /** the raw value, also for buckets (their 16-byte header and inline page) */
  raw: Buffer;
  flags: number;
}


/** FNV-1a 64 of `data` (Go's hash/fnv New64a), meta.sum64. */
export function fnv64a(data: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of data) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

/** bbolt's page.typ(): the page type name used in error messages. */
export function pageType(flags: number): string {
  if (flags & BRANCH_PAGE) return 'branch';
  if (flags & LEAF_PAGE) return 'leaf';
  if (flags & META_PAGE) return 'meta';
  if (flags & FREELIST_PAGE) return 'freelist';
  return `unknown<${flags.toString(16).padStart(2, '0')}>`;
}

function parseMeta(buf: Buffer, off: number): BoltMeta {
  return {
    magic: buf.readUInt32LE(off),
    version: buf.readUInt32LE(off + 4),
    pageSize: buf.readUInt32LE(off + 8),
    flags: buf.readUInt32LE(off + 12),
    root: buf.readBigUInt64LE(off + 16),
    sequence: buf.readBigUInt64LE(off + 24),
    freelist: buf.readBigUInt64LE(off + 32),
    pgid: buf.readBigUInt64LE(off + 40),
    txid: buf.readBigUInt64LE(off + 48),
    checksum: buf.readBigUInt64LE(off + 56),
  };
}

/** bbolt's meta.validate(): the error message, or undefined when the meta page is valid. */
function validateMeta(m: BoltMeta, buf: Buffer, off: number): string | undefined {
  if (m.magic !== MAGIC) return 'invalid database';
  if (m.version !== VERSION) return 'version mismatch';
  if (m.checksum !== 0n && m.checksum !== fnv64a(buf.subarray(off, off + META_CHECKSUM_OFFSET))) return 'checksum error';
  return undefined;
}

/**
 * A bbolt file opened read-only. Create with `BoltReader.open`, release with `close`.
 * Pages are read on demand with positional reads (the file is not loaded whole).
 */
export class BoltReader {
  private constructor(
    private readonly fd: number,
    readonly path: string,
    /** file size in bytes */
    readonly fileSize: number,
    readonly pageSize: number,
    /** the current meta page (valid, highest txid) */
    readonly meta: BoltMeta,
  ) {}

  /**
   * Opens a bbolt file as `bolt.Open(path, 0400, &bolt.Options{ReadOnly: true})`
   * followed by a read transaction does, with the same error messages:
   * `open <p>: is a directory`, `write <p>: bad file descriptor` (empty file: bbolt
   * tries to initialise it), `invalid database` (shorter than 4096 bytes, or no
   * valid meta page), `file size too small`, `version mismatch`, `checksum error`.
   * @throws BoltError
   */
  static open(path: string): BoltReader {
    let st: Stats;
    try {
      st = statSync(path);
    } catch (e) {
      throw new BoltError(goPathError('open', path, e));
    }
    if (st.isDirectory()) throw new BoltError(`open ${path}: is a directory`);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new BoltError(goPathError('open', path, e));
    }
    try {
      return BoltReader.init(fd, path, st.size);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  private static init(fd: number, path: string, size: number): BoltReader {
    // bbolt initialises an empty file with meta pages, which fails on a read-only descriptor
    if (size === 0) throw new BoltError(`write ${path}: bad file descriptor`);
    const first = Buffer.alloc(0x1000);
    if (size < first.length || readSync(fd, first, 0, first.length, 0) !== first.length) throw new BoltError('invalid database');
    let pageSize = 4096;
    const m0first = parseMeta(first, PAGE_HEADER);
    if (validateMeta(m0first, first, PAGE_HEADER) === undefined) pageSize = m0first.pageSize;
    if (pageSize < 1024 || pageSize > 1 << 26 || (pageSize & (pageSize - 1)) !== 0) throw new BoltError('invalid database');
    if (size < pageSize * 2) throw new BoltError('file size too small');
    const metas = Buffer.alloc(pageSize * 2);
    readSync(fd, metas, 0, metas.length, 0);
    const m0 = parseMeta(metas, PAGE_HEADER);
    const m1 = parseMeta(metas, pageSize + PAGE_HEADER);
    const err0 = validateMeta(m0, metas, PAGE_HEADER);
    const err1 = validateMeta(m1, metas, pageSize + PAGE_HEADER);
    if (err0 !== undefined && err1 !== undefined) throw new BoltError(err0);
    // the higher txid if valid, else the other one (bbolt's DB.meta())
    const [a, errA, b] = m1.txid > m0.txid ? [m1, err1, m0] : [m0, err0, m1];
    const meta = errA === undefined ? a : b;
    return new BoltReader(fd, path, size, pageSize, meta);
  }

  /** Closes the file. */
  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }

  /** bbolt's Tx.Size(): pgid × pageSize, the size of the database the meta describes (bytes). */
  get size(): bigint {
    return this.meta.pgid * BigInt(this.pageSize);
  }

  /**
   * Reads page `id` with its overflow pages.
   * @throws BoltCorruptError when the page lies beyond the end of the file
   */
  page(id: number | bigint): PageView {
    const n = typeof id === 'bigint' ? id : BigInt(id);
    const pos = n * BigInt(this.pageSize);
    if (pos + BigInt(this.pageSize) > BigInt(this.fileSize)) {
      throw new BoltCorruptError(`page ${n}: beyond the end of the file (${this.fileSize} bytes; the file is truncated or the page reference is corrupt)`);
    }
    const head = Buffer.alloc(this.pageSize);
    readSync(this.fd, head, 0, this.pageSize, Number(pos));
    const overflow = head.readUInt32LE(12);
    let buf = head;
    if (overflow > 0) {
      const len = BigInt(overflow + 1) * BigInt(this.pageSize);
      if (pos + len > BigInt(this.fileSize)) {
        throw new BoltCorruptError(`page ${n}: its ${overflow} overflow pages extend beyond the end of the file (${this.fileSize} bytes)`);
      }
      buf = Buffer.alloc(Number(len));
      readSync(this.fd, buf, 0, buf.length, Number(pos));
    }
    return pageView(buf, 0);
  }

  /**
   * All entries of a bucket in key order (bbolt's Bucket.ForEach / Cursor order).
   * @param root the bucket's root page, or an inline bucket's page view
   * @throws BoltCorruptError on pages that are neither branch nor leaf, or elements
   *   pointing outside their page
   */
  *entries(root: bigint | PageView, depth = 0): Generator<BoltEntry> {
    if (depth > 64) throw new BoltCorruptError('bucket tree deeper than 64 levels (page references form a cycle)');
    const p = typeof root === 'bigint' ? this.page(root) : root;
    if (p.flags & LEAF_PAGE) {
      for (let i = 0; i < p.count; i++) yield leafElement(p, i);
    } else if (p.flags & BRANCH_PAGE) {
      for (let i = 0; i < p.count; i++) yield* this.entries(branchChild(p, i), depth + 1);
    } else {
      throw new BoltCorruptError(`page ${p.id}: invalid page type: ${pageType(p.flags)} (expected a branch or leaf page)`);
    }
  }

  /** The entries of the root bucket (the top-level bucket names). */
  rootEntries(): Generator<BoltEntry> {
    return this.entries(this.meta.root);
  }

  /** The top-level buckets by name (UTF-8), in the file's order. */
  topBuckets(): Map<string, BoltEntry> {
    const m = new Map<string, BoltEntry>();
    for (const top of this.rootEntries()) if (top.flags & BUCKET_LEAF) m.set(top.key.toString('utf8'), top);
    return m;
  }

  /** The value of `key` in the top-level bucket `bucket`, or undefined (no such bucket or key). */
  value(bucket: string, key: string): Buffer | undefined {
    const top = this.topBuckets().get(bucket);
    if (!top) return undefined;
    for (const e of this.entries(this.bucketRoot(top))) if (e.value !== undefined && e.key.toString('utf8') === key) return e.value;
    return undefined;
  }

  /**
   * The root of the nested bucket stored in `e` (bbolt's openBucket).
   * @returns the root page id, or the inline bucket's page
   */
  bucketRoot(e: BoltEntry): bigint | PageView {
    if (e.raw.length < BUCKET_HEADER) throw new BoltCorruptError(`bucket ${JSON.stringify(e.key.toString('latin1'))}: value of ${e.raw.length} bytes is too short for a bucket header`);
    const root = e.raw.readBigUInt64LE(0);
    if (root !== 0n) return root;
    if (e.raw.length < BUCKET_HEADER + PAGE_HEADER) throw new BoltCorruptError(`inline bucket ${JSON.stringify(e.key.toString('latin1'))}: value too short for its page`);
    return pageView(e.raw, BUCKET_HEADER);
  }

  /**
   * bbolt's Tx.Check() (v1.3.6): the integrity errors, in the order bbolt reports them:
   * `page N: already freed`, `page N: out of bounds: M`, `page N: multiple references`,
   * `page N: reachable freed`, `page N: invalid type: T`, `page N: unreachable unfreed`.
   * Where bbolt would crash (an invalid freelist page, reading past the end of the file,
   * or any of these errors while it rebuilds a freelist that was not synced to disk),
   * the problem is reported as one more error and the check stops.
   */
  check(): string[] {
    const errors: string[] = [];
    try {
      this.checkInto(errors);
    } catch (e) {
      if (!(e instanceof BoltError)) throw e;
      errors.push(e.message);
    }
    return errors;
  }

  private checkInto(errors: string[]): void {
    const pgid = this.meta.pgid;
    const noFreelist = this.meta.freelist === NO_FREELIST;
    let isFreed: (id: number) => boolean;
    if (noFreelist) {
      // bbolt rebuilds the freelist: every page from 2 below the high-water mark that no
      // bucket reaches (DB.freepages); problems found on the way make it panic.
      const reach = new Set<number>();
      const errs: string[] = [];
      this.checkBucket(this.meta.root, reach, () => false, errs);
      if (errs.length > 0) {
        errors.push(...errs);
        return;
      }
      isFreed = (id) => id >= 2 && BigInt(id) < pgid && !reach.has(id);
    } else {
      const fp = this.page(this.meta.freelist);
      if (!(fp.flags & FREELIST_PAGE)) throw new BoltCorruptError(`invalid freelist page: ${this.meta.freelist}, page type is ${pageType(fp.flags)}`);
      const ids = freelistIds(fp).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      const freed = new Set<number>();
      for (const id of ids) {
        if (freed.has(id)) errors.push(`page ${id}: already freed`);
        freed.add(id);
      }
      isFreed = (id) => freed.has(id);
    }
    const reachable = new Set<number>([0, 1]);
    if (!noFreelist) {
      const fl = Number(this.meta.freelist);
      const fp = this.page(this.meta.freelist);
      for (let i = 0; i <= fp.overflow; i++) reachable.add(fl + i);
    }
    this.checkBucket(this.meta.root, reachable, isFreed, errors);
    if (noFreelist) return; // every page is reachable or (rebuilt as) free
    for (let i = 0; BigInt(i) < pgid; i++) {
      if (!reachable.has(i) && !isFreed(i)) errors.push(`page ${i}: unreachable unfreed`);
    }
  }

  /** bbolt's Tx.checkBucket: pages of a bucket (not inline) and, recursively, of its sub-buckets. */
  private checkBucket(root: bigint | PageView, reachable: Set<number>, isFreed: (id: number) => boolean, errors: string[], depth = 0): void {
    if (typeof root !== 'bigint') return; // inline buckets have no pages of their own
    if (depth > 64) throw new BoltCorruptError('bucket tree deeper than 64 levels (page references form a cycle)');
    const pgid = this.meta.pgid;
    const visit = (id: bigint, d: number): void => {
      if (d > 64) throw new BoltCorruptError('bucket tree deeper than 64 levels (page references form a cycle)');
      const p = this.page(id);
      if (BigInt(p.id) > pgid) errors.push(`page ${p.id}: out of bounds: ${pgid}`);
      for (let i = 0; i <= p.overflow; i++) {
        const pid = p.id + i;
        if (reachable.has(pid)) errors.push(`page ${pid}: multiple references`);
        reachable.add(pid);
      }
      if (isFreed(p.id)) errors.push(`page ${p.id}: reachable freed`);
      else if (!(p.flags & BRANCH_PAGE) && !(p.flags & LEAF_PAGE)) errors.push(`page ${p.id}: invalid type: ${pageType(p.flags)}`);
      if (p.flags & BRANCH_PAGE) {
        for (let i = 0; i < p.count; i++) visit(branchChild(p, i), d + 1);
      }
    };
    visit(root, 0);
    for (const e of this.entries(root)) {
      if (e.flags & BUCKET_LEAF) this.checkBucket(this.bucketRoot(e), reachable, isFreed, errors, depth + 1);
    }
  }
}

function pageView(buf: Buffer, off: number): PageView {
  if (off + PAGE_HEADER > buf.length) throw new BoltCorruptError('page header beyond its buffer');
  const id = buf.readBigUInt64LE(off);
  return {
    id: id > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(id),
    flags: buf.readUInt16LE(off + 8),
    count: buf.readUInt16LE(off + 10),
    overflow: buf.readUInt32LE(off + 12),
    buf,
    off,
  };
}

function elementOffset(p: PageView, i: number): number {
  const at = p.off + PAGE_HEADER + i * ELEMENT_SIZE;
  if (at + ELEMENT_SIZE > p.buf.length) throw new BoltCorruptError(`page ${p.id}: element ${i} of ${p.count} lies beyond the page`);
  return at;
}

function leafElement(p: PageView, i: number): BoltEntry {
  const at = elementOffset(p, i);
  const flags = p.buf.readUInt32LE(at);
  const pos = p.buf.readUInt32LE(at + 4);
  const ksize = p.buf.readUInt32LE(at + 8);
  const vsize = p.buf.readUInt32LE(at + 12);
  const kstart = at + pos;
  const end = kstart + ksize + vsize;
  if (end > p.buf.length) throw new BoltCorruptError(`page ${p.id}: leaf element ${i} (key ${ksize} bytes, value ${vsize} bytes) lies beyond the page`);
  const key = p.buf.subarray(kstart, kstart + ksize);
  const raw = p.buf.subarray(kstart + ksize, end);
  return { key, raw, value: flags & BUCKET_LEAF ? undefined : raw, flags };
}

function branchChild(p: PageView, i: number): bigint {
  const at = elementOffset(p, i);
  const pos = p.buf.readUInt32LE(at);
  const ksize = p.buf.readUInt32LE(at + 4);
  if (at + pos + ksize > p.buf.length) throw new BoltCorruptError(`page ${p.id}: branch element ${i} lies beyond the page`);
  return p.buf.readBigUInt64LE(at + 8);
}

/** The page ids of a freelist page (count 0xFFFF: the real count is the first u64). */
function freelistIds(p: PageView): number[] {
  let idx = 0;
  let count = p.count;
  const base = p.off + PAGE_HEADER;
  if (count === 0xffff) {
    if (base + 8 > p.buf.length) throw new BoltCorruptError(`freelist page ${p.id}: truncated`);
    const c = p.buf.readBigUInt64LE(base);
    if (c > BigInt(Number.MAX_SAFE_INTEGER)) throw new BoltCorruptError(`leading element count ${c} overflows int`);
    count = Number(c);
    idx = 1;
  }
  if (base + (idx + count) * 8 > p.buf.length) throw new BoltCorruptError(`freelist page ${p.id}: ${count} ids do not fit in the page`);
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const v = p.buf.readBigUInt64LE(base + (idx + i) * 8);
    ids.push(v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v));
  }
  return ids;
}
