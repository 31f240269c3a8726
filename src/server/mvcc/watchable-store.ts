/**
 * @module server/mvcc/watchable-store
 * The store with watches (etcd mvcc/watchable_store.go, watchable_store_txn.go).
 *
 * Watchers live in one of three places:
 * - `synced`: caught up with the store; every write txn that ends notifies them
 *   directly with one response holding all of the txn's events for them;
 * - `unsynced`: behind (created with a past start revision, or moved back after a
 *   restore); a periodic `syncWatchers` reads the missed revisions from the
 *   backend, sends them (at most `watchBatchMaxRevs` revisions per response) and
 *   moves the watcher to `synced` once it is caught up, or cancels it with a
 *   compaction response if its start revision was compacted;
 * - victims: their stream's queue was full when a response was due. The response
 *   is kept and retried (`moveVictims`, every `victimRetryMs`, 10 ms, as etcd's
 *   syncVictimsLoop); meanwhile writes go on, and the watcher catches up through
 *   `unsynced` afterwards.
 * Every watcher has `minRev`, the lowest revision it still needs: events below it
 * are never sent to it again, which is what makes catch-up followed by live
 * notifications free of gaps and duplicates.
 *
 * The unsynced loop runs every `syncIntervalMs` (100 ms); after a pass that made
 * progress with watchers still behind, it waits as long as that pass took (etcd's
 * syncWatchersLoop, which yields to other store work so): a watcher that falls
 * behind catches up in a few large responses instead of one per revision.
 *
 * Background work runs on timers (unref'd) unless `startLoops` is false; tests
 * then call {@link WatchableStore.syncWatchers} and {@link WatchableStore.moveVictims}.
 */

import type { KeyIndexGet } from './key-index.js';
import { create } from '@bufbuild/protobuf';
import { EventSchema, Event_EventType, type Event, type KeyValue } from '../../gen/mvccpb/kv_pb.js';
import { decodeKeyValue } from './kv-codec.js';
import { Buckets, type Backend } from '../backend/backend.js';
import type { DeleteResult, RangeOptions, RangeResult, TxnWrite } from './kv.js';
import { Store, type StoreConfig } from './kvstore.js';
import { bytesToRev, isTombstone, revToBytes } from './revision.js';
import { newWatcherBatch, WatcherGroup, type WatcherBatch } from './watcher-group.js';
import { ResponseQueue, Watcher, WatchStreamImpl, type FilterFunc, type Watchable, type WatchStream } from './watcher.js';

/** Options of {@link WatchableStore}, on top of the {@link StoreConfig}. */
export interface WatchableStoreConfig extends StoreConfig {
  /** Responses buffered per watch stream before its watchers become victims (etcd chanBufLen, 128). */
  chanBufLen?: number;
  /** Unsynced watchers caught up per sync round (etcd maxWatchersPerSync, 512). */
  maxWatchersPerSync?: number;
  /** Interval of the unsynced-watcher loop in ms (etcd: 100). */
  syncIntervalMs?: number;
  /** Retry interval for victims in ms (etcd: 10). */
  victimRetryMs?: number;
  /** Run the background loops (default true). */
  startLoops?: boolean;
}

/** The write txn wrapper whose `end()` notifies watchers (etcd `watchableStoreTxnWrite`). */
class WatchableStoreTxnWrite implements TxnWrite {
  constructor(
    private readonly inner: TxnWrite,
    private readonly s: WatchableStore,
  ) {}

  firstRev(): number {
    return this.inner.firstRev();
  }

  rev(): number {
    return this.inner.rev();
  }

  range(key: Uint8Array, end: Uint8Array | undefined, ro?: RangeOptions): RangeResult {
    return this.inner.range(key, end, ro);
  }

  keyRevisions(key: Uint8Array): KeyIndexGet | undefined {
    return this.inner.keyRevisions(key);
  }

  deleteRange(key: Uint8Array, end: Uint8Array | undefined): DeleteResult {
    return this.inner.deleteRange(key, end);
  }

  put(key: Uint8Array, value: Uint8Array, lease?: bigint): number {
    return this.inner.put(key, value, lease);
  }

  changes(): readonly KeyValue[] {
    return this.inner.changes();
  }

  /** Turns the changes into PUT/DELETE events at the txn revision, notifies, then ends the txn. */
  end(): void {
    const changes = this.inner.changes();
    if (changes.length === 0) {
      this.inner.end();
      return;
    }
    const rev = this.inner.rev() + 1;
    const evs = changes.map((kv) => {
      // a tombstone has only its key: patch in the revision so that watchers do not skip it
      if (kv.createRevision === 0n) {
        kv.modRevision = BigInt(rev);
        return create(EventSchema, { type: Event_EventType.DELETE, kv });
      }
      return create(EventSchema, { type: Event_EventType.PUT, kv });
    });
    this.s.notify(rev, evs);
    this.inner.end();
  }
}

/** The watchable store (etcd `watchableStore`); see the module comment. */
export class WatchableStore extends Store implements Watchable {
  readonly chanBufLen: number;
  private readonly maxWatchersPerSync: number;
  private readonly syncIntervalMs: number;
  private readonly victimRetryMs: number;
  private readonly loops: boolean;

  /** Watchers that are caught up. */
  readonly synced = new WatcherGroup();
  /** Watchers that must catch up from the backend. */
  readonly unsynced = new WatcherGroup();
  /** Responses that could not be delivered, by watcher. */
  private victims: WatcherBatch[] = [];

  private syncTimer: NodeJS.Timeout | undefined;
  private victimTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  /** A watchable store over `backend` (see {@link Store} for the restore on open). */
  constructor(backend: Backend, cfg: WatchableStoreConfig = {}) {
    super(backend, cfg);
    this.chanBufLen = cfg.chanBufLen ?? 128;
    this.maxWatchersPerSync = cfg.maxWatchersPerSync ?? 512;
    this.syncIntervalMs = cfg.syncIntervalMs ?? 100;
    this.victimRetryMs = cfg.victimRetryMs ?? 10;
    this.loops = cfg.startLoops ?? true;
    if (this.loops) this.scheduleSync(this.syncIntervalMs);
  }

  /** Open watch streams (etcd_debugging_mvcc_watch_stream_total). */
  private streams = 0;

  /** Opens a watch stream (etcd `NewWatchStream`). */
  newWatchStream(): WatchStream {
    this.streams++;
    return new WatchStreamImpl(this, () => this.streams--);
  }

  /** Number of open watch streams. */
  watchStreamCount(): number {
    return this.streams;
  }

  /** Number of watchers: synced, unsynced and victims (etcd_debugging_mvcc_watcher_total). */
  watcherCount(): number {
    return this.synced.size() + this.unsynced.size() + this.victimCount();
  }

  override write(): TxnWrite {
    return new WatchableStoreTxnWrite(super.write(), this);
  }

  /**
   * Registers a watcher (etcd `watchableStore.watch`): synced if `startRev` is 0
   * or in the future (then it starts at the next revision, or at `startRev`),
   * otherwise unsynced, to catch up from `startRev`.
   */
  watch(key: Uint8Array, end: Uint8Array | undefined, startRev: number, id: number, queue: ResponseQueue, filters: readonly FilterFunc[]): Watcher {
    const w = new Watcher(key, end, startRev, id, queue, filters);
    const synced = startRev > this.currentRev || startRev <= 0;
    if (synced) {
      w.minRev = Math.max(this.currentRev + 1, startRev);
      this.synced.add(w);
    } else {
      this.unsynced.add(w);
      this.scheduleSync(0);
    }
    return w;
  }

  /** Removes `w` from wherever it is (etcd `cancelWatcher`). */
  cancelWatcher(w: Watcher): void {
    if (w.canceled) return;
    if (!this.unsynced.delete(w) && !this.synced.delete(w) && !w.compacted && w.victim) {
      for (const wb of this.victims) {
        if (wb.delete(w)) break;
      }
    }
    w.canceled = true;
  }

  override restore(backend: Backend): void {
    super.restore(backend);
    // synced watchers may be ahead of the restored store: let them catch up again
    for (const w of [...this.synced.watchers]) {
      w.restore = true;
      this.synced.delete(w);
      this.unsynced.add(w);
    }
    this.scheduleSync(0);
  }

  /**
   * Delivers the events of the write txn at `rev` to the synced watchers: one
   * response per watcher. Watchers whose queue is full become victims.
   */
  notify(rev: number, evs: readonly Event[]): void {
    let victim: WatcherBatch | undefined;
    for (const [w, eb] of newWatcherBatch(this.synced, evs)) {
      if (w.send({ watchId: w.id, events: eb.evs, revision: rev, compactRevision: 0 })) continue;
      w.minRev = rev + 1;
      w.victim = true;
      victim ??= new Map();
      victim.set(w, eb);
      this.synced.delete(w);
    }
    this.addVictim(victim);
  }

  private addVictim(victim: WatcherBatch | undefined): void {
    if (!victim || victim.size === 0) return;
    this.victims.push(victim);
    this.scheduleVictims(this.victimRetryMs);
  }

  /** Number of watchers waiting as victims. */
  victimCount(): number {
    let n = 0;
    for (const wb of this.victims) n += wb.size;
    return n;
  }

  /**
   * Retries the pending responses of victims (etcd `moveVictims`). Delivered
   * watchers go back to `unsynced` (still behind) or `synced`. Returns the number
   * delivered.
   */
  moveVictims(): number {
    const victims = this.victims;
    this.victims = [];
    let moved = 0;
    let again: WatcherBatch | undefined;
    for (const wb of victims) {
      for (const [w, eb] of wb) {
        // the watcher has seen the store up to, but not including, minRev
        if (w.send({ watchId: w.id, events: eb.evs, revision: w.minRev - 1, compactRevision: 0 })) {
          moved++;
        } else {
          again ??= new Map();
          again.set(w, eb);
        }
      }
      const curRev = this.currentRev;
      for (const [w, eb] of wb) {
        if (again?.has(w)) continue;
        w.victim = false;
        if (eb.moreRev !== 0) w.minRev = eb.moreRev;
        if (w.minRev <= curRev) this.unsynced.add(w);
        else this.synced.add(w);
      }
    }
    if (again) this.victims.push(again);
    // the watchers moved to unsynced catch up on the unsynced loop's own schedule (etcd)
    return moved;
  }

  /**
   * Catches up to `maxWatchersPerSync` unsynced watchers (etcd `syncWatchers`):
   * reads the key bucket from their lowest minRev to the current revision, sends
   * each its events (one response, revision = current revision), and moves those
   * fully caught up to `synced`. Watchers with a compacted start revision get a
   * compaction response and are dropped. Returns the number still unsynced.
   */
  syncWatchers(): number {
    if (this.unsynced.size() === 0) return 0;
    const curRev = this.currentRev;
    const compactRev = this.compactMainRev;
    const { chosen, minRev } = this.unsynced.choose(this.maxWatchersPerSync, curRev, compactRev);

    const evs = Number.isFinite(minRev) ? this.eventsFromBackend(chosen, minRev, curRev) : [];
    const wb = newWatcherBatch(chosen, evs);
    let victims: WatcherBatch | undefined;
    for (const w of [...chosen.watchers]) {
      w.minRev = curRev + 1;
      const eb = wb.get(w);
      if (!eb) {
        // nothing missed: caught up
        this.unsynced.delete(w);
        this.synced.add(w);
        continue;
      }
      if (eb.moreRev !== 0) w.minRev = eb.moreRev;
      if (!w.send({ watchId: w.id, events: eb.evs, revision: curRev, compactRevision: 0 })) {
        w.victim = true;
        victims ??= new Map();
        victims.set(w, eb);
        this.unsynced.delete(w);
        continue;
      }
      if (eb.moreRev !== 0) continue; // more to read next round
      this.unsynced.delete(w);
      this.synced.add(w);
    }
    this.addVictim(victims);
    return this.unsynced.size();
  }

  /** The events in revisions [minRev, curRev] on keys watched by `group` (etcd `kvsToEvents`). */
  private eventsFromBackend(group: WatcherGroup, minRev: number, curRev: number): Event[] {
    const tx = this.backend().readTx();
    const evs: Event[] = [];
    try {
      const { keys, values } = tx.range(Buckets.key, revToBytes({ main: minRev, sub: 0 }), revToBytes({ main: curRev + 1, sub: 0 }), 0);
      for (let i = 0; i < keys.length; i++) {
        const kv = decodeKeyValue(values[i]!);
        if (!group.contains(kv.key)) continue;
        if (isTombstone(keys[i]!)) {
          kv.modRevision = BigInt(bytesToRev(keys[i]!).main);
          evs.push(create(EventSchema, { type: Event_EventType.DELETE, kv }));
        } else {
          evs.push(create(EventSchema, { type: Event_EventType.PUT, kv }));
        }
      }
    } finally {
      tx.release();
    }
    return evs;
  }

  /** Sends `w` a progress response (no events, the current revision) if it is synced (etcd `progress`). */
  progress(w: Watcher): void {
    if (this.synced.has(w)) w.send({ watchId: w.id, events: [], revision: this.currentRev, compactRevision: 0 });
  }

  /** Sends one progress response with watch ID -1 if all `watchers` are synced (etcd 3.5 `progressAll`). */
  progressAll(watchers: Iterable<Watcher>, queue: ResponseQueue): boolean {
    for (const w of watchers) if (!this.synced.has(w)) return false;
    return queue.trySend({ watchId: -1, events: [], revision: this.currentRev, compactRevision: 0 });
  }

  // ---- background loops ----

  /** (Re)arms the unsynced loop to run in `ms` (if loops are on and it is not due sooner). */
  private scheduleSync(ms: number): void {
    if (!this.loops || this.stopped) return;
    if (this.syncTimer && ms > 0) return;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = setTimeout(() => this.syncLoop(), ms);
    this.syncTimer.unref();
  }

  private syncLoop(): void {
    this.syncTimer = undefined;
    if (this.stopped) return;
    const before = this.unsynced.size();
    const start = performance.now();
    const left = before > 0 ? this.syncWatchers() : 0;
    // more work and progress made: go again after as long as this pass took, else wait
    // for the interval (etcd syncWatchersLoop)
    this.scheduleSync(left > 0 && left < before ? Math.ceil(performance.now() - start) : this.syncIntervalMs);
  }

  private scheduleVictims(ms: number): void {
    if (!this.loops || this.stopped || this.victimTimer) return;
    this.victimTimer = setTimeout(() => {
      this.victimTimer = undefined;
      if (this.stopped) return;
      while (this.victims.length > 0 && this.moveVictims() !== 0) {
        // deliver as much as possible
      }
      if (this.victims.length > 0) this.scheduleVictims(this.victimRetryMs);
    }, ms);
    this.victimTimer.unref();
  }

  override close(): void {
    this.stopped = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    if (this.victimTimer) clearTimeout(this.victimTimer);
    super.close();
  }
}
