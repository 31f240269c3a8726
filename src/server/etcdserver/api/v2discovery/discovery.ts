/**
 * @module server/etcdserver/api/v2discovery/discovery
 * `--discovery URL`: bootstrapping through a discovery service speaking the v2 keys
 * protocol (a private etcd with `--enable-v2`, or discovery.etcd.io), as etcd 3.4.23's
 * etcdserver/api/v2discovery does it. With URL `http://host:port/v2/keys/_etcd/registry/TOKEN`
 * the "cluster" is the URL's path (`/v2/keys/_etcd/registry/TOKEN`) on `http://host:port`:
 *
 * 1. check: GET `<cluster>/_config/size` (a positive integer, else `discovery: size key
 *    is bad`; 404 gives the v2 error as `100: Key not found (/_etcd) [3]`), then GET
 *    `<cluster>`; the members registered so far are its children except `_config`,
 *    ordered by createdIndex; when `size` of them came before this member: `discovery:
 *    cluster is full`;
 * 2. register: PUT `<cluster>/<member ID hex>?prevExist=false` with value
 *    `name=peerURL,...` (105 Key already exists: `discovery: found duplicate id`), and
 *    wait for that write;
 * 3. check again, then watch `<cluster>` recursively from the index of the GET until
 *    `size` members are there (logging each found peer);
 * 4. the initial cluster is the first `size` values joined (`discovery: invalid URL`
 *    when they do not parse, `discovery: found duplicate name` when names repeat).
 *
 * Connection failures and 5xx answers (Go client ClusterError) are logged (`failed to get
 * from discovery server`) and retried after 2^n s (n = 1..8, `retry connecting to
 * discovery service`), forever as in etcd. `--discovery-proxy` sends the requests
 * through an HTTP proxy (absolute-URI requests; an https discovery URL through a proxy
 * is refused). Errors are returned wrapped in {@link DiscoveryError} (etcd's
 * `failed to join discovery cluster (ERR)`).
 */

import http from 'node:http';
import https from 'node:https';
import { posix } from 'node:path';
import type { Logger } from '../../../logger.js';
import { newUrlsMap } from '../../../embed/urls.js';

export const ERR_INVALID_URL = 'discovery: invalid URL';
export const ERR_BAD_SIZE_KEY = 'discovery: size key is bad';
export const ERR_SIZE_NOT_FOUND = 'discovery: size key not found';
export const ERR_DUPLICATE_ID = 'discovery: found duplicate id';
export const ERR_DUPLICATE_NAME = 'discovery: found duplicate name';
export const ERR_FULL_CLUSTER = 'discovery: cluster is full';
export const ERR_BAD_DISCOVERY_ENDPOINT = 'discovery: bad discovery endpoint';
/** Go v2 client ErrInvalidJSON. */
const ERR_INVALID_JSON = 'client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint.';
/** ms: Go v2 client DefaultRequestTimeout. */
const REQUEST_TIMEOUT_MS = 5000;
const MAX_EXPONENTIAL_RETRIES = 8;

/**
 * etcdserver.DiscoveryError: `failed to <op> discovery cluster (<err>)`; `err` is the
 * discovery error (its message one of the ERR_* texts or the service's v2 error).
 * etcdmain tells the cases apart by `err.message` (see etcdmain/main.ts).
 */
export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
  constructor(readonly op: string, readonly err: Error) {
    super(`failed to ${op} discovery cluster (${err.message})`);
  }
}

/** Go client ClusterError: connection failures and 5xx answers, which discovery retries. */
class ClusterError extends Error {
  constructor(readonly errors: string[]) {
    super(`client: etcd cluster is unavailable or misconfigured${errors.map((e, i) => `; error #${i}: ${e}\n`).join('')}`);
  }
  detail(): string {
    return this.errors.map((e, i) => `error #${i}: ${e}\n`).join('');
  }
}

/** A v2 error answer (client.Error): `<code>: <message> (<cause>) [<index>]`. */
class V2Error extends Error {
  constructor(readonly code: number, message: string, cause: string, index: number) {
    super(`${code}: ${message} (${cause}) [${index}]`);
  }
}

interface V2Node {
  key: string;
  value?: string;
  createdIndex: number;
  nodes?: V2Node[];
}

/** The path's last element (Go path.Base). */
function base(p: string): string {
  const t = p.replace(/\/+$/, '');
  return t === '' ? '/' : t.slice(t.lastIndexOf('/') + 1);
}

/** Go's dial error text for a Node socket error. */
function dialErrorText(e: NodeJS.ErrnoException, host: string): string {
  const why: Record<string, string> = { ECONNREFUSED: 'connection refused', ECONNRESET: 'connection reset by peer', EHOSTUNREACH: 'no route to host', ENETUNREACH: 'network is unreachable', ETIMEDOUT: 'i/o timeout' };
  const w = e.code ? why[e.code] : undefined;
  return w ? `dial tcp ${host}: connect: ${w}` : e.message;
}

/** Options of {@link joinCluster}. */
export interface JoinOptions {
  /** --discovery */
  url: string;
  /** --discovery-proxy ('' for none) */
  proxy: string;
  /** this member's ID (from its advertised peer URLs and the discovery URL as token) */
  id: bigint;
  /** this member's entry, etcd URLsMap.String() of {name: advertised peer URLs} */
  config: string;
  lg: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** for tests: the back-off sleep (ms) */
  sleep?: (ms: number) => Promise<void>;
}

/** One discovery session (etcd v2discovery.discovery). */
class Discovery {
  private readonly endpoint: URL;
  /** the token: the discovery URL's path */
  private readonly cluster: string;
  private readonly urlText: string;
  private proxyUrl: URL | undefined;
  private retries = 0;

  /** set when the URL's scheme is not http(s): every request fails with it (Go's http client), retried forever as in etcd */
  private readonly unsupported: string | undefined;

  constructor(private readonly o: JoinOptions) {
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(o.url)?.[1]?.toLowerCase() ?? '';
    let u: URL | undefined;
    if (scheme === 'http' || scheme === 'https') {
      try {
        u = new URL(o.url);
      } catch {
        throw new Error(`parse ${JSON.stringify(o.url)}: invalid URL`);
      }
    }
    if (u) {
      // (Go's Path is empty for "http://host", WHATWG's pathname "/")
      this.cluster = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*\//.test(o.url) ? decodeURIComponent(u.pathname) : '';
      this.endpoint = new URL(`${u.protocol}//${u.host}`);
      this.urlText = `${u.protocol}//${u.host}`;
    } else {
      // Go's url.Parse keeps such a URL; its client then refuses the scheme on every request
      const rest = o.url.slice(scheme === '' ? 0 : scheme.length + 1).replace(/[?#].*$/, '');
      const auth = rest.startsWith('//') ? /^\/\/([^/]*)(.*)$/.exec(rest)! : undefined;
      this.cluster = auth ? auth[2]! : rest.startsWith('/') || scheme === '' ? rest : '';
      this.endpoint = new URL('http://invalid');
      this.urlText = scheme === '' ? (auth ? `//${auth[1]}` : '') : auth ? `${scheme}://${auth[1]}` : `${scheme}:`;
      this.unsupported = `unsupported protocol scheme ${JSON.stringify(scheme)}`;
    }
    if (o.proxy !== '') {
      let p: URL | undefined;
      try {
        p = new URL(o.proxy);
        if (!p.protocol.startsWith('http')) p = undefined;
      } catch {
        p = undefined;
      }
      if (!p) {
        try {
          p = new URL(`http://${o.proxy}`);
        } catch {
          throw new Error(`invalid proxy address ${JSON.stringify(o.proxy)}: parse ${JSON.stringify(`http://${o.proxy}`)}: invalid URI`);
        }
      }
      if (u?.protocol === 'https:') throw new Error(`--discovery-proxy with an https discovery URL is not supported by this etcd (${o.url})`);
      this.proxyUrl = p;
      const text = `${p.protocol}//${p.host}${p.pathname === '/' ? '' : p.pathname}`;
      o.lg.info('running proxy with discovery', { 'proxy-url': text }, { pkg: 'discovery', text: `using proxy ${JSON.stringify(text)}` });
    }
  }

  private selfKey(): string {
    return posix.join('/', this.cluster, this.o.id.toString(16));
  }

  /** One HTTP request to the discovery service; resolves with status, body and X-Etcd-Index. */
  private request(method: string, key: string, query: string, body: string | undefined, timeoutMs: number): Promise<{ status: number; body: string; index: number }> {
    if (this.unsupported !== undefined) return Promise.reject(new ClusterError([this.unsupported]));
    const path = `${encodeURI(posix.join('/', key))}${query}`;
    const target = new URL(path, this.endpoint);
    const viaProxy = this.proxyUrl;
    const mod = (viaProxy ? viaProxy.protocol : target.protocol) === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request({
        method,
        host: (viaProxy ?? target).hostname.replace(/^\[|\]$/g, ''),
        port: (viaProxy ?? target).port || ((viaProxy ?? target).protocol === 'https:' ? 443 : 80),
        path: viaProxy ? target.href : path,
        headers: { ...(body !== undefined ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}), ...(viaProxy ? { Host: target.host } : {}) },
      });
      const timer = timeoutMs > 0 ? setTimeout(() => req.destroy(Object.assign(new Error('context deadline exceeded'), { code: 'DEADLINE' })), timeoutMs) : undefined;
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (Math.floor(status / 100) === 5) {
            const member = this.urlText;
            reject(new ClusterError([status === 500 || status === 503 ? `client: etcd member ${member} has no leader` : `client: etcd member ${member} returns server error [${res.statusMessage ?? ''}]`]));
            return;
          }
          resolve({ status, body: text, index: Number(res.headers['x-etcd-index'] ?? 0) });
        });
        res.on('error', (e) => reject(new ClusterError([e.message])));
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (e.code === 'DEADLINE') reject(new Error('context deadline exceeded'));
        else reject(new ClusterError([dialErrorText(e, `${(viaProxy ?? target).host}`)]));
      });
      req.end(body);
    });
  }

  /** Parses a keys answer: the node, or the v2 error; invalid JSON is ERR_INVALID_JSON. */
  private parse(r: { status: number; body: string }): V2Node {
    let j: { node?: V2Node; errorCode?: number; message?: string; cause?: string; index?: number };
    try {
      j = JSON.parse(r.body) as typeof j;
    } catch {
      throw new Error(ERR_INVALID_JSON);
    }
    if (r.status >= 200 && r.status < 300 && j.node) return j.node;
    if (typeof j.errorCode === 'number') throw new V2Error(j.errorCode, j.message ?? '', j.cause ?? '', j.index ?? 0);
    throw new Error(ERR_INVALID_JSON);
  }

  private async get(key: string): Promise<{ node: V2Node; index: number }> {
    const r = await this.request('GET', key, '?quorum=false&recursive=false&sorted=false', undefined, REQUEST_TIMEOUT_MS);
    return { node: this.parse(r), index: r.index };
  }

  private async backoff(step: string): Promise<void> {
    this.retries++;
    const n = Math.min(this.retries, MAX_EXPONENTIAL_RETRIES);
    const s = 2 ** n;
    this.o.lg.info('retry connecting to discovery service', { url: this.urlText, reason: step, backoff: `${s}s` }, { pkg: 'discovery', text: `${step}: error connecting to ${this.urlText}, retrying in ${s}s` });
    await (this.o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(s * 1000);
  }

  private logClusterError(path: string, e: ClusterError): void {
    this.o.lg.warn('failed to get from discovery server', { 'discovery-url': this.urlText, path, error: e.message, 'err-detail': e.detail() }, { pkg: 'discovery', level: 'E', text: e.detail() });
  }

  /** etcd checkCluster: the members registered before this one (all of them if it is not registered), size and the index to watch from. */
  async checkCluster(): Promise<{ nodes: V2Node[]; size: number; index: number; full: boolean }> {
    const configKey = posix.join('/', this.cluster, '_config');
    let sizeNode: V2Node;
    try {
      sizeNode = (await this.get(`${configKey}/size`)).node;
    } catch (e) {
      if (e instanceof ClusterError) {
        this.logClusterError(`${configKey}/size`, e);
        await this.backoff('cluster status check');
        return this.checkCluster();
      }
      if ((e as Error).message === ERR_INVALID_JSON) throw new Error(ERR_BAD_DISCOVERY_ENDPOINT);
      throw e;
    }
    const v = sizeNode.value ?? '';
    // Go strconv.ParseUint(v, 10, 0): digits only, no sign, at most 2^64-1
    if (!/^\d+$/.test(v) || BigInt(v) > 0xffffffffffffffffn) throw new Error(ERR_BAD_SIZE_KEY);
    const size = Number(v);
    let dir: { node: V2Node; index: number };
    try {
      dir = await this.get(this.cluster);
    } catch (e) {
      if (e instanceof ClusterError) {
        this.logClusterError(this.cluster, e);
        await this.backoff('cluster status check');
        return this.checkCluster();
      }
      throw e;
    }
    const nodes = (dir.node.nodes ?? []).filter((n) => base(n.key) !== '_config').sort((a, b) => a.createdIndex - b.createdIndex);
    const self = base(this.selfKey());
    for (let i = 0; i < nodes.length; i++) {
      if (base(nodes[i]!.key) === self) break;
      // (size-1 is unsigned in etcd: a size of 0 never makes the cluster full)
      if (size > 0 && i >= size - 1) return { nodes: nodes.slice(0, size), size, index: dir.index, full: true };
    }
    return { nodes, size, index: dir.index, full: false };
  }

  /** etcd createSelf: registers this member, then waits for its own write. */
  private async createSelf(contents: string): Promise<void> {
    const r = await this.request('PUT', this.selfKey(), '?prevExist=false', `value=${encodeURIComponent(contents)}`, REQUEST_TIMEOUT_MS);
    let node: V2Node;
    try {
      node = this.parse(r);
    } catch (e) {
      if (e instanceof V2Error && e.code === 105) throw new Error(ERR_DUPLICATE_ID);
      throw e;
    }
    await this.watchNext(this.selfKey(), node.createdIndex, false);
  }

  /** One wait=true GET from `waitIndex` (an empty answer is asked again, as the Go watcher does). */
  private async watchNext(key: string, waitIndex: number, recursive: boolean): Promise<V2Node> {
    for (;;) {
      const r = await this.request('GET', key, `?recursive=${recursive}&wait=true&waitIndex=${waitIndex}`, undefined, 0);
      if (r.body.trim() === '') continue;
      return this.parse(r);
    }
  }

  private async waitNodes(nodes0: V2Node[], size: number, index: number): Promise<V2Node[]> {
    const all = nodes0.slice(0, size);
    const self = base(this.selfKey());
    const lg = this.o.lg;
    for (const n of all) {
      if (base(n.key) === self) lg.info('found self from discovery server', { 'discovery-url': this.urlText, self }, { pkg: 'discovery', level: 'N', text: `found self ${self} in the cluster` });
      else lg.info('found peer from discovery server', { 'discovery-url': this.urlText, peer: base(n.key) }, { pkg: 'discovery', level: 'N', text: `found peer ${base(n.key)} in the cluster` });
    }
    let next = index + 1;
    while (all.length < size) {
      lg.info('found peers from discovery server; waiting for more', { 'discovery-url': this.urlText, 'found-peers': all.length, 'needed-peers': size - all.length }, { pkg: 'discovery', level: 'N', text: `found ${all.length} peer(s), waiting for ${size - all.length} more` });
      let node: V2Node;
      try {
        node = await this.watchNext(this.cluster, next, true);
      } catch (e) {
        if (e instanceof ClusterError) {
          lg.error('', undefined, { pkg: 'discovery', text: e.detail() });
          await this.backoff('waiting for other nodes');
          const c = await this.checkCluster();
          if (c.full) throw new Error(ERR_FULL_CLUSTER);
          return this.waitNodes(c.nodes, c.size, c.index);
        }
        throw e;
      }
      next = (node as V2Node & { modifiedIndex?: number }).modifiedIndex !== undefined ? (node as V2Node & { modifiedIndex: number }).modifiedIndex + 1 : next + 1;
      lg.info('found peer from discovery server', { 'discovery-url': this.urlText, peer: base(node.key) }, { pkg: 'discovery', level: 'N', text: `found peer ${base(node.key)} in the cluster` });
      all.push(node);
    }
    lg.info('found all needed peers from discovery server', { 'discovery-url': this.urlText, 'found-peers': all.length }, { pkg: 'discovery', level: 'N', text: `found ${all.length} needed peer(s)` });
    return all;
  }

  async join(): Promise<string> {
    const first = await this.checkCluster();
    if (first.full) throw new Error(ERR_FULL_CLUSTER);
    await this.createSelf(this.o.config);
    const c = await this.checkCluster();
    if (c.full) throw new Error(ERR_FULL_CLUSTER);
    const all = await this.waitNodes(c.nodes, c.size, c.index);
    return nodesToCluster(all, c.size);
  }
}

/** etcd nodesToCluster: the values joined; ERR_INVALID_URL / ERR_DUPLICATE_NAME. */
function nodesToCluster(nodes: V2Node[], size: number): string {
  const us = nodes.map((n) => n.value ?? '').join(',');
  let m: Map<string, string[]>;
  try {
    m = newUrlsMap(us);
  } catch {
    throw new Error(ERR_INVALID_URL);
  }
  if (m.size !== size) throw new Error(ERR_DUPLICATE_NAME);
  return us;
}

/**
 * etcd v2discovery.JoinCluster: registers this member with the discovery service and
 * waits until the cluster is complete. Resolves with the initial cluster
 * (`name=url,...`, the registered values in creation order).
 * @throws DiscoveryError (op "join") wrapping the discovery error
 */
export async function joinCluster(o: JoinOptions): Promise<string> {
  try {
    return await new Discovery(o).join();
  } catch (e) {
    throw new DiscoveryError('join', e as Error);
  }
}
