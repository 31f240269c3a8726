/**
 * @module server/mvcc/kvstore-txn
 * Read and write transactions of the {@link Store} (etcd mvcc/kvstore_txn.go).
 *
 * A write transaction works at revision `beginRev + 1`: its n-th change gets
 * sub revision n, and the store revision moves to `beginRev + 1` when it ends,
 * only if something changed. Reads inside it see its own changes. The put rules:
 * - a key that is live keeps its create_revision and its version goes up by one;
 * - a key that is new or was deleted gets create_revision = mod_revision = the
 *   txn revision and version 1 (the version restarts after a delete);
 * - the key leaves its old lease (if any) and joins the new one (if any).
 * A delete writes a tombstone (key only, backend key with the `t` mark), closes
 * the key's generation in the index and detaches its lease.
 *
 * As in etcd, the lessor is told after the key is written, and a failing
 * `attach` (unknown lease) is a broken invariant that leaves the txn half done:
 * the apply layer must check the lease exists first (etcd apply.go does, and
 * answers ErrLeaseNotFound).
 */

import type { KeyValue } from '../../gen/mvccpb/kv_pb.js';
import { decodeKeyValue, encodeKeyValue, newKeyValue } from './kv-codec.js';
import { Buckets, type BatchTx, type ReadOps, type ReadTx } from '../backend/backend.js';
import { ErrCompacted, ErrFutureRev, MvccInvariantError } from './errors.js';
import type { DeleteResult, RangeOptions, RangeResult, TxnRead, TxnWrite } from './kv.js';
import type { Store } from './kvstore.js';
import { revToBytes, type Revision } from './revision.js';
import type { KeyIndexGet } from './key-index.js';

const EMPTY = new Uint8Array(0);

/**
 * Serves a range at `curRev` from the store's index and the backend view `tx`
 * (etcd `rangeKeys`). Throws {@link ErrFutureRev} / {@link ErrCompacted}.
 */
function rangeKeys(s: Store, tx: ReadOps, key: Uint8Array, end: Uint8Array | undefined, curRev: number, ro: RangeOptions): RangeResult {
  let rev = ro.rev ?? 0;
  if (rev > curRev) throw new ErrFutureRev();
  if (rev <= 0) rev = curRev;
  if (rev < s.compactMainRev) throw new ErrCompacted();

  if (ro.count) return { kvs: [], count: s.index.countRevisions(key, end, rev), rev: curRev };
  const limit = ro.limit ?? 0;
  const { revs, total } = s.index.revisions(key, end, rev, limit > 0 ? limit : 0);
  const kvs: KeyValue[] = new Array(revs.length);
  const vals = revs.length === 1 ? [tx.get(Buckets.key, revToBytes(revs[0]!))] : tx.getMany(Buckets.key, revs.map((r) => revToBytes(r)));
  for (let i = 0; i < revs.length; i++) {
    const v = vals[i];
    if (v === undefined) {
      throw new MvccInvariantError(`mvcc: range failed to find revision pair ${revs[i]!.main}.${revs[i]!.sub}`);
    }
    const kv = decodeKeyValue(v);
    if (ro.keysOnly) kv.value = EMPTY;
    kvs[i] = kv;
  }
  return { kvs, count: total, rev: curRev };
}

/** A read transaction: the revisions and backend view of the moment it was opened. */
export class StoreTxnRead implements TxnRead {
  private ended = false;
  private readonly firstRevAtOpen: number;
  private readonly revAtOpen: number;

  /** Opens a read txn on `s` with backend view `tx` (owned: released by `end()`). */
  constructor(
    protected readonly s: Store,
    private readonly tx: ReadTx,
  ) {
    this.firstRevAtOpen = s.compactMainRev;
    this.revAtOpen = s.currentRev;
  }

  firstRev(): number {
    return this.firstRevAtOpen;
  }

  rev(): number {
    return this.revAtOpen;
  }

  range(key: Uint8Array, end: Uint8Array | undefined, ro: RangeOptions = {}): RangeResult {
    if (this.ended) throw new MvccInvariantError('mvcc: range on an ended read txn');
    return rangeKeys(this.s, this.tx, key, end, this.revAtOpen, ro);
  }

  keyRevisions(key: Uint8Array): KeyIndexGet | undefined {
    if (this.ended) throw new MvccInvariantError('mvcc: keyRevisions on an ended read txn');
    return this.s.index.get(key, this.revAtOpen);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.tx.release();
  }
}

/** The write transaction; holds the backend's batch tx lock until `end()`. */
export class StoreTxnWrite implements TxnWrite {
  private readonly beginRev: number;
  private readonly firstRevAtOpen: number;
  private readonly changed: KeyValue[] = [];
  private ended = false;

  /** Opens the write txn on `s`; `tx` must already be locked (released by `end()`). */
  constructor(
    private readonly s: Store,
    private readonly tx: BatchTx,
  ) {
    this.beginRev = s.currentRev;
    this.firstRevAtOpen = s.compactMainRev;
  }

  firstRev(): number {
    return this.firstRevAtOpen;
  }

  /** The store revision when the txn was opened (its changes land at `rev() + 1`). */
  rev(): number {
    return this.beginRev;
  }

  private check(): void {
    if (this.ended) throw new MvccInvariantError('mvcc: operation on an ended write txn');
  }

  /** Reads at the txn's own revision: `rev() + 1` once something changed. */
  range(key: Uint8Array, end: Uint8Array | undefined, ro: RangeOptions = {}): RangeResult {
    this.check();
    const rev = this.changed.length > 0 ? this.beginRev + 1 : this.beginRev;
    return rangeKeys(this.s, this.tx, key, end, rev, ro);
  }

  /** At the txn's own revision, like {@link range}. */
  keyRevisions(key: Uint8Array): KeyIndexGet | undefined {
    this.check();
    return this.s.index.get(key, this.changed.length > 0 ? this.beginRev + 1 : this.beginRev);
  }

  deleteRange(key: Uint8Array, end: Uint8Array | undefined): DeleteResult {
    this.check();
    const rrev = this.changed.length > 0 ? this.beginRev + 1 : this.beginRev;
    const { keys } = this.s.index.range(key, end, rrev);
    for (const k of keys) this.delete(k);
    if (keys.length !== 0 || this.changed.length > 0) return { deleted: keys.length, rev: this.beginRev + 1 };
    return { deleted: 0, rev: this.beginRev };
  }

  put(key: Uint8Array, value: Uint8Array, lease = 0n): number {
    this.check();
    const rev = this.beginRev + 1;
    let created = rev;
    let ver = 0;
    let oldLease = 0n;
    // one index lookup for both the read and the update (a btree search is ~3 % of a put)
    const ki = this.s.index.keyIndex(key);
    const prev = ki?.get(rev);
    if (prev) {
      created = prev.created.main;
      ver = prev.ver;
      oldLease = this.s.lessor?.getLease(key) ?? 0n;
    }
    const idxRev: Revision = { main: rev, sub: this.changed.length };
    const kv = newKeyValue(key.slice(), BigInt(created), BigInt(rev), BigInt(ver + 1), value.slice(), lease);
    this.tx.seqPutOwned(Buckets.key, revToBytes(idxRev), encodeKeyValue(kv));
    if (ki) ki.put(idxRev.main, idxRev.sub);
    else this.s.index.put(key, idxRev);
    this.changed.push(kv);

    const le = this.s.lessor;
    if (le) {
      if (oldLease !== 0n) le.detach(oldLease, [kv.key]);
      if (lease !== 0n) le.attach(lease, [kv.key]);
    }
    return rev;
  }

  /** Writes the tombstone of the live key `key`. */
  private delete(key: Uint8Array): void {
    const idxRev: Revision = { main: this.beginRev + 1, sub: this.changed.length };
    const kv = newKeyValue(key.slice(), 0n, 0n, 0n, EMPTY, 0n);
    this.tx.seqPutOwned(Buckets.key, revToBytes(idxRev, true), encodeKeyValue(kv));
    this.s.index.tombstone(key, idxRev);
    this.changed.push(kv);
    const le = this.s.lessor;
    if (le) {
      const id = le.getLease(key);
      if (id !== 0n) le.detach(id, [kv.key]);
    }
  }

  changes(): readonly KeyValue[] {
    return this.changed;
  }

  /**
   * Ends the txn: if anything changed, saves the consistent index and moves the
   * store revision to `rev() + 1`; then releases the batch tx.
   */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.changed.length !== 0) {
      this.s.saveIndex(this.tx);
      this.s.currentRev = this.beginRev + 1;
    }
    this.tx.unlock();
  }
}
