/**
 * @module server/etcdserver/api/v2http/client
 * The v2 HTTP API on the client URLs, served with --enable-v2 (etcd 3.4
 * etcdserver/api/v2http/client.go, http.go, httptypes): /v2/keys, /v2/members,
 * /v2/machines and /v2/stats/{self,leader,store}. Requests are parsed as etcd
 * parses them (Go's ParseForm: the urlencoded body first, then the query;
 * strconv.ParseBool/ParseUint), errors are etcd's v2 error JSON or HTTPError
 * JSON with the same statuses, and successful answers carry X-Etcd-Index,
 * X-Raft-Index, X-Raft-Term and X-Etcd-Cluster-Id. /v2/auth is ./client-auth.ts;
 * its checks also guard /v2/keys (the key's permissions) and /v2/members writes
 * (root) once v2 auth is enabled.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import type { EtcdMember } from '../../../../util/etcd-format/members.js';
import { goJsonString } from '../../../../util/etcd-format/members.js';
import { httpError } from '../etcdhttp/base.js';
import { V2Code, V2Error, requestError } from '../../../../util/v2store/errors.js';
import { cloneEvent, eventJson, isCreated, type NodeExtern, type V2Event } from '../../../../util/v2store/event.js';
import { cleanPath } from '../../../../util/v2store/store.js';
import { parseQuery, type Form } from './form.js';
import { V2AuthStore } from '../v2auth/auth.js';
import { hasKeyPrefixAccess, hasWriteRootAccess, V2AuthHandler, writeHttpError, writeNoAuth, writeV2Error, type V2AuthHttpDeps } from './client-auth.js';
import type { V2RequestInit, V2Response } from '../../v2-server.js';
import { STORE_KEYS_PREFIX } from '../../v2-server.js';
import type { ServerStats } from '../v2stats.js';

const KEYS_PREFIX = '/v2/keys';
const MEMBERS_PREFIX = '/v2/members';

/** What the v2 handlers need from the member (clusterId, clientCertAuth, authCapable and warn serve /v2/auth too). */
export interface V2HttpDeps extends V2AuthHttpDeps {
  /** Serves a keys request (V2Server.do). */
  do(r: V2RequestInit): Promise<V2Response>;
  /** /v2/stats/store's JSON. */
  storeStatsJson(): string;
  stats: ServerStats;
  /** The members, sorted by ID. */
  members(): readonly EtcdMember[];
  /** Leader ID, 0n during an election. */
  leader(): bigint;
  /** Adds a member with these peer URLs (MemberAdd); resolves with it. Rejects ErrPeerURLExists, ErrIDExists, ... */
  memberAdd(peerUrls: string[]): Promise<EtcdMember>;
  /** Removes a member. Rejects ErrIDRemoved, ErrIDNotFound, ... */
  memberRemove(id: bigint): Promise<void>;
  /** Changes a member's peer URLs. Rejects ErrPeerURLExists, ErrIDNotFound, ... */
  memberUpdate(id: bigint, peerUrls: string[]): Promise<void>;
}

/** The X-Etcd-Cluster-Id value: types.ID's String (hex without padding). */
function idString(id: bigint): string {
  return id.toString(16);
}

/** v2http allowMethod: 405 with `Allow: a,b` and Go's http.Error text when `m` is not allowed. */
function allowMethod(res: ServerResponse, m: string | undefined, ms: readonly string[]): boolean {
  if (m !== undefined && ms.includes(m)) return true;
  res.setHeader('Allow', ms.join(','));
  httpError(res, 'Method Not Allowed', 405);
  return false;
}

/** writeKeyError: a V2Error as is, anything else as 300 Raft Internal Error with its text (index 0). */
function writeKeyError(res: ServerResponse, err: unknown, deps: V2HttpDeps): void {
  if (err instanceof V2Error) return writeV2Error(res, err);
  const text = String((err as Error)?.message ?? err);
  deps.warn('unexpected v2 response error', { 'internal-server-error': text });
  writeV2Error(res, new V2Error(V2Code.RaftInternal, text, 0));
}

/** strconv.ParseBool. */
function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** strconv.ParseUint(s, 10, 64). */
function parseGoUint(s: string): bigint | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v > 0xffffffffffffffffn ? undefined : v;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('http: POST too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Go's Request.ParseForm: the urlencoded body of POST/PUT/PATCH, then the query. */
async function parseForm(req: IncomingMessage): Promise<{ form: Form; err?: string }> {
  const form: Form = new Map();
  let err: string | undefined;
  if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
    const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (ct === 'application/x-www-form-urlencoded') {
      try {
        const body = await readBody(req, 10 << 20);
        err = parseQuery(form, body.toString('latin1'));
      } catch (e) {
        err = (e as Error).message;
      }
    } else {
      req.resume();
    }
  } else {
    req.resume();
  }
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  if (q >= 0) {
    const qe = parseQuery(form, url.slice(q + 1));
    err ??= qe;
  }
  return { form, err };
}

function formValue(form: Form, key: string): string {
  return form.get(key)?.[0] ?? '';
}

/** The request path, %-decoded as Go's URL.Path is; undefined when it does not decode. */
function requestPath(req: IncomingMessage): string | undefined {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const raw = q >= 0 ? url.slice(0, q) : url;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * parseKeyRequest: the v2 request of a /v2/keys call, and noValueOnSuccess.
 * @throws V2Error 209 invalid field, 203 index NaN, 202 TTL NaN, 201 prevValue empty, 211/212 refresh, 210 invalid form
 */
async function parseKeyRequest(req: IncomingMessage, path: string): Promise<{ r: V2RequestInit; noValueOnSuccess: boolean }> {
  const { form, err } = await parseForm(req);
  if (err !== undefined) throw requestError(V2Code.InvalidForm, err);
  const p = cleanPath(posix.join(STORE_KEYS_PREFIX, path.slice(KEYS_PREFIX.length)));
  const uint = (key: string, code: number, cause: string): bigint => {
    const v = form.get(key);
    if (!v) return 0n;
    const n = parseGoUint(v[0]!);
    if (n === undefined) throw requestError(code, cause);
    return n;
  };
  const bool = (key: string, cause = `invalid value for "${key}"`): boolean => {
    const v = form.get(key);
    if (!v) return false;
    const b = parseGoBool(v[0]!);
    if (b === undefined) throw requestError(V2Code.InvalidField, cause);
    return b;
  };
  const prevIndex = uint('prevIndex', V2Code.IndexNaN, 'invalid value for "prevIndex"');
  const since = uint('waitIndex', V2Code.IndexNaN, 'invalid value for "waitIndex"');
  const recursive = bool('recursive');
  const sorted = bool('sorted');
  const wait = bool('wait');
  const dir = bool('dir');
  const quorum = bool('quorum');
  const stream = bool('stream');
  if (wait && req.method !== 'GET') throw requestError(V2Code.InvalidField, '"wait" can only be used with GET requests');
  const prevValue = formValue(form, 'prevValue');
  if (form.has('prevValue') && prevValue === '') throw requestError(V2Code.PrevValueRequired, '"prevValue" cannot be empty');
  const noValueOnSuccess = bool('noValueOnSuccess');
  let ttl: bigint | undefined;
  if (formValue(form, 'ttl').length > 0) ttl = uint('ttl', V2Code.TTLNaN, 'invalid value for "ttl"');
  let prevExist: boolean | undefined;
  if (form.has('prevExist')) prevExist = bool('prevExist', 'invalid value for prevExist');
  let refresh: boolean | undefined;
  if (form.has('refresh')) {
    refresh = bool('refresh', 'invalid value for refresh');
    if (refresh) {
      if (form.has('value') && formValue(form, 'value') !== '') throw requestError(V2Code.RefreshValue, 'A value was provided on a refresh');
      if (ttl === undefined) throw requestError(V2Code.RefreshTTLRequired, 'No TTL value set');
    }
  }
  const r: V2RequestInit = {
    method: req.method ?? 'GET',
    path: p,
    val: formValue(form, 'value'),
    dir,
    prevValue,
    prevIndex,
    wait,
    since,
    recursive,
    sorted,
    quorum,
    stream,
  };
  if (prevExist !== undefined) r.prevExist = prevExist;
  if (refresh !== undefined) r.refresh = refresh;
  if (ttl !== undefined) r.expiration = BigInt(Date.now()) * 1_000_000n + ttl * 1_000_000_000n;
  return { r, noValueOnSuccess };
}

/** trimNodeExternPrefix on a copy. */
function trimNode(n: NodeExtern | undefined): void {
  if (!n) return;
  if (n.key.startsWith(STORE_KEYS_PREFIX)) n.key = n.key.slice(STORE_KEYS_PREFIX.length);
  for (const c of n.nodes ?? []) trimNode(c);
}

/** trimEventPrefix: a trimmed clone (Event.Clone drops `refresh`, so answers never carry it). */
function trimEvent(e: V2Event): V2Event {
  const c = cloneEvent(e);
  trimNode(c.node);
  trimNode(c.prevNode);
  return c;
}

/** writeKeyEvent. */
function writeKeyEvent(res: ServerResponse, resp: V2Response, noValueOnSuccess: boolean): void {
  let ev = resp.event!;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('X-Etcd-Index', String(ev.etcdIndex));
  res.setHeader('X-Raft-Index', String(resp.index));
  res.setHeader('X-Raft-Term', String(resp.term));
  const status = isCreated(ev) ? 201 : 200;
  ev = trimEvent(ev);
  if (noValueOnSuccess && ['set', 'compareAndSwap', 'create', 'update'].includes(ev.action)) {
    delete ev.node;
    delete ev.prevNode;
  }
  const body = eventJson(ev) + '\n';
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}

/** handleKeyWatch: headers at once, then one event (or every event with stream=true) until the client leaves. */
function handleKeyWatch(req: IncomingMessage, res: ServerResponse, resp: V2Response, stream: boolean): void {
  const w = resp.watcher!;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('X-Etcd-Index', String(w.startIndex));
  res.setHeader('X-Raft-Index', String(resp.index));
  res.setHeader('X-Raft-Term', String(resp.term));
  res.writeHead(200);
  res.flushHeaders();
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    w.remove();
  };
  // the response closes when the client goes away (or after the last event)
  res.on('close', finish);
  w.onEvent((e) => {
    if (done) return;
    res.write(eventJson(trimEvent(e)) + '\n');
    if (!stream) {
      finish();
      res.end();
    }
  });
}

/** GET/PUT/POST/DELETE/HEAD /v2/keys[/...] (keysHandler.ServeHTTP). */
async function serveKeys(req: IncomingMessage, res: ServerResponse, path: string, deps: V2HttpDeps, sec: V2AuthStore): Promise<void> {
  if (!allowMethod(res, req.method, ['HEAD', 'GET', 'PUT', 'POST', 'DELETE'])) return;
  res.setHeader('X-Etcd-Cluster-Id', idString(deps.clusterId()));
  let parsed;
  try {
    parsed = await parseKeyRequest(req, path);
  } catch (e) {
    return writeKeyError(res, e, deps);
  }
  // the path as requested (not cleaned of a trailing slash) is the key permissions match
  if (!(await hasKeyPrefixAccess(sec, req, path.slice(KEYS_PREFIX.length), parsed.r.recursive ?? false, deps))) {
    return writeV2Error(res, new V2Error(V2Code.Unauthorized, 'Insufficient credentials', 0));
  }
  let resp: V2Response;
  try {
    resp = await deps.do(parsed.r);
  } catch (e) {
    if (e instanceof V2Error && e.cause.startsWith(STORE_KEYS_PREFIX)) return writeKeyError(res, e.withCause(e.cause.slice(STORE_KEYS_PREFIX.length)), deps);
    return writeKeyError(res, e, deps);
  }
  if (resp.event) return writeKeyEvent(res, resp, parsed.noValueOnSuccess);
  if (resp.watcher) return handleKeyWatch(req, res, resp, parsed.r.stream ?? false);
  writeKeyError(res, new Error('received response with no Event/Watcher'), deps);
}

/** httptypes.Member JSON. */
function memberJson(m: EtcdMember): string {
  const list = (l: readonly string[]) => `[${l.map(goJsonString).join(',')}]`;
  return `{"id":"${idString(m.id)}","name":${goJsonString(m.name)},"peerURLs":${list(m.peerUrls)},"clientURLs":${list(m.clientUrls)}}`;
}

function writeJson(res: ServerResponse, status: number, body: string): void {
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}

/** types.NewURLs' checks of member peer URLs; throws Error with etcd's text. */
function checkPeerUrls(urls: unknown): string[] {
  if (!Array.isArray(urls) || urls.length === 0) throw new Error('no valid URLs given');
  const out: string[] = [];
  for (const s of urls) {
    if (typeof s !== 'string') throw new Error('json: cannot unmarshal number into Go struct field .peerURLs of type string');
    let u: URL;
    try {
      u = new URL(s.trim());
    } catch {
      throw new Error(`parse ${JSON.stringify(s)}: invalid URI for request`);
    }
    if (!['http:', 'https:', 'unix:', 'unixs:'].includes(u.protocol)) throw new Error(`URL scheme must be http, https, unix, or unixs: ${s}`);
    if (!/:[0-9]*$/.test(u.host) && !/:\d+$/.test(s.replace(/\/$/, ''))) throw new Error(`URL address does not have the form "host:port": ${s}`);
    if (u.pathname !== '/' && u.pathname !== '') throw new Error(`URL must not contain a path: ${s}`);
    out.push(s.trim());
  }
  return out.sort();
}

/** unmarshalRequest: the peerURLs of an application/json body; answers the error itself and returns undefined. */
async function readMemberRequest(req: IncomingMessage, res: ServerResponse): Promise<string[] | undefined> {
  let ct = req.headers['content-type'] ?? '';
  const semi = ct.indexOf(';');
  if (semi !== -1) ct = ct.slice(0, semi).trim().toLowerCase();
  if (ct !== 'application/json') {
    req.resume();
    writeHttpError(res, 415, `Bad Content-Type ${ct}, accept application/json`);
    return undefined;
  }
  let body: Buffer;
  try {
    body = await readBody(req, 10 << 20);
  } catch (e) {
    writeHttpError(res, 400, (e as Error).message);
    return undefined;
  }
  try {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new Error(body.length === 0 ? 'unexpected end of JSON input' : 'invalid character in JSON input');
    }
    return checkPeerUrls((parsed as { peerURLs?: unknown } | null)?.peerURLs);
  } catch (e) {
    writeHttpError(res, 400, (e as Error).message);
    return undefined;
  }
}

/** The member ID of /v2/members/<id>; answers 405/404 itself and returns undefined. */
function memberId(res: ServerResponse, path: string): bigint | undefined {
  const s = path.slice(MEMBERS_PREFIX.length).replace(/^\//, '');
  if (s === '') {
    httpError(res, 'Method Not Allowed', 405);
    return undefined;
  }
  if (!/^[0-9a-fA-F]{1,16}$/.test(s)) {
    writeHttpError(res, 404, `No such member: ${s}`);
    return undefined;
  }
  return BigInt('0x' + s);
}

function errName(e: unknown): string {
  return (e as { name?: string })?.name ?? '';
}

/** membersHandler.ServeHTTP. */
async function serveMembers(req: IncomingMessage, res: ServerResponse, path: string, deps: V2HttpDeps, sec: V2AuthStore): Promise<void> {
  if (!allowMethod(res, req.method, ['GET', 'POST', 'DELETE', 'PUT'])) return;
  if (!(await hasWriteRootAccess(sec, req, deps))) {
    req.resume();
    return writeNoAuth(res);
  }
  res.setHeader('X-Etcd-Cluster-Id', idString(deps.clusterId()));
  const internal = (e: unknown) => {
    deps.warn('unexpected v2 response error', { 'internal-server-error': String((e as Error)?.message ?? e) });
    writeHttpError(res, 500, 'Internal Server Error');
  };
  switch (req.method) {
    case 'GET': {
      req.resume();
      const sub = path.slice(MEMBERS_PREFIX.length).replace(/^\//, '');
      if (sub === '') return writeJson(res, 200, `{"members":[${deps.members().map(memberJson).join(',')}]}\n`);
      if (sub === 'leader') {
        const id = deps.leader();
        const m = deps.members().find((x) => x.id === id);
        if (id === 0n || !m) return writeHttpError(res, 503, 'During election');
        return writeJson(res, 200, memberJson(m) + '\n');
      }
      return writeHttpError(res, 404, 'Not found');
    }
    case 'POST': {
      const urls = await readMemberRequest(req, res);
      if (!urls) return;
      try {
        const m = await deps.memberAdd(urls);
        return writeJson(res, 201, memberJson(m) + '\n');
      } catch (e) {
        if (errName(e) === 'ErrIDExists' || errName(e) === 'ErrPeerURLExists') return writeHttpError(res, 409, (e as Error).message);
        return internal(e);
      }
    }
    case 'DELETE': {
      req.resume();
      const id = memberId(res, path);
      if (id === undefined) return;
      try {
        await deps.memberRemove(id);
      } catch (e) {
        if (errName(e) === 'ErrIDRemoved') return writeHttpError(res, 410, `Member permanently removed: ${idString(id)}`);
        if (errName(e) === 'ErrIDNotFound') return writeHttpError(res, 404, `No such member: ${idString(id)}`);
        return internal(e);
      }
      res.writeHead(204);
      res.end();
      return;
    }
    case 'PUT': {
      const id = memberId(res, path);
      if (id === undefined) {
        req.resume();
        return;
      }
      const urls = await readMemberRequest(req, res);
      if (!urls) return;
      try {
        await deps.memberUpdate(id, urls);
      } catch (e) {
        if (errName(e) === 'ErrPeerURLExists') return writeHttpError(res, 409, (e as Error).message);
        if (errName(e) === 'ErrIDNotFound') return writeHttpError(res, 404, `No such member: ${idString(id)}`);
        return internal(e);
      }
      res.writeHead(204);
      res.end();
      return;
    }
  }
}

/** net/http's cleanPath of ServeMux: path.Clean keeping a trailing slash. */
function muxCleanPath(p: string): string {
  if (p === '') return '/';
  if (!p.startsWith('/')) p = '/' + p;
  let np = cleanPath(p);
  if (p.endsWith('/') && np !== '/') np += '/';
  return np;
}

/** net/http's htmlEscape. */
function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
}

/**
 * The v2 handler of the client port: serves `req` and returns true when its
 * path is one of the v2 API's (etcd's mux patterns /v2/keys, /v2/keys/...,
 * /v2/members, /v2/members/..., /v2/machines, /v2/stats/{store,self,leader},
 * /v2/auth/{enable,users,users/...,roles,roles/...});
 * false leaves it to the other handlers.
 */
export function newV2Handler(deps: V2HttpDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  // one auth store for every listener, as etcd's one client handler has
  const sec = new V2AuthStore(deps);
  const auth = new V2AuthHandler(sec, deps);
  return (req, res) => {
    const path = requestPath(req);
    if (path === undefined || !path.startsWith('/v2/')) return false;
    // Go's ServeMux answers an unclean path (`..`, `.`, `//`) with a redirect to the clean one
    const clean = muxCleanPath(path);
    if (clean !== path) {
      req.resume();
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const location = encodeURI(clean) + (q >= 0 ? url.slice(q) : '');
      res.setHeader('Location', location);
      if (req.method === 'GET' || req.method === 'HEAD') res.setHeader('Content-Type', 'text/html; charset=utf-8');
      const body = req.method === 'GET' ? `<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n` : '';
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.writeHead(301);
      res.end(body);
      return true;
    }
    const run = (f: () => void | Promise<void>) => {
      Promise.resolve()
        .then(f)
        .catch((e) => {
          deps.warn('v2 request failed', { error: String((e as Error)?.message ?? e) });
          // a panic in etcd's handler: net/http drops the connection without an answer
          if ((e as Error)?.name === 'GoPanic') res.destroy();
          else if (!res.headersSent) httpError(res, 'Internal Server Error', 500);
          else res.destroy();
        });
      return true;
    };
    if (path === KEYS_PREFIX || path.startsWith(KEYS_PREFIX + '/')) return run(() => serveKeys(req, res, path, deps, sec));
    if (path === MEMBERS_PREFIX || path.startsWith(MEMBERS_PREFIX + '/')) return run(() => serveMembers(req, res, path, deps, sec));
    const authRoute = auth.route(path);
    if (authRoute) return run(() => authRoute(req, res));
    if (path === '/v2/machines') {
      return run(() => {
        req.resume();
        if (!allowMethod(res, req.method, ['GET', 'HEAD'])) return;
        const urls = deps.members().flatMap((m) => m.clientUrls).sort();
        const body = urls.join(', ');
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.setHeader('Content-Length', Buffer.byteLength(body));
        res.writeHead(200);
        res.end(body);
      });
    }
    const stats: Record<string, () => string | undefined> = {
      '/v2/stats/store': () => deps.storeStatsJson(),
      '/v2/stats/self': () => deps.stats.selfJson(),
      '/v2/stats/leader': () => deps.stats.leaderJson(deps.members().map((m) => m.id)),
    };
    const st = stats[path];
    if (st) {
      return run(() => {
        req.resume();
        if (!allowMethod(res, req.method, ['GET'])) return;
        const body = st();
        if (body === undefined) return writeHttpError(res, 403, 'not current leader');
        writeJson(res, 200, body);
      });
    }
    return false;
  };
}
