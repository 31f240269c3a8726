/**
 * @module server/lease/lessor
 * Leases: grant, revoke, renew, attach keys, expire, checkpoint (etcd
 * lease/lessor.go, 3.4 semantics).
 *
 * How the pieces fit:
 * - Every member keeps the same set of leases; grant, revoke and checkpoint are
 *   applied from the raft log on every member. Only the **primary** lessor (the
 *   leader's, after {@link Lessor.promote}) tracks expiry times; the others keep
 *   every lease "forever" until promoted.
 * - The lessor never revokes anything by itself. The server loop asks the
 *   primary for {@link Lessor.expiredLeases} and proposes a `LeaseRevoke` for
 *   each through raft; applying it calls {@link Lessor.revoke}. Likewise
 *   {@link Lessor.dueCheckpoints} gives the `LeaseCheckpoint`s to propose and
 *   {@link Lessor.checkpoint} applies them.
 * - Keys are deleted through an injected {@link RangeDeleter}, so this package
 *   never imports mvcc; the mvcc store reaches the lessor through its own
 *   `LeaseAttacher` interface, which {@link Lessor} satisfies structurally.
 * - Time comes from an injected {@link Clock}.
 * - Leases are stored in the backend `lease` bucket (format in leasepb.ts) and
 *   reloaded when a lessor is created on an existing backend: the TTL left is
 *   the last checkpointed remaining TTL if there is one, else the full TTL, and
 *   it starts counting when the lessor is promoted.
 *
 * Worked example (min TTL 2 s, primary, clock at 0): `grant(1n, 1)` stores a
 * lease with TTL 2 expiring at 2000 ms; at 1500 ms `renew(1n)` answers 2 and
 * moves the expiry to 3500 ms; at 3500 ms `expiredLeases()` returns lease 1;
 * the leader proposes LeaseRevoke(1) and, once applied, `revoke(1n)` deletes
 * its keys and its record in one backend transaction.
 */

import { Buckets, type Backend } from '../backend/backend.js';
import type { Clock } from '../../util/clock.js';
import { ErrLeaseExists, ErrLeaseNotFound, ErrLeaseTTLTooLarge, ErrNotPrimary, MAX_LEASE_TTL } from './errors.js';
import { LeaseExpiredNotifier, LeaseQueue } from './lease-queue.js';
import { bytesToLeaseId, decodeLeaseRecord, encodeLeaseRecord, leaseIdToBytes } from './leasepb.js';

/** The lease ID meaning "no lease" (etcd `NoLease`). */
export const NO_LEASE = 0n;

/**
 * The write transaction a {@link RangeDeleter} opens (the part of mvcc's
 * `TxnWrite` the lessor needs). Defined here to avoid a dependency on mvcc,
 * as etcd's `lease.TxnDelete`.
 */
export interface TxnDelete {
  /** Deletes the single key `key` when `end` is undefined. */
  deleteRange(key: Uint8Array, end: Uint8Array | undefined): unknown;
  /** Ends (commits to the backend's batch tx and unlocks) the transaction. */
  end(): void;
}

/**
 * Opens the mvcc write transaction revoke deletes keys in (etcd
 * `RangeDeleter`). While it is open the backend's batch tx is locked by it, and
 * the lessor deletes the lease record in that same transaction.
 */
export type RangeDeleter = () => TxnDelete;

/** One checkpoint of a lease's remaining TTL (etcd `pb.LeaseCheckpoint`). */
export interface LeaseCheckpoint {
  readonly id: bigint;
  /** Remaining TTL in seconds; 0 clears a checkpoint. */
  readonly remainingTtl: number;
}

/**
 * Proposes checkpoints through raft (etcd `Checkpointer`). The lessor calls it
 * only from {@link Lessor.renew}, to clear a checkpoint; scheduled checkpoints
 * are pulled with {@link Lessor.dueCheckpoints}.
 */
export type Checkpointer = (checkpoints: LeaseCheckpoint[]) => void;

/** A read-only view of a lease. */
export interface LeaseInfo {
  readonly id: bigint;
  /** The granted TTL in seconds (at least the minimum TTL). */
  readonly ttl: number;
  /** The last checkpointed remaining TTL in seconds (0: none). */
  readonly checkpointedTtl: number;
  /**
   * The TTL the lease restarts from on promote/refresh: the checkpointed
   * remaining TTL if set, else {@link ttl} (etcd `RemainingTTL()`).
   */
  readonly remainingTtl: number;
  /** Expiry time in clock ms; `Infinity` when not tracked (non-primary). */
  readonly expiryMs: number;
  /** Ms left before expiry (may be <= 0); `Infinity` when not tracked. */
  remainingMs(): number;
  /** The attached keys, in byte order. */
  keys(): Uint8Array[];
}

/** Configuration of a {@link Lessor} (etcd `LessorConfig`). */
export interface LessorConfig {
  /** Where leases are persisted (bucket `lease`). */
  readonly backend: Backend;
  /** Time source. */
  readonly clock: Clock;
  /** Granted TTLs below this (seconds) are raised to it; see {@link minLeaseTtl}. Default 0. */
  readonly minLeaseTtl?: number;
  /** How often a long lease's remaining TTL is checkpointed, in ms (default 5 min). */
  readonly checkpointIntervalMs?: number;
  /**
   * Schedule checkpoints at all (etcd: only with a Checkpointer, i.e.
   * `--experimental-enable-lease-checkpoint`). Default true.
   */
  readonly checkpointing?: boolean;
  /**
   * Persist checkpointed remaining TTLs to the backend so they survive a
   * restart (etcd 3.6 behaviour; etcd 3.4 only with checkpointPersist). Default true.
   */
  readonly checkpointPersist?: boolean;
  /** After reporting an expired lease, wait this long (ms) before reporting it again (default 3000). */
  readonly expiredLeaseRetryIntervalMs?: number;
  /** Leases revoked per second the promote spreading aims below (etcd `leaseRevokeRate`, default 1000). */
  readonly leaseRevokeRate?: number;
}

/** etcd's default checkpoint interval: 5 minutes. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60 * 1000;
/** etcd's default interval before re-reporting an expired lease: 3 s. */
export const DEFAULT_EXPIRED_LEASE_RETRY_INTERVAL_MS = 3000;
/** etcd's `leaseRevokeRate`: maximum leases to revoke per second. */
export const DEFAULT_LEASE_REVOKE_RATE = 1000;

/**
 * The minimum lease TTL in seconds for an election timeout, as etcd's server
 * computes it: `ceil(((3 * electionTicks) / 2) * heartbeatMs / 1000)`, i.e.
 * 1.5 election timeouts rounded up to whole seconds, with the tick product
 * divided in integers as Go does (`(3*ElectionTicks)/2`). Defaults (10 ticks,
 * 100 ms) give 2 s. A lease must outlive a leader election, or it could expire
 * while no leader can renew it.
 */
export function minLeaseTtl(electionTicks: number, heartbeatMs: number): number {
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * heartbeatMs) / 1000);
}

/** Go's math.MaxInt64 nanoseconds in whole seconds: what etcd answers for a lease whose expiry is not tracked. */
export const FOREVER_SECONDS = 9223372036n;

/**
 * The remaining TTL etcd reports for a lease (v3_server.go LeaseTimeToLive:
 * `int64(le.Remaining().Seconds())`): the time left truncated toward zero to
 * whole seconds, so a 100 s lease reads 99 right after its grant, and a lease
 * past its expiry but not revoked yet reads 0 (then -1, -2, ...). A lease whose
 * expiry is not tracked (lessor not promoted yet) has Remaining() = MaxInt64 ns,
 * i.e. {@link FOREVER_SECONDS}.
 */
export function remainingSeconds(remainingMs: number): bigint {
  if (remainingMs === Infinity) return FOREVER_SECONDS;
  return BigInt(Math.trunc(remainingMs / 1000));
}

/** Internal mutable lease state. */
class Lease implements LeaseInfo {
  /** The keys attached, by their latin1 string form (1:1 with bytes, sorts in byte order). */
  readonly items = new Map<string, Uint8Array>();
  expiryMs = Infinity;
  checkpointedTtl = 0;
  /** Pending renew calls waiting for this (expired) lease to be revoked. */
  readonly revokeWaiters: (() => void)[] = [];

  constructor(
    readonly id: bigint,
    public ttl: number,
    private readonly clock: Clock,
  ) {}

  get remainingTtl(): number {
    return this.checkpointedTtl > 0 ? this.checkpointedTtl : this.ttl;
  }

  remainingMs(): number {
    return this.expiryMs === Infinity ? Infinity : this.expiryMs - this.clock.nowMs();
  }

  expired(): boolean {
    return this.remainingMs() <= 0;
  }

  /** Expiry := now + extend + remainingTtl (etcd `refresh`). */
  refresh(extendMs: number): void {
    this.expiryMs = this.clock.nowMs() + extendMs + this.remainingTtl * 1000;
  }

  keys(): Uint8Array[] {
    return [...this.items.keys()].sort().map((k) => this.items.get(k)!.slice());
  }
}

/** The byte-order-preserving string form of a key. */
function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

/**
 * The lessor (etcd `lessor`). All methods are synchronous except
 * {@link renew}, which may wait for a pending revocation, as etcd does.
 */
export class Lessor {
  private backend: Backend;
  private readonly clock: Clock;
  private readonly minTtl: number;
  private readonly checkpointIntervalMs: number;
  private readonly checkpointing: boolean;
  private readonly checkpointPersist: boolean;
  private readonly retryMs: number;
  private readonly revokeRate: number;
  private readonly leaseMap = new Map<bigint, Lease>();
  /** key (latin1) → lease ID. */
  private readonly itemMap = new Map<string, bigint>();
  private readonly expiredNotifier = new LeaseExpiredNotifier();
  private readonly checkpointHeap = new LeaseQueue();
  private rd: RangeDeleter | undefined;
  private cp: Checkpointer | undefined;
  private primary = false;
  /** Renew calls waiting on an expired lease; told on demote/close. */
  private demoteWaiters: (() => void)[] = [];
  private closed = false;

  /**
   * Creates the lessor and loads the leases stored in `cfg.backend` (etcd
   * `NewLessor` + `initAndRecover`). It starts as a non-primary.
   */
  constructor(cfg: LessorConfig) {
    this.backend = cfg.backend;
    this.clock = cfg.clock;
    this.minTtl = cfg.minLeaseTtl ?? 0;
    this.checkpointIntervalMs = cfg.checkpointIntervalMs || DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.checkpointing = cfg.checkpointing ?? true;
    this.checkpointPersist = cfg.checkpointPersist ?? true;
    this.retryMs = cfg.expiredLeaseRetryIntervalMs || DEFAULT_EXPIRED_LEASE_RETRY_INTERVAL_MS;
    this.revokeRate = cfg.leaseRevokeRate || DEFAULT_LEASE_REVOKE_RATE;
    this.initAndRecover();
  }

  /** Sets the function revoke uses to delete keys (etcd `SetRangeDeleter`). */
  setRangeDeleter(rd: RangeDeleter): void {
    this.rd = rd;
  }

  /** Sets the function renew uses to propose clearing a checkpoint (etcd `SetCheckpointer`). */
  setCheckpointer(cp: Checkpointer): void {
    this.cp = cp;
  }

  /** The minimum TTL in seconds. */
  minLeaseTtl(): number {
    return this.minTtl;
  }

  /** True after {@link promote} and before {@link demote}. */
  isPrimary(): boolean {
    return this.primary;
  }

  /**
   * Creates lease `id` with `ttlSeconds` (raised to the minimum TTL) and stores
   * it. On the primary its expiry starts now. Throws {@link ErrLeaseNotFound}
   * for ID 0, {@link ErrLeaseTTLTooLarge} above {@link MAX_LEASE_TTL} and
   * {@link ErrLeaseExists} if the ID is taken.
   */
  grant(id: bigint, ttlSeconds: number): LeaseInfo {
    if (id === NO_LEASE) throw new ErrLeaseNotFound();
    if (ttlSeconds > MAX_LEASE_TTL) throw new ErrLeaseTTLTooLarge();
    if (this.leaseMap.has(id)) throw new ErrLeaseExists();
    const l = new Lease(id, Math.max(ttlSeconds, this.minTtl), this.clock);
    if (this.primary) l.refresh(0);
    this.leaseMap.set(id, l);
    this.persist(l);
    if (this.primary) {
      this.expiredNotifier.registerOrUpdate(l.id, l.expiryMs);
      this.scheduleCheckpointIfNeeded(l);
    }
    return l;
  }

  /**
   * Removes lease `id`: deletes its attached keys (in byte order, so every
   * member writes the same history) and its backend record in one write
   * transaction opened with the {@link RangeDeleter}. Renew calls waiting on
   * the lease then fail with {@link ErrLeaseNotFound}. Throws
   * {@link ErrLeaseNotFound} if there is no such lease.
   */
  revoke(id: bigint): void {
    const l = this.leaseMap.get(id);
    if (!l) throw new ErrLeaseNotFound();
    const keys = l.keys(); // sorted
    if (this.rd) {
      const txn = this.rd();
      try {
        for (const k of keys) txn.deleteRange(k, undefined);
        this.forget(l);
        // the txn holds the batch tx lock: the record goes in the same transaction
        this.backend.batchTx().delete(Buckets.lease, leaseIdToBytes(id));
      } finally {
        txn.end();
      }
    } else {
      this.forget(l);
      const tx = this.backend.batchTx();
      tx.lock();
      try {
        tx.delete(Buckets.lease, leaseIdToBytes(id));
      } finally {
        tx.unlock();
      }
    }
    for (const w of l.revokeWaiters.splice(0)) w();
  }

  /**
   * Applies a checkpoint: remembers `remainingTtlSeconds` as the TTL the lease
   * restarts from on the next promote (and persists it unless disabled).
   * Unknown leases are ignored, as in etcd.
   */
  checkpoint(id: bigint, remainingTtlSeconds: number): void {
    const l = this.leaseMap.get(id);
    if (!l) return;
    l.checkpointedTtl = remainingTtlSeconds;
    if (this.checkpointPersist) this.persist(l);
    if (this.primary) this.scheduleCheckpointIfNeeded(l);
  }

  /**
   * Renews lease `id` on the primary and resolves to its TTL in seconds. If
   * the lease is already expired it waits, like etcd: for its revocation
   * (rejects with {@link ErrLeaseNotFound}) or for a demotion/close (rejects
   * with {@link ErrNotPrimary}, the client retries on the new leader). Rejects
   * with {@link ErrNotPrimary} on a non-primary and {@link ErrLeaseNotFound}
   * for an unknown lease. A checkpointed remaining TTL is cleared through the
   * {@link Checkpointer}.
   */
  async renew(id: bigint): Promise<number> {
    if (!this.primary) throw new ErrNotPrimary();
    const l = this.leaseMap.get(id);
    if (!l) throw new ErrLeaseNotFound();
    const clearCheckpoint = this.cp !== undefined && l.checkpointedTtl > 0;
    if (l.expired()) {
      await new Promise<void>((_resolve, reject) => {
        l.revokeWaiters.push(() => reject(new ErrLeaseNotFound()));
        this.demoteWaiters.push(() => reject(new ErrNotPrimary()));
      });
    }
    if (clearCheckpoint) this.cp!([{ id, remainingTtl: 0 }]);
    l.refresh(0);
    this.expiredNotifier.registerOrUpdate(l.id, l.expiryMs);
    return l.ttl;
  }

  /** The lease `id`, or undefined. */
  lookup(id: bigint): LeaseInfo | undefined {
    return this.leaseMap.get(id);
  }

  /** All leases, soonest expiry first (ties by ID). */
  leases(): LeaseInfo[] {
    return [...this.leaseMap.values()].sort((a, b) => a.expiryMs - b.expiryMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The lease `key` is attached to, or 0n (etcd `GetLease`). */
  getLease(key: Uint8Array): bigint {
    return this.itemMap.get(keyString(key)) ?? NO_LEASE;
  }

  /** Attaches `keys` to lease `id`; throws {@link ErrLeaseNotFound} if it does not exist. */
  attach(id: bigint, keys: Uint8Array[]): void {
    const l = this.leaseMap.get(id);
    if (!l) throw new ErrLeaseNotFound();
    for (const k of keys) {
      const s = keyString(k);
      l.items.set(s, k.slice());
      this.itemMap.set(s, id);
    }
  }

  /**
   * Detaches `keys` from lease `id`. An unknown lease is ignored (etcd returns
   * ErrLeaseNotFound, which its only caller, mvcc, just logs).
   */
  detach(id: bigint, keys: Uint8Array[]): void {
    const l = this.leaseMap.get(id);
    if (!l) return;
    for (const k of keys) {
      const s = keyString(k);
      l.items.delete(s);
      if (this.itemMap.get(s) === id) this.itemMap.delete(s);
    }
  }

  /**
   * Makes this lessor the primary (this member became leader): every lease's
   * expiry restarts at now + `extendMs` + its remaining TTL, so that none
   * expires because of the election (the server passes the election timeout).
   * With many leases, expiries that would pile up are spread out so that at
   * most 3/4 of the revoke rate expire per second, as etcd does.
   */
  promote(extendMs: number): void {
    this.primary = true;
    for (const l of this.leaseMap.values()) {
      l.refresh(extendMs);
      this.expiredNotifier.registerOrUpdate(l.id, l.expiryMs);
      this.scheduleCheckpointIfNeeded(l);
    }
    if (this.leaseMap.size < this.revokeRate) return; // no possibility of pile-up

    const leases = this.leases() as Lease[];
    let baseWindow = leases[0]!.remainingMs();
    let nextWindow = baseWindow + 1000;
    let expires = 0;
    const targetExpiresPerSecond = Math.floor((3 * this.revokeRate) / 4);
    for (const l of leases) {
      const remaining = l.remainingMs();
      if (remaining > nextWindow) {
        baseWindow = remaining;
        nextWindow = baseWindow + 1000;
        expires = 1;
        continue;
      }
      expires++;
      if (expires <= targetExpiresPerSecond) continue;
      // if leases are extended by n seconds, leases n seconds ahead of the base window are extended by only one second
      const delay = 1000 * (expires / targetExpiresPerSecond) - (remaining - baseWindow);
      nextWindow = baseWindow + delay;
      l.refresh(delay + extendMs);
      this.expiredNotifier.registerOrUpdate(l.id, l.expiryMs);
      this.scheduleCheckpointIfNeeded(l);
    }
  }

  /**
   * Makes this lessor a non-primary (leadership lost): expiries are no longer
   * tracked (every lease lasts until promoted again), scheduled checkpoints are
   * dropped, and pending renew calls fail with {@link ErrNotPrimary}.
   */
  demote(): void {
    for (const l of this.leaseMap.values()) l.expiryMs = Infinity;
    this.checkpointHeap.clear();
    this.expiredNotifier.clear();
    this.primary = false;
    this.notifyDemoted();
  }

  /**
   * Up to `limit` expired leases (limit <= 0: no limit), earliest first; empty
   * on a non-primary. The caller proposes a LeaseRevoke for each. A reported
   * lease is reported again only after the retry interval, in case its
   * revocation got lost (etcd `findExpiredLeases`).
   */
  expiredLeases(limit = DEFAULT_LEASE_REVOKE_RATE / 2): LeaseInfo[] {
    const out: LeaseInfo[] = [];
    if (!this.primary) return out;
    const now = this.clock.nowMs();
    for (;;) {
      const item = this.expiredNotifier.peek();
      if (!item) break;
      const l = this.leaseMap.get(item.id);
      if (!l) {
        this.expiredNotifier.unregister(item.id);
        continue;
      }
      if (now < item.timeMs) break;
      this.expiredNotifier.registerOrUpdate(l.id, now + this.retryMs);
      if (l.expired()) {
        out.push(l);
        if (out.length === limit) break;
      }
    }
    return out;
  }

  /**
   * Up to `limit` checkpoints that are due (etcd `findDueScheduledCheckpoints`):
   * for each lease whose checkpoint time has come and that is neither expired
   * nor untouched, its remaining TTL in whole seconds (rounded up). The caller
   * proposes them as one LeaseCheckpoint request; applying it calls
   * {@link checkpoint}. Empty unless primary with checkpointing enabled.
   */
  dueCheckpoints(limit = 1000): LeaseCheckpoint[] {
    const cps: LeaseCheckpoint[] = [];
    if (!this.primary || !this.checkpointing) return cps;
    const now = this.clock.nowMs();
    while (cps.length < limit) {
      const item = this.checkpointHeap.peek();
      if (!item || item.timeMs > now) break;
      this.checkpointHeap.pop();
      const l = this.leaseMap.get(item.id);
      if (!l || !(now < l.expiryMs)) continue;
      const remainingTtl = Math.ceil((l.expiryMs - now) / 1000);
      if (remainingTtl >= l.ttl) continue;
      cps.push({ id: l.id, remainingTtl });
    }
    return cps;
  }

  /**
   * Replaces the backend (after a snapshot was installed) and reloads all
   * leases from it (etcd `Recover`), without their keys: the mvcc store must
   * restore from the same backend afterwards, which attaches the keys again
   * (etcd applySnapshot: lessor.Recover, then kv.Restore). Never call it at
   * start, after the store was created: the leases would lose their keys. The
   * lessor keeps its primary flag, but expiries start again at the next promote.
   */
  recover(backend: Backend, rd?: RangeDeleter): void {
    this.backend = backend;
    if (rd) this.rd = rd;
    this.leaseMap.clear();
    this.itemMap.clear();
    this.expiredNotifier.clear();
    this.checkpointHeap.clear();
    this.initAndRecover();
  }

  /** Stops the lessor: pending renew calls fail with {@link ErrNotPrimary}. */
  close(): void {
    this.closed = true;
    this.notifyDemoted();
  }

  /** True after {@link close}. */
  isClosed(): boolean {
    return this.closed;
  }

  private notifyDemoted(): void {
    const ws = this.demoteWaiters;
    this.demoteWaiters = [];
    for (const w of ws) w();
    for (const l of this.leaseMap.values()) l.revokeWaiters.length = 0;
  }

  /** Drops `l` from the in-memory maps. */
  private forget(l: Lease): void {
    for (const s of l.items.keys()) if (this.itemMap.get(s) === l.id) this.itemMap.delete(s);
    this.leaseMap.delete(l.id);
    this.expiredNotifier.unregister(l.id);
  }

  private scheduleCheckpointIfNeeded(l: Lease): void {
    if (!this.checkpointing) return;
    if (l.remainingTtl * 1000 > this.checkpointIntervalMs) {
      this.checkpointHeap.push({ id: l.id, timeMs: this.clock.nowMs() + this.checkpointIntervalMs });
    }
  }

  /** Writes `l`'s record in its own batch transaction (etcd `persistTo`). */
  private persist(l: Lease): void {
    const tx = this.backend.batchTx();
    tx.lock();
    try {
      tx.put(
        Buckets.lease,
        leaseIdToBytes(l.id),
        encodeLeaseRecord({ id: l.id, ttl: BigInt(l.ttl), remainingTtl: BigInt(l.checkpointedTtl) }),
      );
    } finally {
      tx.unlock();
    }
  }

  private initAndRecover(): void {
    const tx = this.backend.batchTx();
    tx.lock();
    const records: { id: bigint; ttl: number; remainingTtl: number }[] = [];
    try {
      tx.createBucket(Buckets.lease);
      tx.forEach(Buckets.lease, (k, v) => {
        const r = decodeLeaseRecord(v);
        const id = bytesToLeaseId(k);
        records.push({ id, ttl: Number(r.ttl), remainingTtl: Number(r.remainingTtl) });
      });
    } finally {
      tx.unlock();
    }
    for (const r of records) {
      const l = new Lease(r.id, Math.max(r.ttl, this.minTtl), this.clock);
      l.checkpointedTtl = r.remainingTtl;
      this.leaseMap.set(r.id, l);
    }
    this.backend.forceCommit();
  }
}
