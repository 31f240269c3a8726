/**
 * @module server/etcdserver/api/v3rpc/transport/server
 * A gRPC server on node:http2 (the part of grpc-go's Server and http2Server
 * that etcd 3.4's clients use): it takes already-accepted connections
 * (plain or TLS, see embed/serve.ts), routes each stream by `:path` to a
 * registered unary or streaming method, and answers unknown paths as grpc-go.
 *
 * Per stream, before any handler runs (grpc-go http2_server.go operateHeaders,
 * server.go handleStream / processUnaryRPC):
 * - `content-type` missing or not application/grpc[+...|;...] → RST_STREAM PROTOCOL_ERROR;
 * - a malformed `grpc-timeout` → RST_STREAM PROTOCOL_ERROR; a valid one arms the deadline;
 * - `:path` without "/service/method" → ResourceExhausted "malformed method name: ...";
 * - an unregistered service → Unimplemented "unknown service S", a registered
 *   service without the method → Unimplemented "unknown method M for service S";
 * - `grpc-encoding` other than identity → Unimplemented "grpc: Decompressor is
 *   not installed for grpc-encoding "X"" (no decompressors are registered).
 *
 * Connections start in preamble.ts, which hands node:http2 the socket itself,
 * or, for a client whose first request has an :authority nghttp2 rejects
 * (grpc-go's `http://host:port` from etcdctl 3.4), the rewriting stage of
 * authority.ts for the connection's lifetime.
 *
 * Connections: HTTP/2 settings for many concurrent streams (no stream limit,
 * as etcd's --max-concurrent-streams default), 1 MiB stream and 16 MiB
 * connection receive windows, and a keepalive PING every `keepaliveIntervalMs`
 * that closes the connection when not answered within `keepaliveTimeoutMs`
 * (grpc-go keepalive.ServerParameters Time/Timeout).
 */
import http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { DEFAULT_HEADER_TABLE_SIZE, DEFAULT_MAX_FRAME_SIZE } from '../../../../../util/http2/frame.js';
import { kCall, respondStatusOnly, type CallStream } from './call.js';
import { Code } from '../../../../../util/grpc/codes.js';
import type { Method } from './method.js';
import { statusMalformedMethod, statusUnknownMethod } from './status.js';
import { ServerStream } from './stream.js';
import { acceptHttp2, type Handoff } from './preamble.js';
import { parseGrpcTimeout } from './timeout.js';
import { ServerUnaryCall } from './unary.js';

const { NGHTTP2_PROTOCOL_ERROR } = http2.constants;

/** Receive window per stream, bytes (HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE). */
export const STREAM_WINDOW_BYTES = 1 << 20;
/** Receive window per connection, bytes. */
export const CONNECTION_WINDOW_BYTES = 16 << 20;

/** Options of {@link GrpcServer}. */
export interface GrpcServerOptions {
  /** Largest request message accepted, bytes (grpc-go MaxRecvMsgSize). */
  readonly maxRecvBytes: number;
  /** Keepalive PING period per connection, ms (0 or absent: no pings). */
  readonly keepaliveIntervalMs?: number;
  /** Time to wait for a PING ack before closing the connection, ms (default 20000). */
  readonly keepaliveTimeoutMs?: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS per connection (grpc.MaxConcurrentStreams; default 2^32-1). */
  readonly maxConcurrentStreams?: number;
  /** Told how each connection was handed to node:http2 (preamble.ts): directly, or through the :authority rewriting stage. */
  readonly onHandoff?: (how: Handoff) => void;
}

function ignore(): void {}

function onStreamData(this: CallStream, chunk: Buffer): void {
  this[kCall]!.onData(chunk);
}

function onStreamEnd(this: CallStream): void {
  this[kCall]!.onEnd();
}

function onStreamClose(this: CallStream): void {
  this[kCall]!.streamClosed();
}

/** True for application/grpc, application/grpc+<subtype> and application/grpc;<params> (grpcutil.ContentSubtype). */
function isGrpcContentType(ct: string | undefined): boolean {
  if (ct === undefined || !ct.startsWith('application/grpc')) return false;
  if (ct.length === 16) return true;
  const c = ct[16];
  return c === '+' || c === ';';
}

/** The gRPC server; see the module doc. */
export class GrpcServer {
  private readonly methods = new Map<string, Method>();
  private readonly services = new Set<string>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Connections still in preamble.ts (before node:http2 has them): their abandon functions. */
  private readonly accepting = new Set<() => void>();
  /** The client socket of each session (a tls.TLSSocket for TLS), whatever node:http2 was handed. */
  private readonly clientSockets = new WeakMap<http2.Http2Session, net.Socket>();
  /** The socket whose connection node:http2 is being handed (its session is created synchronously). */
  private handingOver: net.Socket | undefined;
  private readonly h2: http2.Http2Server;
  private readonly maxRecvBytes: number;

  constructor(private readonly opts: GrpcServerOptions) {
    this.maxRecvBytes = opts.maxRecvBytes;
    this.h2 = http2.createServer({
      // header table and frame size stay at the defaults preamble.ts and authority.ts assume
      settings: {
        maxConcurrentStreams: opts.maxConcurrentStreams ?? 2 ** 32 - 1,
        initialWindowSize: STREAM_WINDOW_BYTES,
        headerTableSize: DEFAULT_HEADER_TABLE_SIZE,
        maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
      },
      // nghttp2's per-session memory cap (MB); past it new streams are refused
      maxSessionMemory: 64,
    });
    this.h2.on('session', (s) => this.onSession(s));
    this.h2.on('stream', (stream, headers) => this.onStream(stream, headers));
    this.h2.on('sessionError', ignore);
  }

  /**
   * Registers `method` as `/<service>/<name>`, e.g. service
   * "etcdserverpb.KV", name "Put".
   * @throws Error when that path is already registered
   */
  addMethod(service: string, name: string, method: Method): void {
    const path = `/${service}/${name}`;
    if (this.methods.has(path)) throw new Error(`grpc transport: ${path} registered twice`);
    this.methods.set(path, method);
    this.services.add(service);
  }

  /**
   * Serves HTTP/2 on `socket`, a connected net.Socket or tls.TLSSocket whose
   * first bytes may have been read and unshifted (it must not be resumed
   * afterwards). The connection start is read by preamble.ts, which hands
   * node:http2 the socket itself or, for clients sending an :authority that
   * nghttp2 rejects (grpc-go's `http://host:port`), the rewriting stage of
   * authority.ts.
   */
  handleConnection(socket: net.Socket): void {
    let handedOver = false;
    let abandon: (() => void) | undefined;
    abandon = acceptHttp2(
      socket,
      (conn: Duplex) => {
        handedOver = true;
        if (abandon) this.accepting.delete(abandon);
        this.handingOver = socket;
        try {
          this.h2.emit('connection', conn);
        } finally {
          this.handingOver = undefined;
        }
      },
      { headerTableSize: DEFAULT_HEADER_TABLE_SIZE, maxFrameSize: DEFAULT_MAX_FRAME_SIZE, onDecision: this.opts.onHandoff },
    );
    if (handedOver) return;
    this.accepting.add(abandon);
    socket.once('close', () => this.accepting.delete(abandon));
  }

  /** Closes every connection at once (calls are canceled); the server stays usable. */
  close(): void {
    for (const abandon of this.accepting) abandon();
    this.accepting.clear();
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
  }

  /**
   * The client's own socket under `session`: the net.Socket or tls.TLSSocket given to
   * {@link handleConnection}, also when node:http2 was handed the :authority stage over it
   * (a TLS peer certificate is read from it). Undefined for an unknown session.
   */
  clientSocket(session: http2.Http2Session | undefined): net.Socket | undefined {
    return session ? this.clientSockets.get(session) : undefined;
  }

  private onSession(session: http2.ServerHttp2Session): void {
    this.sessions.add(session);
    if (this.handingOver) this.clientSockets.set(session, this.handingOver);
    session.on('error', ignore);
    let keepalive: NodeJS.Timeout | undefined;
    session.on('close', () => {
      this.sessions.delete(session);
      if (keepalive) clearInterval(keepalive);
    });
    const widen = () => {
      try {
        session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
      } catch {
        // session already closing
      }
    };
    if (session.connecting) session.once('connect', widen);
    else widen();
    const every = this.opts.keepaliveIntervalMs ?? 0;
    if (every > 0) {
      const timeoutMs = this.opts.keepaliveTimeoutMs ?? 20_000;
      keepalive = setInterval(() => {
        if (session.destroyed) return;
        const t = setTimeout(() => session.destroy(), timeoutMs);
        t.unref();
        try {
          session.ping((err) => {
            clearTimeout(t);
            if (err && !session.destroyed) session.destroy();
          });
        } catch {
          clearTimeout(t);
        }
      }, every);
      keepalive.unref();
    }
  }

  private onStream(stream: CallStream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', ignore);
    if (!isGrpcContentType(headers['content-type'])) {
      stream.close(NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    let deadlineMs: number | undefined;
    const timeout = headers['grpc-timeout'];
    if (timeout !== undefined) {
      deadlineMs = typeof timeout === 'string' ? parseGrpcTimeout(timeout) : undefined;
      if (deadlineMs === undefined) {
        stream.close(NGHTTP2_PROTOCOL_ERROR);
        return;
      }
    }
    const path = headers[':path'] ?? '';
    const method = this.methods.get(path);
    if (method === undefined) {
      respondStatusOnly(stream, this.unknownPathStatus(path));
      return;
    }
    const enc = headers['grpc-encoding'];
    if (enc !== undefined && enc !== 'identity') {
      respondStatusOnly(stream, { code: Code.UNIMPLEMENTED, details: `grpc: Decompressor is not installed for grpc-encoding ${JSON.stringify(enc)}` });
      return;
    }

    let start: (() => void) | undefined;
    if (method.kind === 'unary') {
      new ServerUnaryCall(stream, headers, path, method, this.maxRecvBytes);
    } else {
      const facade = new ServerStream(stream, headers, path, method, this.maxRecvBytes);
      // server-streaming handlers start when their request arrives (stream.ts)
      if (method.kind !== 'server_streaming') start = () => method.handler(facade);
    }
    if (deadlineMs !== undefined) stream[kCall]!.setDeadline(deadlineMs);
    stream.on('data', onStreamData);
    stream.on('end', onStreamEnd);
    stream.on('close', onStreamClose);
    start?.();
  }

  private unknownPathStatus(path: string) {
    const sm = path.startsWith('/') ? path.slice(1) : path;
    const pos = sm.lastIndexOf('/');
    if (pos === -1) return statusMalformedMethod(path);
    const service = sm.slice(0, pos);
    return statusUnknownMethod(service, sm.slice(pos + 1), this.services.has(service));
  }
}
