/**
 * @module server/etcdserver/api/v3rpc/transport/stream
 * A streaming call (grpc-go server.go processStreamingRPC + ServerStream), as
 * the handler sees it: an EventEmitter with the part of grpc-js's server call
 * API that etcd's handlers use.
 *
 * Events:
 * - 'data' (request): each decoded request message, in order; none while paused;
 * - 'end': the client half-closed (after the last 'data');
 * - 'drain': the response buffer has room again after `write` returned false;
 * - 'error' (StatusObject): emitting it ends the call with that status (the
 *   transport emits it too, for framing and decoding errors); listeners see
 *   the status;
 * - 'cancelled': client cancel, lost connection or deadline;
 * - 'close': the HTTP/2 stream is closed (always last).
 */
import { EventEmitter } from 'node:events';
import { ServerCall, type CallStream } from './call.js';
import type { RequestHeaders } from './http2.js';
import type { CancelSignal } from './cancel.js';
import { Code, type StatusObject } from '../../../../../util/grpc/codes.js';
import { MessageDecoder } from '../../../../../util/grpc/message.js';
import type { Metadata } from './metadata.js';
import type { StreamMethod } from './method.js';
import { STATUS_OK, statusUnmarshalError } from './status.js';

const STATUS_EOF: StatusObject = Object.freeze({ code: Code.UNKNOWN, details: 'EOF' });

/** The transport side of a streaming call. */
class StreamCall<Req, Resp> extends ServerCall {
  private readonly decoder: MessageDecoder;
  /** messages decoded while paused */
  private queue: Req[] = [];
  private paused = false;
  private endPending = false;
  private started: boolean;

  constructor(
    stream: CallStream,
    headers: RequestHeaders,
    path: string,
    private readonly method: StreamMethod<Req, Resp>,
    private readonly facade: ServerStream<Req, Resp>,
    maxRecvBytes: number,
  ) {
    super(stream, headers, path);
    this.decoder = new MessageDecoder(maxRecvBytes, this);
    this.started = method.kind !== 'server_streaming';
  }

  override onDrain(): void {
    this.facade.emit('drain');
  }

  onData(chunk: Buffer): void {
    if (!this.finished) this.decoder.push(chunk);
  }

  onMessage(msg: Uint8Array): void {
    if (this.finished) return;
    let req: Req;
    try {
      req = this.method.decode(msg);
    } catch (e) {
      this.fail(statusUnmarshalError(e));
      return;
    }
    if (!this.started) {
      // server streaming: the handler starts with its one request
      this.started = true;
      this.facade.request = req;
      this.method.handler(this.facade);
      return;
    }
    if (this.paused || this.queue.length > 0) this.queue.push(req);
    else this.facade.emit('data', req);
  }

  onFrameError(st: StatusObject): void {
    this.fail(st);
  }

  /** The client half-closed (END_STREAM). */
  onEnd(): void {
    this.remoteEnded = true;
    if (this.finished) return;
    if (!this.started) {
      this.fail(this.decoder.partial ? { code: Code.UNKNOWN, details: 'unexpected EOF' } : STATUS_EOF);
      return;
    }
    if (this.paused || this.queue.length > 0) this.endPending = true;
    else this.facade.emit('end');
  }

  /** Ends the call with `st`, telling the handler's 'error' listeners. */
  fail(st: StatusObject): void {
    if (this.finished) return;
    this.facade.emit('error', st);
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.stream.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    while (!this.paused && this.queue.length > 0 && !this.finished) this.facade.emit('data', this.queue.shift()!);
    if (this.paused) return;
    if (this.endPending && !this.finished) {
      this.endPending = false;
      this.facade.emit('end');
    }
    this.stream.resume();
  }

  protected onCancel(): void {
    this.facade.emit('cancelled');
  }

  protected onClose(): void {
    this.queue = [];
    this.facade.emit('close');
  }
}

/** A streaming call as its handler sees it; see the module doc. */
export class ServerStream<Req, Resp> extends EventEmitter {
  /** The request of a server-streaming call (set before the handler runs). */
  request: Req | undefined;
  private readonly call: StreamCall<Req, Resp>;

  /** @internal made by the transport server */
  constructor(
    stream: CallStream,
    headers: RequestHeaders,
    path: string,
    private readonly method: StreamMethod<Req, Resp>,
    maxRecvBytes: number,
  ) {
    super();
    this.call = new StreamCall(stream, headers, path, method, this, maxRecvBytes);
    // emitting 'error' ends the call with that status (grpc-js call.emit('error', status))
    this.on('error', (st: StatusObject) => this.call.sendStatus(st));
  }

  /** @internal the transport side */
  get transportCall(): ServerCall {
    return this.call;
  }

  /** The `:path`, e.g. "/etcdserverpb.Watch/Watch". */
  get path(): string {
    return this.call.path;
  }

  get metadata(): Metadata {
    return this.call.metadata;
  }

  /** The call's cancellation signal (created on first use). */
  get signal(): CancelSignal {
    return this.call.signal;
  }

  /** True once canceled by the client, the connection or the deadline. */
  get cancelled(): boolean {
    return this.call.cancelled;
  }

  /** True once the status was sent or the stream closed. */
  get finished(): boolean {
    return this.call.finished;
  }

  /** True while the response buffer is over its limit (wait for 'drain'). */
  get writableNeedDrain(): boolean {
    return !this.call.finished && this.call.stream.writableNeedDrain;
  }

  /**
   * Sends one response message. Returns false when the buffer is full (wait for
   * 'drain' before writing more) or the call is over (the message is dropped).
   */
  write(msg: Resp): boolean {
    if (this.call.finished) return false;
    return this.call.writeMessage(this.method.encode(msg));
  }

  /**
   * {@link write} of a response already encoded and framed for gRPC: `framed` is
   * the 5-byte message prefix (not compressed, big-endian length) and the message.
   */
  writeFramed(framed: Uint8Array): boolean {
    if (this.call.finished) return false;
    this.method.onSentEncoded?.(framed.length - 5);
    return this.call.writeFramed(framed);
  }


  /** Ends the call with status OK after the messages written. */
  end(): void {
    this.call.sendStatus(STATUS_OK);
  }

  /** Stops 'data' events (and, through HTTP/2 flow control, the client) until `resume`. */
  pause(): this {
    this.call.pause();
    return this;
  }

  resume(): this {
    this.call.resume();
    return this;
  }
}
