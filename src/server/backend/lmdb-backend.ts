/**
 * @module server/backend/lmdb-backend
 * A durable {@link Backend} on LMDB (the `lmdb` package): one LMDB environment in
 * one file per data dir, the counterpart of etcd's bbolt file
 * (`<data-dir>/member/snap/db`; LMDB adds a `<file>-lock` next to it).
 *
 * Layout. All buckets share LMDB's main B+ tree and are told apart by a key
 * prefix (keys and values are raw bytes, compared as unsigned bytes):
 * - `0x00 | name` registers bucket `name` (empty value);
 * - `0x01 | name | 0x00 | key` holds `key` of bucket `name`.
 * Bucket names are UTF-8 and may not contain NUL, so prefixes never overlap, and
 * within one bucket keys keep their byte order. Prefixes rather than LMDB named
 * databases because bolt buckets are created and dropped inside write
 * transactions at any time, while named databases need a `maxDbs` fixed at open
 * and dbi handles whose creation outlives an aborted transaction; with prefixes a
 * commit is one ordinary transaction on one tree, an empty key is possible (LMDB
 * refuses zero-length keys), and bucket listing is a range scan. The costs: a key
 * may be at most {@link MAX_KEY_BYTES} − 2 − (bucket name length) bytes, and
 * deleting a bucket deletes its keys one by one at commit.
 *
 * Transactions. Writes between `lock()` and `unlock()` go to an in-memory
 * overlay of pending writes (per bucket: a copy-on-write B+ tree of key → value,
 * or `null` for a delete, plus whether the bucket exists and whether its
 * committed contents were dropped). `unlock()` publishes the overlay to new
 * readers (etcd's writeback). `commit()` writes the published overlay in one
 * synchronous LMDB write transaction, which is durable when it returns (LMDB
 * writes the pages, fdatasyncs, then writes the meta page through an O_DSYNC
 * descriptor; `overlappingSync` and `noSync` are off), and empties the overlay.
 * A read view is an LMDB read transaction (an MVCC snapshot of the last commit)
 * plus the overlay as published when the view was opened; both are immutable, so
 * the view is consistent however long it is kept. A long-lived view keeps LMDB
 * from reusing the pages it sees, as with bolt.
 *
 * Not done here: an exclusive lock on the file against a second process
 * (bbolt's flock); LMDB itself tolerates several processes, but the overlay and
 * the cached bucket set assume one writer.
 */

import { chmodSync, closeSync, mkdirSync, openSync, renameSync, statSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import btree from 'sorted-btree';
import { open, type RootDatabase } from 'lmdb';
import { syncDirSync } from '../../util/fs-sync.js';
import {
  BackendError,
  compareBytes,
  type Backend,
  type BatchTx,
  type RangeResult,
  type ReadOps,
  type ReadTx,
} from './backend.js';

const BTree = btree.default;
type BTree<K, V> = btree.default<K, V>;

/** Largest LMDB key, in bytes, as compiled into the `lmdb` package. */
export const MAX_KEY_BYTES = 1978;

/** Options for {@link LmdbBackend}. */
export interface LmdbBackendOptions {
  /**
   * Path of the database file (e.g. `<data-dir>/member/snap/db`); its directory is
   * created if missing. LMDB also creates `<path>-lock`.
   */
  path: string;
  /**
   * Commit automatically when this many writes are pending at `unlock()`
   * (etcd's `--backend-batch-limit`, default 10000). There is no batch interval
   * timer: commit explicitly or with `forceCommit()` for an earlier durable point.
   */
  batchLimit?: number;
  /**
   * Told after each commit that wrote something, with how long the LMDB transaction took
   * in seconds (etcd's etcd_disk_backend_commit_duration_seconds, observed in
   * mvcc/backend batch_tx.go commit only when writes were pending).
   */
  onCommit?: (seconds: number) => void;
}

/** Pending (uncommitted) state of one bucket. Published versions are never modified. */
interface PendingBucket {
  /** Whether the bucket exists once the pending writes are applied. */
  readonly exists: boolean;
  /** Whether the bucket's committed contents are dropped (it was deleted since the last commit). */
  readonly cleared: boolean;
  /** Pending puts (a value) and deletes (`null`), by key. */
  readonly entries: BTree<Uint8Array, Uint8Array | null>;
}

type Overlay = ReadonlyMap<string, PendingBucket>;

const EMPTY_OVERLAY: Overlay = new Map();

/** {@link pendingValue}'s answer when the committed (LMDB) value decides. */
const COMMITTED = Symbol('committed');

/**
 * What the pending writes `pb` of a bucket say of `key`: its pending value, undefined
 * (deleted, or the bucket is gone or was cleared), or {@link COMMITTED} when they say
 * nothing and the committed value stands.
 */
function pendingValue(pb: PendingBucket | undefined, key: Uint8Array): Uint8Array | undefined | typeof COMMITTED {
  if (!pb) return COMMITTED;
  if (!pb.exists) return undefined;
  const v = pb.entries.get(key);
  if (v !== undefined) return v ?? undefined;
  return pb.cleared ? undefined : COMMITTED;
}
const utf8 = new TextEncoder();
const utf8d = new TextDecoder('utf-8', { fatal: true });
const REGISTRY = 0x00;
const DATA = 0x01;

/** LMDB range scan bounds and key codec for one bucket. */
class BucketKeys {
  /** `0x01 | name | 0x00`: the prefix of every data key of this bucket. */
  readonly prefix: Uint8Array;
  /** `0x01 | name | 0x01`: just past the last data key of this bucket. */
  readonly upper: Uint8Array;
  /** `0x00 | name`: the registry key of this bucket. */
  readonly registryKey: Uint8Array;

  constructor(readonly name: string) {
    const n = utf8.encode(name);
    if (n.includes(0)) throw new BackendError(`backend: bucket name ${JSON.stringify(name)} contains NUL`);
    this.prefix = new Uint8Array(n.length + 2);
    this.prefix[0] = DATA;
    this.prefix.set(n, 1);
    this.upper = this.prefix.slice();
    this.upper[n.length + 1] = 1;
    this.registryKey = new Uint8Array(n.length + 1);
    this.registryKey[0] = REGISTRY;
    this.registryKey.set(n, 1);
  }

  /** Throws {@link BackendError} if `key` is too long for LMDB once prefixed. */
  check(key: Uint8Array): void {
    if (this.prefix.length + key.length > MAX_KEY_BYTES) {
      throw new BackendError(`backend: key of ${key.length} bytes is too long for bucket ${this.name} (at most ${MAX_KEY_BYTES - this.prefix.length})`);
    }
  }

  /** The LMDB key of `key` in this bucket; throws {@link BackendError} if it is too long for LMDB. */
  encode(key: Uint8Array): Buffer {
    this.check(key);
    const out = Buffer.allocUnsafe(this.prefix.length + key.length);
    out.set(this.prefix, 0);
    out.set(key, this.prefix.length);
    return out;
  }

  /** The bucket key of an LMDB data key of this bucket (a view, no copy). */
  decode(k: Uint8Array): Uint8Array {
    return k.subarray(this.prefix.length);
  }
}

const keyCache = new Map<string, BucketKeys>();
/** Key codec of `bucket` (cached; bucket names are few). */
function bucketKeys(bucket: string): BucketKeys {
  let k = keyCache.get(bucket);
  if (!k) {
    k = new BucketKeys(bucket);
    if (keyCache.size < 1024) keyCache.set(bucket, k);
  }
  return k;
}

/** Creates `path` empty with mode 0600 if it does not exist (an existing file is left alone). */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** getMany's scratch area, kept between calls while it is at most GET_MANY_SCRATCH_MAX bytes. */
let getManyScratch = new Uint8Array(64 * 1024);
const GET_MANY_SCRATCH_MAX = 4 * 1024 * 1024;

/** A Buffer from LMDB as a plain Uint8Array over the same bytes (lmdb returns a fresh copy per value). */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function newEntries(): BTree<Uint8Array, Uint8Array | null> {
  return new BTree<Uint8Array, Uint8Array | null>(undefined, compareBytes);
}

/** An LMDB read transaction as lmdb-js hands it out (`undefined`: the latest committed state). */
type Txn = ReturnType<RootDatabase['useReadTransaction']> | undefined;

/**
 * Reads of one view: committed data from LMDB (`txn`, or the latest commit when
 * undefined) with `overlay` on top.
 */
class View implements ReadOps {
  constructor(
    private readonly db: RootDatabase<Buffer, Buffer>,
    private readonly txn: Txn,
    private readonly overlay: Overlay,
    private readonly check: () => void,
  ) {}

  /** Committed entries of a bucket in `[start, end)` (end undefined: to the bucket's end), lazily. */
  private *committed(k: BucketKeys, start: Uint8Array, end: Uint8Array | undefined): Generator<[Uint8Array, Uint8Array]> {
    const opts = {
      start: k.encode(start),
      end: end ? k.encode(end) : Buffer.from(k.upper),
      ...(this.txn ? { transaction: this.txn } : {}),
    };
    for (const { key, value } of this.db.getRange(opts)) yield [plain(k.decode(key)), plain(value)];
  }

  /** Merged entries of a bucket in `[start, end)`, lazily, in key order. */
  private *entries(bucket: string, start: Uint8Array, end: Uint8Array | undefined): Generator<[Uint8Array, Uint8Array]> {
    const pb = this.overlay.get(bucket);
    if (pb && !pb.exists) return;
    const k = bucketKeys(bucket);
    const base = pb?.cleared ? undefined : this.committed(k, start, end);
    if (!pb || pb.entries.size === 0) {
      if (base) yield* base;
      return;
    }
    try {
      yield* this.merge(pb, base, start, end);
    } finally {
      base?.return(undefined); // closes the LMDB cursor when the caller stops early
    }
  }

  /** Merges pending entries over committed ones; a pending `null` hides the committed entry. */
  private *merge(
    pb: PendingBucket,
    base: Generator<[Uint8Array, Uint8Array]> | undefined,
    start: Uint8Array,
    end: Uint8Array | undefined,
  ): Generator<[Uint8Array, Uint8Array]> {
    const over = pb.entries.entries(start);
    let o = over.next();
    const overDone = (): boolean => o.done === true || (end !== undefined && compareBytes(o.value[0], end) >= 0);
    let c = base?.next();
    for (;;) {
      const cDone = !c || c.done === true;
      if (overDone()) {
        if (cDone) return;
        yield c!.value as [Uint8Array, Uint8Array];
        c = base!.next();
        continue;
      }
      const [ok, ov] = o.value as [Uint8Array, Uint8Array | null];
      const cmp = cDone ? -1 : compareBytes(ok, (c!.value as [Uint8Array, Uint8Array])[0]);
      if (cmp > 0) {
        yield c!.value as [Uint8Array, Uint8Array];
        c = base!.next();
        continue;
      }
      if (cmp === 0) c = base!.next(); // the pending write shadows the committed entry
      if (ov !== null) yield [ok, ov];
      o = over.next();
    }
  }

  range(bucket: string, key: Uint8Array, endKey: Uint8Array | undefined, limit: number): RangeResult {
    this.check();
    const keys: Uint8Array[] = [];
    const values: Uint8Array[] = [];
    if (!endKey || endKey.length === 0) {
      const v = this.lookup(bucket, key);
      if (v !== undefined) {
        keys.push(key.slice());
        values.push(v);
      }
      return { keys, values };
    }
    if (compareBytes(key, endKey) >= 0) return { keys, values };
    const max = limit > 0 ? limit : Infinity;
    if (!this.overlay.has(bucket)) {
      // the common case without pending writes: no generator overhead
      const k = bucketKeys(bucket);
      const opts = {
        start: k.encode(key),
        end: k.encode(endKey),
        ...(limit > 0 ? { limit } : {}),
        ...(this.txn ? { transaction: this.txn } : {}),
      };
      for (const { key: lk, value } of this.db.getRange(opts)) {
        keys.push(plain(k.decode(lk)));
        values.push(plain(value));
      }
      return { keys, values };
    }
    for (const [k, v] of this.entries(bucket, key, endKey)) {
      keys.push(k);
      values.push(v);
      if (keys.length >= max) break;
    }
    return { keys, values };
  }

  /** The value of `key` in `bucket` in this view (no released check). */
  private lookup(bucket: string, key: Uint8Array): Uint8Array | undefined {
    const pending = pendingValue(this.overlay.get(bucket), key);
    if (pending !== COMMITTED) return pending;
    const k = bucketKeys(bucket);
    const v = this.db.get(k.encode(key), this.txn ? { transaction: this.txn } : undefined);
    return v === undefined ? undefined : plain(v);
  }

  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    this.check();
    return this.lookup(bucket, key);
  }

  getMany(bucket: string, keys: readonly Uint8Array[]): Array<Uint8Array | undefined> {
    this.check();
    const out: Array<Uint8Array | undefined> = new Array(keys.length);
    // values of committed entries: copied from lmdb-js's reused read buffer (getBinaryFast,
    // valid until the next read) into a scratch area, then into one exact-size buffer;
    // value i is [starts[i], ends[i]) there (starts[i] = -1: none)
    const pb = this.overlay.get(bucket);
    const k = bucketKeys(bucket);
    const opts = this.txn ? { transaction: this.txn } : undefined;
    const starts = new Float64Array(keys.length).fill(-1);
    const ends = new Float64Array(keys.length);
    let scratch = getManyScratch;
    let used = 0;
    for (let i = 0; i < keys.length; i++) {
      const pending = pendingValue(pb, keys[i]!);
      if (pending !== COMMITTED) {
        out[i] = pending;
        continue;
      }
      // (lmdb-js takes the read transaction as get's options; its typings omit the argument)
      const fast = (this.db.getBinaryFast as (id: Buffer, o?: object) => Buffer | undefined).call(this.db, k.encode(keys[i]!), opts);
      if (fast === undefined) {
        out[i] = undefined;
        continue;
      }
      const n = fast.length;
      if (used + n > scratch.length) {
        const bigger = new Uint8Array(Math.max(scratch.length * 2, used + n));
        bigger.set(scratch.subarray(0, used));
        scratch = bigger;
      }
      scratch.set(new Uint8Array(fast.buffer, fast.byteOffset, n), used);
      starts[i] = used;
      used += n;
      ends[i] = used;
    }
    if (scratch.length <= GET_MANY_SCRATCH_MAX) getManyScratch = scratch;
    const all = scratch.slice(0, used);
    for (let i = 0; i < keys.length; i++) if (starts[i]! >= 0) out[i] = all.subarray(starts[i], ends[i]);
    return out;
  }

  forEach(bucket: string, visitor: (key: Uint8Array, value: Uint8Array) => boolean | void): void {
    this.check();
    if (!this.overlay.has(bucket)) {
      // no pending writes in this bucket: straight from LMDB (breaking out closes the cursor)
      const k = bucketKeys(bucket);
      const opts = { start: Buffer.from(k.prefix), end: Buffer.from(k.upper), ...(this.txn ? { transaction: this.txn } : {}) };
      for (const { key, value } of this.db.getRange(opts)) {
        if (visitor(plain(k.decode(key)), plain(value)) === false) return;
      }
      return;
    }
    for (const [k, v] of this.entries(bucket, new Uint8Array(0), undefined)) {
      if (visitor(k, v) === false) return;
    }
  }

  buckets(): string[] {
    this.check();
    const names = new Set<string>();
    const opts = { start: Buffer.of(REGISTRY), end: Buffer.of(DATA), ...(this.txn ? { transaction: this.txn } : {}) };
    for (const key of this.db.getKeys(opts)) names.add(utf8d.decode((key as Buffer).subarray(1)));
    for (const [name, pb] of this.overlay) {
      if (pb.exists) names.add(name);
      else names.delete(name);
    }
    return [...names].sort((a, b) => compareBytes(utf8.encode(a), utf8.encode(b)));
  }
}

/** A read view of an {@link LmdbBackend}: an LMDB snapshot plus the pending writes published when it was opened. */
class LmdbReadTx implements ReadTx {
  private released = false;
  private readonly view: View;

  constructor(
    db: RootDatabase<Buffer, Buffer>,
    private readonly txn: NonNullable<Txn>,
    overlay: Overlay,
    private readonly backend: LmdbBackend,
  ) {
    this.view = new View(db, txn, overlay, () => {
      if (this.released) throw new BackendError('backend: read transaction already released');
      backend.checkOpen();
    });
  }

  range(bucket: string, key: Uint8Array, endKey: Uint8Array | undefined, limit: number): RangeResult {
    return this.view.range(bucket, key, endKey, limit);
  }

  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    return this.view.get(bucket, key);
  }

  getMany(bucket: string, keys: readonly Uint8Array[]): Array<Uint8Array | undefined> {
    return this.view.getMany(bucket, keys);
  }

  forEach(bucket: string, visitor: (key: Uint8Array, value: Uint8Array) => boolean | void): void {
    this.view.forEach(bucket, visitor);
  }

  buckets(): string[] {
    return this.view.buckets();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.backend.readerReleased(this.txn);
  }
}

/** The write transaction of an {@link LmdbBackend}. */
class LmdbBatchTx implements BatchTx {
  private locked = false;
  /** Pending buckets of the open transaction; those in `cloned` are private to it and may be changed. */
  private working = new Map<string, PendingBucket>();
  private readonly cloned = new Set<string>();
  private pendingWrites = 0;
  /** Nesting depth of {@link LmdbBackend.deferPublish}: while > 0, `unlock()` keeps `working` private. */
  private deferDepth = 0;
  /** `working` holds unlocked writes not published yet (only while deferring). */
  private unpublished = false;

  constructor(private readonly backend: LmdbBackend) {}

  lock(): void {
    this.backend.checkOpen();
    if (this.locked) throw new BackendError('backend: batch transaction is already locked');
    this.locked = true;
    if (this.unpublished) return; // go on writing into the trees cloned since the last publish
    this.working = new Map(this.backend.publishedOverlay());
    this.cloned.clear();
  }

  unlock(): void {
    this.checkLocked();
    this.locked = false;
    if (this.deferDepth > 0) this.unpublished = true;
    else this.publishWorking();
    this.backend.afterUnlock();
  }

  private publishWorking(): void {
    this.backend.publish(this.working);
    this.working = new Map();
    this.cloned.clear();
    this.unpublished = false;
  }

  /** @internal publishes writes held back by {@link deferPublish} (before anything reads the published state). */
  flushDeferred(): void {
    if (this.unpublished && !this.locked) this.publishWorking();
  }

  /** @internal see {@link LmdbBackend.deferPublish}. */
  deferPublish<T>(fn: () => T): T {
    this.deferDepth++;
    try {
      return fn();
    } finally {
      this.deferDepth--;
      if (this.deferDepth === 0) this.flushDeferred();
    }
  }

  /** True while `lock()` is held. */
  isLocked(): boolean {
    return this.locked;
  }

  private checkLocked(): void {
    if (!this.locked) throw new BackendError('backend: batch transaction is not locked');
  }

  /** Reads see the open transaction's writes while locked, else the published state; always the latest commit. */
  private view(): View {
    return this.backend.latestView(this.locked ? this.working : this.backend.publishedOverlay());
  }

  private exists(bucket: string): boolean {
    const pb = this.working.get(bucket);
    return pb ? pb.exists : this.backend.committedBucket(bucket);
  }

  /** The private pending state of an existing bucket, cloned on first write in this lock. */
  private writable(bucket: string): { exists: boolean; cleared: boolean; entries: BTree<Uint8Array, Uint8Array | null> } {
    this.checkLocked();
    if (!this.exists(bucket)) throw new BackendError(`backend: bucket ${bucket} does not exist`);
    const pb = this.working.get(bucket);
    if (pb && this.cloned.has(bucket)) return pb;
    const c = { exists: true, cleared: pb?.cleared ?? false, entries: pb ? pb.entries.clone() : newEntries() };
    this.working.set(bucket, c);
    this.cloned.add(bucket);
    return c;
  }

  range(bucket: string, key: Uint8Array, endKey: Uint8Array | undefined, limit: number): RangeResult {
    return this.view().range(bucket, key, endKey, limit);
  }

  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    return this.view().get(bucket, key);
  }

  getMany(bucket: string, keys: readonly Uint8Array[]): Array<Uint8Array | undefined> {
    return this.view().getMany(bucket, keys);
  }

  forEach(bucket: string, visitor: (key: Uint8Array, value: Uint8Array) => boolean | void): void {
    this.view().forEach(bucket, visitor);
  }

  buckets(): string[] {
    return this.view().buckets();
  }

  createBucket(bucket: string): void {
    this.checkLocked();
    bucketKeys(bucket); // validates the name
    if (this.exists(bucket)) return;
    const pb = this.working.get(bucket);
    // re-created after a pending delete: the committed contents stay dropped
    this.working.set(bucket, { exists: true, cleared: pb?.cleared ?? false, entries: newEntries() });
    this.cloned.add(bucket);
    this.pendingWrites++;
  }

  deleteBucket(bucket: string): void {
    this.checkLocked();
    if (!this.exists(bucket)) return;
    this.working.set(bucket, { exists: false, cleared: true, entries: newEntries() });
    this.cloned.add(bucket);
    this.pendingWrites++;
  }

  put(bucket: string, key: Uint8Array, value: Uint8Array): void {
    // copy: callers may reuse their buffers (etcd reuses revision byte slices)
    this.seqPutOwned(bucket, key.slice(), value.slice());
  }

  seqPut(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.put(bucket, key, value);
  }

  seqPutOwned(bucket: string, key: Uint8Array, value: Uint8Array): void {
    const pb = this.writable(bucket);
    bucketKeys(bucket).check(key); // fail now, not at commit
    pb.entries.set(key, value, true);
    this.pendingWrites++;
  }

  delete(bucket: string, key: Uint8Array): void {
    const pb = this.writable(bucket);
    pb.entries.set(key.slice(), null, true);
    this.pendingWrites++;
  }

  pending(): number {
    return this.pendingWrites;
  }

  commit(): void {
    this.backend.checkOpen();
    if (this.locked) throw new BackendError('backend: cannot commit while the batch transaction is locked');
    this.backend.commitPublished();
    this.pendingWrites = 0;
  }
}

/** Opens the LMDB environment of a backend file (one file, binary keys and values, durable sync commits). */
function openEnv(path: string): RootDatabase<Buffer, Buffer> {
  return open<Buffer, Buffer>({
    path,
    noSubdir: true,
    keyEncoding: 'binary',
    encoding: 'binary',
    // durable when transactionSync returns (the default overlappingSync defers the flush)
    overlappingSync: false,
    noSync: false,
    cache: false,
  } as Parameters<typeof open>[0]);
}

/**
 * The LMDB backend. Open it with `new LmdbBackend({ path })`; an existing file is
 * reopened with its committed contents. Errors: misuse throws
 * {@link BackendError} (as for every backend); a failed LMDB commit (disk full,
 * I/O error) throws a BackendError with the LMDB error as `cause`, leaving the
 * pending writes in memory, and should be treated as fatal, as etcd does.
 */
export class LmdbBackend implements Backend {
  /** The database file. */
  readonly path: string;
  private db: RootDatabase<Buffer, Buffer>;
  private readonly tx: LmdbBatchTx;
  /** While a defrag copies the file: commits are held back (see {@link defrag}). */
  private defragging = false;
  /** A commit was asked for while defragging; it runs when the defrag ends. */
  private commitHeld = false;
  private readonly batchLimit: number;
  private readonly onCommit: LmdbBackendOptions['onCommit'];
  private published: Overlay = EMPTY_OVERLAY;
  /** Names of the buckets as of the last commit. */
  private readonly buckets = new Set<string>();
  private readers = 0;
  private closed = false;
  private commits = 0;
  /** File size as of the last commit; -1: not read yet. */
  private cachedSize = -1;

  /** Opens (or creates) the database file at `opts.path`; throws if LMDB cannot open it. */
  constructor(opts: LmdbBackendOptions) {
    this.path = opts.path;
    this.batchLimit = opts.batchLimit ?? 10000;
    this.onCommit = opts.onCommit;
    mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
    // etcd opens its bolt file with mode 0600 (mvcc/backend bolt.Open(path, 0600, ...));
    // LMDB would create the file and its lock file with 0664 & ~umask: create them first
    // (an empty file is a new LMDB environment; existing files keep their mode, as with bolt)
    createPrivateFile(opts.path);
    createPrivateFile(`${opts.path}-lock`);
    this.db = openEnv(opts.path);
    for (const key of this.db.getKeys({ start: Buffer.of(REGISTRY), end: Buffer.of(DATA) })) {
      this.buckets.add(utf8d.decode((key as Buffer).subarray(1)));
    }
    this.tx = new LmdbBatchTx(this);
  }

  /** @internal throws if closed. */
  checkOpen(): void {
    if (this.closed) throw new BackendError('backend: closed');
  }

  /** @internal the pending writes new readers see. */
  publishedOverlay(): Overlay {
    this.tx.flushDeferred();
    return this.published;
  }

  /** @internal called by the batch tx on `unlock()`. */
  publish(o: Overlay): void {
    this.published = o;
  }

  /** @internal whether `bucket` exists as of the last commit. */
  committedBucket(bucket: string): boolean {
    return this.buckets.has(bucket);
  }

  /** @internal a view of the latest commit under `overlay` (for the batch tx). */
  latestView(overlay: Overlay): View {
    return new View(this.db, undefined, overlay, () => this.checkOpen());
  }

  /** @internal commit when the batch limit is reached. */
  afterUnlock(): void {
    if (this.tx.pending() >= this.batchLimit) this.tx.commit();
  }

  /** @internal a reader ended. */
  readerReleased(txn: NonNullable<Txn>): void {
    this.readers--;
    if (!this.closed) txn.done();
  }

  /**
   * @internal writes the published overlay in one synchronous, durable LMDB
   * transaction and empties it.
   */
  commitPublished(): void {
    if (this.defragging) {
      // the copy being made is of the last commit: keep the writes pending (readers
      // see them in the overlay) and commit them to the new file
      this.commitHeld = true;
      return;
    }
    this.tx.flushDeferred();
    const overlay = this.published;
    if (overlay.size > 0) {
      const db = this.db;
      const start = performance.now();
      try {
        db.transactionSync(() => {
          for (const [name, pb] of overlay) {
            const k = bucketKeys(name);
            if (pb.cleared) {
              const doomed = [...db.getKeys({ start: Buffer.from(k.prefix), end: Buffer.from(k.upper) })];
              for (const key of doomed) db.removeSync(key as Buffer);
            }
            if (pb.exists !== this.buckets.has(name)) {
              if (pb.exists) db.putSync(Buffer.from(k.registryKey), Buffer.alloc(0));
              else db.removeSync(Buffer.from(k.registryKey));
            }
            if (!pb.exists) continue;
            pb.entries.forEachPair((key, value) => {
              if (value === null) db.removeSync(k.encode(key));
              else db.putSync(k.encode(key), Buffer.from(value.buffer, value.byteOffset, value.byteLength));
            });
          }
        });
      } catch (err) {
        throw new BackendError(`backend: commit failed: ${(err as Error).message}`, { cause: err });
      }
      this.onCommit?.((performance.now() - start) / 1000);
      for (const [name, pb] of overlay) {
        if (pb.exists) this.buckets.add(name);
        else this.buckets.delete(name);
      }
    }
    this.published = EMPTY_OVERLAY;
    this.commits++;
    this.cachedSize = -1;
  }

  readTx(): ReadTx {
    this.checkOpen();
    this.tx.flushDeferred();
    const txn = this.db.useReadTransaction();
    this.readers++;
    return new LmdbReadTx(this.db, txn, this.published, this);
  }

  batchTx(): BatchTx {
    return this.tx;
  }

  forceCommit(): void {
    this.tx.commit();
  }

  deferPublish<T>(fn: () => T): T {
    return this.tx.deferPublish(fn);
  }

  /**
   * Size of the database file in bytes (bolt's `Size`): LMDB grows it as pages are
   * needed and never shrinks it. Read from the file once per commit (the quota
   * check asks on every write).
   */
  size(): number {
    this.checkOpen();
    if (this.cachedSize < 0) this.cachedSize = statSync(this.path).size;
    return this.cachedSize;
  }

  /**
   * Bytes in the pages of the data tree as of the last commit (branch, leaf and
   * overflow pages times the page size), without free pages, meta pages and
   * the free-list tree. Pending writes are not counted, as in etcd (updated at commit).
   */
  sizeInUse(): number {
    this.checkOpen();
    const s = this.db.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
    return (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * s.pageSize;
  }

  openReadTxN(): number {
    return this.readers;
  }

  /** Number of commits so far, including empty ones (for tests). */
  commitCount(): number {
    return this.commits;
  }

  /**
   * Copies the committed state (after committing unlocked writes) to a new LMDB
   * file at `dest` while the backend stays usable (LMDB's `mdb_env_copy`, from a
   * read snapshot). This is the basis of a snapshot stream; note that the file is
   * in LMDB's format, not bbolt's, so etcdctl's `snapshot status/restore` cannot
   * read it. Rejects if `dest` exists or cannot be written.
   */
  async snapshotTo(dest: string): Promise<void> {
    this.checkOpen();
    if (!this.tx.isLocked()) this.tx.commit();
    await this.db.backup(dest, false);
  }

  /**
   * Rewrites the file without free pages (etcd's defrag; LMDB's compacting copy,
   * `mdb_env_copy2` with MDB_CP_COMPACT): commits pending writes, copies the committed
   * state to `<path>.defrag` while reads and writes go on (commits are held back, so
   * the copy stays the latest commit), waits up to 10 s for open read views of the
   * old file to end, then closes the environment, renames the copy over the file
   * (fsyncing the directory) and reopens it, all in one synchronous step; held
   * commits then run. Rejects with BackendError (the old file is kept) if the copy
   * fails, read views stay open, or a defrag is already running.
   */
  async defrag(): Promise<void> {
    this.checkOpen();
    if (this.defragging) throw new BackendError('backend: a defragmentation is already running');
    if (!this.tx.isLocked()) this.tx.commit();
    const tmp = `${this.path}.defrag`;
    rmSync(tmp, { force: true });
    this.defragging = true;
    try {
      try {
        await this.db.backup(tmp, true);
        chmodSync(tmp, 0o600); // etcd's db file mode
      } catch (err) {
        throw new BackendError(`backend: defrag copy failed: ${(err as Error).message}`, { cause: err });
      }
      const deadline = Date.now() + 10_000;
      while (this.readers > 0 && !this.closed) {
        if (Date.now() > deadline) throw new BackendError(`backend: defrag: ${this.readers} read transactions still open after 10s`);
        await new Promise((res) => setTimeout(res, 5));
      }
      this.checkOpen();
      void this.db.close();
      renameSync(tmp, this.path);
      rmSync(`${tmp}-lock`, { force: true });
      syncDirSync(dirname(this.path));
      this.db = openEnv(this.path);
      this.cachedSize = -1;
    } finally {
      this.defragging = false;
      rmSync(tmp, { force: true });
      rmSync(`${tmp}-lock`, { force: true });
    }
    if (this.commitHeld && !this.closed) {
      this.commitHeld = false;
      if (!this.tx.isLocked()) this.tx.commit();
    }
  }

  /**
   * Commits (unless the batch transaction is locked) and closes the LMDB
   * environment; the backend is unusable afterwards (its methods and those of its
   * open read views throw {@link BackendError}). Calling it again does nothing.
   */
  close(): void {
    if (this.closed) return;
    if (!this.tx.isLocked()) this.tx.commit();
    this.closed = true;
    void this.db.close();
  }

  /**
   * Closes the LMDB environment without committing: unlocked writes not yet
   * committed are lost, which is what a crash leaves (for tests).
   */
  closeWithoutCommit(): void {
    if (this.closed) return;
    this.closed = true;
    this.published = EMPTY_OVERLAY;
    void this.db.close();
  }

  /** Closes the backend and deletes its file and lock file (for tests). */
  destroy(): void {
    this.close();
    rmSync(this.path, { force: true });
    rmSync(`${this.path}-lock`, { force: true });
  }
}
