/**
 * @module server/etcdserver/api/v3rpc/transport/cancel
 * The cancellation signal of one call (Go's request context Done channel):
 * fired when the client cancels (RST_STREAM), the connection goes away, the
 * `grpc-timeout` deadline passes, or the server aborts the call (e.g. the
 * leader monitor). It implements the part of AbortSignal the etcd server uses
 * (`aborted`, `reason`, `addEventListener('abort')`, `removeEventListener`)
 * without allocating an AbortController or EventTarget per call: listeners
 * live in a plain array created on first use. {@link CancelSignal.toAbortSignal}
 * makes a real AbortSignal for APIs that need one.
 */

/** A listener of the 'abort' event (the event argument is not used by the server). */
type AbortListener = (this: unknown, ev: unknown) => unknown;

/** Reason of a call canceled by its client (Go context.Canceled); togRPCError maps it to Canceled. */
export const CANCELED_REASON: Error = Object.freeze(Object.assign(new Error('context canceled'), { name: 'AbortError' }));
/** Reason of a call whose deadline passed (Go context.DeadlineExceeded); the server maps it to ErrTimeout. */
export const DEADLINE_REASON: Error = Object.freeze(Object.assign(new Error('context deadline exceeded'), { name: 'TimeoutError' }));

const ABORT_EVENT = Object.freeze({ type: 'abort' });

/** One call's cancellation signal; see the module doc. */
export class CancelSignal {
  private _aborted = false;
  private _reason: unknown = undefined;
  private listeners: AbortListener[] | undefined;
  private real: AbortController | undefined;

  /** True once aborted. */
  get aborted(): boolean {
    return this._aborted;
  }

  /** The abort reason: {@link CANCELED_REASON}, {@link DEADLINE_REASON}, or what `abort` was given. */
  get reason(): unknown {
    return this._reason;
  }

  /**
   * Adds an 'abort' listener (other event types are ignored). Every listener
   * is called at most once, on abort, so `{ once: true }` changes nothing.
   */
  addEventListener(type: string, fn: AbortListener, _opts?: boolean | { once?: boolean }): void {
    if (type !== 'abort' || this._aborted) return;
    (this.listeners ??= []).push(fn);
  }

  removeEventListener(type: string, fn: AbortListener): void {
    const l = this.listeners;
    if (type !== 'abort' || l === undefined) return;
    const i = l.indexOf(fn);
    if (i >= 0) l.splice(i, 1);
  }

  /** Throws the reason when aborted (AbortSignal.throwIfAborted). */
  throwIfAborted(): void {
    if (this._aborted) throw this._reason;
  }

  /**
   * Aborts with `reason` and calls the listeners once, in order; later calls
   * do nothing. A listener that throws does not stop the others (the error is
   * rethrown asynchronously, as EventTarget does).
   */
  abort(reason: unknown): void {
    if (this._aborted) return;
    this._aborted = true;
    this._reason = reason;
    const l = this.listeners;
    this.listeners = undefined;
    if (l) {
      for (const fn of l) {
        try {
          fn.call(this, ABORT_EVENT);
        } catch (e) {
          queueMicrotask(() => { throw e; });
        }
      }
    }
    this.real?.abort(reason);
  }

  /** A real AbortSignal following this one (created on first call). */
  toAbortSignal(): AbortSignal {
    if (!this.real) {
      this.real = new AbortController();
      if (this._aborted) this.real.abort(this._reason);
    }
    return this.real.signal;
  }
}
