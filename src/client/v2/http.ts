/**
 * @module client/v2/http
 * A small client for etcd's v2 HTTP API (JSON over HTTP/1.1, optionally TLS), with the
 * behaviour of etcd 3.4's Go `client` package (go.etcd.io/etcd/client/client.go) that
 * etcdctl's v2 commands show to users:
 * - endpoints are shuffled, one is pinned, and a request goes to each endpoint in turn
 *   until one answers; every failure is collected in a {@link ClusterError}
 *   (`client: etcd cluster is unavailable or misconfigured; error #0: ...`);
 * - a 5xx answer counts as a failure of that endpoint (`client: etcd member <ep> has no
 *   leader`, `... returns server error [<status text>]`);
 * - "one-shot" requests (create and delete) stop at the first failing endpoint;
 * - a per-request header timeout (etcdctl's `--timeout`; not for `wait=true` watches)
 *   gives `client: endpoint <ep> exceeded header timeout`; the overall deadline
 *   (`--total-timeout`) gives `context deadline exceeded` and stops at once;
 * - 3xx answers are followed (up to 10 redirects);
 * - basic auth on every request when a user name is set;
 * - network errors carry Go's texts (`dial tcp 127.0.0.1:1: connect: connection refused`).
 * It imports nothing from the server.
 */

import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';

/** TLS settings of the v2 client (etcd's transport.TLSInfo as etcdctl v2 fills it). */
export interface V2TlsOptions {
  /** PEM CA bundle; system roots when absent */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** name the server certificate must match instead of the URL host (SRV discovery) */
  serverName?: string;
  /** skip verification of the server certificate */
  insecureSkipVerify?: boolean;
}

/** How the client reaches a cluster. Times are milliseconds. */
export interface V2ClientConfig {
  /** endpoint URLs as Go's url.URL.String() gives them (`http://127.0.0.1:2379`) */
  endpoints: string[];
  tls?: V2TlsOptions;
  /** per-request limit for the response headers; 0: none (client.Config.HeaderTimeoutPerRequest) */
  headerTimeoutMs: number;
  /** limit for establishing a connection (transport dial timeout) */
  dialTimeoutMs: number;
  username?: string;
  password?: string;
  /** called with every request before it is sent (etcdctl --debug prints it as a cURL command) */
  onRequest?: (method: string, url: string, body: string | undefined) => void;
}

/** One HTTP request the APIs build for an endpoint (Go's httpAction). */
export interface V2Action {
  method: string;
  /** builds the full URL for an endpoint */
  url(endpoint: Endpoint): string;
  body?: string;
  contentType?: string;
  /** a `wait=true` request: no header timeout */
  wait?: boolean;
}

/**
 * An endpoint URL split as Go's url.Parse does: `scheme://host` and the path (usually
 * empty); `str` is its url.URL.String().
 */
export interface Endpoint {
  scheme: string;
  host: string;
  path: string;
  str: string;
}

/**
 * Parses an endpoint URL (`http://127.0.0.1:2379`, `https://h:2379/prefix`).
 * @throws Error for a URL without `scheme://host`
 */
export function parseEndpointURL(s: string): Endpoint {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(s);
  if (!m) throw new Error(`invalid endpoint URL ${JSON.stringify(s)}`);
  return { scheme: m[1]!.toLowerCase(), host: m[2]!, path: m[3]!, str: `${m[1]!.toLowerCase()}://${m[2]!}${m[3]!}` };
}

/** An HTTP answer: status, headers and the whole body. */
export interface V2Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Options of one call. */
export interface DoOptions {
  /** aborts the call; its reason decides the error (see {@link DeadlineExceeded}) */
  signal?: AbortSignal;
  /** stop at the first failing endpoint (Go's oneShotCtxValue: creates and deletes) */
  oneShot?: boolean;
}

/** `context deadline exceeded`: the overall deadline of a call passed. */
export class DeadlineExceeded extends Error {
  constructor() {
    super('context deadline exceeded');
    this.name = 'DeadlineExceeded';
  }
}

/** `context canceled`. */
export class Canceled extends Error {
  constructor() {
    super('context canceled');
    this.name = 'Canceled';
  }
}

/** Failure of every endpoint tried (client.ClusterError). */
export class ClusterError extends Error {
  constructor(readonly errors: Error[]) {
    super(
      'client: etcd cluster is unavailable or misconfigured' +
        errors.map((e, i) => `; error #${i}: ${e.message}\n`).join(''),
    );
    this.name = 'ClusterError';
  }
  /** One `error #i: <text>` line per endpoint (ClusterError.Detail). */
  detail(): string {
    return this.errors.map((e, i) => `error #${i}: ${e.message}\n`).join('');
  }
}

/** `client: no endpoints available` (client.ErrNoEndpoints). */
export class NoEndpointsError extends Error {
  constructor() {
    super('client: no endpoints available');
    this.name = 'NoEndpointsError';
  }
}

/** A network-level failure with Go's text; `connection` marks errors etcdctl calls connection errors. */
export class TransportError extends Error {
  constructor(message: string, readonly connection: boolean) {
    super(message);
    this.name = 'TransportError';
  }
}

/** http.StatusText for the statuses etcd answers with. */
const STATUS_TEXT: Record<number, string> = {
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported', 507: 'Insufficient Storage', 508: 'Loop Detected',
  510: 'Not Extended', 511: 'Network Authentication Required', 506: 'Variant Also Negotiates',
};

let resolverCache: string | undefined;
/** The first name server of /etc/resolv.conf, as Go's resolver names it in lookup errors. */
function resolverAddress(): string {
  if (resolverCache !== undefined) return resolverCache;
  let ns = '127.0.0.1';
  try {
    const m = /^\s*nameserver\s+(\S+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'));
    if (m) ns = m[1]!;
  } catch {
    // Go falls back to the local resolver too
  }
  resolverCache = ns.includes(':') ? `[${ns}]:53` : `${ns}:53`;
  return resolverCache;
}

function hostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Go's text for a Node network or TLS error met while talking to `u`
 * (net.OpError, x509 and tls errors as net/http's Transport returns them); `local` is
 * the connection's local `host:port` once connected (Go names both ends of a read).
 */
export function goNetError(e: NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string }, u: URL, local?: string): TransportError {
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const target = hostPort(e.address ?? host, e.port ?? port);
  switch (e.code) {
    case 'ECONNREFUSED': return new TransportError(`dial tcp ${target}: connect: connection refused`, true);
    case 'EHOSTUNREACH': return new TransportError(`dial tcp ${target}: connect: no route to host`, true);
    case 'ENETUNREACH': return new TransportError(`dial tcp ${target}: connect: network is unreachable`, true);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new TransportError(`dial tcp: lookup ${host} on ${resolverAddress()}: no such host`, true);
    case 'ECONNRESET':
      // the TLS handshake met a closed connection (etcd's cmux drops a TLS hello on a plain
      // port): Go reads EOF after a FIN, a reset after an RST
      if (/before secure TLS connection/.test(e.message)) return new TransportError('EOF', false);
      return new TransportError(`read tcp ${local ? local + '->' : ''}${target}: read: connection reset by peer`, true);
    case 'EPIPE': return new TransportError(`write tcp ${target}: write: broken pipe`, true);
    case 'ETIMEDOUT': return new TransportError(`dial tcp ${target}: i/o timeout`, true);
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return new TransportError('x509: certificate signed by unknown authority', false);
    case 'CERT_HAS_EXPIRED': return new TransportError('x509: certificate has expired or is not yet valid', false);
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return new TransportError(`x509: certificate is not valid for ${host}`, false);
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'EPROTO':
      if (/wrong version number|packet length too long|http request/i.test(e.message)) {
        return new TransportError('tls: first record does not look like a TLS handshake', false);
      }
      if (/alert bad certificate|alert number 42|certificate required|alert number 116/i.test(e.message)) {
        return new TransportError('remote error: tls: bad certificate', false);
      }
      return new TransportError(e.message, false);
    default:
      if (/socket hang up/.test(e.message)) return new TransportError('EOF', false);
      if (/alert bad certificate|alert number 42|certificate required|alert number 116/i.test(e.message)) {
        return new TransportError('remote error: tls: bad certificate', false);
      }
      return new TransportError(e.message, false);
  }
}

/**
 * Go's math/rand-free shuffle of the endpoints (client.shuffleEndpoints is a random
 * permutation; any permutation is as good).
 */
function shuffled<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The v2 HTTP client (Go's httpClusterClient). Create with {@link V2Client.create};
 * every API (keys, members, auth) sends its requests through {@link V2Client.do}.
 */
export class V2Client {
  private endpointList: Endpoint[] = [];
  private pinned = 0;
  private readonly agentHttp = new http.Agent({ keepAlive: true });
  private readonly agentHttps: https.Agent;

  private constructor(private readonly cfg: V2ClientConfig) {
    const t = cfg.tls ?? {};
    this.agentHttps = new https.Agent({
      keepAlive: true,
      ca: t.ca,
      cert: t.cert,
      key: t.key,
      servername: t.serverName,
      rejectUnauthorized: !t.insecureSkipVerify,
    });
  }

  /**
   * A client for `cfg.endpoints`.
   * @throws NoEndpointsError for an empty list; Error for a URL Node cannot parse
   */
  static create(cfg: V2ClientConfig): V2Client {
    const c = new V2Client(cfg);
    c.setEndpoints(cfg.endpoints);
    return c;
  }

  /** Replaces the endpoints (shuffled, the first pinned). */
  setEndpoints(eps: string[]): void {
    if (eps.length === 0) throw new NoEndpointsError();
    this.endpointList = shuffled(eps.map(parseEndpointURL));
    this.pinned = 0;
  }

  /** The endpoints in their current order (url.URL.String()). */
  endpoints(): string[] {
    return this.endpointList.map((e) => e.str);
  }

  /** The connection pool of this client for plain or TLS connections (same TLS settings). */
  agentFor(secure: boolean): http.Agent {
    return secure ? this.agentHttps : this.agentHttp;
  }

  /** Closes idle keep-alive connections so the process can exit. */
  close(): void {
    this.agentHttp.destroy();
    this.agentHttps.destroy();
  }

  /**
   * Sends `act` to the pinned endpoint, then to the next ones while they fail
   * (httpClusterClient.Do).
   * @throws DeadlineExceeded/Canceled when `opts.signal` fires; ClusterError when every
   *   endpoint failed; the endpoint's error for a one-shot request; NoEndpointsError
   */
  async do(act: V2Action, opts: DoOptions = {}): Promise<V2Response> {
    const eps = [...this.endpointList];
    if (eps.length === 0) throw new NoEndpointsError();
    const errors: Error[] = [];
    const pinned = this.pinned;
    for (let i = pinned; i < pinned + eps.length; i++) {
      const k = i % eps.length;
      const ep = eps[k]!;
      let err: Error | undefined;
      let resp: V2Response | undefined;
      try {
        resp = await this.doOne(ep, act, opts.signal);
      } catch (e) {
        if (e instanceof DeadlineExceeded || e instanceof Canceled) throw e;
        err = e as Error;
        errors.push(err);
      }
      if (resp && Math.floor(resp.status / 100) === 5) {
        const msg = resp.status === 500 || resp.status === 503
          ? `client: etcd member ${ep.str} has no leader`
          : `client: etcd member ${ep.str} returns server error [${STATUS_TEXT[resp.status] ?? ''}]`;
        errors.push(new Error(msg));
        err = errors[0];
      }
      if (err) {
        if (!opts.oneShot) continue;
        this.pinned = (k + 1) % eps.length;
        throw err;
      }
      if (k !== pinned) this.pinned = k;
      return resp!;
    }
    throw new ClusterError(errors);
  }

  /** One endpoint, following redirects (redirectFollowingHTTPClient: at most 10). */
  private async doOne(ep: Endpoint, act: V2Action, signal?: AbortSignal): Promise<V2Response> {
    let url = act.url(ep);
    for (let i = 0; ; i++) {
      if (i > 10) throw new Error('client: too many redirects');
      const resp = await this.send(ep, url, act, signal);
      if (Math.floor(resp.status / 100) === 3) {
        const loc = resp.headers.location;
        if (!loc) throw new Error('location header not set');
        try {
          url = new URL(loc).toString();
        } catch {
          throw new Error(`location header not valid URL: ${loc}`);
        }
        continue;
      }
      return resp;
    }
  }

  /** One HTTP exchange (simpleHTTPClient.Do). */
  private send(ep: Endpoint, url: string, act: V2Action, signal?: AbortSignal): Promise<V2Response> {
    this.cfg.onRequest?.(act.method, url, act.body);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    const headers: Record<string, string> = { 'User-Agent': 'Go-http-client/1.1' };
    if (act.contentType) headers['Content-Type'] = act.contentType;
    if (act.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(act.body));
    if (this.cfg.username !== undefined) {
      headers.Authorization = 'Basic ' + Buffer.from(`${this.cfg.username}:${this.cfg.password ?? ''}`).toString('base64');
    }
    return new Promise<V2Response>((resolve, reject) => {
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (f: () => void) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        f();
      };
      const req = (secure ? https : http).request(u, {
        method: act.method,
        headers,
        agent: secure ? this.agentHttps : this.agentHttp,
      });
      const onAbort = () => {
        finish(() => reject(abortError(signal!)));
        req.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let gotHeaders = false;
      if (!act.wait && this.cfg.headerTimeoutMs > 0) {
        timers.push(setTimeout(() => {
          if (gotHeaders) return;
          finish(() => reject(new Error(`client: endpoint ${ep.str} exceeded header timeout`)));
          req.destroy();
        }, this.cfg.headerTimeoutMs));
      }
      req.on('socket', (sock) => {
        if (this.cfg.dialTimeoutMs > 0 && sock.connecting) {
          const t = setTimeout(() => {
            if (!sock.connecting) return;
            finish(() => reject(new TransportError(`dial tcp ${hostPort(u.hostname.replace(/^\[|\]$/g, ''), u.port || (secure ? 443 : 80))}: i/o timeout`, true)));
            req.destroy();
          }, this.cfg.dialTimeoutMs);
          timers.push(t);
          sock.once('connect', () => clearTimeout(t));
        }
      });
      let local: string | undefined;
      req.on('socket', (sock) => sock.once('connect', () => {
        if (sock.localAddress && sock.localPort) local = hostPort(sock.localAddress, sock.localPort);
      }));
      req.on('error', (e) => finish(() => reject(goNetError(e as NodeJS.ErrnoException, u, local))));
      req.on('response', (res) => {
        gotHeaders = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })));
        res.on('error', (e) => finish(() => reject(goNetError(e as NodeJS.ErrnoException, u))));
        res.on('aborted', () => finish(() => reject(new TransportError('unexpected EOF', false))));
      });
      if (act.body !== undefined) req.write(act.body);
      req.end();
    });
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Canceled();
}

/**
 * An AbortSignal that fires with {@link DeadlineExceeded} after `ms` (a Go context
 * with a timeout); 0 or less fires at once, as context.WithTimeout does.
 */
export function deadlineSignal(ms: number): { signal: AbortSignal; cancel(): void } {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(new DeadlineExceeded()), Math.max(0, ms));
  return { signal: ctl.signal, cancel: () => clearTimeout(t) };
}
