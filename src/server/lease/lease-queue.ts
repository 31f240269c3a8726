/**
 * @module server/lease/lease-queue
 * The lessor's two min-heaps ordered by time (etcd lease/lease_queue.go):
 * - {@link LeaseExpiredNotifier}: at most one entry per lease (its expiry),
 *   updated in place when a lease is renewed; polled for expired leases.
 * - {@link LeaseQueue}: a plain heap that may hold several entries per lease,
 *   used for scheduled checkpoints.
 *
 * Ties on `timeMs` are broken by lease ID so that the order is deterministic.
 */

/** A lease ID with a time in ms (an expiry or a checkpoint time). */
export interface LeaseWithTime {
  readonly id: bigint;
  timeMs: number;
}

function less(a: LeaseWithTime, b: LeaseWithTime): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.id < b.id);
}

/** A binary min-heap of {@link LeaseWithTime} (etcd `LeaseQueue`); duplicates allowed. */
export class LeaseQueue {
  protected readonly items: LeaseWithTime[] = [];

  /** Number of entries. */
  len(): number {
    return this.items.length;
  }

  /** The earliest entry, or undefined if empty. */
  peek(): LeaseWithTime | undefined {
    return this.items[0];
  }

  /** Adds an entry. */
  push(item: LeaseWithTime): void {
    this.items.push(item);
    this.moved(item, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  /** Removes and returns the earliest entry, or undefined if empty. */
  pop(): LeaseWithTime | undefined {
    return this.removeAt(0);
  }

  /** Removes every entry. */
  clear(): void {
    this.items.length = 0;
  }

  /** Removes the entry at heap position `i`. */
  protected removeAt(i: number): LeaseWithTime | undefined {
    const n = this.items.length;
    if (i >= n) return undefined;
    const item = this.items[i]!;
    const last = this.items.pop()!;
    if (i < n - 1) {
      this.items[i] = last;
      this.moved(last, i);
      this.fix(i);
    }
    this.removed(item);
    return item;
  }

  /** Restores the heap order around position `i` after its time changed. */
  protected fix(i: number): void {
    if (!this.down(i)) this.up(i);
  }

  /** Hook: `item` is now at position `i`. */
  protected moved(_item: LeaseWithTime, _i: number): void {}

  /** Hook: `item` left the heap. */
  protected removed(_item: LeaseWithTime): void {}

  private swap(i: number, j: number): void {
    const a = this.items[i]!;
    const b = this.items[j]!;
    this.items[i] = b;
    this.items[j] = a;
    this.moved(b, i);
    this.moved(a, j);
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(this.items[i]!, this.items[p]!)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Sifts down; true if the item moved. */
  private down(i0: number): boolean {
    let i = i0;
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let m = l;
      const r = l + 1;
      if (r < n && less(this.items[r]!, this.items[l]!)) m = r;
      if (!less(this.items[m]!, this.items[i]!)) break;
      this.swap(i, m);
      i = m;
    }
    return i > i0;
  }
}

/**
 * The expiry heap (etcd `LeaseExpiredNotifier`): one entry per lease ID,
 * re-registering a lease updates its time in O(log n).
 */
export class LeaseExpiredNotifier extends LeaseQueue {
  private readonly pos = new Map<bigint, number>();

  /** Sets the time of `id` to `timeMs`, adding it if absent. */
  registerOrUpdate(id: bigint, timeMs: number): void {
    const i = this.pos.get(id);
    if (i === undefined) {
      this.push({ id, timeMs });
      return;
    }
    this.items[i]!.timeMs = timeMs;
    this.fix(i);
  }

  /** Removes the entry of `id`, if any. */
  unregister(id: bigint): void {
    const i = this.pos.get(id);
    if (i !== undefined) this.removeAt(i);
  }

  /** True if `id` has an entry. */
  has(id: bigint): boolean {
    return this.pos.has(id);
  }

  override push(item: LeaseWithTime): void {
    if (this.pos.has(item.id)) {
      this.registerOrUpdate(item.id, item.timeMs);
      return;
    }
    super.push(item);
  }

  override clear(): void {
    super.clear();
    this.pos.clear();
  }

  protected override moved(item: LeaseWithTime, i: number): void {
    this.pos.set(item.id, i);
  }

  protected override removed(item: LeaseWithTime): void {
    this.pos.delete(item.id);
  }
}
