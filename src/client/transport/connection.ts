/**
 * @module client/transport/connection
 * One HTTP/2 client connection carrying gRPC calls (gRPC over HTTP/2,
 * PROTOCOL-HTTP2.md), written on a plain `net`/`tls` socket instead of
 * node:http2: loading node:http2 and opening a session costs about 25 ms of a
 * cold CLI start, this costs about 5 (bench/README.md, CLI cold start).
 *
 * What it implements of RFC 7540: the client preface and SETTINGS exchange,
 * HEADERS/CONTINUATION in both directions (HPACK: util/http2/hpack.ts, requests
 * as literals without indexing, responses decoded with the dynamic table),
 * DATA with padding, flow control both ways (the peer's windows respected
 * when sending, our own windows re-opened as the receiver consumes, so a slow
 * reader of one stream holds back that stream only), PING (answered; sent as
 * keepalive), RST_STREAM, GOAWAY (streams above the last id fail as
 * Unavailable, the others finish), WINDOW_UPDATE, SETTINGS changes. Server
 * push is disabled; PRIORITY and unknown frames are ignored.
 *
 * Statuses follow grpc-go's client (internal/transport/http2_client.go,
 * http_util.go), since etcdctl prints them: `grpc-status` / percent-decoded
 * `grpc-message` from the trailers (or a trailers-only response); an HTTP
 * status other than 200 without them maps as grpc-go maps it; RST_STREAM codes
 * map as grpc-go's http2ErrConvTab; a lost connection is Unavailable
 * `transport is closing`.
 */
import type * as netNs from 'node:net';
import type * as tlsNs from 'node:tls';
import { EventEmitter } from 'node:events';
import { encodeLiteralBlock, HpackDecoder, HpackError, type HeaderField } from '../../util/http2/hpack.js';
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
  h2CodeName,
  MAX_STREAM_ID,
  readFrameHeader,
  Setting,
} from '../../util/http2/frame.js';
import type { StatusObject } from '../../util/grpc/codes.js';
import { SlotMap } from '../../util/slot-map.js';
import { encodeMessage, MessageDecoder } from '../../util/grpc/message.js';

/** A call's end: a gRPC status code (google.golang.org/grpc/codes) and its message. */
export type CallStatus = StatusObject;

/** Where and how to connect. */
export interface ConnectOptions {
  /** `host:port`, `[v6]:port`, or `unix:/path` */
  target: string;
  /** TLS options; plaintext (h2c with prior knowledge) when absent */
  tls?: {
    ca?: Buffer;
    cert?: Buffer;
    key?: Buffer;
    insecureSkipVerify?: boolean;
    /** name the server certificate must carry (and SNI), instead of the target host */
    serverName?: string;
  };
  /** `:authority` of every request */
  authority: string;
  /** send a PING after this long without frames while calls are open, ms */
  keepaliveTimeMs: number;
  /** close the connection when a keepalive PING is not answered in this long, ms */
  keepaliveTimeoutMs: number;
}

/** Our receive window per stream, bytes (announced in SETTINGS_INITIAL_WINDOW_SIZE). */
const STREAM_WINDOW = 1 << 20;
/** Our receive window for the whole connection, bytes. */
const CONN_WINDOW = 16 << 20;
/** Largest gRPC message accepted from a server, bytes (etcdctl: unlimited; a sanity cap). */
const MAX_RECV_MESSAGE = 2 ** 31 - 1;

/** grpc-go http2ErrConvTab: RST_STREAM error code → gRPC code. */
function rstStreamCode(err: number): number {
  switch (err) {
    case 0x8: return 1; // CANCEL → Canceled
    case 0x7: return 14; // REFUSED_STREAM → Unavailable
    case 0xb: return 8; // ENHANCE_YOUR_CALM → ResourceExhausted
    case 0xc: return 7; // INADEQUATE_SECURITY → PermissionDenied
    default: return 13; // NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, ... → Internal
  }
}

/** grpc-go's HTTPStatusConvTab (http_util.go): HTTP status without grpc-status → gRPC code. */
function httpStatusCode(status: number): number {
  switch (status) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return 14;
    default: return 2;
  }
}

/** The `grpc-message` trailer decoded as grpc-go's decodeGrpcMessage does (%XX → byte, UTF-8). */
export function decodeGrpcMessage(v: string): string {
  if (!v.includes('%')) return Buffer.from(v, 'latin1').toString('utf8');
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x25 && i + 2 < v.length && /^[0-9A-Fa-f]{2}$/.test(v.slice(i + 1, i + 3))) {
      out.push(parseInt(v.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(c & 0xff);
    }
  }
  return Buffer.from(out).toString('utf8');
}

/** A `grpc-timeout` value for `ms` (at most 8 digits, the finest unit that fits). */
export function grpcTimeout(ms: number): string {
  const us = Math.max(1, Math.ceil(ms * 1000));
  if (us < 1e8) return `${us}u`;
  const m = Math.ceil(ms);
  if (m < 1e8) return `${m}m`;
  const s = Math.ceil(ms / 1000);
  if (s < 1e8) return `${s}S`;
  return `${Math.min(Math.ceil(ms / 3_600_000), 99_999_999)}H`;
}

/**
 * One call (one HTTP/2 stream). Events: `message` (Buffer, one gRPC message),
 * `status` (CallStatus, exactly once, last). `write` queues a message, `end`
 * half-closes, `cancel` resets the stream (status Canceled). `pause`/`resume`
 * stop and restart re-opening this stream's receive window.
 */
export class ClientCall extends EventEmitter {
  /** HTTP/2 stream id, assigned when the HEADERS go out */
  id = 0;
  /** what the peer still lets us send on this stream, bytes */
  sendWindow: number;
  /** bytes received and not yet given back through WINDOW_UPDATE */
  private unacked = 0;
  private paused = false;
  /** DATA waiting for send window (already framed as gRPC messages) */
  readonly pendingData: Buffer[] = [];
  pendingEnd = false;
  /** the request HEADERS frames, until the first flush writes them */
  pendingHeaders: Buffer | undefined;
  private flushQueued = false;
  /** the response messages, split out of the DATA frames */
  private readonly decoder = new MessageDecoder(MAX_RECV_MESSAGE, {
    onMessage: (msg) => this.emit('message', msg),
    onFrameError: (st) => {
      this.conn.resetCall(this, H2Code.CANCEL);
      this.finish(st);
    },
  });
  private httpStatus = 0;
  private gotHeaders = false;
  done = false;
  private deadlineTimer: NodeJS.Timeout | undefined;

  constructor(private readonly conn: Connection, sendWindow: number) {
    super();
    this.sendWindow = sendWindow;
  }

  /** Sends one gRPC message (uncompressed). */
  write(msg: Uint8Array): void {
    if (this.done || this.pendingEnd) return;
    this.pendingData.push(encodeMessage(msg));
    this.queueFlush();
  }

  /**
   * Flushes after the current task: the headers, a unary request and its END_STREAM
   * leave in one write and one DATA frame (a server that answers before END_STREAM
   * arrives resets the stream after its trailers, and a reset can overtake them).
   */
  queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.conn.flushCall(this);
    });
  }

  /** Half-closes the request side (END_STREAM). */
  end(): void {
    if (this.done || this.pendingEnd) return;
    this.pendingEnd = true;
    this.queueFlush();
  }

  /** Resets the stream; the call ends with Canceled `Cancelled on client`. */
  cancel(): void {
    if (this.done) return;
    this.conn.resetCall(this, H2Code.CANCEL);
    this.finish({ code: 1, details: 'Cancelled on client' });
  }

  /** Stops re-opening the receive window (the reader is behind). */
  pause(): void {
    this.paused = true;
  }

  /** Re-opens the receive window for what was consumed while paused. */
  resume(): void {
    this.paused = false;
    this.maybeWindowUpdate();
  }

  /** Ends the call with DeadlineExceeded at `deadline` (epoch ms) unless it ended before. */
  setDeadline(deadline: number): void {
    const ms = Math.max(0, deadline - Date.now());
    this.deadlineTimer = setTimeout(() => {
      if (this.done) return;
      this.conn.resetCall(this, H2Code.CANCEL);
      this.finish({ code: 4, details: 'context deadline exceeded' });
    }, ms);
    this.deadlineTimer.unref?.();
  }

  /** @internal the call is over: reported once. */
  finish(st: CallStatus): void {
    if (this.done) return;
    this.done = true;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.conn.forget(this);
    this.emit('status', st);
  }

  /** @internal a response header block (headers or trailers). */
  onHeaders(fields: HeaderField[], endStream: boolean): void {
    const get = (n: string) => fields.find((f) => f.name === n)?.value;
    if (!this.gotHeaders) {
      this.gotHeaders = true;
      this.httpStatus = Number(get(':status') ?? 0);
    }
    const gs = get('grpc-status');
    // grpc-go: a non-200 response without grpc-status ends the call with the converted HTTP status
    const httpFailure = (): CallStatus => ({
      code: httpStatusCode(this.httpStatus),
      details: `unexpected HTTP status code received from server: ${this.httpStatus} (${HTTP_STATUS_TEXT[this.httpStatus] ?? ''})`,
    });
    if (!endStream) {
      if (this.httpStatus !== 200 && gs === undefined) {
        this.conn.resetCall(this, H2Code.CANCEL);
        this.finish(httpFailure());
      }
      return;
    }
    if (gs === undefined) {
      if (this.httpStatus !== 200) {
        this.finish(httpFailure());
      } else {
        this.finish({ code: 13, details: 'server closed the stream without sending trailers' });
      }
      return;
    }
    const code = Number(gs);
    this.finish({ code: Number.isInteger(code) && code >= 0 ? code : 2, details: decodeGrpcMessage(get('grpc-message') ?? '') });
  }

  /** @internal DATA payload (padding removed); `flowBytes` is what it counted against the windows. */
  onData(data: Buffer, flowBytes: number, endStream: boolean): void {
    this.unacked += flowBytes;
    if (!this.done) this.decoder.push(data);
    if (endStream && !this.done) {
      this.finish({ code: 13, details: 'server closed the stream without sending trailers' });
      return;
    }
    this.maybeWindowUpdate();
  }

  private maybeWindowUpdate(): void {
    if (this.paused || this.done || this.unacked < STREAM_WINDOW / 2) return;
    this.conn.windowUpdate(this.id, this.unacked);
    this.unacked = 0;
  }
}

const HTTP_STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/**
 * One HTTP/2 connection. Events: `ready` (the server's SETTINGS arrived),
 * `close` (CallStatus for the calls it ended, once; the socket error when the
 * connection never became ready), `goaway` (no new calls; open ones finish).
 */
export class Connection extends EventEmitter {
  private socket: netNs.Socket | undefined;
  /** Open calls by stream ID; a SlotMap, so a finished call is not kept alive (util/slot-map.ts). */
  private readonly calls = new SlotMap<number, ClientCall>();
  private nextId = 1;
  private readonly decoder = new HpackDecoder(DEFAULT_HEADER_TABLE_SIZE);
  private peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  private peerInitialWindow = DEFAULT_WINDOW_BYTES;
  private connSendWindow = DEFAULT_WINDOW_BYTES;
  private connUnacked = 0;
  /** calls with DATA waiting for window, in order */
  private readonly blocked = new Set<ClientCall>();
  private inbuf: Buffer = Buffer.alloc(0);
  /** header block being assembled (HEADERS + CONTINUATION) */
  private headerBlock: { streamId: number; endStream: boolean; parts: Buffer[] } | undefined;
  ready = false;
  closed = false;
  /** GOAWAY received: no new calls */
  draining = false;
  private lastFrameAt = Date.now();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private pingOutstanding = false;

  constructor(private readonly opts: ConnectOptions) {
    super();
  }

  /** Opens the socket and sends the preface; `ready` or `close` follows. */
  open(): void {
    const { target, tls } = this.opts;
    let sock: netNs.Socket;
    const onConnect = () => {
      const settings = Buffer.alloc(18);
      settings.writeUInt16BE(Setting.ENABLE_PUSH, 0);
      settings.writeUInt32BE(0, 2);
      settings.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 6);
      settings.writeUInt32BE(STREAM_WINDOW, 8);
      settings.writeUInt16BE(Setting.HEADER_TABLE_SIZE, 12);
      settings.writeUInt32BE(DEFAULT_HEADER_TABLE_SIZE, 14);
      const wu = Buffer.alloc(4);
      wu.writeUInt32BE(CONN_WINDOW - DEFAULT_WINDOW_BYTES, 0);
      sock.write(Buffer.concat([CLIENT_PREFACE, frameHeader(settings.length, FrameType.SETTINGS, 0, 0), settings, frameHeader(4, FrameType.WINDOW_UPDATE, 0, 0), wu]));
    };
    const unix = target.startsWith('unix:') ? target.slice(5).replace(/^\/\/(?=\/)/, '') : undefined;
    const m = unix === undefined ? /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(target) : null;
    const host = m ? (m[1] ?? m[2] ?? '') : '';
    const port = m ? Number(m[3]) : 0;
    if (unix === undefined && !m) {
      queueMicrotask(() => this.fail(new Error(`bad target ${target}`)));
      return;
    }
    if (tls) {
      const tlsMod = process.getBuiltinModule('node:tls') as typeof tlsNs;
      const servername = tls.serverName || host;
      const o: tlsNs.ConnectionOptions = {
        ALPNProtocols: ['h2'],
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        // SNI carries host names only (RFC 6066 §3)
        servername: /^[\d.]+$|:/.test(servername) ? undefined : servername,
      };
      if (tls.insecureSkipVerify) {
        o.rejectUnauthorized = false;
        o.checkServerIdentity = () => undefined;
      } else if (tls.serverName) {
        o.checkServerIdentity = (_h, cert) => tlsMod.checkServerIdentity(tls.serverName!, cert);
      }
      sock = unix !== undefined ? tlsMod.connect({ ...o, path: unix }) : tlsMod.connect({ ...o, host, port });
      sock.once('secureConnect', onConnect);
    } else {
      const netMod = process.getBuiltinModule('node:net') as typeof netNs;
      sock = unix !== undefined ? netMod.connect({ path: unix }) : netMod.connect({ host, port });
      sock.once('connect', onConnect);
    }
    sock.setNoDelay?.(true);
    this.socket = sock;
    sock.on('data', (d: Buffer) => this.onSocketData(d));
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new Error('connection closed')));
  }

  /** Number of calls open on this connection. */
  get activeCalls(): number {
    return this.calls.size;
  }

  /**
   * Starts a call: sends the request HEADERS.
   * @param metadata custom headers (lower-case names)
   * @param deadline epoch ms, or undefined for none
   */
  startCall(path: string, metadata: readonly [string, string][], deadline: number | undefined): ClientCall {
    const call = new ClientCall(this, this.peerInitialWindow);
    if (this.closed || this.draining || !this.ready || this.nextId > MAX_STREAM_ID) {
      queueMicrotask(() => call.finish({ code: 14, details: 'transport is closing' }));
      return call;
    }
    call.id = this.nextId;
    this.nextId += 2;
    this.calls.set(call.id, call);
    const fields: HeaderField[] = [
      { name: ':method', value: 'POST', neverIndex: false },
      { name: ':scheme', value: this.opts.tls ? 'https' : 'http', neverIndex: false },
      { name: ':path', value: path, neverIndex: false },
      { name: ':authority', value: this.opts.authority, neverIndex: false },
      { name: 'content-type', value: 'application/grpc', neverIndex: false },
      { name: 'user-agent', value: 'grpc-etcdctl-ts', neverIndex: false },
      { name: 'te', value: 'trailers', neverIndex: false },
    ];
    if (deadline !== undefined) fields.push({ name: 'grpc-timeout', value: grpcTimeout(deadline - Date.now()), neverIndex: false });
    for (const [name, value] of metadata) fields.push({ name, value: Buffer.from(value, 'utf8').toString('latin1'), neverIndex: false });
    call.pendingHeaders = this.headerBlockFrames(call.id, encodeLiteralBlock(fields));
    call.queueFlush();
    if (deadline !== undefined) call.setDeadline(deadline);
    this.armKeepalive();
    return call;
  }

  private headerBlockFrames(streamId: number, block: Buffer): Buffer {
    const out: Buffer[] = [];
    let off = 0;
    let first = true;
    do {
      const n = Math.min(this.peerMaxFrame, block.length - off);
      const last = off + n >= block.length;
      out.push(frameHeader(n, first ? FrameType.HEADERS : FrameType.CONTINUATION, last ? FrameFlag.END_HEADERS : 0, streamId), block.subarray(off, off + n));
      off += n;
      first = false;
    } while (off < block.length);
    return Buffer.concat(out);
  }

  /** @internal sends what `call`'s and the connection's windows allow. */
  flushCall(call: ClientCall): void {
    if (this.closed || call.done || !this.socket) return;
    const out: Buffer[] = [];
    if (call.pendingHeaders) {
      out.push(call.pendingHeaders);
      call.pendingHeaders = undefined;
    }
    while (call.pendingData.length > 0) {
      const head = call.pendingData[0]!;
      const n = Math.min(head.length, this.peerMaxFrame, call.sendWindow, this.connSendWindow);
      if (n <= 0 && head.length > 0) break;
      const last = n === head.length && call.pendingData.length === 1 && call.pendingEnd;
      out.push(frameHeader(n, FrameType.DATA, last ? FrameFlag.END_STREAM : 0, call.id), head.subarray(0, n));
      call.sendWindow -= n;
      this.connSendWindow -= n;
      if (n === head.length) call.pendingData.shift();
      else call.pendingData[0] = head.subarray(n);
      if (last) call.pendingEnd = false;
    }
    if (call.pendingData.length === 0 && call.pendingEnd) {
      out.push(frameHeader(0, FrameType.DATA, FrameFlag.END_STREAM, call.id));
      call.pendingEnd = false;
    }
    if (call.pendingData.length > 0) this.blocked.add(call);
    else this.blocked.delete(call);
    if (out.length) this.socket.write(Buffer.concat(out));
  }

  /** @internal RST_STREAM for `call` (if it is still open here). */
  resetCall(call: ClientCall, code: number): void {
    if (!this.calls.has(call.id) || this.closed) return;
    if (call.pendingHeaders) return; // never sent: nothing to reset
    const p = Buffer.alloc(4);
    p.writeUInt32BE(code, 0);
    this.socket?.write(Buffer.concat([frameHeader(4, FrameType.RST_STREAM, 0, call.id), p]));
  }

  /** @internal the call ended: drop it; a draining connection closes after its last call. */
  forget(call: ClientCall): void {
    this.calls.take(call.id);
    this.blocked.delete(call);
    if (this.draining && this.calls.size === 0) this.close();
  }

  /** @internal WINDOW_UPDATE of `n` bytes for stream `id`. */
  windowUpdate(id: number, n: number): void {
    if (this.closed || n <= 0) return;
    const p = Buffer.alloc(4);
    p.writeUInt32BE(n, 0);
    this.socket?.write(Buffer.concat([frameHeader(4, FrameType.WINDOW_UPDATE, 0, id), p]));
  }

  /** Closes the socket; open calls end Unavailable `transport is closing`. */
  close(): void {
    if (this.closed) return;
    if (this.ready && this.socket && !this.socket.destroyed) {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(Math.max(0, this.nextId - 2), 0);
      p.writeUInt32BE(H2Code.NO_ERROR, 4);
      this.socket.end(Buffer.concat([frameHeader(8, FrameType.GOAWAY, 0, 0), p]));
    }
    this.fail(new Error('transport is closing'), true);
  }

  private fail(err: Error, local = false): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
    // a local close has sent GOAWAY with socket.end(); give it a moment to leave
    if (local && this.socket && !this.socket.destroyed) setTimeout(() => this.socket?.destroy(), 1000).unref();
    else this.socket?.destroy();
    const st: CallStatus = { code: 14, details: 'transport is closing' };
    for (const c of [...this.calls.values()]) c.finish(st);
    this.emit('close', this.ready ? undefined : err);
  }

  /** Keepalive (grpc-go's client keepalive without PermitWithoutStream): PING after `keepaliveTimeMs` of silence while calls are open. */
  private armKeepalive(): void {
    if (this.keepaliveTimer || this.closed || this.opts.keepaliveTimeMs <= 0) return;
    const tick = () => {
      this.keepaliveTimer = undefined;
      if (this.closed || this.calls.size === 0) return;
      const idle = Date.now() - this.lastFrameAt;
      if (this.pingOutstanding) {
        if (idle >= this.opts.keepaliveTimeoutMs) {
          this.fail(new Error('keepalive ping not acknowledged'));
          return;
        }
        this.keepaliveTimer = setTimeout(tick, this.opts.keepaliveTimeoutMs - idle);
      } else if (idle >= this.opts.keepaliveTimeMs) {
        this.pingOutstanding = true;
        this.lastFrameAt = Date.now();
        this.socket?.write(Buffer.concat([frameHeader(8, FrameType.PING, 0, 0), Buffer.alloc(8)]));
        this.keepaliveTimer = setTimeout(tick, this.opts.keepaliveTimeoutMs);
      } else {
        this.keepaliveTimer = setTimeout(tick, this.opts.keepaliveTimeMs - idle);
      }
      this.keepaliveTimer?.unref();
    };
    this.keepaliveTimer = setTimeout(tick, this.opts.keepaliveTimeMs);
    this.keepaliveTimer.unref();
  }

  private onSocketData(d: Buffer): void {
    this.inbuf = this.inbuf.length ? Buffer.concat([this.inbuf, d]) : d;
    this.lastFrameAt = Date.now();
    let off = 0;
    while (!this.closed && this.inbuf.length - off >= FRAME_HEADER_BYTES) {
      const h = readFrameHeader(this.inbuf.subarray(off, off + FRAME_HEADER_BYTES));
      if (this.inbuf.length - off < FRAME_HEADER_BYTES + h.length) break;
      const payload = this.inbuf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + h.length);
      off += FRAME_HEADER_BYTES + h.length;
      try {
        this.onFrame(h.type, h.flags, h.streamId, payload);
      } catch (e) {
        this.protocolError(e instanceof Error ? e.message : String(e));
        return;
      }
    }
    this.inbuf = off === this.inbuf.length ? Buffer.alloc(0) : this.inbuf.subarray(off);
  }

  private protocolError(why: string): void {
    if (this.closed) return;
    const p = Buffer.alloc(8);
    p.writeUInt32BE(0, 0);
    p.writeUInt32BE(H2Code.PROTOCOL_ERROR, 4);
    this.socket?.write(Buffer.concat([frameHeader(8, FrameType.GOAWAY, 0, 0), p]));
    this.fail(new Error(`http2: ${why}`));
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.headerBlock && type !== FrameType.CONTINUATION) throw new Error('expected CONTINUATION');
    switch (type) {
      case FrameType.SETTINGS:
        if (flags & FrameFlag.ACK) return;
        for (let i = 0; i + 6 <= payload.length; i += 6) {
          const id = payload.readUInt16BE(i);
          const v = payload.readUInt32BE(i + 2);
          if (id === Setting.INITIAL_WINDOW_SIZE) {
            const delta = v - this.peerInitialWindow;
            this.peerInitialWindow = v;
            for (const c of this.calls.values()) c.sendWindow += delta;
          } else if (id === Setting.MAX_FRAME_SIZE) {
            this.peerMaxFrame = v;
          }
        }
        this.socket!.write(frameHeader(0, FrameType.SETTINGS, FrameFlag.ACK, 0));
        if (!this.ready) {
          this.ready = true;
          this.emit('ready');
        }
        for (const c of [...this.blocked]) this.flushCall(c);
        return;
      case FrameType.PING:
        if (flags & FrameFlag.ACK) {
          this.pingOutstanding = false;
          return;
        }
        this.socket!.write(Buffer.concat([frameHeader(8, FrameType.PING, FrameFlag.ACK, 0), payload]));
        return;
      case FrameType.WINDOW_UPDATE: {
        const inc = payload.readUInt32BE(0) & 0x7fffffff;
        if (streamId === 0) {
          this.connSendWindow += inc;
          for (const c of [...this.blocked]) this.flushCall(c);
        } else {
          const c = this.calls.get(streamId);
          if (c) {
            c.sendWindow += inc;
            this.flushCall(c);
          }
        }
        return;
      }
      case FrameType.GOAWAY: {
        const last = payload.readUInt32BE(0) & 0x7fffffff;
        this.draining = true;
        this.emit('goaway');
        for (const c of [...this.calls.values()]) {
          if (c.id > last) c.finish({ code: 14, details: 'the connection is draining' });
        }
        if (this.calls.size === 0) this.close();
        return;
      }
      case FrameType.RST_STREAM: {
        const c = this.calls.get(streamId);
        if (!c) return;
        const err = payload.readUInt32BE(0);
        this.calls.take(streamId);
        c.finish({ code: rstStreamCode(err), details: `stream terminated by RST_STREAM with error code: ${h2CodeName(err) ?? err}` });
        return;
      }
      case FrameType.DATA: {
        let data = payload;
        if (flags & FrameFlag.PADDED) {
          const pad = payload[0]!;
          data = payload.subarray(1, payload.length - pad);
        }
        this.connUnacked += payload.length;
        if (this.connUnacked >= CONN_WINDOW / 2) {
          this.windowUpdate(0, this.connUnacked);
          this.connUnacked = 0;
        }
        const c = this.calls.get(streamId);
        if (c) c.onData(data, payload.length, (flags & FrameFlag.END_STREAM) !== 0);
        return;
      }
      case FrameType.HEADERS: {
        let frag = payload;
        let start = 0;
        let end = payload.length;
        if (flags & FrameFlag.PADDED) {
          start = 1;
          end -= payload[0]!;
        }
        if (flags & FrameFlag.PRIORITY) start += 5;
        frag = payload.subarray(start, end);
        this.headerBlock = { streamId, endStream: (flags & FrameFlag.END_STREAM) !== 0, parts: [frag] };
        if (flags & FrameFlag.END_HEADERS) this.endHeaderBlock();
        return;
      }
      case FrameType.CONTINUATION:
        if (!this.headerBlock || this.headerBlock.streamId !== streamId) throw new Error('unexpected CONTINUATION');
        this.headerBlock.parts.push(payload);
        if (flags & FrameFlag.END_HEADERS) this.endHeaderBlock();
        return;
      default:
        return; // PRIORITY, PUSH_PROMISE (push is off), unknown types
    }
  }

  private endHeaderBlock(): void {
    const hb = this.headerBlock!;
    this.headerBlock = undefined;
    let fields: HeaderField[];
    try {
      fields = this.decoder.decode(Buffer.concat(hb.parts)).fields;
    } catch (e) {
      if (e instanceof HpackError) throw new Error(`HPACK: ${e.message}`);
      throw e;
    }
    const c = this.calls.get(hb.streamId);
    if (c) c.onHeaders(fields, hb.endStream);
  }
}

