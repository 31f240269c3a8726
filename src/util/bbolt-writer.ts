/**
 * @module util/bbolt-writer
 * Writes a compact bbolt database file (go.etcd.io/bbolt v1.3.6, the format of etcd 3.4's
 * backend and of its snapshot files) holding the buckets and key/values of a backend
 * read view, so that `etcdctl snapshot status|restore` and etcd itself can open the
 * snapshots our server streams (etcd's Maintenance.Snapshot sends its bolt file,
 * etcdserver/api/v3rpc/maintenance.go).
 *
 * The page layout is the one documented in ./bbolt-reader.ts (and bbolt's page.go,
 * node.go, bucket.go, db.go). The file written is what bbolt would hold after a fresh
 * `bolt.Open` plus one transaction that created every bucket, except that pages are
 * filled completely (bbolt splits at its fill percent, 50 %; any fill is valid):
 *
 * - page 0 and 1: meta pages (txid 0 and 1, as bbolt's `DB.init`), page size 4096,
 *   freelist page 2, root bucket's root page, pgid = number of pages;
 * - page 2: an empty freelist page;
 * - then each bucket's B+tree, leaves first (keys in byte order, as many elements per
 *   page as fit; an element larger than a page gets overflow pages), then its branch
 *   levels up to a single root. A bucket whose elements fit in one leaf of at most a
 *   quarter page is stored inline in its parent as bbolt does (`Bucket.inlineable`,
 *   `maxInlineBucketSize`), the empty bucket included;
 * - last, the root bucket's tree: one leaf element per bucket (flag 0x01) whose value is
 *   the bucket header (root pgid u64, sequence u64 = 0) plus the inline page, if any.
 */

import * as fs from 'node:fs';

/**
 * What the writer reads: bucket names and each bucket's entries in key order. The
 * server's backend read views (server/backend ReadTx) have this shape; so can a view
 * over another bbolt file.
 */
export interface BoltSource {
  /** The bucket names (any order; the writer sorts them by their UTF-8 bytes). */
  buckets(): string[];
  /** Calls `visitor` for each entry of `bucket` in byte order of the keys. */
  forEach(bucket: string, visitor: (key: Uint8Array, value: Uint8Array) => boolean | void): void;
}

/** A {@link BoltSource} over the top-level buckets of an open bbolt file (nested buckets left out). */
export function boltFileSource(db: BoltReader): BoltSource {
  const tops = db.topBuckets();
  return {
    buckets: () => [...tops.keys()],
    forEach(bucket, visit) {
      const top = tops.get(bucket);
      if (!top) return;
      for (const e of db.entries(db.bucketRoot(top))) if (e.value !== undefined && visit(e.key, e.value) === false) return;
    },
  };
}

/** Byte order of two keys (negative, 0, positive). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
import {
  BRANCH_PAGE,
  BUCKET_HEADER,
  BUCKET_LEAF,
  ELEMENT_SIZE,
  FREELIST_PAGE,
  fnv64a,
  LEAF_PAGE,
  MAGIC,
  META_CHECKSUM_OFFSET,
  META_PAGE,
  PAGE_HEADER,
  VERSION,
  type BoltReader,
} from './bbolt-reader.js';

/** bbolt's default page size on Linux/amd64 (os.Getpagesize()), bytes. */
export const DEFAULT_PAGE_SIZE = 4096;
/** page of the (empty) freelist */
const FREELIST_PGID = 2;
/** first page after the meta pages and the freelist */
const FIRST_DATA_PGID = 3;
/** bbolt's limit on elements per page (node.write panics at 0xFFFF) */
const MAX_ELEMENTS = 0xfffe;

/** What {@link writeBoltFile} wrote. */
export interface BoltWriteStats {
  /** bbolt's meta.pgid: pages in the file (page 0 … pgid-1) */
  pages: number;
  /** file size in bytes (pages × page size; etcdctl's `totalSize`) */
  size: number;
  /** number of buckets */
  buckets: number;
  /** number of key/values over all buckets */
  keys: number;
}

/** Options of {@link writeBoltFile}. */
export interface BoltWriteOptions {
  /** Page size in bytes: a power of two from 1024 to 65536 (default 4096). */
  pageSize?: number;
}

interface Element {
  flags: number;
  key: Uint8Array;
  value: Uint8Array;
}

/** A child of a branch page: the first key of the child and its page. */
interface Child {
  key: Uint8Array;
  pgid: number;
}

/** Allocates pages at the end of the file and writes them (positional writes on `fd`). */
class PageFile {
  next = FIRST_DATA_PGID;
  constructor(
    private readonly fd: number,
    readonly pageSize: number,
  ) {}

  /** Writes `body` (a page image whose header id/overflow are filled in here) at the next free page; returns its pgid. */
  append(body: Buffer): number {
    const pages = Math.ceil(body.length / this.pageSize);
    const pgid = this.next;
    body.writeBigUInt64LE(BigInt(pgid), 0);
    body.writeUInt32LE(pages - 1, 12);
    this.write(pgid, body);
    this.next += pages;
    return pgid;
  }

  write(pgid: number, buf: Buffer): void {
    let done = 0;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done, pgid * this.pageSize + done);
  }
}

/** Bytes a page of these leaf elements occupies (bbolt's node.size for a leaf). */
function leafSize(elems: readonly Element[]): number {
  let n = PAGE_HEADER;
  for (const e of elems) n += ELEMENT_SIZE + e.key.length + e.value.length;
  return n;
}

/**
 * A leaf page image (bbolt's node.write): header, the elements, then each element's key
 * and value; `pos` is relative to the element. `alloc` rounds the size up to whole pages
 * (0: exactly the content, for an inline page).
 */
function leafPage(elems: readonly Element[], alloc: number): Buffer {
  const size = leafSize(elems);
  const buf = Buffer.alloc(alloc > 0 ? Math.ceil(size / alloc) * alloc : size);
  buf.writeUInt16LE(LEAF_PAGE, 8);
  buf.writeUInt16LE(elems.length, 10);
  let data = PAGE_HEADER + elems.length * ELEMENT_SIZE;
  elems.forEach((e, i) => {
    const at = PAGE_HEADER + i * ELEMENT_SIZE;
    buf.writeUInt32LE(e.flags, at);
    buf.writeUInt32LE(data - at, at + 4);
    buf.writeUInt32LE(e.key.length, at + 8);
    buf.writeUInt32LE(e.value.length, at + 12);
    buf.set(e.key, data);
    buf.set(e.value, data + e.key.length);
    data += e.key.length + e.value.length;
  });
  return buf;
}

/** A branch page image: elements (pos, ksize, pgid), then the keys. */
function branchPage(children: readonly Child[], pageSize: number): Buffer {
  let size = PAGE_HEADER;
  for (const c of children) size += ELEMENT_SIZE + c.key.length;
  const buf = Buffer.alloc(Math.ceil(size / pageSize) * pageSize);
  buf.writeUInt16LE(BRANCH_PAGE, 8);
  buf.writeUInt16LE(children.length, 10);
  let data = PAGE_HEADER + children.length * ELEMENT_SIZE;
  children.forEach((c, i) => {
    const at = PAGE_HEADER + i * ELEMENT_SIZE;
    buf.writeUInt32LE(data - at, at);
    buf.writeUInt32LE(c.key.length, at + 4);
    buf.writeBigUInt64LE(BigInt(c.pgid), at + 8);
    buf.set(c.key, data);
    data += c.key.length;
  });
  return buf;
}

/**
 * Builds one bucket's B+tree from elements given in strictly increasing key order.
 * Leaves are written as they fill; `finish` writes the branch levels and returns the
 * bucket's root page, or the inline page when the bucket may be inline.
 */
class TreeBuilder {
  private pending: Element[] = [];
  private pendingSize = PAGE_HEADER;
  private leaves: Child[] = [];
  private last: Uint8Array | undefined;

  constructor(
    private readonly file: PageFile,
    /** bucket name for error messages */
    private readonly name: string,
  ) {}

  /** Adds an element; throws on an empty key or keys out of order (bbolt requires both). */
  add(e: Element): void {
    if (e.key.length === 0) throw new Error(`bbolt writer: bucket ${JSON.stringify(this.name)}: empty key (bbolt requires a key)`);
    if (this.last !== undefined && compareBytes(this.last, e.key) >= 0) {
      throw new Error(`bbolt writer: bucket ${JSON.stringify(this.name)}: keys not in strictly increasing byte order`);
    }
    this.last = e.key;
    const sz = ELEMENT_SIZE + e.key.length + e.value.length;
    if (this.pending.length > 0 && (this.pendingSize + sz > this.file.pageSize || this.pending.length >= MAX_ELEMENTS)) this.flushLeaf();
    // copy: the source's buffers may be reused by its cursor
    this.pending.push({ flags: e.flags, key: Uint8Array.prototype.slice.call(e.key), value: Uint8Array.prototype.slice.call(e.value) });
    this.pendingSize += sz;
  }

  private flushLeaf(): void {
    const pgid = this.file.append(leafPage(this.pending, this.file.pageSize));
    this.leaves.push({ key: this.pending[0]?.key ?? new Uint8Array(0), pgid });
    this.pending = [];
    this.pendingSize = PAGE_HEADER;
  }

  /**
   * Completes the tree.
   * @param inlineLimit largest inline page in bytes (bbolt: pageSize/4), or -1 to always write pages
   * @returns the root pgid, or the inline page image (root 0)
   */
  finish(inlineLimit: number): { root: number; inline?: Buffer } {
    const hasBucket = this.pending.some((e) => e.flags & BUCKET_LEAF);
    if (this.leaves.length === 0 && !hasBucket && this.pendingSize <= inlineLimit) {
      return { root: 0, inline: leafPage(this.pending, 0) };
    }
    if (this.pending.length > 0 || this.leaves.length === 0) this.flushLeaf();
    let level = this.leaves;
    while (level.length > 1) level = this.branchLevel(level);
    return { root: level[0]!.pgid };
  }

  /** Packs `children` into branch pages (as many per page as fit, at least two per page); returns the parents. */
  private branchLevel(children: Child[]): Child[] {
    const groups: Child[][] = [];
    let cur: Child[] = [];
    let size = PAGE_HEADER;
    for (const c of children) {
      const sz = ELEMENT_SIZE + c.key.length;
      if (cur.length > 0 && (size + sz > this.file.pageSize || cur.length >= MAX_ELEMENTS)) {
        groups.push(cur);
        cur = [];
        size = PAGE_HEADER;
      }
      cur.push(c);
      size += sz;
    }
    groups.push(cur);
    // a last branch page with one child: take one from the previous page (bbolt keeps >= 2)
    const prev = groups[groups.length - 2];
    if (cur.length === 1 && prev !== undefined && prev.length > 2) cur.unshift(prev.pop()!);
    return groups.map((g) => ({ key: g[0]!.key, pgid: this.file.append(branchPage(g, this.file.pageSize)) }));
  }
}

/** A meta page image for `txid` (bbolt's meta.write: id = txid % 2, checksum over the fields before it). */
function metaPage(pageSize: number, root: number, pgid: number, txid: number): Buffer {
  const buf = Buffer.alloc(pageSize);
  buf.writeBigUInt64LE(BigInt(txid % 2), 0);
  buf.writeUInt16LE(META_PAGE, 8);
  const m = PAGE_HEADER;
  buf.writeUInt32LE(MAGIC, m);
  buf.writeUInt32LE(VERSION, m + 4);
  buf.writeUInt32LE(pageSize, m + 8);
  buf.writeUInt32LE(0, m + 12); // flags
  buf.writeBigUInt64LE(BigInt(root), m + 16); // root bucket: root pgid
  buf.writeBigUInt64LE(0n, m + 24); // root bucket: sequence
  buf.writeBigUInt64LE(BigInt(FREELIST_PGID), m + 32);
  buf.writeBigUInt64LE(BigInt(pgid), m + 40);
  buf.writeBigUInt64LE(BigInt(txid), m + 48);
  buf.writeBigUInt64LE(fnv64a(buf.subarray(m, m + META_CHECKSUM_OFFSET)), m + META_CHECKSUM_OFFSET);
  return buf;
}

const utf8 = new TextEncoder();

/**
 * Writes every bucket and key/value visible in `tx` to a new bbolt file at `path`
 * (created or truncated, mode 0600). Synchronous: it blocks for as long as reading the
 * view and writing the file take (about the backend's size in bytes written), and holds
 * one leaf page of entries plus the branch keys in memory.
 *
 * Bucket names are the UTF-8 bytes of the backend's names; bucket sequences are 0 (etcd
 * does not use them). The file is fsynced before returning.
 *
 * @param tx a read view (etcd's ReadTx); the caller opens and releases it
 * @returns page count, size in bytes, bucket and key counts
 * @throws Error on an invalid page size, an empty key or keys out of order in `tx`
 *   (bbolt cannot store them), and fs errors (ENOSPC, EACCES…) from opening or writing
 */
export function writeBoltFile(path: string, tx: BoltSource, opts: BoltWriteOptions = {}): BoltWriteStats {
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1024 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new Error(`bbolt writer: invalid page size ${pageSize} (a power of two from 1024 to 65536)`);
  }
  const fd = fs.openSync(path, 'w', 0o600);
  try {
    const file = new PageFile(fd, pageSize);
    let keys = 0;
    const names = tx.buckets().map((n) => ({ n, b: utf8.encode(n) })).sort((x, y) => compareBytes(x.b, y.b));
    const rootTree = new TreeBuilder(file, '<root>');
    for (const { n, b } of names) {
      const tree = new TreeBuilder(file, n);
      tx.forEach(n, (key, value) => {
        tree.add({ flags: 0, key, value });
        keys++;
      });
      const { root, inline } = tree.finish(pageSize / 4);
      const header = Buffer.alloc(BUCKET_HEADER + (inline?.length ?? 0));
      header.writeBigUInt64LE(BigInt(root), 0);
      if (inline) header.set(inline, BUCKET_HEADER);
      rootTree.add({ flags: BUCKET_LEAF, key: b, value: header });
    }
    // the root bucket always has pages of its own (meta.root is a pgid)
    const { root } = rootTree.finish(-1);
    // the empty freelist, then the meta pages last (what makes the file valid)
    const freelist = Buffer.alloc(pageSize);
    freelist.writeBigUInt64LE(BigInt(FREELIST_PGID), 0);
    freelist.writeUInt16LE(FREELIST_PAGE, 8);
    file.write(FREELIST_PGID, freelist);
    const pages = file.next;
    fs.fsyncSync(fd);
    file.write(0, metaPage(pageSize, root, pages, 0));
    file.write(1, metaPage(pageSize, root, pages, 1));
    fs.fsyncSync(fd);
    return { pages, size: pages * pageSize, buckets: names.length, keys };
  } finally {
    fs.closeSync(fd);
  }
}
