// Helpers of the v2 API suites: raw HTTP/1.1 requests to a server's client URL and
// the normalisation of what may legitimately differ between real etcd and ours
// (client ports in URLs, expiration times).

import http from 'node:http';

/** One HTTP answer. */
export interface V2Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Options of {@link v2Request}. */
export interface V2RequestOptions {
  /** Request body (sent as application/x-www-form-urlencoded unless contentType says otherwise). */
  body?: string;
  contentType?: string;
  /** ms before the request is aborted (default 15000). */
  timeoutMs?: number;
  /** More request headers (e.g. Authorization). */
  headers?: Record<string, string>;
}

/** Sends one request to `baseUrl` + `path` (the path is sent as is, not re-encoded). */
export function v2Request(baseUrl: string, method: string, path: string, opts: V2RequestOptions = {}): Promise<V2Answer> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/x-www-form-urlencoded';
      headers['Content-Length'] = Buffer.byteLength(opts.body);
    } else if (opts.contentType !== undefined) {
      headers['Content-Type'] = opts.contentType;
    }
    const req = http.request({ host: u.hostname, port: Number(u.port), method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 15_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/**
 * A long-poll or streaming GET: resolves with the status and headers once they
 * arrive; `lines(n)` waits for n newline-terminated lines of the body; `close()` aborts.
 */
export function v2Watch(baseUrl: string, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; lines(n: number, timeoutMs?: number): Promise<string[]>; ended: Promise<void>; close(): void }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: Number(u.port), method: 'GET', path, agent: false }, (res) => {
      let buf = '';
      const waiters: Array<() => void> = [];
      const ended = new Promise<void>((r) => res.on('end', () => r()));
      res.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        for (const w of waiters.splice(0)) w();
      });
      res.on('error', () => undefined);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        ended,
        lines: async (n, timeoutMs = 15_000) => {
          const deadline = Date.now() + timeoutMs;
          while (buf.split('\n').length - 1 < n) {
            if (Date.now() > deadline) throw new Error(`watch ${path}: ${n} lines did not arrive (got ${JSON.stringify(buf)})`);
            await new Promise<void>((r) => {
              waiters.push(r);
              setTimeout(r, 200);
            });
          }
          return buf.split('\n').slice(0, n);
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET' && e.message !== 'socket hang up') reject(e);
    });
    req.end();
  });
}

/**
 * Normalises what differs between two servers started the same way: their
 * client ports (`:PORT` of the given URLs) and expiration times.
 */
export function normaliseV2(text: string, clientUrls: readonly string[]): string {
  let t = text;
  for (const u of clientUrls) t = t.split(u).join('http://127.0.0.1:<port>');
  return t.replace(/"expiration":"[^"]*"/g, '"expiration":"<time>"');
}

/** The headers etcd's v2 API sets, in a fixed order, for comparison. */
export function v2Headers(a: V2Answer): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const h of ['content-type', 'x-etcd-index', 'x-raft-index', 'x-raft-term', 'x-etcd-cluster-id', 'allow', 'location']) {
    const v = a.headers[h];
    out[h] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
