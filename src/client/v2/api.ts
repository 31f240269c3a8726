/**
 * @module client/v2/api
 * etcd's v2 APIs over {@link V2Client}: keys (/v2/keys), members (/v2/members) and auth
 * (/v2/auth), with the request shapes, answers and error values of etcd 3.4's Go client
 * (go.etcd.io/etcd/client: keys.go, members.go, auth_user.go, auth_role.go).
 */

import type { DoOptions, Endpoint, V2Client, V2Response } from './http.js';
import posix from 'node:path/posix';

/** An error answer of the keys API (client.Error): `100: Key not found (/foo) [12]`. */
export class V2KeyError extends Error {
  constructor(readonly errorCode: number, readonly errMessage: string, readonly errCause: string, readonly index: number) {
    super(`${errorCode}: ${errMessage} (${errCause}) [${index}]`);
    this.name = 'V2KeyError';
  }
}

/** client.ErrInvalidJSON. */
export const ERR_INVALID_JSON = 'client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint';
/** client.ErrEmptyBody. */
export const ERR_EMPTY_BODY = 'client: response body is empty';

/** An error whose text is a message from the server (membersError, authError). */
export class V2MessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'V2MessageError';
  }
}

/** A node of the v2 store as the client decodes it (client.Node). */
export interface V2Node {
  key: string;
  dir: boolean;
  value: string;
  nodes: V2Node[] | null;
  createdIndex: number;
  modifiedIndex: number;
  /** RFC 3339 time as sent by the server, absent without TTL */
  expiration?: string;
  ttl: number;
}

/** A keys API answer (client.Response); `index` is the X-Etcd-Index header. */
export interface V2KeysResponse {
  action: string;
  node: V2Node | null;
  prevNode: V2Node | null;
  index: number;
}

/** Go's url.QueryEscape. */
function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Go's url.Values.Encode(): keys sorted, `k=v` joined by `&`. */
export function encodeValues(v: Array<[string, string]>): string {
  return [...v]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, x]) => `${queryEscape(k)}=${queryEscape(x)}`)
    .join('&');
}

/** Go's path escaping of url.URL.EscapedPath for a path without RawPath. */
function escapePath(p: string): string {
  let out = '';
  for (const b of Buffer.from(p, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~$&+,/:;=@]/.test(c)) out += c;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** pathutil.CanonicalURLPath: rooted, cleaned, a trailing slash kept. */
export function canonicalURLPath(p: string): string {
  if (p === '') return '/';
  if (p[0] !== '/') p = '/' + p;
  let np = posix.normalize(p);
  if (np.length > 1 && np.endsWith('/')) np = np.slice(0, -1);
  if (p.endsWith('/') && np !== '/') np += '/';
  return np;
}

function urlWith(ep: Endpoint, path: string, query: string): string {
  return `${ep.scheme}://${ep.host}${escapePath(path)}${query ? '?' + query : ''}`;
}

/** Go's path.Join of URL path parts. */
function joinPath(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  if (nonEmpty.length === 0) return '';
  return posix.normalize(nonEmpty.join('/')).replace(/(.)\/$/, '$1');
}

function keysURL(ep: Endpoint, key: string): string {
  if (key !== '' && key[0] !== '/') key = '/' + key;
  return canonicalURLPath(ep.path + '/v2/keys' + key);
}

function parseJson(body: Buffer): unknown {
  return JSON.parse(body.toString('utf8'));
}

function toNode(x: unknown): V2Node | null {
  if (x === null || x === undefined) return null;
  if (typeof x !== 'object' || Array.isArray(x)) throw new Error(ERR_INVALID_JSON);
  const o = x as Record<string, unknown>;
  const str = (v: unknown) => {
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new Error(ERR_INVALID_JSON);
    return v;
  };
  const num = (v: unknown) => {
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number') throw new Error(ERR_INVALID_JSON);
    return v;
  };
  let nodes: V2Node[] | null = null;
  if (Array.isArray(o.nodes)) nodes = o.nodes.map((n) => toNode(n)!).filter((n) => n !== null);
  else if (o.nodes !== undefined && o.nodes !== null) throw new Error(ERR_INVALID_JSON);
  return {
    key: str(o.key),
    dir: o.dir === true,
    value: str(o.value),
    nodes,
    createdIndex: num(o.createdIndex),
    modifiedIndex: num(o.modifiedIndex),
    expiration: typeof o.expiration === 'string' ? o.expiration : undefined,
    ttl: num(o.ttl),
  };
}

/**
 * client.unmarshalHTTPResponse: 200/201 with a body → the response; other statuses →
 * the etcd error in the body.
 * @throws V2KeyError, Error(ERR_EMPTY_BODY), Error(ERR_INVALID_JSON)
 */
export function keysResponse(r: V2Response): V2KeysResponse {
  if (r.status === 200 || r.status === 201) {
    if (r.body.length === 0) throw new Error(ERR_EMPTY_BODY);
    let o: Record<string, unknown>;
    try {
      o = parseJson(r.body) as Record<string, unknown>;
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error();
      const res: V2KeysResponse = {
        action: typeof o.action === 'string' ? o.action : '',
        node: toNode(o.node),
        prevNode: toNode(o.prevNode),
        index: 0,
      };
      const idx = r.headers['x-etcd-index'];
      if (typeof idx === 'string' && idx !== '') res.index = Number(idx);
      return res;
    } catch {
      throw new Error(ERR_INVALID_JSON);
    }
  }
  throw keysError(r.body);
}

function keysError(body: Buffer): Error {
  try {
    const o = parseJson(body) as Record<string, unknown>;
    if (typeof o !== 'object' || o === null) throw new Error();
    return new V2KeyError(
      typeof o.errorCode === 'number' ? o.errorCode : 0,
      typeof o.message === 'string' ? o.message : '',
      typeof o.cause === 'string' ? o.cause : '',
      typeof o.index === 'number' ? o.index : 0,
    );
  } catch {
    return new Error(ERR_INVALID_JSON);
  }
}

/** prevExist of a set: ignore, must exist, must not exist (client.PrevExistType). */
export type PrevExist = '' | 'true' | 'false';

/** client.SetOptions. */
export interface SetOptions {
  prevValue?: string;
  prevIndex?: number;
  prevExist?: PrevExist;
  /** seconds; only > 0 is sent */
  ttl?: number;
  dir?: boolean;
}

/** The keys API (client.KeysAPI). */
export class KeysAPI {
  constructor(private readonly c: V2Client) {}

  /** GET /v2/keys/<key>?quorum=&recursive=&sorted= */
  async get(key: string, o: { recursive?: boolean; sort?: boolean; quorum?: boolean }, opts?: DoOptions): Promise<V2KeysResponse> {
    const q = encodeValues([['recursive', String(!!o.recursive)], ['sorted', String(!!o.sort)], ['quorum', String(!!o.quorum)]]);
    return keysResponse(await this.c.do({ method: 'GET', url: (ep) => urlWith(ep, keysURL(ep, key), q) }, opts));
  }

  /** PUT /v2/keys/<key> with a form body (setAction). One-shot when prevExist=false. */
  async set(key: string, value: string, o: SetOptions, opts: DoOptions = {}): Promise<V2KeysResponse> {
    const params: Array<[string, string]> = [];
    const form: Array<[string, string]> = [];
    if (o.dir) params.push(['dir', 'true']);
    else {
      if (o.prevValue) params.push(['prevValue', o.prevValue]);
      form.push(['value', value]);
    }
    if (o.prevIndex) params.push(['prevIndex', String(o.prevIndex)]);
    if (o.prevExist) params.push(['prevExist', o.prevExist]);
    if (o.ttl && o.ttl > 0) form.push(['ttl', String(o.ttl)]);
    const q = encodeValues(params);
    const body = encodeValues(form);
    return keysResponse(await this.c.do(
      { method: 'PUT', url: (ep) => urlWith(ep, keysURL(ep, key), q), body, contentType: 'application/x-www-form-urlencoded' },
      { ...opts, oneShot: o.prevExist === 'false' },
    ));
  }

  /** POST /v2/keys/<dir> (createInOrderAction). */
  async createInOrder(dir: string, value: string, ttl: number, opts?: DoOptions): Promise<V2KeysResponse> {
    const form: Array<[string, string]> = [['value', value]];
    if (ttl > 0) form.push(['ttl', String(ttl)]);
    return keysResponse(await this.c.do(
      { method: 'POST', url: (ep) => urlWith(ep, keysURL(ep, dir), ''), body: encodeValues(form), contentType: 'application/x-www-form-urlencoded' },
      opts,
    ));
  }

  /** DELETE /v2/keys/<key> (deleteAction); always one-shot. */
  async delete(key: string, o: { prevValue?: string; prevIndex?: number; dir?: boolean; recursive?: boolean }, opts: DoOptions = {}): Promise<V2KeysResponse> {
    const params: Array<[string, string]> = [];
    if (o.prevValue) params.push(['prevValue', o.prevValue]);
    if (o.prevIndex) params.push(['prevIndex', String(o.prevIndex)]);
    if (o.dir) params.push(['dir', 'true']);
    if (o.recursive) params.push(['recursive', 'true']);
    const q = encodeValues(params);
    return keysResponse(await this.c.do(
      { method: 'DELETE', url: (ep) => urlWith(ep, keysURL(ep, key), q), contentType: 'application/x-www-form-urlencoded' },
      { ...opts, oneShot: true },
    ));
  }

  /**
   * A watcher (httpWatcher): each next() waits for the next event after the previous
   * one; `afterIndex` > 0 starts at afterIndex+1.
   */
  watcher(key: string, o: { afterIndex?: number; recursive?: boolean }): { next(opts?: DoOptions): Promise<V2KeysResponse> } {
    let waitIndex = o.afterIndex && o.afterIndex > 0 ? o.afterIndex + 1 : 0;
    const recursive = !!o.recursive;
    return {
      next: async (opts?: DoOptions) => {
        for (;;) {
          const q = encodeValues([['wait', 'true'], ['waitIndex', String(waitIndex)], ['recursive', String(recursive)]]);
          const r = await this.c.do({ method: 'GET', url: (ep) => urlWith(ep, keysURL(ep, key), q), wait: true }, opts);
          let resp: V2KeysResponse;
          try {
            resp = keysResponse(r);
          } catch (e) {
            if ((e as Error).message === ERR_EMPTY_BODY) continue;
            throw e;
          }
          waitIndex = (resp.node?.modifiedIndex ?? 0) + 1;
          return resp;
        }
      },
    };
  }
}

/** A cluster member (client.Member). */
export interface V2Member {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

function statusError(got: number): Error {
  return new Error(`unexpected status code ${got}`);
}

/** Go's encoding/json field lookup: exact name first, then case-insensitive. */
function field(o: Record<string, unknown>, name: string): unknown {
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

function toMember(x: unknown): V2Member {
  const o = (x ?? {}) as Record<string, unknown>;
  const strs = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  return { id: String(field(o, 'id') ?? ''), name: String(field(o, 'name') ?? ''), peerURLs: strs(field(o, 'peerURLs')), clientURLs: strs(field(o, 'clientURLs')) };
}

/** A JSON body as Go's json.Unmarshal would take it, or Go's syntax error text. */
function goJson(body: Buffer): unknown {
  try {
    return parseJson(body);
  } catch {
    if (body.length === 0) throw new Error('unexpected end of JSON input');
    throw new Error(`invalid character ${goQuoteChar(body.toString('utf8').trimStart()[0] ?? '')} looking for beginning of value`);
  }
}

function goQuoteChar(c: string): string {
  return c === "'" ? "'\\''" : `'${c}'`;
}

/**
 * types.NewURLs: trims, checks scheme, host:port and empty path, sorts.
 * @throws Error with etcd's message
 */
export function newURLs(strs: string[]): string[] {
  if (strs.length === 0) throw new Error('no valid URLs given');
  const out: string[] = [];
  for (let s of strs) {
    s = s.trim();
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)/.exec(s);
    const scheme = m ? m[1]!.toLowerCase() : '';
    if (!['http', 'https', 'unix', 'unixs'].includes(scheme)) throw new Error(`URL scheme must be http, https, unix, or unixs: ${s}`);
    const host = m![2] ?? '';
    if (!/^(\[[^\]]*\]|[^:[\]]*):[^:]*$/.test(host)) throw new Error(`URL address does not have the form "host:port": ${s}`);
    if ((m![3] ?? '') !== '') throw new Error(`URL must not contain a path: ${s}`);
    out.push(`${scheme}://${host}`);
  }
  return out.sort();
}

/** The members API (client.MembersAPI). */
export class MembersAPI {
  constructor(private readonly c: V2Client) {}

  private url(ep: Endpoint, ...more: string[]): string {
    return urlWith(ep, joinPath(ep.path, '/v2/members', ...more), '');
  }

  /** GET /v2/members. */
  async list(opts?: DoOptions): Promise<V2Member[]> {
    const r = await this.c.do({ method: 'GET', url: (ep) => this.url(ep) }, opts);
    if (r.status !== 200) throw statusError(r.status);
    const o = goJson(r.body) as Record<string, unknown>;
    const ms = o && typeof o === 'object' ? field(o, 'members') : undefined;
    return Array.isArray(ms) ? ms.map(toMember) : [];
  }

  /** GET /v2/members/leader. */
  async leader(opts?: DoOptions): Promise<V2Member> {
    const r = await this.c.do({ method: 'GET', url: (ep) => this.url(ep, 'leader') }, opts);
    if (r.status !== 200) throw statusError(r.status);
    return toMember(goJson(r.body));
  }

  /** POST /v2/members {"peerURLs":[...]}; 409 gives the server's message. */
  async add(peerURL: string, opts?: DoOptions): Promise<V2Member> {
    const urls = newURLs([peerURL]);
    const r = await this.c.do({ method: 'POST', url: (ep) => this.url(ep), body: JSON.stringify({ peerURLs: urls }), contentType: 'application/json' }, opts);
    if (r.status !== 201 && r.status !== 409) throw statusError(r.status);
    const o = goJson(r.body) as Record<string, unknown>;
    if (r.status !== 201) throw new V2MessageError(String(field(o ?? {}, 'message') ?? ''));
    return toMember(o);
  }

  /** PUT /v2/members/<id> {"peerURLs":[...]}; 404/409 give the server's message. */
  async update(id: string, peerURLs: string[], opts?: DoOptions): Promise<void> {
    const urls = newURLs(peerURLs);
    const r = await this.c.do({ method: 'PUT', url: (ep) => this.url(ep, id), body: JSON.stringify({ peerURLs: urls }), contentType: 'application/json' }, opts);
    if (r.status !== 204 && r.status !== 404 && r.status !== 409) throw statusError(r.status);
    if (r.status !== 204) {
      const o = goJson(r.body) as Record<string, unknown>;
      throw new V2MessageError(String(field(o ?? {}, 'message') ?? ''));
    }
  }

  /** DELETE /v2/members/<id>; 204 and 410 are success. */
  async remove(id: string, opts?: DoOptions): Promise<void> {
    const r = await this.c.do({ method: 'DELETE', url: (ep) => this.url(ep, id) }, opts);
    if (r.status !== 204 && r.status !== 410) throw statusError(r.status);
  }
}

/** A v2 auth user (client.User). */
export interface V2User {
  user: string;
  roles: string[];
}

/** A v2 auth role (client.Role). */
export interface V2Role {
  role: string;
  permissions: { kv: { read: string[] | null; write: string[] | null } };
}

/** Which permission a grant/revoke changes (client.PermissionType). */
export type PermissionType = 'read' | 'write' | 'readwrite';

function authError(r: V2Response): Error {
  const o = goJson(r.body) as Record<string, unknown>;
  return new V2MessageError(String(field(o ?? {}, 'message') ?? ''));
}

function toRole(x: unknown): V2Role {
  const o = (x ?? {}) as Record<string, unknown>;
  const perms = (field(o, 'permissions') ?? {}) as Record<string, unknown>;
  const kv = (field(perms, 'kv') ?? {}) as Record<string, unknown>;
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : null);
  return { role: String(field(o, 'role') ?? ''), permissions: { kv: { read: list(field(kv, 'read')), write: list(field(kv, 'write')) } } };
}

/** The auth APIs (client.AuthAPI, AuthUserAPI, AuthRoleAPI). */
export class AuthAPI {
  constructor(private readonly c: V2Client) {}

  private url(ep: Endpoint, action: string, name = ''): string {
    return urlWith(ep, joinPath(ep.path, '/v2/auth', action, name), '');
  }

  private async call(method: string, action: string, name: string, body: unknown, ok: number[], opts?: DoOptions): Promise<V2Response> {
    const r = await this.c.do({
      method,
      url: (ep) => this.url(ep, action, name),
      body: body === undefined ? undefined : JSON.stringify(body),
      contentType: body === undefined ? undefined : 'application/json',
    }, opts);
    if (!ok.includes(r.status)) throw authError(r);
    return r;
  }

  /** PUT (enable) or DELETE (disable) /v2/auth/enable. */
  async enable(on: boolean, opts?: DoOptions): Promise<void> {
    await this.call(on ? 'PUT' : 'DELETE', 'enable', '', undefined, [200, 201], opts);
  }

  /** GET /v2/auth/users → the user names. */
  async listUsers(opts?: DoOptions): Promise<string[]> {
    const r = await this.call('GET', 'users', '', undefined, [200], opts);
    const o = goJson(r.body) as Record<string, unknown>;
    const us = o && typeof o === 'object' ? field(o, 'users') : undefined;
    return Array.isArray(us) ? us.map((u) => String(field((u ?? {}) as Record<string, unknown>, 'user') ?? '')) : [];
  }

  /** PUT /v2/auth/users/<name> {"user","password"}. */
  async addUser(name: string, password: string, opts?: DoOptions): Promise<void> {
    await this.call('PUT', 'users', name, { user: name, ...(password !== '' ? { password } : {}), roles: null }, [200, 201], opts);
  }

  /** DELETE /v2/auth/users/<name>. */
  async removeUser(name: string, opts?: DoOptions): Promise<void> {
    await this.call('DELETE', 'users', name, undefined, [200, 201], opts);
  }

  /** GET/PUT /v2/auth/users/<name> → the user (modUser). */
  async modUser(method: 'GET' | 'PUT', name: string, body: Record<string, unknown> | undefined, opts?: DoOptions): Promise<V2User> {
    const r = await this.call(method, 'users', name, body, [200], opts);
    const o = (goJson(r.body) ?? {}) as Record<string, unknown>;
    const roles = field(o, 'roles');
    let names: string[] = [];
    if (Array.isArray(roles)) {
      if (roles.every((x) => typeof x === 'string' || x === null)) names = roles.map((x) => (x === null ? '' : String(x)));
      else {
        // Go decodes into client.User first: the role objects become "" before the
        // fallback into UserRoles appends their names (etcdctl prints both)
        names = [...roles.map(() => ''), ...roles.map((x) => String(field((x ?? {}) as Record<string, unknown>, 'role') ?? ''))];
      }
    }
    return { user: String(field(o, 'user') ?? ''), roles: names };
  }

  /** GET /v2/auth/roles → the role names. */
  async listRoles(opts?: DoOptions): Promise<string[]> {
    const r = await this.c.do({ method: 'GET', url: (ep) => this.url(ep, 'roles'), contentType: 'application/json' }, opts);
    if (r.status !== 200) throw statusError(r.status);
    const o = goJson(r.body) as Record<string, unknown>;
    const rs = o && typeof o === 'object' ? field(o, 'roles') : undefined;
    return Array.isArray(rs) ? rs.map((x) => toRole(x).role) : [];
  }

  /** PUT /v2/auth/roles/<name> {"role":...}. */
  async addRole(name: string, opts?: DoOptions): Promise<void> {
    await this.call('PUT', 'roles', name, { role: name, permissions: { kv: { read: null, write: null } } }, [200, 201], opts);
  }

  /** DELETE /v2/auth/roles/<name>. */
  async removeRole(name: string, opts?: DoOptions): Promise<void> {
    await this.call('DELETE', 'roles', name, undefined, [200, 201], opts);
  }

  /** GET /v2/auth/roles/<name>. */
  async getRole(name: string, opts?: DoOptions): Promise<V2Role> {
    const r = await this.call('GET', 'roles', name, undefined, [200], opts);
    return toRole(goJson(r.body));
  }

  /** PUT /v2/auth/roles/<name> with a grant or revoke of `prefixes`. */
  async changeRole(name: string, grant: boolean, prefixes: string[], perm: PermissionType, opts?: DoOptions): Promise<V2Role> {
    const kv = {
      read: perm === 'read' || perm === 'readwrite' ? prefixes : null,
      write: perm === 'write' || perm === 'readwrite' ? prefixes : null,
    };
    const body = { role: name, permissions: { kv: { read: null, write: null } }, [grant ? 'grant' : 'revoke']: { kv } };
    const r = await this.call('PUT', 'roles', name, body, [200], opts);
    return toRole(goJson(r.body));
  }
}
