/**
 * @module server/etcdserver/api/etcdhttp/base
 * The HTTP side of the client port (etcd 3.4 etcdserver/api/etcdhttp/base.go):
 * a Go-ServeMux-like exact-path router, /version, and net/http's error
 * responses (http.Error, 404, 405) byte for byte.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ETCD_SERVER_VERSION } from '../../../metrics/metrics.js';

/** A request handler. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Cluster version etcd 3.4.23 members report once the cluster version is decided. */
export const ETCD_CLUSTER_VERSION = '3.4.0';

/**
 * Go's http.Error: status, `Content-Type: text/plain; charset=utf-8`,
 * `X-Content-Type-Options: nosniff`, body = msg + "\n".
 */
export function httpError(res: ServerResponse, msg: string, status: number): void {
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  const body = `${msg}\n`;
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}

/**
 * base.go allowMethod: true when `req` uses method `m`; otherwise answers 405
 * with `Allow: m` and "Method Not Allowed".
 */
export function allowMethod(req: IncomingMessage, res: ServerResponse, m: string): boolean {
  if (req.method === m) return true;
  res.setHeader('Allow', m);
  httpError(res, 'Method Not Allowed', 405);
  return false;
}

/** Exact-path routes; anything else is Go's "404 page not found". */
export class HttpMux {
  private readonly routes = new Map<string, HttpHandler>();

  handle(path: string, h: HttpHandler): void {
    this.routes.set(path, h);
  }

  /** Serves one request; handler errors become 500 "Internal Server Error". */
  serve(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const h = this.routes.get(path);
    if (!h) return httpError(res, '404 page not found', 404);
    Promise.resolve()
      .then(() => h(req, res))
      .catch(() => {
        if (!res.headersSent) httpError(res, 'Internal Server Error', 500);
        else res.destroy();
      });
  }
}

/**
 * GET /version (base.go serveVersion): `{"etcdserver":"3.4.23","etcdcluster":"<v>"}`
 * as application/json; `clusterVersion()` undefined gives "not_decided".
 */
export function versionHandler(clusterVersion: () => string | undefined = () => ETCD_CLUSTER_VERSION): HttpHandler {
  return (req, res) => {
    if (!allowMethod(req, res, 'GET')) return;
    const body = JSON.stringify({ etcdserver: ETCD_SERVER_VERSION, etcdcluster: clusterVersion() ?? 'not_decided' });
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.writeHead(200);
    res.end(body);
  };
}

/**
 * The CORS headers etcd's client-port access controller adds to every HTTP
 * response (embed/serve.go accessController with the default --cors "*"); an
 * OPTIONS request is answered 200 with just these.
 */
export function withCORS(h: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE');
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'accept, content-type, authorization');
    if (req.method === 'OPTIONS') {
      res.setHeader('Content-Length', 0);
      res.writeHead(200);
      res.end();
      return;
    }
    h(req, res);
  };
}
