/**
 * @module server/mvcc/kv
 * The mvcc interfaces (etcd mvcc/kv.go), small and composed with `extends`:
 * {@link ReadView} and {@link WriteView}; {@link TxnRead} = ReadView + `end()`;
 * {@link TxnWrite} = TxnRead + WriteView + `changes()`; {@link KV} adds
 * transactions, hashing, compaction, commit and restore on top.
 *
 * Conventions shared by all of them:
 * - Keys and values are bytes (`Uint8Array`). A range `end` of `undefined` means
 *   the single key `key`; an empty `end` means every key >= `key`; otherwise the
 *   range is `[key, end)`. (The gRPC layer turns the request's empty `range_end`
 *   into `undefined` and `"\0"` into an empty end, as etcd does.)
 * - Revisions are numbers (see revision.ts); lease IDs are `bigint` (0n = none).
 * - Failures are thrown: {@link ErrCompacted}, {@link ErrFutureRev} from errors.ts.
 * - Transactions are synchronous: open, use and `end()` them without awaiting in
 *   between (only one write transaction can be open; a second `write()` throws).
 */

import type { KeyIndexGet } from './key-index.js';
import type { KeyValue } from '../../gen/mvccpb/kv_pb.js';
import type { Backend } from '../backend/backend.js';

/** Options of {@link ReadView.range} (etcd's `RangeOptions`, plus keysOnly). */
export interface RangeOptions {
  /** Maximum number of keys returned; `<= 0` or absent: no limit. `count` still reports all matches. */
  readonly limit?: number;
  /** Read the store as of this revision; `<= 0` or absent: the current revision. */
  readonly rev?: number;
  /** Only count: `kvs` is empty and `count` is the number of matching keys (RangeRequest.count_only). */
  readonly count?: boolean;
  /** Leave values out (RangeRequest.keys_only): every returned `value` is empty. */
  readonly keysOnly?: boolean;
}

/** Result of a range (etcd's `RangeResult`). */
export interface RangeResult {
  /** The matching key-values in key order, at most `limit` of them. */
  readonly kvs: KeyValue[];
  /** The store revision when the range was served (the header revision), not the asked `rev`. */
  readonly rev: number;
  /** Number of keys that matched, regardless of `limit` (so `count > kvs.length` means "more"). */
  readonly count: number;
}

/** Read access at a fixed point (etcd `ReadView`). */
export interface ReadView {
  /** The compaction revision when the view was opened (-1 if never compacted). */
  firstRev(): number;
  /** The store revision when the view was opened. */
  rev(): number;
  /**
   * Keys in the range as of `ro.rev`. Throws {@link ErrFutureRev} if `ro.rev` is
   * above the view's revision and {@link ErrCompacted} if it is below the
   * compaction revision.
   */
  range(key: Uint8Array, end: Uint8Array | undefined, ro?: RangeOptions): RangeResult;
  /**
   * The index entry of `key` as of the view's revision, read from the key index alone
   * (no backend read): its mod_revision (`modified.main`), create_revision
   * (`created.main`) and version (`ver`), the same numbers `range` returns in the
   * KeyValue; undefined when the key is not live then. For txn compares on those
   * targets, which etcd answers with a range.
   */
  keyRevisions(key: Uint8Array): KeyIndexGet | undefined;
}

/** A read transaction (etcd `TxnRead`): a {@link ReadView} to be ended. */
export interface TxnRead extends ReadView {
  /** Ends the transaction and releases its backend read view. */
  end(): void;
}

/** Result of {@link WriteView.deleteRange}. */
export interface DeleteResult {
  /** Number of keys deleted. */
  readonly deleted: number;
  /** The store revision after the delete as seen inside the txn (unchanged if nothing was deleted and nothing else changed). */
  readonly rev: number;
}

/** Write access (etcd `WriteView`). */
export interface WriteView {
  /**
   * Deletes the live keys in the range; each deletion is one change (one DELETE
   * event) at the txn's next revision.
   */
  deleteRange(key: Uint8Array, end: Uint8Array | undefined): DeleteResult;
  /**
   * Stores `value` under `key` at the txn's next revision, attached to `lease`
   * (0n: none; the lease is not validated here). Returns that revision.
   */
  put(key: Uint8Array, value: Uint8Array, lease?: bigint): number;
}

/** A write transaction (etcd `TxnWrite`); all its changes share one main revision. */
export interface TxnWrite extends TxnRead, WriteView {
  /** The key-values changed so far (tombstones have only `key` set). */
  changes(): readonly KeyValue[];
}

/** Result of {@link KV.hashByRev} (HashKV). */
export interface HashKVResult {
  /** CRC-32C over the key bucket up to the revision (see hash.ts). */
  readonly hash: number;
  /** The store revision when hashed. */
  readonly currentRev: number;
  /** The compaction revision when hashed (-1 if never compacted). */
  readonly compactRev: number;
}

/** Result of {@link KV.hash} (the Hash RPC). */
export interface HashResult {
  /** CRC-32C over all buckets except the consistent index. */
  readonly hash: number;
  /** The store revision when hashed. */
  readonly rev: number;
}

/** A scheduled compaction. */
export interface Compaction {
  /**
   * Resolves when the compacted revisions are removed from the backend (etcd's
   * returned channel; a physical compaction request waits for it), or early if the
   * store is closed or restored first. Rejects only on a backend failure.
   */
  readonly done: Promise<void>;
}

/** The store (etcd `KV`). */
export interface KV extends ReadView, WriteView {
  /** Opens a read transaction at the current revision. */
  read(): TxnRead;
  /** Opens the write transaction; throws if one is already open. */
  write(): TxnWrite;
  /** Checksum of the whole backend after a commit (Hash RPC). */
  hash(): HashResult;
  /**
   * Checksum of the key history up to `rev` (0: current), as etcd's HashByRev.
   * Throws {@link ErrCompacted} if `rev` is at or below the compaction revision and
   * {@link ErrFutureRev} if it is above the current revision.
   */
  hashByRev(rev: number): HashKVResult;
  /**
   * Compacts the history at `rev`: reads below `rev` fail from now on, and the
   * superseded revisions are removed from the backend in the background. Throws
   * {@link ErrCompacted} if `rev` is not above the last compaction and
   * {@link ErrFutureRev} if it is above the current revision. It commits the
   * backend, so it must not be called while a write txn is open.
   */
  compact(rev: number): Compaction;
  /** Saves the consistent index and commits the backend (etcd `Commit`). */
  commit(): void;
  /** Replaces the backend and rebuilds all state from it (etcd `Restore`, after a snapshot). */
  restore(backend: Backend): void;
  /** The consistent index last saved (0n if none). */
  consistentIndex(): bigint;
  /** Stops background work; the store is unusable afterwards. */
  close(): void;
}

/**
 * What mvcc needs from the lessor (etcd lease.Lessor's GetLease/Attach/Detach),
 * declared here so that mvcc never imports the lease package.
 */
export interface LeaseAttacher {
  /** The lease `key` is attached to, or 0n. */
  getLease(key: Uint8Array): bigint;
  /** Attaches `keys` to lease `id`; throws if the lease does not exist. */
  attach(id: bigint, keys: Uint8Array[]): void;
  /** Detaches `keys` from lease `id`. */
  detach(id: bigint, keys: Uint8Array[]): void;
}

/** Supplies the raft index of the entry being applied (etcd `ConsistentIndexGetter`). */
export interface ConsistentIndexGetter {
  /** The index (uint64) to store with the next write. */
  consistentIndex(): bigint;
}
