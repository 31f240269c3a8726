/**
 * @module server/embed/serve
 * The client listeners (etcd 3.4 embed/serve.go, embed/etcd.go serveClients /
 * serveMetrics): for each --listen-client-urls URL one listener on which gRPC
 * and HTTP share the port, as etcd's cmux does: every accepted connection
 * (after the TLS handshake for https/unixs) is sniffed, and one starting with
 * the HTTP/2 client preface goes to the v3 gRPC server (its HTTP/2
 * transport, `V3rpcServer.handleConnection`), anything else to an HTTP/1 server
 * with /health, /version and /metrics. --listen-metrics-urls get an HTTP
 * server with /metrics and /health only.
 *
 * TLS (--cert-file, --key-file, --trusted-ca-file, --client-cert-auth,
 * --client-crl-file, --auto-tls) applies to https:// and unixs:// URLs; ALPN offers h2 and
 * http/1.1. Files are read once at start; a missing or bad file fails
 * {@link serveClients} with an error naming the flag.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import type { EtcdServerApi } from '../etcdserver/api.js';
import { httpError, HttpMux, versionHandler, withCORS } from '../etcdserver/api/etcdhttp/base.js';
import { handleMetricsHealth } from '../etcdserver/api/etcdhttp/metrics.js';
import { GatewayConn } from '../etcdserver/api/v3rpc/gateway/client.js';
import { JsonGateway } from '../etcdserver/api/v3rpc/gateway/gateway.js';
import { V3rpcServer } from '../etcdserver/api/v3rpc/grpc.js';
import { EtcdMetrics } from '../metrics/metrics.js';
import { withCrlCheck } from './crl.js';
import type { EmbedConfig, TlsConfig } from './config-types.js';

/** The logging serve.ts needs (pino's Logger satisfies it). */
export interface ServeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Options of {@link serveClients}. */
export interface ServeOptions {
  /** The member's metrics (the server updates them); a new registry when omitted. */
  readonly metrics?: EtcdMetrics;
  /** Cluster version for /version ("3.4.0" by default; undefined → "not_decided"). */
  readonly clusterVersion?: () => string | undefined;
  /** Whether auth is enabled (for the gateway's client certificate check); false when omitted. */
  readonly authEnabled?: () => boolean;
  /** --enable-v2: the v2 API handler, tried first (true when it served the request). */
  readonly v2Handler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

/** embed/serve.go accessController's answer to a /v3/ request with a client certificate CommonName. */
export const GATEWAY_CN_REJECTED = 'CommonName of client sending a request against gateway will be ignored and not used as expected';

/** One listening socket. */
export interface ServedAddress {
  /** The configured URL, e.g. "https://127.0.0.1:2379" (port 0 is replaced by the bound port). */
  readonly url: string;
  /** "client" (gRPC + HTTP) or "metrics" (HTTP only). */
  readonly kind: 'client' | 'metrics';
  /** Bound address: host and port, or the unix socket path (port 0). */
  readonly host: string;
  readonly port: number;
}

/** The running listeners. */
export interface ClientServers {
  readonly addresses: readonly ServedAddress[];
  /** The gRPC server behind the client listeners. */
  readonly v3rpc: V3rpcServer;
  readonly metrics: EtcdMetrics;
  /** Stops accepting, closes every connection and call; resolves when all listeners are closed. */
  close(): Promise<void>;
}

/**
 * A Duplex over `sock` read through its 'data' events (so bytes put back with
 * unshift are seen), for a TLS server to wrap: Node's TLS on a socket with a
 * handle reads the handle directly and would miss them.
 */
function jsStreamOf(sock: net.Socket): Duplex {
  const d = new Duplex({
    read() {
      sock.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      sock.write(chunk, cb);
    },
    final(cb) {
      sock.end();
      cb();
    },
    destroy(err, cb) {
      sock.destroy();
      cb(err);
    },
  });
  sock.on('data', (c: Buffer) => {
    if (!d.push(c)) sock.pause();
  });
  sock.on('end', () => d.push(null));
  sock.on('close', () => d.destroy());
  return d;
}

/** The HTTP/2 client connection preface (RFC 7540 §3.5): what cmux matches for gRPC. */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Reads the first bytes of `socket` until they either equal the HTTP/2 preface
 * or diverge from it, puts them back, and hands the socket to `onH2` or
 * `onHttp1`. A socket closed before that is dropped, and so is one that starts with a
 * TLS handshake record (0x16), as etcd's cmux closes what no matcher takes.
 */
export function sniffConnection(socket: net.Socket, onH2: (s: net.Socket) => void, onHttp1: (s: net.Socket) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  const cleanup = () => {
    socket.off('data', onData);
    socket.off('error', onEnd);
    socket.off('end', onEnd);
  };
  const onEnd = () => { cleanup(); socket.destroy(); };
  const onData = (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    const n = Math.min(buf.length, HTTP2_PREFACE.length);
    const prefix = buf.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
    if (prefix && buf.length < HTTP2_PREFACE.length) return;
    cleanup();
    if (buf[0] === 0x16) {
      // a TLS handshake on a plaintext listener: neither HTTP/2 nor HTTP/1, so etcd's cmux
      // matches nothing and closes the connection (a TLS client sees EOF or a reset)
      socket.destroy();
      return;
    }
    socket.pause();
    socket.unshift(buf);
    if (prefix) onH2(socket);
    else onHttp1(socket);
  };
  socket.on('data', onData);
  socket.on('error', onEnd);
  socket.on('end', onEnd);
}

function readTlsFile(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${flag}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * The server TLS options of `t` (transport.TLSInfo.ServerConfig): cert/key,
 * CA pool from --trusted-ca-file, client certificates required and verified
 * with --client-cert-auth, ALPN h2 + http/1.1.
 * @throws Error naming the flag when a file cannot be read or is not valid PEM
 */
export function serverTlsOptions(t: { certFile: string; keyFile: string; trustedCaFile: string; clientCertAuth: boolean }): tls.TlsOptions {
  const cert = readTlsFile('--cert-file', t.certFile);
  const key = readTlsFile('--key-file', t.keyFile);
  // ALPN: gRPC clients offer only h2; a client that also offers http/1.1 (curl,
  // browsers) gets http/1.1, so its plain HTTP requests reach the HTTP handlers
  // (etcd serves both on h2 by content-type; our gRPC server takes whole connections).
  const opts: tls.TlsOptions = {
    cert,
    key,
    minVersion: 'TLSv1.2',
    ALPNCallback: ({ protocols }) => (protocols.includes('http/1.1') ? 'http/1.1' : protocols.includes('h2') ? 'h2' : protocols[0]),
  };
  if (t.trustedCaFile) opts.ca = readTlsFile('--trusted-ca-file', t.trustedCaFile);
  if (t.clientCertAuth) {
    opts.requestCert = true;
    opts.rejectUnauthorized = true;
  }
  try {
    tls.createSecureContext(opts);
  } catch (e) {
    throw new Error(`client TLS: cannot use --cert-file ${t.certFile} / --key-file ${t.keyFile}${t.trustedCaFile ? ` / --trusted-ca-file ${t.trustedCaFile}` : ''}: ${(e as Error).message}`);
  }
  return opts;
}

/** Go's crypto/tls texts by Node's error code (see goTlsHandshakeError). */
const GO_TLS_ERROR_BY_CODE: Record<string, string> = {
  ERR_SSL_HTTP_REQUEST: 'tls: first record does not look like a TLS handshake',
  ERR_SSL_WRONG_VERSION_NUMBER: 'tls: first record does not look like a TLS handshake',
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: "tls: client didn't provide a certificate",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'remote error: tls: bad certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'remote error: tls: unknown certificate authority',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: 'remote error: tls: unknown certificate',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'remote error: tls: protocol version not supported',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'tls: client offered only unsupported versions',
  ERR_SSL_NO_SHARED_CIPHER: 'tls: no cipher suite supported by both client and server',
  ECONNRESET: 'connection reset during the TLS handshake',
};

/**
 * Go's crypto/tls text for a failed server-side handshake, as etcd logs it (`rejected
 * connection ... error`), from Node's OpenSSL error: the cases etcd's users meet (plain
 * HTTP on a TLS port, a client without a certificate under --client-cert-auth, TLS
 * alerts from the client); otherwise OpenSSL's reason without its source location. A
 * connection reset during the handshake (also what Node reports when it rejects a
 * client certificate signed by another CA, where Go says `tls: failed to verify client
 * certificate: ...`) is reported as such.
 */
export function goTlsHandshakeError(err: Error): string {
  const e = err as Error & { code?: string; reason?: string };
  if (e.code && GO_TLS_ERROR_BY_CODE[e.code]) return GO_TLS_ERROR_BY_CODE[e.code]!;
  if (e.reason) return `tls: ${e.reason}`;
  return e.message.replace(/^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]*):.*$/s, 'tls: $1').trim();
}

/**
 * --auto-tls: a self-signed certificate for `hosts` written to
 * `<dir>/cert.pem` and `<dir>/key.pem` (etcd transport.SelfCert into
 * <data-dir>/fixtures/client; ECDSA P-256, 1 year), reused when both exist.
 */
export async function selfCert(dir: string, hosts: readonly string[]): Promise<{ certFile: string; keyFile: string }> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return { certFile, keyFile };
  const { generate } = await import('selfsigned');
  const altNames = hosts.map((h) => (net.isIP(h) ? { type: 7 as const, ip: h } : { type: 2 as const, value: h }));
  const now = new Date();
  const pems = await generate([{ name: 'organizationName', value: 'etcd' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
  fs.writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { certFile, keyFile };
}

/**
 * The gateway path of a request target, or undefined when the JSON gateway does
 * not serve it: etcd's access controller rewrites a leading /v3beta/ to /v3/,
 * and its mux hands every /v3/ path to the gateway (embed/serve.go).
 */
export function gatewayPath(target: string): string | undefined {
  let p = target.split('?')[0]!;
  try {
    p = decodeURIComponent(p);
  } catch {
    // an invalid escape is left as is
  }
  if (p.startsWith('/v3beta/')) p = `/v3/${p.slice('/v3beta/'.length)}`;
  return p.startsWith('/v3/') ? p : undefined;
}

/**
 * Go http.ServeMux's redirect of a request target (etcd's client mux): the
 * cleaned path (path.Clean, a trailing slash kept) when the path is not clean,
 * `/v3/` for `/v3` while the gateway's `/v3/` subtree is registered; after
 * etcd's /v3beta/ → /v3/ rewrite; with the query kept. Undefined: no redirect.
 */
export function serveMuxRedirect(target: string, gatewayOn: boolean): string | undefined {
  const q = target.indexOf('?');
  const query = q >= 0 ? target.slice(q) : '';
  let p = q >= 0 ? target.slice(0, q) : target;
  try {
    p = decodeURIComponent(p);
  } catch {
    // an invalid escape is left as is
  }
  if (p.startsWith('/v3beta/')) p = `/v3/${p.slice('/v3beta/'.length)}`;
  const clean = p === '' ? '/' : path.posix.normalize(p.startsWith('/') ? p : `/${p}`);
  if (clean !== p) return clean + query;
  if (gatewayOn && p === '/v3') return `/v3/${query}`;
  return undefined;
}

/** Go's http.Redirect with 301 (a short HTML body for GET and HEAD). */
function redirect(req: http.IncomingMessage, res: http.ServerResponse, loc: string): void {
  res.setHeader('Location', loc);
  let body = '';
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    const esc = loc.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');
    body = `<a href="${esc}">Moved Permanently</a>.\n\n`;
  }
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(301);
  res.end(body);
}

function hostOf(u: URL): string {
  return u.hostname.replace(/^\[|\]$/g, '');
}

function isSecure(u: URL): boolean {
  return u.protocol === 'https:' || u.protocol === 'unixs:';
}

function isUnix(u: URL): boolean {
  return u.protocol === 'unix:' || u.protocol === 'unixs:';
}

/** The effective client TLS config: files given, or generated by --auto-tls. */
async function resolveTls(cfg: EmbedConfig, t: TlsConfig, urls: readonly URL[]): Promise<TlsConfig | undefined> {
  if (t.certFile || t.keyFile) {
    if (!t.certFile || !t.keyFile) throw new Error('both --cert-file and --key-file must be given for client TLS');
    return t;
  }
  if (t.autoTls) {
    const hosts = [...new Set(urls.filter(isSecure).map(hostOf))];
    const files = await selfCert(path.join(cfg.dataDir, 'fixtures', 'client'), hosts.length ? hosts : ['localhost']);
    return { ...t, ...files };
  }
  return undefined;
}

function listen(server: net.Server, u: URL): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error) => reject(new Error(`listen ${u.href}: ${e.message}`));
    server.once('error', onErr);
    const done = () => {
      server.off('error', onErr);
      const a = server.address();
      if (typeof a === 'string' || a === null) resolve({ host: a ?? '', port: 0 });
      else resolve({ host: a.address, port: a.port });
    };
    if (isUnix(u)) {
      const p = u.host + u.pathname;
      fs.rmSync(p, { force: true });
      server.listen(p, done);
    } else {
      server.listen({ host: hostOf(u), port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) }, done);
    }
  });
}

/**
 * Starts the client listeners of `cfg.listenClientUrls` (gRPC + HTTP on each)
 * and the metrics listeners of `cfg.listenMetricsUrls`, serving `server`.
 *
 * @throws Error for an https/unixs URL without TLS files (and no --auto-tls),
 *   unreadable or invalid TLS files, an unsupported scheme, or a listen error
 *   (the listeners opened so far are closed first)
 */
export async function serveClients(cfg: EmbedConfig, server: EtcdServerApi, logger: ServeLogger, opts: ServeOptions = {}): Promise<ClientServers> {
  const metrics = opts.metrics ?? new EtcdMetrics();
  for (const u of [...cfg.listenClientUrls, ...cfg.listenMetricsUrls]) {
    if (!['http:', 'https:', 'unix:', 'unixs:'].includes(u.protocol)) throw new Error(`unsupported URL scheme ${JSON.stringify(u.protocol.replace(/:$/, ''))} in ${u.href}`);
  }
  const tlsCfg = await resolveTls(cfg, cfg.clientTls, [...cfg.listenClientUrls, ...cfg.listenMetricsUrls]);
  const secureOpts = tlsCfg ? serverTlsOptions(tlsCfg) : undefined;
  for (const u of [...cfg.listenClientUrls, ...cfg.listenMetricsUrls]) {
    if (isSecure(u) && !secureOpts) throw new Error(`TLS key/cert (--cert-file, --key-file) must be provided for client url ${u.href.replace(/\/$/, '')} with HTTPS scheme`);
  }

  const v3 = new V3rpcServer(server, {
    electionMs: cfg.electionMs,
    metrics,
    maxConcurrentStreams: cfg.maxConcurrentStreams,
    keepaliveIntervalMs: cfg.grpcKeepAliveIntervalMs,
    keepaliveTimeoutMs: cfg.grpcKeepAliveTimeoutMs,
    keepaliveMinTimeMs: cfg.grpcKeepAliveMinTimeMs,
    warn: (msg, f) => logger.warn(f, msg),
  });

  const clientMux = new HttpMux();
  handleMetricsHealth(clientMux, server, metrics);
  clientMux.handle('/version', versionHandler(opts.clusterVersion));
  // the /v3 JSON gateway (embed/serve.go registerGateway): each listener's requests are
  // proxied to the gRPC server through a connection to that listener's own address
  const gatewayConns = new WeakMap<net.Socket, GatewayConn>();
  const allGatewayConns: GatewayConn[] = [];
  const gateway = new JsonGateway({
    conn: (req) => {
      const c = gatewayConns.get(req.socket);
      if (!c) throw new Error('gateway: request on an unknown connection');
      return c;
    },
  });
  const gatewayOn = cfg.enableGrpcGateway !== false;
  const v2Handler = opts.v2Handler;
  const corsHandler = withCORS((req, res) => {
    // --enable-v2: /v2/keys, /v2/members, /v2/machines, /v2/stats (its own path cleaning)
    if (v2Handler?.(req, res)) return;
    const loc = serveMuxRedirect(req.url ?? '/', gatewayOn);
    if (loc !== undefined && req.method !== 'CONNECT') {
      redirect(req, res, loc);
      return;
    }
    const p = gatewayOn ? gatewayPath(req.url ?? '/') : undefined;
    if (p !== undefined) gateway.serve(req, res, p);
    else clientMux.serve(req, res);
  });
  const clientHttp = http.createServer((req, res) => {
    // accessController: with --client-cert-auth and auth enabled, a /v3/ request over TLS
    // whose verified client certificate has a CommonName is refused (the gateway's own
    // connection would carry the server's certificate, not the user's)
    const sock = req.socket as Partial<tls.TLSSocket>;
    if (gatewayOn && cfg.clientTls.clientCertAuth && sock.encrypted && sock.authorized && opts.authEnabled?.() && (gatewayPath(req.url ?? '/') ?? '').startsWith('/v3/')) {
      const cn = sock.getPeerCertificate?.()?.subject?.CN;
      if (cn !== undefined && cn !== '' && !(Array.isArray(cn) && cn.every((x) => x === ''))) {
        httpError(res, GATEWAY_CN_REJECTED, 400);
        return;
      }
    }
    corsHandler(req, res);
  });
  // no limit on receiving a request: a gateway stream (watch, lease keepalive) sends its
  // requests in a body that stays open as long as the client wants (Go's default too)
  clientHttp.requestTimeout = 0;
  const metricsMux = new HttpMux();
  handleMetricsHealth(metricsMux, server, metrics);
  const metricsHttp = http.createServer((req, res) => metricsMux.serve(req, res));

  const sockets = new Set<net.Socket>();
  const listeners: net.Server[] = [];
  const addresses: ServedAddress[] = [];

  const onSocket = (kind: 'client' | 'metrics', gw?: () => GatewayConn | undefined) => (socket: net.Socket) => {
    sockets.add(socket);
    const conn = gw?.();
    if (conn) gatewayConns.set(socket, conn);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (kind === 'metrics') {
      metricsHttp.emit('connection', socket);
      return;
    }
    sniffConnection(
      socket,
      (s) => { v3.handleConnection(s); },
      (s) => { clientHttp.emit('connection', s); s.resume(); },
    );
  };

  try {
    // an http:// and an https:// client URL on the same address share one listener, which
    // tells TLS connections (first byte 0x16, a handshake record) from plain ones, as
    // etcd's cmux does
    const addrKey = (u: URL) => (isUnix(u) || u.port === '' || u.port === '0' ? undefined : `${hostOf(u)}:${u.port}`);
    const schemesAt = new Map<string, Set<boolean>>();
    for (const u of cfg.listenClientUrls) {
      const k = addrKey(u);
      if (k) schemesAt.set(k, (schemesAt.get(k) ?? new Set()).add(isSecure(u)));
    }
    const shared = new Map<string, { host: string; port: number }>();
    for (const [kind, urls] of [['client', cfg.listenClientUrls], ['metrics', cfg.listenMetricsUrls]] as const) {
      for (const u of urls) {
        let srv: net.Server;
        // set once the listener is bound (connections are accepted only after that)
        let gwConn: GatewayConn | undefined;
        const k = kind === 'client' ? addrKey(u) : undefined;
        if (k && schemesAt.get(k)!.size === 2 && secureOpts) {
          let a = shared.get(k);
          if (!a) {
            // the gateway reaches the gRPC server through the shared port in plaintext
            let sharedGw: GatewayConn | undefined;
            const onSecure = withCrlCheck(tlsCfg!.crlFile, onSocket(kind, () => sharedGw), (sock, err) => {
              logger.warn({ 'remote-addr': `${sock.remoteAddress}:${sock.remotePort}`, 'server-name': '', error: err.message }, 'rejected connection');
            });
            const tlsSrv = tls.createServer(secureOpts, onSecure);
            tlsSrv.on('tlsClientError', (err: Error) => logger.warn({ 'remote-addr': 'unknown', 'server-name': '', error: goTlsHandshakeError(err) }, 'rejected connection'));
            const plain = onSocket(kind, () => sharedGw);
            srv = net.createServer((sock) => {
              sock.once('data', (first: Buffer) => {
                sock.pause();
                sock.unshift(first);
                if (first[0] === 0x16) {
                  // through a JS stream, so the TLS layer sees the byte already read
                  tlsSrv.emit('connection', jsStreamOf(sock));
                } else {
                  plain(sock);
                }
                sock.resume();
              });
              sock.on('error', () => undefined);
            });
            listeners.push(srv);
            a = await listen(srv, u);
            shared.set(k, a);
            sharedGw = new GatewayConn({ host: a.host, port: a.port });
            allGatewayConns.push(sharedGw);
          }
          addresses.push({ url: `${u.protocol}//${u.hostname}:${a.port}`, kind, host: a.host, port: a.port });
          continue;
        }
        if (isSecure(u)) {
          // --client-crl-file: checked after each handshake, as etcd's TLS listener does (./crl.ts)
          const onSecure = withCrlCheck(tlsCfg!.crlFile, onSocket(kind, () => gwConn), (s, err) => {
            logger.warn({ 'remote-addr': `${s.remoteAddress}:${s.remotePort}`, 'server-name': String((s as unknown as { servername?: unknown }).servername || ''), error: err.message }, 'rejected connection');
          });
          srv = tls.createServer(secureOpts!, onSecure);
          srv.on('tlsClientError', (err: Error, s: tls.TLSSocket) => {
            const addr = s.remoteAddress ?? (s as unknown as { _parent?: net.Socket })._parent?.remoteAddress;
            const port = s.remotePort ?? (s as unknown as { _parent?: net.Socket })._parent?.remotePort;
            logger.warn({ 'remote-addr': addr !== undefined ? `${addr}:${port}` : 'unknown', 'server-name': String((s as unknown as { servername?: unknown }).servername || ''), error: goTlsHandshakeError(err) }, 'rejected connection');
          });
        } else {
          if (tlsCfg && !isUnix(u)) logger.warn({ url: u.href }, 'scheme is HTTP while key and cert files are present; ignoring key and cert files');
          srv = net.createServer(onSocket(kind, () => gwConn));
        }
        listeners.push(srv);
        const a = await listen(srv, u);
        if (kind === 'client') {
          gwConn = new GatewayConn({
            ...(isUnix(u) ? { path: a.host } : { host: a.host, port: a.port }),
            ...(isSecure(u) ? { tls: { cert: secureOpts!.cert as Buffer, key: secureOpts!.key as Buffer } } : {}),
          });
          allGatewayConns.push(gwConn);
        }
        const url = isUnix(u) ? u.href : `${u.protocol}//${u.hostname}:${a.port}`;
        addresses.push({ url, kind, host: a.host, port: a.port });
        // client listeners are announced by embed/etcd.ts once the server is ready (etcd's
        // "serving client traffic securely|insecurely"), so only metrics listeners here
        if (kind !== 'client') logger.info({ address: isUnix(u) ? a.host : `${u.hostname}:${a.port}`, kind, secure: isSecure(u) }, 'serving metrics');
      }
    }
  } catch (e) {
    for (const l of listeners) l.close();
    for (const c of allGatewayConns) c.close();
    v3.close();
    throw e;
  }

  let closing: Promise<void> | undefined;
  return {
    addresses,
    v3rpc: v3,
    metrics,
    close(): Promise<void> {
      closing ??= (async () => {
        const closed = listeners.map((l) => new Promise<void>((r) => l.close(() => r())));
        for (const c of allGatewayConns) c.close();
        v3.close();
        clientHttp.closeAllConnections();
        metricsHttp.closeAllConnections();
        for (const s of sockets) s.destroy();
        await Promise.all(closed);
      })();
      return closing;
    },
  };
}
