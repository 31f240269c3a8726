/**
 * @module server/mvcc/watcher-group
 * Sets of watchers indexed for event lookup, and per-watcher event batches
 * (etcd mvcc/watcher_group.go).
 *
 * Single-key watchers are found by a map from key to watchers. Range watchers
 * are grouped by identical range and found by scanning the ranges: etcd uses an
 * interval tree here, which only matters with very many distinct ranges.
 */

import type { Event } from '../../gen/mvccpb/kv_pb.js';
import { MvccInvariantError } from './errors.js';
import type { Watcher } from './watcher.js';

const latin1 = new TextDecoder('latin1');
/** A byte string as a Map key (one char per byte). */
const keyString = (k: Uint8Array): string => latin1.decode(k);

/** Tunables, mutable so that tests can change them (etcd: "non-const so modifiable by tests"). */
export const watchTunables = {
  /** Maximum distinct revisions sent to an unsynced watcher in one response (etcd watchBatchMaxRevs, 1000). */
  watchBatchMaxRevs: 1000,
};

/** Events for one watcher, in revision order, covering at most `watchBatchMaxRevs` revisions. */
export class EventBatch {
  /** The events. */
  readonly evs: Event[] = [];
  /** Number of distinct revisions in `evs`. */
  revs = 0;
  /** If the batch is full: the first revision left out (the watcher continues from there); else 0. */
  moreRev = 0;

  /** Appends `ev` unless the batch is full (see `moreRev`). */
  add(ev: Event): void {
    if (this.revs > watchTunables.watchBatchMaxRevs) return;
    if (this.evs.length === 0) {
      this.revs = 1;
      this.evs.push(ev);
      return;
    }
    const lastRev = this.evs[this.evs.length - 1]!.kv!.modRevision;
    const evRev = ev.kv!.modRevision;
    if (evRev > lastRev) {
      this.revs++;
      if (this.revs > watchTunables.watchBatchMaxRevs) {
        this.moreRev = Number(evRev);
        return;
      }
    }
    this.evs.push(ev);
  }
}

/** Event batches by watcher (etcd `watcherBatch`). */
export type WatcherBatch = Map<Watcher, EventBatch>;

/**
 * Maps each watcher of `group` to the events of `evs` it wants: those on its
 * key or range with mod_revision >= its minRev (so nothing is delivered twice).
 */
export function newWatcherBatch(group: WatcherGroup, evs: readonly Event[]): WatcherBatch {
  const wb: WatcherBatch = new Map();
  if (group.size() === 0) return wb;
  for (const ev of evs) {
    const rev = Number(ev.kv!.modRevision);
    for (const w of group.watchersOf(ev.kv!.key)) {
      if (rev < w.minRev) continue;
      let eb = wb.get(w);
      if (!eb) {
        eb = new EventBatch();
        wb.set(w, eb);
      }
      eb.add(ev);
    }
  }
  return wb;
}

/** Watchers of one identical range. */
interface RangeEntry {
  readonly key: Uint8Array;
  readonly end: Uint8Array;
  readonly watchers: Set<Watcher>;
}

/** A set of watchers indexed by key and range (etcd `watcherGroup`). */
export class WatcherGroup {
  private readonly keyWatchers = new Map<string, Set<Watcher>>();
  private readonly ranges = new Map<string, RangeEntry>();
  /** All watchers of the group. */
  readonly watchers = new Set<Watcher>();

  /** Adds `w`; throws {@link MvccInvariantError} if it is already in the group. */
  add(w: Watcher): void {
    if (this.watchers.has(w)) throw new MvccInvariantError('mvcc: add watcher twice');
    this.watchers.add(w);
    if (w.end === undefined) {
      const k = keyString(w.key);
      let set = this.keyWatchers.get(k);
      if (!set) {
        set = new Set();
        this.keyWatchers.set(k, set);
      }
      set.add(w);
      return;
    }
    const rk = rangeKey(w.key, w.end);
    let entry = this.ranges.get(rk);
    if (!entry) {
      entry = { key: w.key, end: w.end, watchers: new Set() };
      this.ranges.set(rk, entry);
    }
    entry.watchers.add(w);
  }

  /** Removes `w`; returns false if it was not in the group. */
  delete(w: Watcher): boolean {
    if (!this.watchers.delete(w)) return false;
    if (w.end === undefined) {
      const k = keyString(w.key);
      const set = this.keyWatchers.get(k);
      set?.delete(w);
      if (set && set.size === 0) this.keyWatchers.delete(k);
      return true;
    }
    const rk = rangeKey(w.key, w.end);
    const entry = this.ranges.get(rk);
    entry?.watchers.delete(w);
    if (entry && entry.watchers.size === 0) this.ranges.delete(rk);
    return true;
  }

  /** True if `w` is in the group. */
  has(w: Watcher): boolean {
    return this.watchers.has(w);
  }

  /** Number of watchers. */
  size(): number {
    return this.watchers.size;
  }

  /** True if some watcher of the group watches `key`. */
  contains(key: Uint8Array): boolean {
    if (this.keyWatchers.has(keyString(key))) return true;
    for (const e of this.ranges.values()) {
      const w = e.watchers.values().next().value;
      if (w && w.matches(key)) return true;
    }
    return false;
  }

  /** The watchers that watch `key` (on the key itself or on a range holding it). */
  watchersOf(key: Uint8Array): Set<Watcher> {
    const direct = this.keyWatchers.get(keyString(key));
    let out: Set<Watcher> | undefined;
    for (const e of this.ranges.values()) {
      const first = e.watchers.values().next().value;
      if (!first || !first.matches(key)) continue;
      if (!out) out = new Set(direct);
      for (const w of e.watchers) out.add(w);
    }
    return out ?? direct ?? EMPTY_SET;
  }

  /**
   * Picks up to `maxWatchers` watchers to catch up (etcd `choose`/`chooseAll`).
   * Watchers whose minRev is below `compactRev` get a compaction response and
   * leave this group and the chosen one (a watcher whose queue is full is retried
   * next time). Returns the chosen watchers and the lowest minRev among them
   * (Infinity if none).
   */
  choose(maxWatchers: number, curRev: number, compactRev: number): { chosen: WatcherGroup; minRev: number } {
    let chosen: WatcherGroup = this;
    if (this.watchers.size >= maxWatchers) {
      chosen = new WatcherGroup();
      for (const w of this.watchers) {
        if (chosen.size() >= maxWatchers) break;
        chosen.add(w);
      }
    }
    let minRev = Infinity;
    for (const w of [...chosen.watchers]) {
      if (w.minRev > curRev) {
        // after a restore a synced watcher may be ahead of the restored store
        if (!w.restore) throw new MvccInvariantError(`mvcc: watcher minimum revision ${w.minRev} should not exceed current revision ${curRev}`);
        w.restore = false;
      }
      if (w.minRev < compactRev) {
        if (w.queue.trySend({ watchId: w.id, events: [], revision: 0, compactRevision: compactRev })) {
          w.compacted = true;
          chosen.delete(w);
          if (chosen !== this) this.delete(w);
        }
        continue;
      }
      if (w.minRev < minRev) minRev = w.minRev;
    }
    return { chosen, minRev };
  }
}

const EMPTY_SET: Set<Watcher> = new Set();

/** Map key of a range (lengths keep it unambiguous). */
function rangeKey(key: Uint8Array, end: Uint8Array): string {
  return `${key.length}:${keyString(key)}${keyString(end)}`;
}
