/**
 * @module server/etcdserver/api/v3rpc/transport/call
 * What every call on the transport shares (grpc-go internal/transport
 * Stream + the server side of its http2Server): the node:http2 stream, the
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
 *   RST_STREAM NO_ERROR (http2_server.go WriteStatus → finishStream rst);
 * - client RST_STREAM or a lost connection before the status → the call is
 *   canceled (signal reason {@link CANCELED_REASON});
 * - the deadline passing → DEADLINE_EXCEEDED "context deadline exceeded" and
 *   the signal aborted with {@link DEADLINE_REASON}.
 */
import http2 from 'node:http2';
import { CANCELED_REASON, CancelSignal, DEADLINE_REASON } from './cancel.js';
import type { StatusObject } from '../../../../../util/grpc/codes.js';
import { encodeMessage } from '../../../../../util/grpc/message.js';
import { Metadata } from './metadata.js';
import { encodeGrpcMessage, STATUS_DEADLINE_EXCEEDED } from './status.js';

const { NGHTTP2_NO_ERROR } = http2.constants;

/** Response headers of every gRPC response (frozen; node copies them). */
const RESPONSE_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc' });
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });
const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true, sendDate: false });
const END_STREAM = Object.freeze({ endStream: true, sendDate: false });

/** The transport's private link from a node stream to its call. */
export const kCall = Symbol('grpcCall');

/** A node:http2 server stream carrying a call. */
export type CallStream = http2.ServerHttp2Stream & { [kCall]?: ServerCall };

/** The trailers of `st`. */
function trailersOf(st: StatusObject): Record<string, string> {
  if (st.code === 0 && st.details === '') return OK_TRAILERS;
  return { 'grpc-status': String(st.code), 'grpc-message': encodeGrpcMessage(st.details) };
}

/**
 * Answers a stream that has no call (unknown method, refused encoding) with a
 * trailers-only response carrying `st`, then resets it if the client is still
 * sending.
 */
export function respondStatusOnly(stream: http2.ServerHttp2Stream, st: StatusObject): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond({ ...RESPONSE_HEADERS, ...trailersOf(st) }, END_STREAM);
  resetAfterStatus(stream, () => stream.endAfterHeaders || (stream.state as { remoteClose?: number } | undefined)?.remoteClose === 1);
}

/**
 * Resets `stream` with RST_STREAM NO_ERROR once the status that ended our side has
 * been sent, unless `remoteEnded()` by then (grpc-go finishStream). Only once nghttp2
 * has sent it (the stream's END_STREAM, `state.localClose`): a reset submitted while
 * the status is still queued goes out first and the status is dropped, so the client
 * sees `stream terminated by RST_STREAM with error code: NO_ERROR` instead — every
 * time for a unary call whose END_STREAM came in a frame of its own (grpc-go sends it
 * so) after the answer. Checked on the next turns of the event loop, for at most ~1 s.
 */
function resetAfterStatus(stream: http2.ServerHttp2Stream, remoteEnded: () => boolean, tries = 0): void {
  if (remoteEnded() || stream.closed || stream.destroyed) return;
  const sent = tries > 0 && (stream.state as { localClose?: number } | undefined)?.localClose === 1;
  if (sent || tries >= 100) {
    stream.close(NGHTTP2_NO_ERROR);
    return;
  }
  if (tries === 0) setImmediate(() => resetAfterStatus(stream, remoteEnded, 1));
  else setTimeout(() => resetAfterStatus(stream, remoteEnded, tries + 1), 10);
}

function onWantTrailers(this: CallStream): void {
  const call = this[kCall];
  if (call) call.writeTrailers();
}

function onDeadline(call: ServerCall): void {
  call.deadlineExceeded();
}

/** One call; see the module doc. Subclasses deliver requests to handlers. */
export abstract class ServerCall {
  /** True once the status was sent or the stream closed (later responses are dropped). */
  finished = false;
  /** True once the client half-closed (END_STREAM received and all data read). */
  remoteEnded = false;
  private headersSent = false;
  private finalStatus: StatusObject | undefined;
  /** why the call was canceled: CANCELED_REASON or DEADLINE_REASON */
  private cancelReason: Error | undefined;
  private _signal: CancelSignal | undefined;
  private _metadata: Metadata | undefined;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param stream the node:http2 stream
   * @param headers its request headers
   * @param path the `:path`, e.g. "/etcdserverpb.KV/Put"
   */
  constructor(
    readonly stream: CallStream,
    readonly headers: http2.IncomingHttpHeaders,
    readonly path: string,
  ) {
    stream[kCall] = this;
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
   * needed). Returns the node stream's `write` result: false means its buffer
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
      s.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
      s.once('wantTrailers', onWantTrailers);
    }
    return s.write(framed);
  }

  /**
   * Ends the call with `st` after the messages written so far: trailers, or a
   * trailers-only response when no message was sent. Later calls do nothing.
   */
  sendStatus(st: StatusObject): void {
    if (this.finished) return;
    this.finished = true;
    this.finalStatus = st;
    this.clearDeadline();
    const s = this.stream;
    if (s.destroyed || s.closed) return;
    if (!this.headersSent) {
      this.headersSent = true;
      s.respond({ ...RESPONSE_HEADERS, ...trailersOf(st) }, END_STREAM);
      this.resetIfOpen();
    } else {
      s.end();
    }
  }

  /** Sends one message then the status (a unary response). */
  sendUnary(payload: Uint8Array, st: StatusObject): void {
    if (this.finished) return;
    this.writeMessage(payload);
    this.sendStatus(st);
  }

  /** 'wantTrailers': the last DATA frame is out, send the status. */
  writeTrailers(): void {
    const st = this.finalStatus;
    if (st === undefined) return;
    this.stream.sendTrailers(trailersOf(st));
    this.resetIfOpen();
  }

  /** RST_STREAM NO_ERROR after the status when the client is still sending (grpc-go finishStream). */
  private resetIfOpen(): void {
    resetAfterStatus(this.stream, () => this.remoteEnded);
  }

  /** The node stream closed: a call not finished by then is canceled. */
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
  /** The call was canceled (client, connection or deadline). */
  protected abstract onCancel(): void;
  /** The node stream closed (after onCancel when canceled). */
  protected abstract onClose(): void;
}
