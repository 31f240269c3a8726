/**
 * @module server/etcdserver/api/v3rpc/gateway/gateway
 * etcd 3.4's `/v3` JSON gateway (grpc-gateway 1.9 runtime.ServeMux with the
 * routes of etcdserverpb/gw/rpc.pb.gw.go, v3lockpb/gw and v3electionpb/gw, as
 * embed/serve.go registers them): POST `/v3/<service path>` with a JSON
 * request body, answered with the JSON of the gRPC response. Every call is
 * made through this member's own gRPC server ({@link GatewayConn}), as etcd
 * does, so auth, limits and errors are the gRPC ones.
 *
 * Behaviour, as grpc-gateway 1.9 (runtime/mux.go, handler.go, errors.go,
 * context.go) with etcd's options:
 * - a path of the table with another method than POST: 405 "Method Not
 *   Allowed" (Go's http.Error); any other /v3/ path: 404 "Not Found";
 *   `X-HTTP-Method-Override` replaces the method of a form POST;
 * - request metadata: `Authorization` as `authorization` (etcd's token),
 *   permanent HTTP headers as `grpcgateway-<name>`, `Grpc-Metadata-<k>` as
 *   `<k>`, `x-forwarded-host`, `x-forwarded-for`; `Grpc-Timeout` a deadline;
 * - unary: the first JSON value of the body (an empty body is an empty
 *   request); a bad body is 400 `{"error":..,"message":..,"code":3}`;
 *   success is 200 with the response JSON, `Grpc-Metadata-<k>` headers for
 *   the gRPC response headers; a gRPC error is the same error body with the
 *   HTTP status of its code and `Grpc-Trailer-<k>` trailers (chunked);
 * - streams (watch, lease keepalive: each JSON value of the body is one
 *   request; snapshot, election observe: one request): chunked
 *   `{"result":<json>}\n` per message, and on an error
 *   `{"error":{"grpc_code":..,"http_code":..,"message":..,"http_status":..}}`.
 * A response body of at most 2048 bytes without trailers gets a
 * Content-Length, a larger one is chunked (Go net/http).
 */
import { toBinary, fromBinary, type DescMessage, type DescMethod, type DescService, type Message } from '@bufbuild/protobuf';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { Auth, Cluster, KV, Lease, Maintenance, Watch } from '../../../../../gen/etcdserverpb/rpc_pb.js';
import { Election } from '../../../../../gen/v3electionpb/v3election_pb.js';
import { Lock } from '../../../../../gen/v3lockpb/v3lock_pb.js';
import { Code, type StatusObject } from '../../../../../util/grpc/codes.js';
import { httpError } from '../../etcdhttp/base.js';
import type { GatewayConn, MetadataPairs } from './client.js';
import { GoJsonDecoder, GoJsonError, type JNode } from './gojson.js';
import { goJsonString, marshalJson, unmarshalJson } from './jsonpb.js';

/** One gateway route: POST path → gRPC method. */
interface Route {
  readonly method: DescMethod;
  /** "/etcdserverpb.KV/Range" */
  readonly grpcPath: string;
}

function m(svc: DescService, name: string): DescMethod {
  const d = svc.methods.find((x) => x.name === name);
  if (!d) throw new Error(`gateway: ${svc.typeName} has no method ${name}`);
  return d;
}

/**
 * The routes, in registration order (a path registered twice is served by its
 * first registration: /v3/maintenance/hash is Hash, not HashKV).
 */
const ROUTE_TABLE: ReadonlyArray<readonly [string, DescService, string]> = [
  ['/v3/kv/range', KV, 'Range'],
  ['/v3/kv/put', KV, 'Put'],
  ['/v3/kv/deleterange', KV, 'DeleteRange'],
  ['/v3/kv/txn', KV, 'Txn'],
  ['/v3/kv/compaction', KV, 'Compact'],
  ['/v3/watch', Watch, 'Watch'],
  ['/v3/lease/grant', Lease, 'LeaseGrant'],
  ['/v3/lease/revoke', Lease, 'LeaseRevoke'],
  ['/v3/kv/lease/revoke', Lease, 'LeaseRevoke'],
  ['/v3/lease/keepalive', Lease, 'LeaseKeepAlive'],
  ['/v3/lease/timetolive', Lease, 'LeaseTimeToLive'],
  ['/v3/kv/lease/timetolive', Lease, 'LeaseTimeToLive'],
  ['/v3/lease/leases', Lease, 'LeaseLeases'],
  ['/v3/kv/lease/leases', Lease, 'LeaseLeases'],
  ['/v3/cluster/member/add', Cluster, 'MemberAdd'],
  ['/v3/cluster/member/remove', Cluster, 'MemberRemove'],
  ['/v3/cluster/member/update', Cluster, 'MemberUpdate'],
  ['/v3/cluster/member/list', Cluster, 'MemberList'],
  ['/v3/cluster/member/promote', Cluster, 'MemberPromote'],
  ['/v3/maintenance/alarm', Maintenance, 'Alarm'],
  ['/v3/maintenance/status', Maintenance, 'Status'],
  ['/v3/maintenance/defragment', Maintenance, 'Defragment'],
  ['/v3/maintenance/hash', Maintenance, 'Hash'],
  ['/v3/maintenance/hash', Maintenance, 'HashKV'],
  ['/v3/maintenance/snapshot', Maintenance, 'Snapshot'],
  ['/v3/maintenance/transfer-leadership', Maintenance, 'MoveLeader'],
  ['/v3/auth/enable', Auth, 'AuthEnable'],
  ['/v3/auth/disable', Auth, 'AuthDisable'],
  ['/v3/auth/authenticate', Auth, 'Authenticate'],
  ['/v3/auth/user/add', Auth, 'UserAdd'],
  ['/v3/auth/user/get', Auth, 'UserGet'],
  ['/v3/auth/user/list', Auth, 'UserList'],
  ['/v3/auth/user/delete', Auth, 'UserDelete'],
  ['/v3/auth/user/changepw', Auth, 'UserChangePassword'],
  ['/v3/auth/user/grant', Auth, 'UserGrantRole'],
  ['/v3/auth/user/revoke', Auth, 'UserRevokeRole'],
  ['/v3/auth/role/add', Auth, 'RoleAdd'],
  ['/v3/auth/role/get', Auth, 'RoleGet'],
  ['/v3/auth/role/list', Auth, 'RoleList'],
  ['/v3/auth/role/delete', Auth, 'RoleDelete'],
  ['/v3/auth/role/grant', Auth, 'RoleGrantPermission'],
  ['/v3/auth/role/revoke', Auth, 'RoleRevokePermission'],
  ['/v3/lock/lock', Lock, 'Lock'],
  ['/v3/lock/unlock', Lock, 'Unlock'],
  ['/v3/election/campaign', Election, 'Campaign'],
  ['/v3/election/proclaim', Election, 'Proclaim'],
  ['/v3/election/leader', Election, 'Leader'],
  ['/v3/election/observe', Election, 'Observe'],
  ['/v3/election/resign', Election, 'Resign'],
];

const ROUTES: ReadonlyMap<string, Route> = (() => {
  const out = new Map<string, Route>();
  for (const [path, svc, name] of ROUTE_TABLE) {
    if (out.has(path)) continue;
    out.set(path, { method: m(svc, name), grpcPath: `/${svc.typeName}/${name}` });
  }
  return out;
})();

/** The gateway paths (for documentation and tests). */
export const GATEWAY_PATHS: readonly string[] = [...ROUTES.keys()];

/** grpc-gateway runtime.HTTPStatusFromCode. */
export function httpStatusFromCode(code: number): number {
  switch (code) {
    case Code.OK: return 200;
    case Code.CANCELLED: return 408;
    case Code.UNKNOWN: return 500;
    case Code.INVALID_ARGUMENT: return 400;
    case Code.DEADLINE_EXCEEDED: return 504;
    case Code.NOT_FOUND: return 404;
    case Code.ALREADY_EXISTS: return 409;
    case Code.PERMISSION_DENIED: return 403;
    case Code.UNAUTHENTICATED: return 401;
    case Code.RESOURCE_EXHAUSTED: return 429;
    case Code.FAILED_PRECONDITION: return 412;
    case Code.ABORTED: return 409;
    case Code.OUT_OF_RANGE: return 400;
    case Code.UNIMPLEMENTED: return 501;
    case Code.INTERNAL: return 500;
    case Code.UNAVAILABLE: return 503;
    case Code.DATA_LOSS: return 500;
    default: return 500;
  }
}

/** Go textproto.CanonicalMIMEHeaderKey. */
export function canonicalHeaderKey(k: string): string {
  if (!/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(k)) return k;
  let upper = true;
  let out = '';
  for (const ch of k) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

/** grpc-gateway context.go isPermanentHTTPHeader. */
const PERMANENT_HEADERS = new Set([
  'Accept', 'Accept-Charset', 'Accept-Language', 'Accept-Ranges', 'Authorization', 'Cache-Control', 'Content-Type', 'Cookie', 'Date',
  'Expect', 'From', 'Host', 'If-Match', 'If-Modified-Since', 'If-None-Match', 'If-Schedule-Tag-Match', 'If-Unmodified-Since',
  'Max-Forwards', 'Origin', 'Pragma', 'Referer', 'User-Agent', 'Via', 'Warning',
]);

/** Header names HTTP/2 requests cannot carry (connection-specific) or that gRPC reserves. */
const UNSENDABLE = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'te', 'content-type', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding']);

/** grpc-gateway timeoutDecode: "<n><H|M|S|m|u|n>" → ms, or undefined when invalid. */
function timeoutDecode(s: string): number | undefined {
  if (s.length < 2) return undefined;
  const unit = { H: 3600e3, M: 60e3, S: 1e3, m: 1, u: 1e-3, n: 1e-6 }[s[s.length - 1]!];
  if (unit === undefined) return undefined;
  const num = s.slice(0, -1);
  if (!/^[+-]?[0-9]+$/.test(num)) return undefined;
  return Number(num) * unit;
}

/** A status error of the gateway itself (bad request body, bad header). */
class GatewayError extends Error {
  constructor(readonly status: StatusObject) {
    super(status.details);
  }
}

/** The request metadata of `req` (grpc-gateway runtime.AnnotateContext); its deadline, ms. */
function annotate(req: IncomingMessage): { md: MetadataPairs; timeoutMs?: number } {
  const md: MetadataPairs = [];
  let timeoutMs: number | undefined;
  const tm = req.headers['grpc-timeout'];
  if (typeof tm === 'string' && tm !== '') {
    timeoutMs = timeoutDecode(tm);
    if (timeoutMs === undefined) throw new GatewayError({ code: Code.INVALID_ARGUMENT, details: `invalid grpc-timeout: ${tm}` });
  }
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = canonicalHeaderKey(raw[i]!);
    let val = raw[i + 1]!;
    if (key === 'Authorization') md.push(['authorization', val]);
    let name: string | undefined;
    if (PERMANENT_HEADERS.has(key)) name = `grpcgateway-${key}`;
    else if (key.startsWith('Grpc-Metadata-')) name = key.slice('Grpc-Metadata-'.length);
    if (name === undefined) continue;
    name = name.toLowerCase();
    if (key.endsWith('-Bin')) {
      const ok = val.length % 4 === 0 ? /^[A-Za-z0-9+/]*={0,2}$/.test(val) : /^[A-Za-z0-9+/]*$/.test(val);
      if (!ok) throw new GatewayError({ code: Code.INVALID_ARGUMENT, details: `invalid binary header ${key}: illegal base64 data at input byte 0` });
      val = Buffer.from(val, 'base64').toString('base64');
    }
    if (name === '' || name.startsWith(':') || UNSENDABLE.has(name)) continue;
    md.push([name, val]);
  }
  const fwdHost = req.headers['x-forwarded-host'];
  if (typeof fwdHost === 'string' && fwdHost !== '') md.push(['x-forwarded-host', fwdHost]);
  else if (req.headers.host) md.push(['x-forwarded-host', req.headers.host]);
  const ip = req.socket.remoteAddress;
  if (ip) {
    const fwd = req.headers['x-forwarded-for'];
    md.push(['x-forwarded-for', typeof fwd === 'string' && fwd !== '' ? `${fwd}, ${ip}` : ip]);
  }
  return { md, timeoutMs };
}

/** Go net/http's buffer before a response switches to chunked encoding, bytes. */
const BUFFER_BEFORE_CHUNKING = 2048;

function setMetadataHeaders(res: ServerResponse, header: MetadataPairs, trailer: MetadataPairs): void {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of header) {
    const h = canonicalHeaderKey(`Grpc-Metadata-${k}`);
    byKey.set(h, [...(byKey.get(h) ?? []), v]);
  }
  for (const [h, vs] of byKey) res.setHeader(h, vs.length === 1 ? vs[0]! : vs);
  const tkeys = [...new Set(trailer.map(([k]) => canonicalHeaderKey(`Grpc-Trailer-${k}`)))];
  if (tkeys.length > 0) res.setHeader('Trailer', tkeys.length === 1 ? tkeys[0]! : tkeys);
}

/** Writes `body` and ends `res` as Go's net/http does (Content-Length or chunked + trailers). */
function finishBody(res: ServerResponse, status: number, body: string, trailer: MetadataPairs): void {
  const buf = Buffer.from(body, 'utf8');
  if (trailer.length === 0 && buf.length <= BUFFER_BEFORE_CHUNKING) res.setHeader('Content-Length', buf.length);
  else res.setHeader('Transfer-Encoding', 'chunked');
  res.writeHead(status);
  if (trailer.length > 0) {
    const t: Record<string, string> = {};
    for (const [k, v] of trailer) t[canonicalHeaderKey(`Grpc-Trailer-${k}`)] = v;
    res.write(buf);
    res.addTrailers(t);
    res.end();
  } else {
    res.end(buf);
  }
}

/** grpc-gateway DefaultHTTPError: the error body with the status of the code. */
function httpErrorJson(res: ServerResponse, st: StatusObject, header: MetadataPairs = [], trailer: MetadataPairs = []): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.removeHeader('Trailer');
  res.setHeader('Content-Type', 'application/json');
  const parts: string[] = [];
  if (st.details !== '') parts.push(`"error":${goJsonString(st.details)}`, `"message":${goJsonString(st.details)}`);
  if (st.code !== 0) parts.push(`"code":${st.code}`);
  setMetadataHeaders(res, header, trailer);
  finishBody(res, httpStatusFromCode(st.code), `{${parts.join(',')}}`, trailer);
}

/** grpc-gateway streamChunk for an error: {"error":{grpc_code, http_code, message, http_status}}. */
function streamErrorChunk(st: StatusObject): string {
  const httpCode = httpStatusFromCode(st.code);
  const parts: string[] = [];
  if (st.code !== 0) parts.push(`"grpc_code":${st.code}`);
  parts.push(`"http_code":${httpCode}`);
  if (st.details !== '') parts.push(`"message":${goJsonString(st.details)}`);
  parts.push(`"http_status":${goJsonString(http.STATUS_CODES[httpCode] ?? '')}`);
  return `{"error":{${parts.join(',')}}}`;
}

/** Reads JSON values from a request body as they arrive (json.Decoder over req.Body). */
class BodyReader {
  private readonly dec = new GoJsonDecoder();
  private waiter: (() => void) | undefined;
  private ended = false;

  constructor(private readonly req: IncomingMessage) {
    req.on('data', (c: Buffer) => { this.dec.push(c); this.wake(); });
    req.on('end', () => { this.ended = true; this.dec.end(); this.wake(); });
    req.on('close', () => { if (!this.ended) { this.ended = true; this.dec.end(); this.wake(); } });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next value, or 'eof'. @throws GoJsonError */
  async next(): Promise<JNode | 'eof'> {
    for (;;) {
      const v = this.dec.next();
      if (v !== 'more') return v;
      await new Promise<void>((r) => { this.waiter = r; });
    }
  }

  /** Reads and drops the rest of the body. */
  drain(): void {
    this.req.resume();
  }
}

/** Options of {@link JsonGateway}. */
export interface JsonGatewayOptions {
  /** The connection to this member's gRPC server, for the listener the request came on. */
  readonly conn: (req: IncomingMessage) => GatewayConn;
}

/** The /v3 JSON gateway's HTTP handler (see the module doc). */
export class JsonGateway {
  constructor(private readonly opts: JsonGatewayOptions) {}

  /** Serves one request whose path starts with /v3/ (after etcd's /v3beta/ → /v3/ rewrite). */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    let method = req.method ?? 'GET';
    const override = req.headers['x-http-method-override'];
    if (typeof override === 'string' && override !== '' && method === 'POST' && req.headers['content-type'] === 'application/x-www-form-urlencoded') {
      method = override.toUpperCase();
    }
    const route = ROUTES.get(pathname);
    if (!route) {
      httpError(res, 'Not Found', 404);
      return;
    }
    if (method !== 'POST') {
      httpError(res, 'Method Not Allowed', 405);
      return;
    }
    let ann: { md: MetadataPairs; timeoutMs?: number };
    try {
      ann = annotate(req);
    } catch (e) {
      httpErrorJson(res, (e as GatewayError).status);
      return;
    }
    const kind = route.method.methodKind;
    const run = kind === 'unary' ? this.unary(req, res, route, ann) : this.stream(req, res, route, ann);
    run.catch((e: unknown) => {
      if (!res.headersSent) httpErrorJson(res, { code: Code.UNKNOWN, details: (e as Error).message });
      else res.destroy();
    });
  }

  /** request_<Service>_<Method>_0 + ForwardResponseMessage. */
  private async unary(req: IncomingMessage, res: ServerResponse, route: Route, ann: { md: MetadataPairs; timeoutMs?: number }): Promise<void> {
    const body = new BodyReader(req);
    let msg: Message;
    try {
      const v = await body.next();
      msg = unmarshalJson(route.method.input, v === 'eof' ? { t: 'obj', entries: [] } : v);
    } catch (e) {
      if (!(e instanceof GoJsonError)) throw e;
      body.drain();
      httpErrorJson(res, { code: Code.INVALID_ARGUMENT, details: e.message });
      return;
    }
    body.drain();
    const output = route.method.output;
    await new Promise<void>((resolve) => {
      let header: MetadataPairs = [];
      let resp: Uint8Array | undefined;
      const call = this.opts.conn(req).call(route.grpcPath, ann.md, {
        onHeader: (md) => { header = md; },
        onMessage: (b) => { resp ??= b; },
        onStatus: (st, trailer) => {
          res.off('close', onClose);
          if (st.code === Code.OK && resp === undefined) st = { code: Code.INTERNAL, details: 'grpc: server did not send a response message' };
          if (st.code !== Code.OK) {
            httpErrorJson(res, st, header, trailer);
          } else {
            let json: string;
            try {
              json = marshalJson(output, fromBinary(output, resp!));
            } catch (e) {
              httpErrorJson(res, { code: Code.INTERNAL, details: `grpc: failed to unmarshal the received message ${(e as Error).message}` }, header, trailer);
              resolve();
              return;
            }
            res.setHeader('Content-Type', 'application/json');
            setMetadataHeaders(res, header, trailer);
            finishBody(res, 200, json, trailer);
          }
          resolve();
        },
      }, ann.timeoutMs);
      const onClose = () => call.cancel();
      res.on('close', onClose);
      call.write(toBinary(route.method.input, msg));
      call.end();
    });
  }

  /** request_<Service>_<Method>_0 for a stream + ForwardResponseStream. */
  private async stream(req: IncomingMessage, res: ServerResponse, route: Route, ann: { md: MetadataPairs; timeoutMs?: number }): Promise<void> {
    const { input, output } = route.method;
    const clientStreaming = route.method.methodKind === 'bidi_streaming' || route.method.methodKind === 'client_streaming';
    const body = new BodyReader(req);
    const decodeNext = async (): Promise<Message | 'eof'> => {
      const v = await body.next();
      return v === 'eof' ? 'eof' : unmarshalJson(input, v);
    };

    // a server stream reads its one request like a unary call (InvalidArgument on a bad body)
    let first: Message | 'eof';
    try {
      first = clientStreaming ? await decodeNext() : ((v) => (v === 'eof' ? unmarshalJson(input, { t: 'obj', entries: [] }) : v))(await decodeNext());
    } catch (e) {
      if (!(e instanceof GoJsonError)) throw e;
      body.drain();
      // bidi: the decoder's error as is (Unknown); server streaming: InvalidArgument
      httpErrorJson(res, { code: clientStreaming ? Code.UNKNOWN : Code.INVALID_ARGUMENT, details: e.message });
      return;
    }
    if (!clientStreaming) body.drain();

    await new Promise<void>((resolve) => {
      let headerSeen = false;
      let headerWaiters: Array<() => void> = [];
      let header: MetadataPairs = [];
      let ended = false;
      let wroteMessage = false;
      let forwarding = false;
      let paused = false;
      const pending: Array<{ msg?: Uint8Array; status?: StatusObject; trailer?: MetadataPairs }> = [];
      const headerArrived = () => {
        headerSeen = true;
        const w = headerWaiters;
        headerWaiters = [];
        for (const f of w) f();
      };
      const flushPending = () => {
        if (!forwarding) return;
        while (pending.length > 0) {
          const p = pending.shift()!;
          if (p.msg) {
            let json: string;
            try {
              json = marshalJson(output, fromBinary(output, p.msg));
            } catch (e) {
              p.status = { code: Code.INTERNAL, details: `grpc: failed to unmarshal the received message ${(e as Error).message}` };
              json = '';
            }
            if (!p.status) {
              if (!res.headersSent) res.writeHead(200);
              if (!res.write(`{"result":${json}}\n`) && !paused) {
                // a slow HTTP client holds the gRPC stream back (Go's blocking writes do)
                paused = true;
                call.pause();
                res.once('drain', () => { paused = false; call.resume(); });
              }
              wroteMessage = true;
              continue;
            }
          }
          if (p.status) {
            ended = true;
            res.off('close', onClose);
            if (p.status.code === Code.OK) {
              if (!res.headersSent) res.writeHead(200);
              res.end();
            } else {
              if (!res.headersSent) res.writeHead(wroteMessage ? 200 : httpStatusFromCode(p.status.code));
              res.end(streamErrorChunk(p.status));
            }
            resolve();
            return;
          }
        }
      };
      const call = this.opts.conn(req).call(route.grpcPath, ann.md, {
        onHeader: (md) => { header = md; headerArrived(); },
        onMessage: (b) => { pending.push({ msg: b }); flushPending(); },
        onStatus: (st, trailer) => {
          pending.push({ status: st, trailer });
          if (!headerSeen) headerArrived();
          flushPending();
        },
      }, ann.timeoutMs);
      const onClose = () => {
        if (!ended) call.cancel();
        resolve();
      };
      res.on('close', onClose);

      const startForwarding = () => {
        // ForwardResponseStream: headers are written with the first chunk
        setMetadataHeaders(res, header, []);
        res.removeHeader('Trailer');
        res.setHeader('Transfer-Encoding', 'chunked');
        res.setHeader('Content-Type', 'application/json');
        forwarding = true;
        flushPending();
      };

      if (first === 'eof') {
        // nothing to send: close the send side and forward without waiting for headers
        call.end();
        startForwarding();
        return;
      }
      call.write(toBinary(input, first));
      if (clientStreaming) {
        void (async () => {
          for (;;) {
            let next: Message | 'eof';
            try {
              next = await decodeNext();
            } catch {
              break; // a bad later request only closes the send side (grpc-gateway logs it)
            }
            if (next === 'eof' || ended) break;
            call.write(toBinary(input, next));
          }
          body.drain();
          call.end();
        })();
      } else {
        call.end();
      }
      // stream.Header(): wait for the response headers (or the end of the call)
      if (headerSeen) startForwarding();
      else headerWaiters.push(startForwarding);
    });
  }
}
