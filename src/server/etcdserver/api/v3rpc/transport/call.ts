/**
 * @module server/etcdserver/api/v3rpc/transport/call
 * What every call on the transport shares (grpc-go internal/transport
 * Stream + the server side of its http2Server): the HTTP/2 stream (http2.ts), the
 * request metadata, the cancellation signal, the `grpc-timeout` deadline, and
 * sending the response headers, messages and the status trailers.
 *
 * Wire behaviour, as grpc-go's http2Server:
 * - response headers `:status 200` and `content-type: application/grpc`,
 *   sent with the first message;
 * - the status as trailers `grpc-status` / `grpc-message` (percent-encoded);
 *   a status with no message before it is a trailers-only response (one
 *   HEADERS frame with END_STREAM);
 * - after the status, a stream the client has not half-closed is reset with
 *   RST_STREAM NO_ERROR (http2_server.go WriteStatus → finishStream rst); the
 *   reset follows the status in the same write, so it never overtakes it;
 * - client RST_STREAM or a lost connection before the status → the call is
 *   canceled (signal reason {@link CANCELED_REASON});
 * - the deadline passing → DEADLINE_EXCEEDED "context deadline exceeded" and
 *   the signal aborted with {@link DEADLINE_REASON}.
 */
import { CANCELED_REASON, CancelSignal, DEADLINE_REASON } from './cancel.js';
import type { StatusObject } from '../../../../../util/grpc/codes.js';
import { encodeMessage } from '../../../../../util/grpc/message.js';
import { encodeHeaderBlock, type Http2ServerStream, type RequestHeaders, type StreamSink } from './http2.js';
import { Metadata } from './metadata.js';
import { encodeGrpcMessage, STATUS_DEADLINE_EXCEEDED } from './status.js';

/** Response headers of every gRPC response, as a header block. */
const RESPONSE_HEADERS = encodeHeaderBlock([[':status', '200'], ['content-type', 'application/grpc']]);
const OK_TRAILERS = encodeHeaderBlock([['grpc-status', '0']]);
const OK_TRAILERS_ONLY = encodeHeaderBlock([[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '0']]);

/** The stream a call answers on. */
export type CallStream = Http2ServerStream;

/** The trailers of `st` as a header block; with the response headers first for a trailers-only response. */
function trailersOf(st: StatusObject, trailersOnly: boolean): Buffer {
  if (st.code === 0 && st.details === '') return trailersOnly ? OK_TRAILERS_ONLY : OK_TRAILERS;
  const fields: [string, string][] = trailersOnly ? [[':status', '200'], ['content-type', 'application/grpc']] : [];
  fields.push(['grpc-status', String(st.code)], ['grpc-message', encodeGrpcMessage(st.details)]);
  return encodeHeaderBlock(fields);
}

/**
 * Answers a stream that has no call (unknown method, refused encoding) with a
 * trailers-only response carrying `st`, then resets it if the client is still
 * sending.
 */
export function respondStatusOnly(stream: Http2ServerStream, st: StatusObject): void {
  stream.respond(trailersOf(st, true), true, true);
}

function onDeadline(call: ServerCall): void {
  call.deadlineExceeded();
}

/** One call; see the module doc. Subclasses deliver requests to handlers. */
export abstract class ServerCall implements StreamSink {
  /** True once the status was sent or the stream closed (later responses are dropped). */
  finished = false;
  /** True once the client half-closed (END_STREAM received and all data read). */
  remoteEnded = false;
  private headersSent = false;
  /** why the call was canceled: CANCELED_REASON or DEADLINE_REASON */
  private cancelReason: Error | undefined;
  private _signal: CancelSignal | undefined;
  private _metadata: Metadata | undefined;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param stream the HTTP/2 stream
   * @param headers its request headers
   * @param path the `:path`, e.g. "/etcdserverpb.KV/Put"
   */
  constructor(
    readonly stream: CallStream,
    readonly headers: RequestHeaders,
    readonly path: string,
  ) {
    stream.sink = this;
  }

  /** Request metadata (created on first use). */
  get metadata(): Metadata {
    return (this._metadata ??= new Metadata(this.headers));
  }

  /** Cancellation signal (created on first use; aborted at once if the call is already over). */
  get signal(): CancelSignal {
    if (!this._signal) {
      this._signal = new CancelSignal();
      if (this.cancelReason) this._signal.abort(this.cancelReason);
    }
    return this._signal;
  }

  /** True when the call was canceled: client cancel, lost connection, or deadline. */
  get cancelled(): boolean {
    return this.cancelReason !== undefined;
  }

  /** Arms the deadline `ms` from now (from `grpc-timeout`). */
  setDeadline(ms: number): void {
    this.timer = setTimeout(onDeadline, ms, this);
  }

  /** Deadline passed: DEADLINE_EXCEEDED to the client, signal aborted. */
  deadlineExceeded(): void {
    this.timer = undefined;
    if (this.finished) return;
    this.sendStatus(STATUS_DEADLINE_EXCEEDED);
    this.cancelReason = DEADLINE_REASON;
    this._signal?.abort(DEADLINE_REASON);
    this.onCancel();
  }

  /**
   * Writes one encoded message (sending the response headers first when
   * needed). Returns the stream's `write` result: false means its buffer
   * is full, wait for 'drain'. Dropped (returns false) once finished.
   */
  writeMessage(payload: Uint8Array): boolean {
    if (this.finished) return false;
    return this.writeFramed(encodeMessage(payload));
  }

  /**
   * {@link writeMessage} of a message already framed for gRPC (its 5-byte prefix
   * included, as `encodeMessage` makes it).
   */
  writeFramed(framed: Uint8Array): boolean {
    if (this.finished) return false;
    const s = this.stream;
    if (!this.headersSent) {
      this.headersSent = true;
      s.respond(RESPONSE_HEADERS, false);
    }
    return s.write(framed as Buffer);
  }

  /**
   * Ends the call with `st` after the messages written so far: trailers, or a
   * trailers-only response when no message was sent. Later calls do nothing.
   */
  sendStatus(st: StatusObject): void {
    if (this.finished) return;
    this.finished = true;
    this.clearDeadline();
    const s = this.stream;
    if (s.closed) return;
    if (!this.headersSent) {
      this.headersSent = true;
      s.respond(trailersOf(st, true), true, true);
    } else {
      s.end(trailersOf(st, false), true);
    }
  }

  /** Sends one message then the status (a unary response). */
  sendUnary(payload: Uint8Array, st: StatusObject): void {
    if (this.finished) return;
    this.writeMessage(payload);
    this.sendStatus(st);
  }

  /** The stream closed (StreamSink): a call not finished by then is canceled. */
  streamClosed(): void {
    this.clearDeadline();
    if (this.finished) {
      this.onClose();
      return;
    }
    this.finished = true;
    this.cancelReason = CANCELED_REASON;
    this._signal?.abort(CANCELED_REASON);
    this.onCancel();
    this.onClose();
  }

  /** Aborts the signal with `reason` (server-side cancel, e.g. the leader monitor). */
  abort(reason: unknown): void {
    this.signal.abort(reason);
  }

  private clearDeadline(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** A DATA chunk of the request stream. */
  abstract onData(chunk: Buffer): void;
  /** A whole request message (MessageDecoder sink). */
  abstract onMessage(msg: Uint8Array): void;
  /** A framing error (MessageDecoder sink): the call ends with `st`. */
  abstract onFrameError(st: StatusObject): void;
  /** The client half-closed. */
  abstract onEnd(): void;
  /** The stream can take more after a write returned false. */
  onDrain(): void {}
  /** The call was canceled (client, connection or deadline). */
  protected abstract onCancel(): void;
  /** The stream closed (after onCancel when canceled). */
  protected abstract onClose(): void;
}
