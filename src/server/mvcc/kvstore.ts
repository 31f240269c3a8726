/**
 * @module server/mvcc/kvstore
 * The multi-version key-value store (etcd mvcc/kvstore.go, kvstore_compaction.go,
 * kv_view.go): an in-memory {@link TreeIndex} from key to revisions over the
 * backend's `key` bucket (revision -> marshalled KeyValue), plus bookkeeping in
 * the `meta` bucket:
 *
 * | meta key              | value                                          |
 * |-----------------------|------------------------------------------------|
 * | `consistent_index`    | uint64 big-endian, raft index of the last apply |
 * | `scheduledCompactRev` | 17-byte revision of the last requested compaction |
 * | `finishedCompactRev`  | 17-byte revision of the last finished compaction  |
 *
 * State: `currentRev` is the revision of the last write txn that changed
 * something (1 for an empty store: revision 1 is the empty store), and
 * `compactMainRev` the last compaction revision (-1: never). Single-threaded
 * JavaScript needs none of etcd's locks; the one rule is that a transaction is
 * used synchronously (see kv.ts).
 *
 * Compaction (etcd's two phases): `compact(rev)` checks and records the
 * revision (persisted as `scheduledCompactRev` with a forced commit), compacts the
 * index at once (reads below `rev` fail from then on), then deletes the
 * superseded backend entries in batches in the background, committing after each
 * batch and pausing between them, and records `finishedCompactRev` at the end.
 * If the process stops halfway, `restore` sees scheduled > finished and runs the
 * compaction again.
 */

import type { KeyIndexGet } from './key-index.js';
import { Buckets, type Backend, type BatchTx } from '../backend/backend.js';
import { ErrClosed, ErrCompacted, ErrFutureRev, ErrRevisionNotFound } from './errors.js';
import { hashBackend, hashKeyBucket } from './hash.js';
import { KeyIndex } from './key-index.js';
import { decodeKeyValue } from './kv-codec.js';
import type {
  Compaction,
  ConsistentIndexGetter,
  DeleteResult,
  HashKVResult,
  HashResult,
  KV,
  LeaseAttacher,
  RangeOptions,
  RangeResult,
  TxnRead,
  TxnWrite,
} from './kv.js';
import { StoreTxnRead, StoreTxnWrite } from './kvstore-txn.js';
import { bytesToRev, isTombstone, revToBytes, RevisionSet, type Revision } from './revision.js';
import { TreeIndex, type Index } from './tree-index.js';

const utf8 = new TextEncoder();

/** Meta bucket key names (etcd kvstore.go). */
export const MetaKeys = {
  consistentIndex: utf8.encode('consistent_index'),
  scheduledCompactRev: utf8.encode('scheduledCompactRev'),
  finishedCompactRev: utf8.encode('finishedCompactRev'),
} as const;

/** Options of {@link Store}. */
export interface StoreConfig {
  /** Attaches/detaches keys to leases; without it lease IDs are stored but not tracked. */
  lessor?: LeaseAttacher;
  /** Source of the consistent index saved with each write; without it none is saved. */
  consistentIndex?: ConsistentIndexGetter;
  /** Backend keys deleted per compaction batch (etcd `--experimental-compaction-batch-limit`, default 1000). */
  compactionBatchLimit?: number;
  /** Pause between compaction batches in ms (etcd: 10). 0 still yields to the event loop. */
  compactionSleepMs?: number;
  /** Keys read per chunk when rebuilding the index from the backend (etcd `restoreChunkKeys`, 10000). */
  restoreChunkKeys?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The mvcc store (etcd `store`); see the module comment. */
export class Store implements KV {
  /** @internal the key index; read by transactions. */
  index: Index = new TreeIndex();
  /** @internal revision of the last completed write txn; updated by write txns. */
  currentRev = 1;
  /** @internal main revision of the last compaction, -1 if none. */
  compactMainRev = -1;
  /** @internal the lessor, if any. */
  readonly lessor: LeaseAttacher | undefined;

  private b: Backend;
  private readonly ig: ConsistentIndexGetter | undefined;
  private readonly compactionBatchLimit: number;
  private readonly compactionSleepMs: number;
  private readonly restoreChunkKeys: number;
  /** Cached consistent index (0n: unknown, read from the backend on demand). */
  private cachedConsistentIndex = 0n;
  /** Serializes background compactions (etcd's FIFO scheduler). */
  private compactionChain: Promise<void> = Promise.resolve();
  /** Bumped by restore/close: background jobs of an older epoch stop. */
  private epoch = 0;
  private closed = false;
  /** The compaction resumed by the last restore, if any (for tests and callers that must wait). */
  resumedCompaction: Compaction | undefined;

  /**
   * A store over `backend`: creates the `key` and `meta` buckets, commits, and
   * rebuilds the index and revisions from whatever the backend holds.
   */
  constructor(backend: Backend, cfg: StoreConfig = {}) {
    this.b = backend;
    this.lessor = cfg.lessor;
    this.ig = cfg.consistentIndex;
    this.compactionBatchLimit = cfg.compactionBatchLimit ?? 1000;
    this.compactionSleepMs = cfg.compactionSleepMs ?? 10;
    this.restoreChunkKeys = cfg.restoreChunkKeys ?? 10000;
    this.createBuckets();
    this.restoreFromBackend();
  }

  /** The current backend. */
  backend(): Backend {
    return this.b;
  }

  private checkOpen(): void {
    if (this.closed) throw new ErrClosed();
  }

  private createBuckets(): void {
    const tx = this.b.batchTx();
    tx.lock();
    tx.createBucket(Buckets.key);
    tx.createBucket(Buckets.meta);
    tx.unlock();
    this.b.forceCommit();
  }

  // ---- views (kv_view.go): one-operation transactions ----

  firstRev(): number {
    return this.compactMainRev;
  }

  rev(): number {
    return this.currentRev;
  }

  range(key: Uint8Array, end: Uint8Array | undefined, ro?: RangeOptions): RangeResult {
    const t = this.read();
    try {
      return t.range(key, end, ro);
    } finally {
      t.end();
    }
  }

  keyRevisions(key: Uint8Array): KeyIndexGet | undefined {
    return this.index.get(key, this.currentRev);
  }

  put(key: Uint8Array, value: Uint8Array, lease?: bigint): number {
    const t = this.write();
    try {
      return t.put(key, value, lease);
    } finally {
      t.end();
    }
  }

  deleteRange(key: Uint8Array, end: Uint8Array | undefined): DeleteResult {
    const t = this.write();
    try {
      return t.deleteRange(key, end);
    } finally {
      t.end();
    }
  }

  // ---- transactions ----

  read(): TxnRead {
    this.checkOpen();
    return new StoreTxnRead(this, this.b.readTx());
  }

  write(): TxnWrite {
    this.checkOpen();
    const tx = this.b.batchTx();
    tx.lock();
    return new StoreTxnWrite(this, tx);
  }

  // ---- consistent index ----

  /** @internal writes the consistent index into `tx` (locked), if there is a source. */
  saveIndex(tx: BatchTx): void {
    if (!this.ig) return;
    const ci = this.ig.consistentIndex();
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setBigUint64(0, BigInt.asUintN(64, ci));
    tx.put(Buckets.meta, MetaKeys.consistentIndex, buf);
    this.cachedConsistentIndex = ci;
  }

  consistentIndex(): bigint {
    if (this.cachedConsistentIndex > 0n) return this.cachedConsistentIndex;
    const r = this.b.readTx();
    try {
      const v = r.get(Buckets.meta, MetaKeys.consistentIndex);
      if (!v || v.length !== 8) return 0n;
      this.cachedConsistentIndex = new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0);
      return this.cachedConsistentIndex;
    } finally {
      r.release();
    }
  }

  commit(): void {
    this.checkOpen();
    const tx = this.b.batchTx();
    tx.lock();
    this.saveIndex(tx);
    tx.unlock();
    this.b.forceCommit();
  }

  // ---- hashing ----

  hash(): HashResult {
    this.checkOpen();
    this.b.forceCommit();
    const r = this.b.readTx();
    try {
      return { hash: hashBackend(r), rev: this.currentRev };
    } finally {
      r.release();
    }
  }

  hashByRev(rev: number): HashKVResult {
    this.checkOpen();
    const compactRev = this.compactMainRev;
    const currentRev = this.currentRev;
    if (rev > 0 && rev <= compactRev) throw new ErrCompacted();
    if (rev > 0 && rev > currentRev) throw new ErrFutureRev();
    const at = rev === 0 ? currentRev : rev;
    const keep = this.index.keep(at);
    const r = this.b.readTx();
    try {
      return { hash: hashKeyBucket(r, compactRev, at, keep), currentRev, compactRev };
    } finally {
      r.release();
    }
  }

  // ---- compaction ----

  /**
   * Checks `rev` and records it as the compaction revision, persisted as
   * `scheduledCompactRev` with a forced commit (etcd `updateCompactRev`).
   */
  private updateCompactRev(rev: number): void {
    if (rev <= this.compactMainRev) throw new ErrCompacted();
    if (rev > this.currentRev) throw new ErrFutureRev();
    this.compactMainRev = rev;
    const tx = this.b.batchTx();
    tx.lock();
    tx.put(Buckets.meta, MetaKeys.scheduledCompactRev, revToBytes({ main: rev, sub: 0 }));
    tx.unlock();
    this.b.forceCommit();
  }

  /** Compacts the index now and schedules the backend deletions (etcd `compact`). */
  private scheduleCompact(rev: number): Compaction {
    const keep = this.index.compact(rev);
    const epoch = this.epoch;
    const job = this.compactionChain.then(() => this.compactBackend(rev, keep, epoch));
    // keep the chain alive whatever happens to one job
    this.compactionChain = job.catch(() => undefined);
    return { done: job };
  }

  compact(rev: number): Compaction {
    this.checkOpen();
    this.updateCompactRev(rev);
    return this.scheduleCompact(rev);
  }

  /**
   * Deletes the key-bucket entries with revision <= `rev` that are not in
   * `keep`, in batches (etcd `scheduleCompaction`), then records
   * `finishedCompactRev`. Returns early if the store is closed or restored
   * meanwhile; backend failures propagate (they are fatal, as in etcd).
   */
  private async compactBackend(rev: number, keep: RevisionSet, epoch: number): Promise<void> {
    const end = revToBytes({ main: rev + 1, sub: 0 }).subarray(0, 8);
    let last: Uint8Array = new Uint8Array(17);
    for (;;) {
      if (epoch !== this.epoch) return;
      const tx = this.b.batchTx();
      tx.lock();
      let lastRev: Revision | undefined;
      let n = 0;
      try {
        const { keys } = tx.range(Buckets.key, last, end, this.compactionBatchLimit);
        n = keys.length;
        for (const k of keys) {
          lastRev = bytesToRev(k);
          if (!keep.has(lastRev)) tx.delete(Buckets.key, k);
        }
        if (n < this.compactionBatchLimit) {
          tx.put(Buckets.meta, MetaKeys.finishedCompactRev, revToBytes({ main: rev, sub: 0 }));
        }
      } finally {
        tx.unlock();
      }
      if (n < this.compactionBatchLimit) {
        this.b.forceCommit();
        return;
      }
      last = revToBytes({ main: lastRev!.main, sub: lastRev!.sub + 1 });
      this.b.forceCommit();
      await sleep(this.compactionSleepMs);
    }
  }

  /**
   * Resolves once every compaction scheduled so far has finished (or stopped).
   * Not in etcd's interface; convenient for tests and shutdown.
   */
  async compactionsIdle(): Promise<void> {
    await this.compactionChain;
  }

  // ---- restore ----

  restore(backend: Backend): void {
    this.checkOpen();
    this.epoch++;
    this.b = backend;
    this.index = new TreeIndex();
    this.currentRev = 1;
    this.compactMainRev = -1;
    this.cachedConsistentIndex = 0n;
    this.compactionChain = Promise.resolve();
    this.createBuckets();
    this.restoreFromBackend();
  }

  /**
   * Rebuilds the index, revisions and lease attachments from the backend (etcd
   * `restore`), reading the key bucket in revision order in chunks, and resumes an
   * unfinished compaction.
   */
  private restoreFromBackend(): void {
    const tx = this.b.readTx();
    let scheduledCompact = 0;
    const keyToLease = new Map<KeyIndex, bigint>();
    try {
      const finished = tx.get(Buckets.meta, MetaKeys.finishedCompactRev);
      if (finished) this.compactMainRev = bytesToRev(finished).main;
      const scheduled = tx.get(Buckets.meta, MetaKeys.scheduledCompactRev);
      if (scheduled) scheduledCompact = bytesToRev(scheduled).main;

      let min = revToBytes({ main: 1, sub: 0 });
      const max = Uint8Array.of(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x5f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
      let currentRev = 1;
      for (;;) {
        const { keys, values } = tx.range(Buckets.key, min, max, this.restoreChunkKeys);
        for (let i = 0; i < keys.length; i++) {
          const bk = keys[i]!;
          const kv = decodeKeyValue(values[i]!);
          const r = bytesToRev(bk);
          currentRev = r.main;
          const tomb = isTombstone(bk);
          let ki = this.index.keyIndex(kv.key);
          if (ki) {
            if (tomb) {
              try {
                ki.tombstone(r.main, r.sub);
              } catch (e) {
                if (!(e instanceof ErrRevisionNotFound)) throw e;
              }
            } else {
              ki.put(r.main, r.sub);
            }
          } else if (!tomb) {
            // the key index keeps the key: a copy, not a view into the value's buffer
            ki = new KeyIndex(kv.key.slice());
            ki.restore({ main: Number(kv.createRevision), sub: 0 }, r, Number(kv.version));
            this.index.insert(ki);
          }
          // the lease of a key's newest revision wins; keyed by the key's index (one per key)
          if (ki) {
            if (tomb || kv.lease === 0n) keyToLease.delete(ki);
            else keyToLease.set(ki, kv.lease);
          }
        }
        if (keys.length < this.restoreChunkKeys) break;
        const lastRev = bytesToRev(keys[keys.length - 1]!);
        min = revToBytes({ main: lastRev.main, sub: lastRev.sub + 1 });
      }
      // a compaction may have removed every revision up to it: the store is at least there
      this.currentRev = Math.max(currentRev, this.compactMainRev);
      if (scheduledCompact <= this.compactMainRev) scheduledCompact = 0;
    } finally {
      tx.release();
    }

    if (this.lessor) {
      for (const [ki, lease] of keyToLease) {
        try {
          this.lessor.attach(lease, [ki.key]);
        } catch {
          // etcd logs "failed to attach a lease" and goes on (the lease may have been revoked)
        }
      }
    }

    this.resumedCompaction = undefined;
    // resume the interrupted compaction (etcd compactLockfree, which ignores a future revision)
    if (scheduledCompact !== 0 && scheduledCompact <= this.currentRev) {
      this.compactMainRev = scheduledCompact;
      this.resumedCompaction = this.scheduleCompact(scheduledCompact);
    }
  }

  /** Stops background compaction; the store refuses work afterwards (ErrClosed). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.epoch++;
  }
}
