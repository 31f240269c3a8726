/**
 * @module util/slot-map
 * A Map for entries that come and go quickly (a request's waiter, from proposal to
 * apply) that does not keep removed values alive.
 *
 * Why: when a JS Map grows or is compacted, V8 copies its entries to a new hash table
 * and leaves the old table behind with the entries still in it. A table that lives in
 * the old generation is replaced by another one there, and until the next full (mark-
 * compact) collection the abandoned table holds every value it had, with everything
 * those values reference: for a waiter, the request, its promise, its call and stream.
 * Young-generation collections treat such references as live, so each rehash promoted
 * about a hundred in-flight requests' object graphs. Measured on a put load (100 in
 * flight): 45 % of the bytes allocated survived young collections, and the scavenges
 * took 13 % of the event loop (bench/README.md, "Request objects kept by Map tables").
 *
 * Here the Map holds a small slot per key; removing the key empties the slot first, so
 * an abandoned table keeps only empty slots.
 */

/** A value's holder; `v` is undefined once the key is removed. */
interface Slot<V> {
  v: V | undefined;
}

/** A Map<K, V> whose removed values are not kept alive by old hash tables; see the module comment. */
export class SlotMap<K, V> {
  private readonly m = new Map<K, Slot<V>>();

  get size(): number {
    return this.m.size;
  }

  has(k: K): boolean {
    return this.m.has(k);
  }

  get(k: K): V | undefined {
    return this.m.get(k)?.v;
  }

  /** Sets `k` to `v` (replacing an earlier value). `v` must not be undefined. */
  set(k: K, v: V): void {
    const s = this.m.get(k);
    if (s) s.v = v;
    else this.m.set(k, { v });
  }

  /** Removes `k` and returns its value (undefined if absent). */
  take(k: K): V | undefined {
    const s = this.m.get(k);
    if (s === undefined) return undefined;
    this.m.delete(k);
    const v = s.v;
    s.v = undefined;
    return v;
  }

  /** The values, in insertion order (live: do not add or remove keys while iterating). */
  *values(): IterableIterator<V> {
    for (const s of this.m.values()) yield s.v as V;
  }

  /** Removes every entry and returns them, in insertion order. */
  drain(): Array<[K, V]> {
    const out: Array<[K, V]> = [];
    for (const [k, s] of this.m) {
      out.push([k, s.v as V]);
      s.v = undefined;
    }
    this.m.clear();
    return out;
  }
}
