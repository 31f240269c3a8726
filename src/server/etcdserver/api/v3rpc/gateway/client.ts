/**
 * @module server/etcdserver/api/v3rpc/gateway/client
 * The gRPC client connection the JSON gateway uses to call this member's own
 * gRPC server, as etcd 3.4 does (embed/serve.go registerGateway dials the
 * listener's own address: plain, unix, or TLS trusting any server certificate
 * and presenting the server's own certificate). Calls go over node:http2 with
 * the gRPC framing of util/grpc, so they pass every interceptor, limit and
 * auth check of the gRPC server exactly as a remote client's calls do.
 *
 * What the gateway needs from a call (grpc-go's client `Header()`/`Trailer()`):
 * the response header metadata, the trailer metadata (for a trailers-only
 * response: all its headers, as grpc-go reports them), the messages and the
 * final status.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { Code, type StatusObject } from '../../../../../util/grpc/codes.js';
import { encodeMessage, MessageDecoder } from '../../../../../util/grpc/message.js';

/** gRPC metadata as ordered (key, value) pairs; keys lower-case. */
export type MetadataPairs = Array<[string, string]>;

/** Where and how to dial the member's own gRPC server. */
export interface DialTarget {
  /** TCP host and port, or a unix socket path (`path`). */
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
  /** TLS: the client certificate and key presented (the server's own); the server certificate is not verified. */
  readonly tls?: { cert: Buffer; key: Buffer };
}

/**
 * On a TLS listener etcd 3.4 serves gRPC through Go's net/http (grpc-go's
 * ServeHTTP handler transport behind etcd's access controller), so what its
 * gateway receives differs from a plain listener's: the response headers
 * carry the access controller's CORS headers and the `Trailer` declarations,
 * and an error is never a trailers-only response (the headers come first,
 * the status in trailers).
 */
const HANDLER_TRANSPORT_CORS: MetadataPairs = [
  ['access-control-allow-headers', 'accept, content-type, authorization'],
  ['access-control-allow-methods', 'POST, GET, OPTIONS, PUT, DELETE'],
  ['access-control-allow-origin', '*'],
];
const HANDLER_TRANSPORT_TRAILERS: MetadataPairs = [['trailer', 'Grpc-Status'], ['trailer', 'Grpc-Message'], ['trailer', 'Grpc-Status-Details-Bin']];

/** The response header metadata the gateway sees from etcd's handler transport (see above). */
function handlerTransportHeader(h: http2.IncomingHttpHeaders): MetadataPairs {
  return [...HANDLER_TRANSPORT_CORS, ...metadataOf(h), ...HANDLER_TRANSPORT_TRAILERS];
}

/** Response header names that are not metadata (grpc-go http2_client operateHeaders). */
const RESERVED = new Set([':status', 'grpc-status', 'grpc-message', 'grpc-status-details-bin', 'grpc-encoding', 'grpc-accept-encoding', 'date']);

/** The metadata pairs of an HTTP/2 header block, reserved names left out. */
function metadataOf(h: http2.IncomingHttpHeaders, keepContentType = true): MetadataPairs {
  const out: MetadataPairs = [];
  for (const [k, v] of Object.entries(h)) {
    if (RESERVED.has(k) || k.startsWith(':')) continue;
    if (!keepContentType && k === 'content-type') continue;
    for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined) out.push([k, String(x)]);
  }
  return out;
}

/** grpc-go decodeGrpcMessage: %XX sequences back to bytes, UTF-8. */
function decodeGrpcMessage(s: string): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(s[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Receiver of one call's events. */
export interface CallObserver {
  /** Response headers arrived (not sent for a trailers-only response). */
  onHeader?(md: MetadataPairs): void;
  onMessage(msg: Uint8Array): void;
  /** The call ended: its status and trailer metadata (all headers of a trailers-only response). */
  onStatus(st: StatusObject, trailer: MetadataPairs, trailersOnly: boolean): void;
}

/** An open call: send request messages, half-close, cancel. */
export interface ClientCall {
  write(msg: Uint8Array): void;
  /** Half-closes the request side (grpc-go CloseSend). */
  end(): void;
  /** Cancels the call (RST_STREAM CANCEL). */
  cancel(): void;
  /** Stops reading responses (HTTP/2 flow control then holds the server back) until `resume`. */
  pause(): void;
  resume(): void;
}

/**
 * One HTTP/2 connection to the member's gRPC server, opened on first use and
 * again after it closes. {@link GatewayConn.close} closes it for good.
 */
export class GatewayConn {
  private session: http2.ClientHttp2Session | undefined;
  private closed = false;

  constructor(private readonly target: DialTarget) {}

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const t = this.target;
    const authority = t.path !== undefined ? 'http://localhost' : `${t.tls ? 'https' : 'http'}://${t.host && net.isIPv6(t.host) ? `[${t.host}]` : t.host}:${t.port}`;
    const s = http2.connect(authority, {
      createConnection: () => {
        if (t.tls) {
          const base = { cert: t.tls.cert, key: t.tls.key, rejectUnauthorized: false, ALPNProtocols: ['h2'] };
          return t.path !== undefined ? tls.connect({ ...base, path: t.path }) : tls.connect({ ...base, host: t.host, port: t.port, servername: t.host && !net.isIP(t.host) ? t.host : undefined });
        }
        return t.path !== undefined ? net.connect(t.path) : net.connect(t.port!, t.host!);
      },
    });
    s.on('error', () => {});
    s.unref();
    this.session = s;
    return s;
  }

  /**
   * Starts a call of `path` (e.g. "/etcdserverpb.KV/Range") with `md` as
   * request metadata and an optional deadline (ms), reporting to `obs`.
   * A connection failure is reported as Unavailable.
   */
  call(path: string, md: MetadataPairs, obs: CallObserver, timeoutMs?: number): ClientCall {
    let finished = false;
    const finish = (st: StatusObject, trailer: MetadataPairs, trailersOnly: boolean) => {
      if (finished) return;
      finished = true;
      obs.onStatus(st, trailer, trailersOnly);
    };
    if (this.closed) {
      queueMicrotask(() => finish({ code: Code.UNAVAILABLE, details: 'grpc: the client connection is closing' }, [], false));
      return { write() {}, end() {}, cancel() {}, pause() {}, resume() {} };
    }
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    for (const [k, v] of md) {
      const cur = headers[k];
      headers[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [String(cur), v];
    }
    if (timeoutMs !== undefined) headers['grpc-timeout'] = `${Math.max(1, Math.ceil(timeoutMs))}m`;
    let req: http2.ClientHttp2Stream;
    try {
      req = this.connect().request(headers);
    } catch (e) {
      queueMicrotask(() => finish({ code: Code.UNAVAILABLE, details: (e as Error).message }, [], false));
      return { write() {}, end() {}, cancel() {}, pause() {}, resume() {} };
    }
    let gotHeaders = false;
    let trailersOnly = false;
    let status: StatusObject | undefined;
    let trailerMd: MetadataPairs = [];
    const decoder = new MessageDecoder(0x7fffffff, {
      onMessage: (m) => { if (!finished) obs.onMessage(m); },
      onFrameError: (st) => { finish(st, [], false); req.close(http2.constants.NGHTTP2_CANCEL); },
    });
    const statusOf = (h: http2.IncomingHttpHeaders): StatusObject | undefined => {
      const raw = h['grpc-status'];
      if (raw === undefined) return undefined;
      return { code: Number(raw), details: decodeGrpcMessage(String(h['grpc-message'] ?? '')) };
    };
    req.on('response', (h) => {
      const st = statusOf(h);
      if (this.target.tls) {
        gotHeaders = true;
        obs.onHeader?.(handlerTransportHeader(h));
        if (st !== undefined) status = st;
        return;
      }
      if (st !== undefined) {
        // a status in the response headers: a trailers-only response, whose headers
        // grpc-go reports as trailer metadata
        trailersOnly = true;
        status = st;
        trailerMd = metadataOf(h);
        return;
      }
      gotHeaders = true;
      obs.onHeader?.(metadataOf(h));
    });
    req.on('trailers', (h) => {
      status = statusOf(h);
      trailerMd = this.target.tls ? [] : metadataOf(h, false);
    });
    req.on('data', (d: Buffer) => decoder.push(d));
    req.on('error', () => {});
    req.on('close', () => {
      if (status) finish(status, trailerMd, trailersOnly);
      else if (req.rstCode === http2.constants.NGHTTP2_CANCEL) finish({ code: Code.CANCELLED, details: 'context canceled' }, [], false);
      else if (!gotHeaders) finish({ code: Code.UNAVAILABLE, details: 'transport is closing' }, [], false);
      else finish({ code: Code.INTERNAL, details: 'server closed the stream without sending trailers' }, [], false);
    });
    return {
      write: (m) => { if (!req.destroyed && !req.writableEnded) req.write(encodeMessage(m)); },
      end: () => { if (!req.destroyed && !req.writableEnded) req.end(); },
      cancel: () => { if (!req.destroyed) req.close(http2.constants.NGHTTP2_CANCEL); },
      pause: () => { req.pause(); },
      resume: () => { req.resume(); },
    };
  }

  /** Closes the connection; later calls fail with Unavailable. */
  close(): void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
  }
}
