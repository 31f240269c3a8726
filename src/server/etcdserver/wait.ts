/**
 * Wait: proposals waiting for their entry to be applied, keyed by request ID
 * (etcd pkg/wait), and waiters for the applied index to reach a value
 * (etcd pkg/wait WaitTime).
 */
import { SlotMap } from '../../util/slot-map.js';

/** Registry of pending proposals. */
export class Wait<T> {
  /** Waiters by request ID; a SlotMap, so a finished waiter is not kept alive (util/slot-map.ts). */
  private readonly pending = new SlotMap<bigint, (v: T) => void>();

  /** Registers `id`; the promise resolves with what {@link trigger} passes. Throws if `id` is already registered. */
  register(id: bigint): Promise<T> {
    let resolve!: (v: T) => void;
    const p = new Promise<T>((r) => (resolve = r));
    this.listen(id, resolve);
    return p;
  }

  /**
   * Registers `id` with a callback instead of a promise: {@link trigger} calls `fn` once
   * with its value (the proposal path, which settles a promise of its own). Throws if `id`
   * is already registered.
   */
  listen(id: bigint, fn: (v: T) => void): void {
    if (this.pending.has(id)) throw new Error(`dup id ${id.toString(16)}`);
    this.pending.set(id, fn);
  }

  /** Resolves `id`'s waiter with `v` (no-op if nobody waits, e.g. an entry proposed by another member). */
  trigger(id: bigint, v: T): void {
    const f = this.pending.take(id);
    if (f) f(v);
  }

  isRegistered(id: bigint): boolean {
    return this.pending.has(id);
  }

  /** Resolves every waiter with `v(id)` (server stop or fatal error). */
  triggerAll(v: (id: bigint) => T): void {
    for (const [id, f] of this.pending.drain()) f(v(id));
  }

  get size(): number {
    return this.pending.size;
  }
}

/** Waiters for a monotonically increasing index (the applied index). */
export class WaitIndex {
  private waiters: { index: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private current = 0;
  private failed: unknown;

  /** Resolves once the index reaches `index` (at once if it already has); rejects after {@link fail}. */
  wait(index: number): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    if (index <= this.current) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ index, resolve, reject }));
  }

  /** Records that the index reached `index`, resolving the waiters at or below it. */
  trigger(index: number): void {
    if (index <= this.current) return;
    this.current = index;
    if (this.waiters.length === 0) return;
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.index <= index) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  /** Rejects every waiter, now and later, with `err`. */
  fail(err: unknown): void {
    this.failed = err;
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) w.reject(err);
  }
}
