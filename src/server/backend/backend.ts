/**
 * @module server/backend/backend
 * The storage backend under mvcc, shaped like etcd's `mvcc/backend` package
 * (backend.go, batch_tx.go, read_tx.go): named buckets of byte keys kept in
 * byte order, one batched write transaction at a time and any number of readers.
 *
 * Visibility and durability, as in etcd 3.4:
 * - A {@link BatchTx} is opened with `lock()` and closed with `unlock()`. Its own
 *   reads see its writes at once.
 * - Readers ({@link ReadTx}) see the writes of a batch transaction once it is
 *   unlocked (etcd's "writeback" of the tx buffer into the read buffer), whether
 *   or not they were committed yet. A reader opened earlier keeps the view it
 *   started with until `release()`.
 * - `commit()` / {@link Backend.forceCommit} make unlocked writes durable. A
 *   backend may also commit on its own when many writes are pending (etcd's
 *   batch limit) or on a timer (batch interval). After a crash only committed
 *   writes are there.
 *
 * Everything is synchronous, so that the mvcc layer can keep etcd's structure;
 * a durable implementation (lmdb: one write txn, many MVCC readers, byte-order
 * keys) keeps a write buffer and flushes it in `commit()`.
 */

/** The bucket names etcd 3.4 uses (mvcc/kvstore.go, etcdserver, lease, auth); buckets are named by strings. */
export const Buckets = {
  key: 'key',
  meta: 'meta',
  lease: 'lease',
  auth: 'auth',
  authUsers: 'authUsers',
  authRoles: 'authRoles',
  members: 'members',
  membersRemoved: 'members_removed',
  cluster: 'cluster',
  alarm: 'alarm',
} as const;

/** Keys and values found by a range scan, in ascending key order (`keys[i]` goes with `values[i]`). */
export interface RangeResult {
  readonly keys: Uint8Array[];
  readonly values: Uint8Array[];
}

/**
 * Read access to a backend, like etcd's `backend.ReadTx`. Returned arrays and
 * byte slices must be treated as read-only.
 */
export interface ReadOps {
  /**
   * Scans `bucket` from `key`. With `endKey` undefined or empty only `key` itself
   * is looked up (at most one result, as bolt's `unsafeRange`); otherwise the keys
   * in `[key, endKey)` are returned in byte order. `limit <= 0` means no limit.
   * A missing bucket gives an empty result.
   */
  range(bucket: string, key: Uint8Array, endKey: Uint8Array | undefined, limit: number): RangeResult;
  /** The value stored under `key`, or undefined. */
  get(bucket: string, key: Uint8Array): Uint8Array | undefined;
  /**
   * The values stored under `keys` (undefined where missing), in the order of `keys`: what
   * `get` gives for each, with the values copied out in one piece (one allocation for the
   * lot instead of one per value; a range answer holds them together anyway).
   */
  getMany(bucket: string, keys: readonly Uint8Array[]): Array<Uint8Array | undefined>;
  /**
   * Calls `visitor` for every entry of `bucket` in key order. The visitor may
   * return `false` to stop early. A missing bucket visits nothing.
   */
  forEach(bucket: string, visitor: (key: Uint8Array, value: Uint8Array) => boolean | void): void;
  /** The names of the existing buckets, in byte order of their UTF-8 names (bolt's order). */
  buckets(): string[];
}

/**
 * A consistent read view of the backend (etcd's `ReadTx`/`ConcurrentReadTx`).
 * It sees everything written by batch transactions unlocked before it was
 * opened, and nothing later. Call `release()` when done (for lmdb, this ends the
 * read transaction).
 */
export interface ReadTx extends ReadOps {
  /** Ends this read view; further calls on it throw. */
  release(): void;
}

/**
 * The backend's single write transaction (etcd's `BatchTx`). Writes happen
 * between `lock()` and `unlock()`; they are visible to this transaction's reads
 * at once and to new readers after `unlock()`. Only one `lock()` may be held at a
 * time (JavaScript has no threads to wait for, so a second `lock()` throws).
 */
export interface BatchTx extends ReadOps {
  /** Opens the write transaction; throws {@link BackendError} if it is already locked. */
  lock(): void;
  /**
   * Closes the write transaction: its writes become visible to new readers and
   * count towards the backend's batch limit (which may trigger a commit).
   */
  unlock(): void;
  /** Creates `bucket` if it does not exist. */
  createBucket(bucket: string): void;
  /** Deletes `bucket` and everything in it, if it exists. */
  deleteBucket(bucket: string): void;
  /** Stores `value` under `key`; throws {@link BackendError} if the bucket does not exist (etcd: fatal). */
  put(bucket: string, key: Uint8Array, value: Uint8Array): void;
  /**
   * Like `put`, with a hint that keys are appended in increasing order (etcd's
   * `UnsafeSeqPut`, which raises bolt's fill percent). Semantics are the same.
   */
  seqPut(bucket: string, key: Uint8Array, value: Uint8Array): void;
  /**
   * Like `seqPut`, but the backend keeps `key` and `value` themselves instead of copies:
   * the caller hands them over and must not modify them afterwards (mvcc's writes, whose
   * revision key and encoded KeyValue are made for that one write). Saves two copies per
   * write, which would live until the next commit.
   */
  seqPutOwned(bucket: string, key: Uint8Array, value: Uint8Array): void;
  /** Removes `key` (a missing key is not an error); throws {@link BackendError} if the bucket does not exist. */
  delete(bucket: string, key: Uint8Array): void;
  /** Number of writes since the last commit (etcd's `pending`). */
  pending(): number;
  /**
   * Commits the writes of unlocked transactions; the write transaction must not
   * be locked (throws {@link BackendError}).
   */
  commit(): void;
}

/** Key/bucket pairs left out of {@link hashBackend}-style checksums (etcd's `backend.IgnoreKey`). */
export interface IgnoreKey {
  readonly bucket: string;
  readonly key: string;
}

/**
 * A storage backend (etcd's `backend.Backend`): one {@link BatchTx}, read views
 * on demand, explicit commits.
 */
export interface Backend {
  /** Opens a new read view (see {@link ReadTx}). */
  readTx(): ReadTx;
  /** The one write transaction of this backend (the same object on every call). */
  batchTx(): BatchTx;
  /**
   * Commits now (etcd's `ForceCommit`). Throws {@link BackendError} if the batch
   * transaction is locked.
   */
  forceCommit(): void;
  /**
   * Runs `fn` (synchronously) with publishing deferred: batch transactions locked and
   * unlocked inside it keep writing into one private copy of the pending state instead
   * of publishing a new version at every `unlock()` (each version costs a copy-on-write
   * of the touched tree nodes). Anything that reads the published state meanwhile (a new
   * read view, an unlocked read of the batch tx, a commit) publishes the writes made so
   * far first, so readers see exactly what they would have seen; the rest is published
   * when `fn` returns or throws. Nested calls join the outer one. Returns what `fn` returns.
   * For the apply loop: the entries of one batch are applied back to back.
   */
  deferPublish<T>(fn: () => T): T;
  /** Approximate bytes used by the stored data (etcd's `Size`; for bolt the file size). */
  size(): number;
  /** Approximate bytes in use, without free pages (etcd's `SizeInUse`). */
  sizeInUse(): number;
  /** Number of read views currently open (etcd's `OpenReadTxN`). */
  openReadTxN(): number;
  /**
   * Rewrites the stored data without free space, so that {@link size} shrinks
   * (etcd's `Defrag`). Commits pending writes first; writes made meanwhile stay
   * pending until it ends. Rejects with {@link BackendError} on failure, leaving the
   * data as it was.
   */
  defrag(): Promise<void>;
  /** Commits and releases resources; the backend is unusable afterwards. */
  close(): void;
}

/** A misuse of a backend (bucket missing, lock misuse, closed backend): etcd treats these as fatal. */
export class BackendError extends Error {
  override readonly name = 'BackendError';
}

/**
 * Compares byte strings in unsigned lexicographic order, like Go's `bytes.Compare`:
 * negative if `a < b`, 0 if equal, positive if `a > b` (a proper prefix sorts first).
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** True if `a` and `b` hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
