/**
 * @module server/etcdserver/read-index
 * Linearizable reads (etcd 3.4 v3_server.go linearizableReadLoop / linearizableReadNotify):
 * callers wait in a batch; one raft ReadIndex request (an 8-byte big-endian request ID
 * as its context) serves the whole batch; when raft answers with a ReadState carrying
 * that context, the batch resolves once the member has applied up to the read index.
 * A request that gets no answer within 500 ms (no leader, a lost message) is retried with
 * a fresh ReadIndex and a new ID, as etcd's loop does; callers arriving meanwhile form the
 * next batch.
 */
import type { ReadState } from '../raft/ready.js';

/** One waiting linearizable read. */
interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** What the batcher needs of the member. */
export interface ReadIndexHost {
  /** A new unique request ID (etcd reqIDGen). */
  nextId(): bigint;
  /** Asks raft for a read index with `ctx` as the request context; throws when raft stopped. */
  readIndex(ctx: Uint8Array): void;
  /** Resolves once the member applied `index`; rejects if it stops first. */
  waitApplied(index: number): Promise<void>;
  /** The error waiters get when raft refuses the request (ErrStopped). */
  stoppedError(): Error;
}

/** Retry interval of an unanswered ReadIndex, ms (etcd's linearizableReadLoop retries every 500 ms). */
export const READ_INDEX_RETRY_MS = 500;

/** 8-byte big-endian encoding of a request ID (etcd's ReadIndex context). */
export function u64be(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v));
  return b;
}

/** Decodes {@link u64be}; -1n (no request ID) for a context of another length. */
export function readU64be(b: Uint8Array): bigint {
  return b.length === 8 ? new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0) : -1n;
}

/** Batches linearizable reads over raft ReadIndex requests (see the module comment). */
export class ReadIndexBatcher {
  private pending: Waiter[] = [];
  private inFlight: { ctx: bigint; waiters: Waiter[]; timer: NodeJS.Timeout } | undefined;

  constructor(private readonly host: ReadIndexHost) {}

  /** Resolves once a read index taken after the call has been applied. */
  wait(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.pending.push({ resolve, reject }));
    this.kick();
    return p;
  }

  /** Hands raft's ReadStates to the batch in flight (the one whose context matches). */
  onReadStates(rs: readonly ReadState[]): void {
    const inflight = this.inFlight;
    if (!inflight) return;
    for (const s of rs) {
      if (readU64be(s.requestCtx) !== inflight.ctx) continue;
      clearTimeout(inflight.timer);
      this.inFlight = undefined;
      const waiters = inflight.waiters;
      this.host.waitApplied(s.index).then(
        () => waiters.forEach((w) => w.resolve()),
        (e) => waiters.forEach((w) => w.reject(e)),
      );
      this.kick();
      return;
    }
  }

  /** Rejects every waiting and in-flight read with `e` (the member stopped). */
  failAll(e: unknown): void {
    const all = [...this.pending, ...(this.inFlight?.waiters ?? [])];
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = undefined;
    this.pending = [];
    for (const w of all) w.reject(e);
  }

  private kick(): void {
    if (this.inFlight || this.pending.length === 0) return;
    const ctx = this.host.nextId();
    const waiters = this.pending;
    this.pending = [];
    const timer = setTimeout(() => {
      if (this.inFlight?.ctx !== ctx) return;
      this.inFlight = undefined;
      this.pending.unshift(...waiters);
      this.kick();
    }, READ_INDEX_RETRY_MS);
    timer.unref?.();
    this.inFlight = { ctx, waiters, timer };
    try {
      this.host.readIndex(u64be(ctx));
    } catch {
      clearTimeout(timer);
      this.inFlight = undefined;
      for (const w of waiters) w.reject(this.host.stoppedError());
    }
  }
}
