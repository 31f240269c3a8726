/**
 * @module server/backend/memory-backend
 * An in-memory {@link Backend}: each bucket is a copy-on-write B+ tree
 * (`sorted-btree`) of byte keys in byte order.
 *
 * Three versions of the bucket map are kept, which gives the visibility rules of
 * backend.ts cheaply (cloning a `BTree` is O(1) and shares nodes until written):
 * - `working`: the trees the locked batch transaction writes to (cloned from
 *   `published` on the first write to each bucket);
 * - `published`: what new readers see, replaced by `working` on `unlock()`;
 *   published trees are never written to again, so a reader holding them keeps a
 *   stable snapshot;
 * - `committed`: the state as of the last commit, which is what a restart would
 *   find; {@link MemoryBackend.reopenCommitted} builds a new backend from it to
 *   simulate a crash and restart in tests.
 */

import btree from 'sorted-btree';
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
type Bucket = BTree<Uint8Array, Uint8Array>;

/** An immutable version of all buckets plus its data size in bytes. */
interface State {
  readonly buckets: ReadonlyMap<string, Bucket>;
  /** Sum of key and value lengths over all buckets. */
  readonly size: number;
}

/** Options for {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /**
   * Commit automatically when this many writes are pending at `unlock()`
   * (etcd's `--backend-batch-limit`, default 10000). There is no batch interval
   * timer: commit explicitly or with `forceCommit()` for an earlier durable point.
   */
  batchLimit?: number;
}

const EMPTY_STATE: State = { buckets: new Map(), size: 0 };
const utf8 = new TextEncoder();

function newBucket(): Bucket {
  return new BTree<Uint8Array, Uint8Array>(undefined, compareBytes);
}

/** Range scan over one bucket tree with the {@link ReadOps.range} rules. */
function rangeBucket(b: Bucket | undefined, key: Uint8Array, endKey: Uint8Array | undefined, limit: number): RangeResult {
  const keys: Uint8Array[] = [];
  const values: Uint8Array[] = [];
  if (!b) return { keys, values };
  if (!endKey || endKey.length === 0) {
    // return the stored key object, never the caller's buffer
    const pair = b.getPairOrNextHigher(key);
    if (pair && compareBytes(pair[0], key) === 0) {
      keys.push(pair[0]);
      values.push(pair[1]);
    }
    return { keys, values };
  }
  const max = limit > 0 ? limit : Infinity;
  for (const [k, v] of b.entries(key)) {
    if (compareBytes(k, endKey) >= 0) break;
    keys.push(k);
    values.push(v);
    if (keys.length >= max) break;
  }
  return { keys, values };
}

function forEachBucket(b: Bucket | undefined, visitor: (k: Uint8Array, v: Uint8Array) => boolean | void): void {
  if (!b) return;
  for (const [k, v] of b.entries()) {
    if (visitor(k, v) === false) return;
  }
}

function sortedBucketNames(buckets: ReadonlyMap<string, Bucket>): string[] {
  return [...buckets.keys()].sort((a, b) => compareBytes(utf8.encode(a), utf8.encode(b)));
}

/** A read view over one published {@link State}. */
class MemoryReadTx implements ReadTx {
  private released = false;

  constructor(
    private readonly state: State,
    private readonly onRelease: () => void,
  ) {}

  private check(): void {
    if (this.released) throw new BackendError('backend: read transaction already released');
  }

  range(bucket: string, key: Uint8Array, endKey: Uint8Array | undefined, limit: number): RangeResult {
    this.check();
    return rangeBucket(this.state.buckets.get(bucket), key, endKey, limit);
  }

  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    this.check();
    return this.state.buckets.get(bucket)?.get(key);
  }

  getMany(bucket: string, keys: readonly Uint8Array[]): Array<Uint8Array | undefined> {
    return keys.map((k) => this.get(bucket, k));
  }

  forEach(bucket: string, visitor: (key: Uint8Array, value: Uint8Array) => boolean | void): void {
    this.check();
    forEachBucket(this.state.buckets.get(bucket), visitor);
  }

  buckets(): string[] {
    this.check();
    return sortedBucketNames(this.state.buckets);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }
}

/** The write transaction of a {@link MemoryBackend}. */
class MemoryBatchTx implements BatchTx {
  private locked = false;
  /** Buckets of the open transaction; trees in `cloned` may be written, the others are shared with `published`. */
  private working = new Map<string, Bucket>();
  private cloned = new Set<string>();
  private workingSize = 0;
  private pendingWrites = 0;

  constructor(private readonly backend: MemoryBackend) {}

  /** Nesting depth of {@link MemoryBackend.deferPublish}: while > 0, `unlock()` keeps `working` private. */
  private deferDepth = 0;
  /** `working` holds unlocked writes not published yet (only while deferring). */
  private unpublished = false;

  lock(): void {
    this.backend.checkOpen();
    if (this.locked) throw new BackendError('backend: batch transaction is already locked');
    this.locked = true;
    if (this.unpublished) return; // go on writing into the trees cloned since the last publish
    const pub = this.backend.publishedState();
    this.working = new Map(pub.buckets);
    this.cloned.clear();
    this.workingSize = pub.size;
  }

  unlock(): void {
    this.checkLocked();
    this.locked = false;
    if (this.deferDepth > 0) this.unpublished = true;
    else this.publishWorking();
    this.backend.afterUnlock();
  }

  private publishWorking(): void {
    this.backend.publish({ buckets: this.working, size: this.workingSize });
    this.working = new Map();
    this.cloned.clear();
    this.unpublished = false;
  }

  /** @internal publishes writes held back by {@link deferPublish} (before anything reads the published state). */
  flushDeferred(): void {
    if (this.unpublished && !this.locked) this.publishWorking();
  }

  /** @internal see {@link MemoryBackend.deferPublish}. */
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

  /** The bucket tree of the open transaction, cloned for writing on first use. */
  private writable(bucket: string): Bucket {
    this.checkLocked();
    const b = this.working.get(bucket);
    if (!b) throw new BackendError(`backend: bucket ${bucket} does not exist`);
    if (this.cloned.has(bucket)) return b;
    const c = b.clone();
    this.working.set(bucket, c);
    this.cloned.add(bucket);
    return c;
  }

  /** Reads during the transaction see its own writes; outside a lock they see the published state. */
  private readable(): ReadonlyMap<string, Bucket> {
    return this.locked ? this.working : this.backend.publishedState().buckets;
  }

  range(bucket: string, key: Uint8Array, endKey: Uint8Array | undefined, limit: number): RangeResult {
    return rangeBucket(this.readable().get(bucket), key, endKey, limit);
  }

  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    return this.readable().get(bucket)?.get(key);
  }

  getMany(bucket: string, keys: readonly Uint8Array[]): Array<Uint8Array | undefined> {
    return keys.map((k) => this.get(bucket, k));
  }

  forEach(bucket: string, visitor: (key: Uint8Array, value: Uint8Array) => boolean | void): void {
    forEachBucket(this.readable().get(bucket), visitor);
  }

  buckets(): string[] {
    return sortedBucketNames(this.readable());
  }

  createBucket(bucket: string): void {
    this.checkLocked();
    if (this.working.has(bucket)) return;
    this.working.set(bucket, newBucket());
    this.cloned.add(bucket);
    this.pendingWrites++;
  }

  deleteBucket(bucket: string): void {
    this.checkLocked();
    const b = this.working.get(bucket);
    if (!b) return;
    b.forEach((v, k) => {
      this.workingSize -= k.length + v.length;
    });
    this.working.delete(bucket);
    this.cloned.delete(bucket);
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
    const b = this.writable(bucket);
    const old = b.get(key);
    if (old !== undefined) this.workingSize -= key.length + old.length;
    b.set(key, value, true);
    this.workingSize += key.length + value.length;
    this.pendingWrites++;
  }

  delete(bucket: string, key: Uint8Array): void {
    const b = this.writable(bucket);
    const old = b.get(key);
    if (old !== undefined) {
      b.delete(key);
      this.workingSize -= key.length + old.length;
    }
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

/**
 * The in-memory backend. Not durable; {@link MemoryBackend.reopenCommitted}
 * simulates a restart by keeping only what was committed.
 */
export class MemoryBackend implements Backend {
  private published: State;
  private committed: State;
  private readonly tx: MemoryBatchTx;
  private readonly batchLimit: number;
  private readers = 0;
  private closed = false;
  private commits = 0;

  /** A new backend, empty or starting from `initial` (used by {@link reopenCommitted}). */
  constructor(opts: MemoryBackendOptions = {}, initial: State = EMPTY_STATE) {
    this.batchLimit = opts.batchLimit ?? 10000;
    this.published = initial;
    this.committed = initial;
    this.tx = new MemoryBatchTx(this);
  }

  /** @internal the state new readers see. */
  publishedState(): State {
    this.tx.flushDeferred();
    return this.published;
  }

  /** @internal called by the batch tx on `unlock()`. */
  publish(s: State): void {
    this.published = s;
  }

  /** @internal commit when the batch limit is reached. */
  afterUnlock(): void {
    if (this.tx.pending() >= this.batchLimit) this.tx.commit();
  }

  /** @internal makes the published state the durable one. */
  commitPublished(): void {
    this.tx.flushDeferred();
    this.committed = this.published;
    this.commits++;
  }

  /** @internal throws if closed. */
  checkOpen(): void {
    if (this.closed) throw new BackendError('backend: closed');
  }

  readTx(): ReadTx {
    this.checkOpen();
    this.tx.flushDeferred();
    this.readers++;
    return new MemoryReadTx(this.published, () => {
      this.readers--;
    });
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

  size(): number {
    return this.published.size;
  }

  sizeInUse(): number {
    return this.published.size;
  }

  openReadTxN(): number {
    return this.readers;
  }

  /** Nothing to reclaim in memory: commits pending writes (etcd's Defrag commits first). */
  async defrag(): Promise<void> {
    this.forceCommit();
  }

  /** Number of commits so far (for tests: proves that a write was made durable). */
  commitCount(): number {
    return this.commits;
  }

  close(): void {
    if (this.closed) return;
    if (!this.tx.isLocked()) this.tx.commit();
    this.closed = true;
  }

  /**
   * A new backend holding only this backend's committed state: what a durable
   * backend would contain after a crash and restart. This backend is unaffected.
   */
  reopenCommitted(opts: MemoryBackendOptions = {}): MemoryBackend {
    return new MemoryBackend(opts, this.committed);
  }
}
