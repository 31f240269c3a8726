/**
 * @module client/transport/stream
 * A streaming call with typed messages, shaped like the grpc-js streams the
 * client code was written against: events `data` (a decoded response),
 * `error` (a {@link StreamError}, for a status other than OK) and then
 * `status` ({code, details}, always, last); `write(request)`, `end()`,
 * `cancel()`; and async iteration over the responses (throwing the
 * StreamError), which holds back the stream's flow-control window while the
 * consumer is behind, so a large snapshot is never buffered whole.
 */
import { EventEmitter } from 'node:events';
import type { CallStatus, ClientCall } from './connection.js';

/** A call that ended with a status other than OK. */
export class StreamError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${code} ${details}`);
    this.name = 'StreamError';
  }
}

/** grpc-go's status for a response that does not decode (Internal). */
export function unmarshalFailure(e: unknown): CallStatus {
  return { code: 13, details: `grpc: failed to unmarshal the received message ${e instanceof Error ? e.message : String(e)}` };
}

/** Messages queued for an async iterator before the stream window is held back. */
const ITERATOR_HIGH_WATER = 16;

/** A typed streaming call over a {@link ClientCall}. */
export class TypedStream<I, O> extends EventEmitter {
  private iterating = false;
  private readonly queue: O[] = [];
  private ended: CallStatus | undefined;
  private wake: (() => void) | undefined;

  /**
   * @param call the underlying call (its events are taken over)
   * @param encode request message → bytes
   * @param decode response bytes → message; a throw ends the call with Internal
   */
  constructor(
    private readonly call: ClientCall,
    private readonly encode: (m: I) => Uint8Array,
    decode: (b: Uint8Array) => O,
  ) {
    super();
    call.on('message', (b: Uint8Array) => {
      let m: O;
      try {
        m = decode(b);
      } catch (e) {
        // reported first: the cancel's own status (Canceled) is then ignored
        this.onStatus(unmarshalFailure(e));
        call.cancel();
        return;
      }
      if (this.iterating) {
        this.queue.push(m);
        if (this.queue.length >= ITERATOR_HIGH_WATER) call.pause();
        this.notify();
      } else {
        this.emit('data', m);
      }
    });
    call.on('status', (st: CallStatus) => this.onStatus(st));
  }

  private onStatus(st: CallStatus): void {
    if (this.ended) return;
    this.ended = st;
    if (!this.iterating) {
      if (st.code !== 0) this.emit('error', new StreamError(st.code, st.details));
      this.emit('status', st);
    }
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Sends one request message. */
  write(m: I): void {
    this.call.write(this.encode(m));
  }

  /** Half-closes the request side. */
  end(): void {
    this.call.end();
  }

  /** Cancels the call (status Canceled). */
  cancel(): void {
    this.call.cancel();
  }

  /** The responses in order; throws a StreamError when the call ends with one. */
  async *[Symbol.asyncIterator](): AsyncGenerator<O> {
    this.iterating = true;
    for (;;) {
      const m = this.queue.shift();
      if (m !== undefined) {
        if (this.queue.length < ITERATOR_HIGH_WATER / 2) this.call.resume();
        yield m;
        continue;
      }
      if (this.ended) {
        if (this.ended.code !== 0) throw new StreamError(this.ended.code, this.ended.details);
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}
