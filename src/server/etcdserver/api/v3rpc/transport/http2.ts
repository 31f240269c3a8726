/**
 * @module server/etcdserver/api/v3rpc/transport/http2
 * The server side of one HTTP/2 connection (RFC 7540), written on the accepted
 * socket instead of node:http2: the part grpc-go's http2Server
 * (internal/transport/http2_server.go) implements for gRPC. node:http2 cost
 * about 30 µs of event-loop time per unary call, this about 4
 * (`npm run bench:h2-floor`, bench/README.md), and it takes any `:authority`, as
 * Go's server does (grpc-go in etcdctl 3.4 sends `http://host:port`, which
 * nghttp2 refuses).
 *
 * What it does:
 * - reads the client preface, sends our SETTINGS (SETTINGS_MAX_CONCURRENT_STREAMS,
 *   SETTINGS_INITIAL_WINDOW_SIZE) and opens the connection receive window with a
 *   WINDOW_UPDATE; the client's first frame must be SETTINGS;
 * - HEADERS/CONTINUATION decoded with the client's HPACK context
 *   (util/http2/hpack.ts; a malformed block is GOAWAY COMPRESSION_ERROR); response
 *   headers and trailers are written as literals that leave the client's table alone;
 * - DATA with padding; flow control both ways: the client's windows are respected
 *   (data waits per stream, streams blocked on the connection window are served in
 *   order when it opens), ours are re-opened as data is consumed, except for a
 *   paused stream, so a slow reader holds back its own stream only;
 * - RST_STREAM both ways, PING (answered; sent as keepalive), GOAWAY (sent on
 *   close and on connection errors; received: no new streams), WINDOW_UPDATE,
 *   SETTINGS changes (initial window deltas, max frame size) and their ACK;
 *   PRIORITY and unknown frame types are ignored;
 * - a new stream past SETTINGS_MAX_CONCURRENT_STREAMS is refused
 *   (RST_STREAM REFUSED_STREAM, as grpc-go);
 * - the keepalive enforcement policy of grpc-go's server (http2_server.go
 *   handlePing): a PING that comes sooner than `keepaliveMinTimeMs` after the
 *   last one (2 h when no stream is open) is a strike unless we have sent
 *   headers or data since; the third strike ends the connection with GOAWAY
 *   ENHANCE_YOUR_CALM "too_many_pings";
 * - malformed request headers (upper-case names, unknown or late
 *   pseudo-headers, no :method or :path) reset the stream with PROTOCOL_ERROR;
 *   framing errors (RFC 7540 §5.4.1) end the connection with GOAWAY and the code.
 *
 * Frames produced during one turn of the event loop leave in one socket write
 * (flushed from setImmediate), so the answers of one apply batch share a write.
 */
import type net from 'node:net';
import { encodeLiteralBlock, HpackDecoder, HpackError, type HeaderSink } from '../../../../../util/http2/hpack.js';
import { SlotMap } from '../../../../../util/slot-map.js';
import {
  CLIENT_PREFACE,
  DEFAULT_HEADER_TABLE_SIZE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW_BYTES,
  FRAME_HEADER_BYTES,
  FrameFlag,
  frameHeader,
  FrameType,
  H2Code,
  MAX_WINDOW_BYTES,
  putFrameHeader,
  Setting,
} from '../../../../../util/http2/frame.js';

/** grpc-go maxPingStrikes: the PINGs past the keepalive policy tolerated before GOAWAY. */
const MAX_PING_STRIKES = 2;
/** grpc-go defaultPingTimeout: with no stream open, PINGs closer together than this are strikes, ms. */
const IDLE_PING_MIN_MS = 2 * 60 * 60 * 1000;
/** Largest header block (HEADERS + CONTINUATION) accepted, octets; past it GOAWAY ENHANCE_YOUR_CALM. */
export const MAX_HEADER_BLOCK_BYTES = 1 << 20;
/** Bytes waiting for flow-control window past which a stream's write() returns false. */
export const STREAM_HIGH_WATER_BYTES = 64 * 1024;

/** Request headers: lower-case names; a repeated header's values joined with ", " (as node:http2). */
export type RequestHeaders = Record<string, string>;

/** What a stream tells its call. */
export interface StreamSink {
  /** DATA payload (padding removed; a copy the call may keep). */
  onData(chunk: Buffer): void;
  /** The client half-closed (END_STREAM), after its last DATA. */
  onEnd(): void;
  /** After write() returned false: the stream can take more. */
  onDrain(): void;
  /** The stream is closed: both sides ended, reset by either side, or the connection is gone. Last. */
  streamClosed(): void;
}

/** A framing error that ends the connection (RFC 7540 §5.4.1). */
class ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** A whole frame (header and payload) in one buffer. */
function frame(type: number, flags: number, streamId: number, payload: Uint8Array | undefined): Buffer {
  const n = payload === undefined ? 0 : payload.length;
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + n);
  putFrameHeader(b, n, type, flags, streamId);
  if (payload !== undefined) b.set(payload, FRAME_HEADER_BYTES);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** A header block for response headers or trailers (literals without indexing). */
export function encodeHeaderBlock(fields: readonly (readonly [string, string])[]): Buffer {
  return encodeLiteralBlock(fields.map(([name, value]) => ({ name, value, neverIndex: false })));
}

/** One HTTP/2 stream of a {@link Http2ServerConnection}: a call's way to answer. */
export class Http2ServerStream {
  /** The call reading this stream (set by the connection's `onStream` callback). */
  sink: StreamSink | undefined;
  /** What the client still lets us send on this stream, bytes. */
  sendWindow: number;
  /** What the client may still send before our next WINDOW_UPDATE, bytes. */
  recvWindow: number;
  /** Consumed bytes not yet given back through WINDOW_UPDATE. */
  private unacked = 0;
  private paused = false;
  /** END_STREAM received. */
  remoteEnded = false;
  /** Our END_STREAM (trailers) is queued or sent. */
  localEnded = false;
  /** Closed: no more frames either way. */
  closed = false;
  /** Response HEADERS sent. */
  headersSent = false;
  /** A write returned false; onDrain is due. */
  needDrain = false;
  /** DATA waiting for window. */
  readonly pending: Buffer[] = [];
  pendingBytes = 0;
  /** The trailers (a header block) to send once `pending` is out, and whether RST_STREAM NO_ERROR follows. */
  private pendingTrailers: Buffer | undefined;
  private resetAfterTrailers = false;

  constructor(
    readonly conn: Http2ServerConnection,
    /** HTTP/2 stream id (odd). */
    readonly id: number,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** The socket the client is connected on (a tls.TLSSocket over TLS). */
  get socket(): net.Socket {
    return this.conn.socket;
  }

  /** True while write() would return false. */
  get writableNeedDrain(): boolean {
    return this.needDrain;
  }

  /**
   * Sends the response HEADERS `block`. With `endStream` (a trailers-only
   * response) our side ends, followed, if `resetIfOpen` and the client has not
   * half-closed, by RST_STREAM NO_ERROR (grpc-go finishStream).
   */
  respond(block: Buffer, endStream: boolean, resetIfOpen = false): void {
    if (this.closed || this.headersSent) return;
    this.headersSent = true;
    this.conn.queueHeaderBlock(this.id, block, endStream);
    if (endStream) {
      this.localEnded = true;
      this.resetAfterTrailers = resetIfOpen;
      this.localEndSent();
    }
  }

  /**
   * Queues `data` (DATA frames, as the windows allow; the rest waits for
   * WINDOW_UPDATE). Returns false when the stream holds more than
   * {@link STREAM_HIGH_WATER_BYTES} waiting or the socket's buffer is full
   * (onDrain follows), or when the stream is closed or ended (dropped).
   */
  write(data: Buffer): boolean {
    if (this.closed || this.localEnded) return false;
    if (this.pendingBytes === 0) {
      const sent = this.conn.sendData(this, data);
      if (sent < data.length) {
        const rest = sent === 0 ? data : data.subarray(sent);
        this.pending.push(rest);
        this.pendingBytes += rest.length;
        this.conn.block(this);
      }
    } else {
      this.pending.push(data);
      this.pendingBytes += data.length;
    }
    if (this.pendingBytes > STREAM_HIGH_WATER_BYTES || this.conn.socketBlocked) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Ends our side with the trailers `block` (HEADERS with END_STREAM) after the
   * data written, then, if `resetIfOpen` and the client has not half-closed by
   * the time they are sent, RST_STREAM NO_ERROR (grpc-go finishStream).
   */
  end(block: Buffer, resetIfOpen: boolean): void {
    if (this.closed || this.localEnded) return;
    this.localEnded = true;
    this.pendingTrailers = block;
    this.resetAfterTrailers = resetIfOpen;
    if (this.pendingBytes === 0) this.sendTrailers();
  }

  /** Resets the stream with `code` (RST_STREAM); the stream closes. */
  reset(code: number): void {
    if (this.closed) return;
    this.conn.queueFrame(frame(FrameType.RST_STREAM, 0, this.id, u32(code)));
    this.conn.closeStream(this);
  }

  /** Stops re-opening this stream's receive window (the reader is behind). */
  pause(): void {
    this.paused = true;
  }

  /** Re-opens the receive window for what was read while paused. */
  resume(): void {
    this.paused = false;
    this.maybeWindowUpdate();
  }

  /** @internal `n` flow-controlled bytes of DATA arrived and were handed on. */
  consumed(n: number): void {
    this.unacked += n;
    this.maybeWindowUpdate();
  }

  private maybeWindowUpdate(): void {
    if (this.paused || this.closed || this.remoteEnded) return;
    if (this.unacked < this.conn.streamWindow / 2) return;
    this.recvWindow += this.unacked;
    this.conn.queueFrame(frame(FrameType.WINDOW_UPDATE, 0, this.id, u32(this.unacked)));
    this.unacked = 0;
  }

  /** @internal the windows opened: send what waits. */
  flushPending(): void {
    while (this.pending.length > 0 && !this.closed) {
      const head = this.pending[0]!;
      const sent = this.conn.sendData(this, head);
      this.pendingBytes -= sent;
      if (sent < head.length) {
        this.pending[0] = head.subarray(sent);
        return;
      }
      this.pending.shift();
    }
    if (this.closed) return;
    this.conn.unblock(this);
    if (this.pendingTrailers !== undefined) this.sendTrailers();
    this.drainIfDue();
  }

  /** @internal tells the call it may write again when nothing holds it back. */
  drainIfDue(): void {
    if (!this.needDrain || this.closed || this.pendingBytes > STREAM_HIGH_WATER_BYTES || this.conn.socketBlocked) return;
    this.needDrain = false;
    this.sink?.onDrain();
  }

  private sendTrailers(): void {
    const block = this.pendingTrailers!;
    this.pendingTrailers = undefined;
    this.conn.queueHeaderBlock(this.id, block, true);
    this.localEndSent();
  }

  /** Our END_STREAM is in the output: reset when asked and the client still sends, or close when it is done. */
  private localEndSent(): void {
    if (this.remoteEnded) {
      this.conn.closeStream(this);
    } else if (this.resetAfterTrailers) {
      this.reset(H2Code.NO_ERROR);
    }
  }

  /**
   * @internal the client's END_STREAM was handed on (`remoteEnded` was set before
   * the frame's data, so an answer given while reading it is not followed by a reset).
   */
  remoteEnd(): void {
    this.remoteEnded = true;
    if (this.closed) return;
    this.sink?.onEnd();
    if (this.localEnded && this.pendingTrailers === undefined && !this.closed) this.conn.closeStream(this);
  }
}

/** Options of {@link Http2ServerConnection}. */
export interface Http2ServerOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams open at once (more are refused). */
  readonly maxConcurrentStreams: number;
  /** Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE), bytes. */
  readonly streamWindowBytes: number;
  /** Our receive window for the connection, bytes. */
  readonly connectionWindowBytes: number;
  /** Keepalive PING period, ms (0: none). */
  readonly keepaliveIntervalMs: number;
  /** Close the connection when a keepalive PING is not answered within this, ms. */
  readonly keepaliveTimeoutMs: number;
  /** Least time between client PINGs while streams are open (grpc keepalive.EnforcementPolicy MinTime), ms. */
  readonly keepaliveMinTimeMs: number;
  /** A new stream and its request headers; the callback sets `stream.sink` (or resets the stream). */
  readonly onStream: (stream: Http2ServerStream, headers: RequestHeaders) => void;
  /** The connection is closed (once). */
  readonly onClose: (conn: Http2ServerConnection) => void;
}

const PSEUDO_HEADERS = new Set([':method', ':scheme', ':path', ':authority']);
/** Connection-specific header fields HTTP/2 forbids (RFC 7540 §8.1.2.2). */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** One server-side HTTP/2 connection; see the module doc. */
export class Http2ServerConnection {
  /** Open streams by ID; a SlotMap, so a closed stream is not kept alive (util/slot-map.ts). */
  private readonly streams = new SlotMap<number, Http2ServerStream>();
  /** Streams with DATA waiting for the connection window, in order. */
  private readonly blocked = new Set<Http2ServerStream>();
  private readonly hpack = new HpackDecoder(DEFAULT_HEADER_TABLE_SIZE);
  private inbuf: Buffer | undefined;
  private prefaceRead = false;
  private settingsSeen = false;
  private lastStreamId = 0;
  private peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  private peerInitialWindow = DEFAULT_WINDOW_BYTES;
  private connSendWindow = DEFAULT_WINDOW_BYTES;
  private connRecvWindow: number;
  private connUnacked = 0;
  /** header block being assembled (HEADERS + CONTINUATION) */
  private headerBlock: { streamId: number; endStream: boolean; parts: Buffer[]; bytes: number } | undefined;
  private out: Buffer[] = [];
  /** The header of the last DATA frame queued (it may still grow), its stream, length and the `out` length after it. */
  private openData: Buffer | undefined;
  private openDataStream = 0;
  private openDataLength = 0;
  private openDataAt = -1;
  private flushScheduled = false;
  /** The socket's buffer is full (write returned false) until 'drain'. */
  socketBlocked = false;
  /** GOAWAY sent or received: no new streams. */
  private draining = false;
  closed = false;
  private keepalive: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  /** Keepalive enforcement (see the module doc): when the last client PING came (Date.now() ms), strikes, and whether we wrote headers or data since. */
  private lastPingAt = -Infinity;
  private pingStrikes = 0;
  private resetPingStrikes = false;

  /**
   * @param socket an accepted net.Socket or tls.TLSSocket (after the handshake),
   *   unread or with the bytes read put back (unshift); the connection reads it
   */
  constructor(
    readonly socket: net.Socket,
    private readonly opts: Http2ServerOptions,
  ) {
    this.connRecvWindow = opts.connectionWindowBytes;
    socket.setNoDelay?.(true);
    socket.on('data', (d: Buffer) => this.onSocketData(d));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    this.sendPreface();
    if (opts.keepaliveIntervalMs > 0) {
      this.keepalive = setInterval(() => this.ping(), opts.keepaliveIntervalMs);
      this.keepalive.unref();
    }
    socket.resume();
  }

  /** Our receive window per stream, bytes. */
  get streamWindow(): number {
    return this.opts.streamWindowBytes;
  }

  /** Streams open. */
  get activeStreams(): number {
    return this.streams.size;
  }

  private sendPreface(): void {
    const settings = Buffer.allocUnsafe(12);
    settings.writeUInt16BE(Setting.MAX_CONCURRENT_STREAMS, 0);
    settings.writeUInt32BE(Math.min(this.opts.maxConcurrentStreams, 2 ** 32 - 1) >>> 0, 2);
    settings.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(this.opts.streamWindowBytes, 8);
    this.queueFrame(frame(FrameType.SETTINGS, 0, 0, settings));
    if (this.connRecvWindow > DEFAULT_WINDOW_BYTES) this.queueFrame(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(this.connRecvWindow - DEFAULT_WINDOW_BYTES)));
    else this.connRecvWindow = DEFAULT_WINDOW_BYTES;
  }

  /** @internal queues a frame for the next flush. */
  queueFrame(f: Buffer): void {
    if (this.closed) return;
    this.out.push(f);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is queued, in one socket write. */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.out.length === 0) return;
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    this.openData = undefined;
    if (!this.socket.write(data)) this.socketBlocked = true;
  }

  /** @internal HEADERS (+ CONTINUATION) carrying `block`. */
  queueHeaderBlock(streamId: number, block: Buffer, endStream: boolean): void {
    this.resetPingStrikes = true;
    const es = endStream ? FrameFlag.END_STREAM : 0;
    if (block.length <= this.peerMaxFrame) {
      this.queueFrame(frame(FrameType.HEADERS, es | FrameFlag.END_HEADERS, streamId, block));
      return;
    }
    let off = 0;
    let first = true;
    while (off < block.length) {
      const n = Math.min(this.peerMaxFrame, block.length - off);
      const last = off + n >= block.length;
      const type = first ? FrameType.HEADERS : FrameType.CONTINUATION;
      this.queueFrame(frame(type, (first ? es : 0) | (last ? FrameFlag.END_HEADERS : 0), streamId, block.subarray(off, off + n)));
      off += n;
      first = false;
    }
  }

  /**
   * @internal sends `data` on `stream` as DATA frames as far as both windows and
   * the peer's frame size allow; returns the bytes sent. Data written to the same
   * stream with nothing queued in between extends the last DATA frame (up to the
   * frame size), so a burst of small messages (a watch stream's events) costs the
   * client one frame, not one per message.
   */
  sendData(stream: Http2ServerStream, data: Buffer): number {
    let sent = 0;
    while (sent < data.length) {
      const open = this.openData !== undefined && this.openDataStream === stream.id && this.out.length === this.openDataAt;
      const room = open ? this.peerMaxFrame - this.openDataLength : this.peerMaxFrame;
      const n = Math.min(data.length - sent, room, stream.sendWindow, this.connSendWindow);
      if (n <= 0) {
        if (open && room <= 0 && stream.sendWindow > 0 && this.connSendWindow > 0) {
          this.openData = undefined; // the open frame is full: start another
          continue;
        }
        break;
      }
      const chunk = sent === 0 && n === data.length ? data : data.subarray(sent, sent + n);
      if (open) {
        this.openDataLength += n;
        const h = this.openData!;
        h[0] = this.openDataLength >>> 16;
        h[1] = (this.openDataLength >>> 8) & 0xff;
        h[2] = this.openDataLength & 0xff;
        this.out.push(chunk);
      } else {
        const h = frameHeader(n, FrameType.DATA, 0, stream.id);
        this.out.push(h, chunk);
        this.openData = h;
        this.openDataStream = stream.id;
        this.openDataLength = n;
      }
      this.openDataAt = this.out.length;
      stream.sendWindow -= n;
      this.connSendWindow -= n;
      sent += n;
    }
    if (sent > 0) {
      this.resetPingStrikes = true;
      if (!this.flushScheduled && !this.closed) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    }
    return sent;
  }

  /** @internal `stream` has DATA waiting. */
  block(stream: Http2ServerStream): void {
    this.blocked.add(stream);
  }

  /** @internal `stream` has nothing waiting. */
  unblock(stream: Http2ServerStream): void {
    this.blocked.delete(stream);
  }

  /** @internal the stream is over: forget it and tell its call. */
  closeStream(stream: Http2ServerStream): void {
    if (stream.closed) return;
    stream.closed = true;
    this.streams.take(stream.id);
    this.blocked.delete(stream);
    stream.sink?.streamClosed();
    if (this.draining && this.streams.size === 0) this.close();
  }

  /** Sends GOAWAY NO_ERROR and closes the socket once it is written; open streams are closed (their calls canceled). */
  close(): void {
    this.goaway(H2Code.NO_ERROR, '');
  }

  private goaway(code: number, debug: string): void {
    if (this.closed) return;
    const p = Buffer.allocUnsafe(8 + Buffer.byteLength(debug));
    p.writeUInt32BE(this.lastStreamId, 0);
    p.writeUInt32BE(code, 4);
    p.write(debug, 8);
    this.out.push(frame(FrameType.GOAWAY, 0, 0, p));
    this.flush();
    this.draining = true;
    this.finish();
    this.socket.destroySoon();
  }

  /** Destroys the socket at once; open streams are closed (their calls canceled). */
  destroy(): void {
    if (this.closed) return;
    this.finish();
    this.socket.destroy();
  }

  private finish(): void {
    this.closed = true;
    this.out = [];
    if (this.keepalive) clearInterval(this.keepalive);
    if (this.pingTimer) clearTimeout(this.pingTimer);
    for (const s of [...this.streams.values()]) this.closeStream(s);
    this.blocked.clear();
    this.opts.onClose(this);
  }

  private ping(): void {
    if (this.closed || this.pingTimer !== undefined) return;
    this.queueFrame(frame(FrameType.PING, 0, 0, Buffer.alloc(8)));
    this.pingTimer = setTimeout(() => this.destroy(), this.opts.keepaliveTimeoutMs);
    this.pingTimer.unref();
  }

  private onSocketDrain(): void {
    this.socketBlocked = false;
    for (const s of [...this.streams.values()]) s.drainIfDue();
  }

  private onSocketData(d: Buffer): void {
    if (this.closed) return;
    const buf = this.inbuf === undefined ? d : Buffer.concat([this.inbuf, d]);
    this.inbuf = undefined;
    let off = 0;
    try {
      if (!this.prefaceRead) {
        const n = Math.min(buf.length, CLIENT_PREFACE.length);
        if (buf.compare(CLIENT_PREFACE, 0, n, 0, n) !== 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'bad client preface');
        if (n < CLIENT_PREFACE.length) {
          this.inbuf = buf;
          return;
        }
        this.prefaceRead = true;
        off = n;
      }
      while (!this.closed && buf.length - off >= FRAME_HEADER_BYTES) {
        const length = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
        if (length > DEFAULT_MAX_FRAME_SIZE) throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, `frame of ${length} octets`);
        if (buf.length - off < FRAME_HEADER_BYTES + length) break;
        const type = buf[off + 3]!;
        const flags = buf[off + 4]!;
        const streamId = buf.readUInt32BE(off + 5) & 0x7fffffff;
        const payload = buf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + length);
        off += FRAME_HEADER_BYTES + length;
        this.onFrame(type, flags, streamId, payload);
      }
    } catch (e) {
      if (!(e instanceof ConnectionError)) throw e;
      this.goaway(e.code, e.message);
      return;
    }
    if (off < buf.length && !this.closed) this.inbuf = off === 0 ? buf : Buffer.from(buf.subarray(off));
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (!this.settingsSeen) {
      if (type !== FrameType.SETTINGS || (flags & FrameFlag.ACK)) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'the client preface must start with SETTINGS');
      this.settingsSeen = true;
    }
    if (this.headerBlock !== undefined && (type !== FrameType.CONTINUATION || streamId !== this.headerBlock.streamId)) {
      throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'a header block was not continued by CONTINUATION');
    }
    switch (type) {
      case FrameType.DATA:
        return this.onDataFrame(flags, streamId, payload);
      case FrameType.HEADERS:
        return this.onHeadersFrame(flags, streamId, payload);
      case FrameType.CONTINUATION: {
        const hb = this.headerBlock;
        if (hb === undefined) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
        hb.parts.push(Buffer.from(payload));
        hb.bytes += payload.length;
        if (hb.bytes > MAX_HEADER_BLOCK_BYTES) throw new ConnectionError(H2Code.ENHANCE_YOUR_CALM, 'header block too large');
        if (flags & FrameFlag.END_HEADERS) this.endHeaderBlock();
        return;
      }
      case FrameType.PRIORITY:
        if (streamId === 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (payload.length !== 5) this.resetId(streamId, H2Code.FRAME_SIZE_ERROR);
        return;
      case FrameType.RST_STREAM: {
        if (streamId === 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
        if (payload.length !== 4) throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, 'RST_STREAM length');
        if (streamId > this.lastStreamId) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'RST_STREAM on an idle stream');
        const s = this.streams.get(streamId);
        if (s) this.closeStream(s);
        return;
      }
      case FrameType.SETTINGS:
        return this.onSettings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.PING:
        if (streamId !== 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'PING on a stream');
        if (payload.length !== 8) throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, 'PING length');
        if (flags & FrameFlag.ACK) {
          if (this.pingTimer) clearTimeout(this.pingTimer);
          this.pingTimer = undefined;
        } else {
          this.queueFrame(frame(FrameType.PING, FrameFlag.ACK, 0, payload));
          this.enforcePingPolicy();
        }
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'GOAWAY on a stream');
        this.draining = true;
        if (this.streams.size === 0) this.close();
        return;
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(streamId, payload);
      default:
        return; // unknown frame types are ignored (RFC 7540 §4.1)
    }
  }

  /** A client PING arrived: counts a strike when it breaks the keepalive policy (grpc-go handlePing). */
  private enforcePingPolicy(): void {
    const now = Date.now();
    const last = this.lastPingAt;
    this.lastPingAt = now;
    if (this.resetPingStrikes) {
      this.resetPingStrikes = false;
      this.pingStrikes = 0;
      return;
    }
    const minGap = this.streams.size < 1 ? IDLE_PING_MIN_MS : this.opts.keepaliveMinTimeMs;
    if (last + minGap > now) this.pingStrikes++;
    if (this.pingStrikes > MAX_PING_STRIKES) this.goaway(H2Code.ENHANCE_YOUR_CALM, 'too_many_pings');
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & FrameFlag.ACK) {
      if (payload.length !== 0) throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, 'SETTINGS length');
    for (let i = 0; i < payload.length; i += 6) {
      const id = payload.readUInt16BE(i);
      const v = payload.readUInt32BE(i + 2);
      switch (id) {
        case Setting.ENABLE_PUSH:
          if (v > 1) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH');
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (v > MAX_WINDOW_BYTES) throw new ConnectionError(H2Code.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE');
          const delta = v - this.peerInitialWindow;
          this.peerInitialWindow = v;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW_BYTES) throw new ConnectionError(H2Code.FLOW_CONTROL_ERROR, 'stream window overflow');
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (v < DEFAULT_MAX_FRAME_SIZE || v > 0xffffff) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE');
          this.peerMaxFrame = v;
          break;
        case Setting.HEADER_TABLE_SIZE: // our encoder never uses the dynamic table
        default:
          break;
      }
    }
    this.queueFrame(frame(FrameType.SETTINGS, FrameFlag.ACK, 0, undefined));
    this.flushBlocked();
    for (const s of [...this.streams.values()]) if (s.pendingBytes > 0 && s.sendWindow > 0) s.flushPending();
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (inc === 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW_BYTES) throw new ConnectionError(H2Code.FLOW_CONTROL_ERROR, 'connection window overflow');
      this.flushBlocked();
      return;
    }
    const s = this.streams.get(streamId);
    if (s === undefined) {
      if (streamId > this.lastStreamId) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'WINDOW_UPDATE on an idle stream');
      return;
    }
    if (inc === 0) return s.reset(H2Code.PROTOCOL_ERROR);
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW_BYTES) return s.reset(H2Code.FLOW_CONTROL_ERROR);
    if (s.pendingBytes > 0) s.flushPending();
  }

  /** Serves the streams waiting for the connection window, oldest first. */
  private flushBlocked(): void {
    for (const s of [...this.blocked]) {
      if (this.connSendWindow <= 0) return;
      s.flushPending();
    }
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'DATA on stream 0');
    if (streamId > this.lastStreamId) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'DATA on an idle stream');
    const flow = payload.length;
    this.connRecvWindow -= flow;
    if (this.connRecvWindow < 0) throw new ConnectionError(H2Code.FLOW_CONTROL_ERROR, 'connection receive window exceeded');
    // the connection window is re-opened as data arrives; a paused stream holds back only its own window
    this.connUnacked += flow;
    if (this.connUnacked >= this.opts.connectionWindowBytes / 2) {
      this.connRecvWindow += this.connUnacked;
      this.queueFrame(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(this.connUnacked)));
      this.connUnacked = 0;
    }
    let data = payload;
    if (flags & FrameFlag.PADDED) {
      if (payload.length < 1 || payload[0]! >= payload.length) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'DATA padding');
      data = payload.subarray(1, payload.length - payload[0]!);
    }
    const s = this.streams.get(streamId);
    if (s === undefined) return; // a stream we closed: its late DATA only counts for the connection
    if (s.remoteEnded) return s.reset(H2Code.STREAM_CLOSED);
    s.recvWindow -= flow;
    if (s.recvWindow < 0) return s.reset(H2Code.FLOW_CONTROL_ERROR);
    const end = (flags & FrameFlag.END_STREAM) !== 0;
    if (end) s.remoteEnded = true;
    if (data.length > 0) s.sink?.onData(Buffer.from(data));
    if (end) s.remoteEnd();
    else if (!s.closed) s.consumed(flow);
  }

  private onHeadersFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let start = 0;
    let end = payload.length;
    if (flags & FrameFlag.PADDED) {
      if (payload.length < 1) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'HEADERS padding');
      start = 1;
      end -= payload[0]!;
    }
    if (flags & FrameFlag.PRIORITY) start += 5;
    if (end < start) throw new ConnectionError(H2Code.PROTOCOL_ERROR, 'HEADERS padding');
    const endStream = (flags & FrameFlag.END_STREAM) !== 0;
    if (flags & FrameFlag.END_HEADERS) {
      // the whole block is in this frame: decoded from the read buffer, no copy
      this.onHeaderBlock(streamId, endStream, payload.subarray(start, end));
      return;
    }
    const frag = Buffer.from(payload.subarray(start, end));
    this.headerBlock = { streamId, endStream, parts: [frag], bytes: frag.length };
    if (frag.length > MAX_HEADER_BLOCK_BYTES) throw new ConnectionError(H2Code.ENHANCE_YOUR_CALM, 'header block too large');
  }

  private endHeaderBlock(): void {
    const hb = this.headerBlock!;
    this.headerBlock = undefined;
    this.onHeaderBlock(hb.streamId, hb.endStream, hb.parts.length === 1 ? hb.parts[0]! : Buffer.concat(hb.parts));
  }

  /** A complete header block of stream `id`: a new request, or the client's trailers. */
  private onHeaderBlock(id: number, endStream: boolean, block: Buffer): void {
    const builder = new RequestHeaderBuilder();
    try {
      this.hpack.visit(block, builder);
    } catch (e) {
      if (e instanceof HpackError) throw new ConnectionError(H2Code.COMPRESSION_ERROR, e.message);
      throw e;
    }
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      // trailers from the client: only END_STREAM matters to gRPC
      if (!endStream) return existing.reset(H2Code.PROTOCOL_ERROR);
      if (!existing.remoteEnded) existing.remoteEnd();
      return;
    }
    if ((id & 1) === 0 || id <= this.lastStreamId) throw new ConnectionError(H2Code.PROTOCOL_ERROR, `HEADERS opening stream ${id}`);
    this.lastStreamId = id;
    if (this.draining || this.closed) return;
    if (this.streams.size >= this.opts.maxConcurrentStreams) return this.resetId(id, H2Code.REFUSED_STREAM);
    const headers = builder.result();
    if (headers === undefined) return this.resetId(id, H2Code.PROTOCOL_ERROR);
    const stream = new Http2ServerStream(this, id, this.peerInitialWindow, this.opts.streamWindowBytes);
    this.streams.set(id, stream);
    if (endStream) stream.remoteEnded = true;
    this.opts.onStream(stream, headers);
    if (endStream) stream.remoteEnd();
  }

  /** RST_STREAM `code` for stream `id`, open or not (an open one closes). */
  private resetId(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s) s.reset(code);
    else this.queueFrame(frame(FrameType.RST_STREAM, 0, id, u32(code)));
  }
}

/**
 * Builds the request header object from a decoded header block (HeaderSink), and
 * finds it malformed (RFC 7540 §8.1.2) on upper-case, empty or control-character
 * names, unknown, repeated or late pseudo-headers, connection-specific fields,
 * `te` other than "trailers", or no :method or :path.
 */
export class RequestHeaderBuilder implements HeaderSink {
  private readonly h: RequestHeaders = Object.create(null) as RequestHeaders;
  private regular = false;
  private bad = false;

  field(name: string, value: string): void {
    if (this.bad) return;
    if (name.length === 0) return this.fail();
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if ((c >= 0x41 && c <= 0x5a) || c <= 0x20 || c >= 0x7f) return this.fail();
    }
    const h = this.h;
    if (name.charCodeAt(0) === 0x3a) {
      if (this.regular || !PSEUDO_HEADERS.has(name) || h[name] !== undefined) return this.fail();
      h[name] = value;
      return;
    }
    this.regular = true;
    if (CONNECTION_HEADERS.has(name) || (name === 'te' && value !== 'trailers')) return this.fail();
    const prev = h[name];
    h[name] = prev === undefined ? value : `${prev}, ${value}`;
  }

  /** The headers, or undefined when they are malformed. */
  result(): RequestHeaders | undefined {
    if (this.bad || this.h[':method'] === undefined || !this.h[':path']) return undefined;
    return this.h;
  }

  private fail(): void {
    this.bad = true;
  }
}
