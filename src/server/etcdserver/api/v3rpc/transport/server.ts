/**
 * @module server/etcdserver/api/v3rpc/transport/server
 * A gRPC server on our own HTTP/2 connections (http2.ts; the part of grpc-go's
 * Server and http2Server that etcd 3.4's clients use): it takes already-accepted
 * connections (plain or TLS, see embed/serve.ts), routes each stream by `:path`
 * to a registered unary or streaming method, and answers unknown paths as grpc-go.
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
 * Connections: SETTINGS for many concurrent streams (no stream limit, as etcd's
 * --max-concurrent-streams default), 1 MiB stream and 16 MiB connection receive
 * windows, and a keepalive PING every `keepaliveIntervalMs` that closes the
 * connection when not answered within `keepaliveTimeoutMs` (grpc-go
 * keepalive.ServerParameters Time/Timeout), and grpc-go's keepalive enforcement
 * policy for client PINGs (`keepaliveMinTimeMs`). Any `:authority` is taken, as Go's
 * server takes grpc-go's `http://host:port` from etcdctl 3.4.
 */
import type net from 'node:net';
import { respondStatusOnly } from './call.js';
import { Code } from '../../../../../util/grpc/codes.js';
import { H2Code } from '../../../../../util/http2/frame.js';
import { Http2ServerConnection, type Http2ServerStream, type RequestHeaders } from './http2.js';
import type { Method } from './method.js';
import { statusMalformedMethod, statusUnknownMethod } from './status.js';
import { ServerStream } from './stream.js';
import { parseGrpcTimeout } from './timeout.js';
import { ServerUnaryCall } from './unary.js';

/** Receive window per stream, bytes (HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE). */
export const STREAM_WINDOW_BYTES = 1 << 20;
/** Receive window per connection, bytes. */
export const CONNECTION_WINDOW_BYTES = 16 << 20;
/** grpc-go's keepalive enforcement MinTime when a server sets no policy (defaultKeepalivePolicyMinTime), ms. */
export const DEFAULT_KEEPALIVE_MIN_TIME_MS = 5 * 60 * 1000;

/** Options of {@link GrpcServer}. */
export interface GrpcServerOptions {
  /** Largest request message accepted, bytes (grpc-go MaxRecvMsgSize). */
  readonly maxRecvBytes: number;
  /** Keepalive PING period per connection, ms (0 or absent: no pings). */
  readonly keepaliveIntervalMs?: number;
  /** Time to wait for a PING ack before closing the connection, ms (default 20000). */
  readonly keepaliveTimeoutMs?: number;
  /**
   * Least time between client PINGs while calls are open (grpc keepalive.EnforcementPolicy
   * MinTime), ms; default 5 min, grpc-go's when no policy is given. Faster pings end the
   * connection with GOAWAY ENHANCE_YOUR_CALM "too_many_pings" (http2.ts).
   */
  readonly keepaliveMinTimeMs?: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS per connection (grpc.MaxConcurrentStreams; default 2^32-1). */
  readonly maxConcurrentStreams?: number;
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
  private readonly connections = new Set<Http2ServerConnection>();
  private readonly maxRecvBytes: number;

  constructor(private readonly opts: GrpcServerOptions) {
    this.maxRecvBytes = opts.maxRecvBytes;
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
   * first bytes may have been read and put back (unshift).
   */
  handleConnection(socket: net.Socket): void {
    const conn = new Http2ServerConnection(socket, {
      maxConcurrentStreams: this.opts.maxConcurrentStreams ?? 2 ** 32 - 1,
      streamWindowBytes: STREAM_WINDOW_BYTES,
      connectionWindowBytes: CONNECTION_WINDOW_BYTES,
      keepaliveIntervalMs: this.opts.keepaliveIntervalMs ?? 0,
      keepaliveTimeoutMs: this.opts.keepaliveTimeoutMs ?? 20_000,
      keepaliveMinTimeMs: this.opts.keepaliveMinTimeMs ?? DEFAULT_KEEPALIVE_MIN_TIME_MS,
      onStream: (stream, headers) => this.onStream(stream, headers),
      onClose: (c) => this.connections.delete(c),
    });
    if (!conn.closed) this.connections.add(conn);
  }

  /** Closes every connection at once (GOAWAY; calls are canceled); the server stays usable. */
  close(): void {
    for (const c of [...this.connections]) c.close();
    this.connections.clear();
  }

  /** Connections open (tests). */
  get connectionCount(): number {
    return this.connections.size;
  }

  private onStream(stream: Http2ServerStream, headers: RequestHeaders): void {
    if (!isGrpcContentType(headers['content-type'])) {
      stream.reset(H2Code.PROTOCOL_ERROR);
      return;
    }
    let deadlineMs: number | undefined;
    const timeout = headers['grpc-timeout'];
    if (timeout !== undefined) {
      deadlineMs = parseGrpcTimeout(timeout);
      if (deadlineMs === undefined) {
        stream.reset(H2Code.PROTOCOL_ERROR);
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

    if (method.kind === 'unary') {
      const call = new ServerUnaryCall(stream, headers, path, method, this.maxRecvBytes);
      if (deadlineMs !== undefined) call.setDeadline(deadlineMs);
      return;
    }
    const facade = new ServerStream(stream, headers, path, method, this.maxRecvBytes);
    if (deadlineMs !== undefined) facade.transportCall.setDeadline(deadlineMs);
    // server-streaming handlers start when their request arrives (stream.ts)
    if (method.kind !== 'server_streaming') method.handler(facade);
  }

  private unknownPathStatus(path: string) {
    const sm = path.startsWith('/') ? path.slice(1) : path;
    const pos = sm.lastIndexOf('/');
    if (pos === -1) return statusMalformedMethod(path);
    const service = sm.slice(0, pos);
    return statusUnknownMethod(service, sm.slice(pos + 1), this.services.has(service));
  }
}
