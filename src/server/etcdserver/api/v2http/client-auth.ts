/**
 * @module server/etcdserver/api/v2http/client-auth
 * The v2 auth API and its access checks (etcd 3.4 etcdserver/api/v2http/
 * client_auth.go, capability.go): /v2/auth/enable (GET, PUT enables, DELETE
 * disables), /v2/auth/users[/<name>] and /v2/auth/roles[/<name>] (GET, PUT
 * creates or updates with grant/revoke, DELETE); all but GET /v2/auth/enable
 * need the root role once auth is enabled. The same checks guard /v2/members
 * writes (root) and /v2/keys (the user's roles' read/write globs, the guest
 * role without credentials). A user is named by HTTP basic auth or, with
 * --client-cert-auth and no Authorization header, by the CommonName of a
 * certificate of the client's verified chain. Errors are etcd's
 * `{"message":...}` (HTTPError) bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import { goJsonString } from '../../../../util/etcd-format/members.js';
import { httpError } from '../etcdhttp/base.js';
import { V2Error } from '../../../../util/v2store/errors.js';
import { GUEST_ROLE_NAME, ROOT_ROLE_NAME, roleHasAccess, V2AuthError, type V2AuthRole, type V2AuthStore, type V2AuthUser } from '../v2auth/auth.js';
import { decodeRole, decodeUser, GoJsonError, roleJson, userJson } from '../v2auth/json.js';
import { parseQuery } from './form.js';

/** What the auth handlers need besides the store. */
export interface V2AuthHttpDeps {
  clusterId(): bigint;
  /** --client-cert-auth (ServerConfig.ClientCertAuthEnabled). */
  clientCertAuth: boolean;
  /** Whether the cluster version is known (api.IsCapabilityEnabled(AuthCapability)). */
  authCapable(): boolean;
  warn(msg: string, fields: Record<string, unknown>): void;
}

const AUTH_PREFIX = '/v2/auth';

/** httptypes.HTTPError.WriteTo: application/json `{"message":...}` without a newline (shared with client.ts). */
export function writeHttpError(res: ServerResponse, status: number, message: string): void {
  const body = `{"message":${goJsonString(message)}}`;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}

/** v2error.Error.WriteTo (shared with client.ts). */
export function writeV2Error(res: ServerResponse, e: V2Error): void {
  const body = e.toJson() + '\n';
  res.setHeader('X-Etcd-Index', String(e.index));
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(e.statusCode());
  res.end(body);
}

/** v2http writeError: an auth error as HTTPError, a v2 error as itself, anything else 500. */
export function writeAuthError(res: ServerResponse, err: unknown, warn: V2AuthHttpDeps['warn']): void {
  if (err instanceof V2AuthError) return writeHttpError(res, err.status, err.message);
  if (err instanceof V2Error) return writeV2Error(res, err);
  warn('unexpected v2 response error', { 'internal-server-error': String((err as Error)?.message ?? err) });
  writeHttpError(res, 500, 'Internal Server Error');
}

/** writeNoAuth: 401 `{"message":"Insufficient credentials"}`. */
export function writeNoAuth(res: ServerResponse): void {
  writeHttpError(res, 401, 'Insufficient credentials');
}

function writeJson(res: ServerResponse, status: number, body: string): void {
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}

/** Request.BasicAuth: the user and password of an `Authorization: Basic` header. */
function basicAuth(req: IncomingMessage): { user: string; password: string } | undefined {
  const auth = req.headers.authorization ?? '';
  if (auth.length < 6 || auth.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  // base64.StdEncoding.DecodeString: padding required, \r and \n skipped
  const b64 = auth.slice(6).replace(/[\r\n]/g, '');
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) return undefined;
  const s = Buffer.from(b64, 'base64').toString('latin1');
  const i = s.indexOf(':');
  if (i < 0) return undefined;
  const utf8 = (x: string) => Buffer.from(x, 'latin1').toString('utf8');
  return { user: utf8(s.slice(0, i)), password: utf8(s.slice(i + 1)) };
}

/** userFromBasicAuth: the user when the header names one and its password matches. */
async function userFromBasicAuth(sec: V2AuthStore, req: IncomingMessage, d: V2AuthHttpDeps): Promise<V2AuthUser | undefined> {
  const creds = basicAuth(req);
  if (!creds) {
    d.warn('malformed basic auth encoding', {});
    return undefined;
  }
  let user: V2AuthUser;
  try {
    user = await sec.getUser(creds.user);
  } catch (e) {
    if (e instanceof Error && e.name === 'GoPanic') throw e;
    return undefined;
  }
  if (!(await sec.checkPassword(user, creds.password))) {
    d.warn('incorrect password', { 'user-name': creds.user });
    return undefined;
  }
  return user;
}

/** The CommonNames of the client's verified certificate chain, leaf first (pkix.Name keeps the last CN). */
function verifiedCommonNames(req: IncomingMessage): string[] {
  const sock = req.socket as Partial<TLSSocket>;
  if (!sock.encrypted || sock.authorized !== true || typeof sock.getPeerCertificate !== 'function') return [];
  const out: string[] = [];
  let c = sock.getPeerCertificate(true) as DetailedPeerCertificate | Record<string, never>;
  const seen = new Set<string>();
  while (c && 'subject' in c && c.subject && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    const cn = c.subject.CN as string | string[] | undefined;
    out.push(Array.isArray(cn) ? (cn[cn.length - 1] ?? '') : (cn ?? ''));
    c = c.issuerCertificate;
  }
  return out;
}

/** userFromClientCertificate: the first user named by a CommonName of the verified chain. */
async function userFromClientCertificate(sec: V2AuthStore, req: IncomingMessage): Promise<V2AuthUser | undefined> {
  for (const cn of verifiedCommonNames(req)) {
    try {
      return await sec.getUser(cn);
    } catch (e) {
      if (e instanceof Error && e.name === 'GoPanic') throw e;
    }
  }
  return undefined;
}

/** hasRootAccess: auth is off, or the request's user has the root role. */
export async function hasRootAccess(sec: V2AuthStore, req: IncomingMessage, d: V2AuthHttpDeps): Promise<boolean> {
  if (!(await sec.authEnabled())) return true;
  const user =
    (req.headers.authorization ?? '') === '' && d.clientCertAuth ? await userFromClientCertificate(sec, req) : await userFromBasicAuth(sec, req, d);
  if (!user) return false;
  if ((user.roles ?? []).includes(ROOT_ROLE_NAME)) return true;
  d.warn('a user does not have root role for resource', { 'root-user': user.user, 'root-role-name': ROOT_ROLE_NAME, 'resource-path': req.url });
  return false;
}

/** hasWriteRootAccess: GET and HEAD pass, other methods need {@link hasRootAccess}. */
export async function hasWriteRootAccess(sec: V2AuthStore, req: IncomingMessage, d: V2AuthHttpDeps): Promise<boolean> {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  return hasRootAccess(sec, req, d);
}

/**
 * hasKeyPrefixAccess: whether the request may read (GET, HEAD) or write `key`
 * (the /v2/keys path after the prefix, as requested), `recursive` asking for a
 * prefix permission. Without credentials (and no certificate user) the guest
 * role decides.
 */
export async function hasKeyPrefixAccess(sec: V2AuthStore, req: IncomingMessage, key: string, recursive: boolean, d: V2AuthHttpDeps): Promise<boolean> {
  if (!(await sec.authEnabled())) return true;
  const write = req.method !== 'GET' && req.method !== 'HEAD';
  let user: V2AuthUser | undefined;
  if ((req.headers.authorization ?? '') === '') {
    if (d.clientCertAuth) user = await userFromClientCertificate(sec, req);
    if (!user) {
      // hasGuestAccess
      let guest: V2AuthRole;
      try {
        guest = await sec.getRole(GUEST_ROLE_NAME);
      } catch (e) {
        if (e instanceof Error && e.name === 'GoPanic') throw e;
        return false;
      }
      if (roleHasAccess(guest, key, write, false)) return true;
      d.warn('invalid access for a guest role on key', { 'role-name': GUEST_ROLE_NAME, key });
      return false;
    }
  } else {
    user = await userFromBasicAuth(sec, req, d);
    if (!user) return false;
  }
  for (const name of user.roles ?? []) {
    let role: V2AuthRole;
    try {
      role = await sec.getRole(name);
    } catch (e) {
      if (e instanceof Error && e.name === 'GoPanic') throw e;
      continue;
    }
    if (roleHasAccess(role, key, write, recursive)) return true;
  }
  d.warn('invalid access for user on key', { 'user-name': user.user, key });
  return false;
}

/** v2http allowMethod. */
function allowMethod(res: ServerResponse, m: string | undefined, ms: readonly string[]): boolean {
  if (m !== undefined && ms.includes(m)) return true;
  res.setHeader('Allow', ms.join(','));
  httpError(res, 'Method Not Allowed', 405);
  return false;
}

/** Request.ParseForm of a request without a form body: the query's error, if any. */
function queryError(req: IncomingMessage): string | undefined {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? undefined : parseQuery(new Map(), url.slice(q + 1));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function setAuthHeaders(res: ServerResponse, d: V2AuthHttpDeps): void {
  res.setHeader('X-Etcd-Cluster-Id', d.clusterId().toString(16));
  res.setHeader('Content-Type', 'application/json');
}

/** userWithRoles JSON: roles left out when there are none. */
function userWithRolesJson(user: string, roles: V2AuthRole[]): string {
  return `{"user":${goJsonString(user)}${roles.length ? `,"roles":[${roles.map(roleJson).join(',')}]` : ''}}`;
}

/** The handlers of /v2/auth (handleAuth) over one auth store. */
export class V2AuthHandler {
  constructor(
    private readonly sec: V2AuthStore,
    private readonly d: V2AuthHttpDeps,
  ) {}

  /**
   * Serves `path` (the decoded, clean request path) when it is one of
   * /v2/auth/roles[/...], /v2/auth/users[/...] or /v2/auth/enable; returns
   * undefined (not served) otherwise.
   */
  route(path: string): ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined {
    let f: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
    if (path === AUTH_PREFIX + '/roles') f = (q, s) => this.baseRoles(q, s);
    else if (path.startsWith(AUTH_PREFIX + '/roles/')) f = (q, s) => this.handleRoles(q, s, path);
    else if (path === AUTH_PREFIX + '/users') f = (q, s) => this.baseUsers(q, s);
    else if (path.startsWith(AUTH_PREFIX + '/users/')) f = (q, s) => this.handleUsers(q, s, path);
    else if (path === AUTH_PREFIX + '/enable') f = (q, s) => this.enableDisable(q, s);
    if (!f) return undefined;
    const g = f;
    // authCapabilityHandler
    return async (req, res) => {
      if (!this.d.authCapable()) {
        req.resume();
        return writeHttpError(res, 500, 'Not capable of accessing auth feature during rolling upgrades.');
      }
      return g(req, res);
    };
  }

  private async baseRoles(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    if (!allowMethod(res, req.method, ['GET'])) return;
    if (!(await hasRootAccess(this.sec, req, this.d))) return writeNoAuth(res);
    setAuthHeaders(res, this.d);
    try {
      const names = await this.sec.allRoles();
      if (queryError(req) !== undefined) throw new Error('bad query');
      const roles: V2AuthRole[] = [];
      for (const n of names) roles.push(await this.sec.getRole(n));
      writeJson(res, 200, `{"roles":${roles.length ? `[${roles.map(roleJson).join(',')}]` : 'null'}}\n`);
    } catch (e) {
      this.fail(res, e);
    }
  }

  /** Splits "/roles/<name>" or "/users/<name>" (path.Clean'd); answers "Invalid path" for more. */
  private piece(res: ServerResponse, path: string): string | null | undefined {
    const pieces = posix.normalize(path.slice(AUTH_PREFIX.length)).replace(/(.)\/$/, '$1').split('/');
    if (pieces.length === 2) return null;
    if (pieces.length !== 3) {
      writeHttpError(res, 400, 'Invalid path');
      return undefined;
    }
    return pieces[2]!;
  }

  /**
   * The common gate of `/v2/auth/roles/NAME` and `/v2/auth/users/NAME` (etcd's
   * handleRoles/handleUsers): GET, PUT or DELETE by a root user; false once the
   * refusal is written.
   */
  private async admitNamed(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (!allowMethod(res, req.method, ['GET', 'PUT', 'DELETE'])) {
      req.resume();
      return false;
    }
    if (!(await hasRootAccess(this.sec, req, this.d))) {
      req.resume();
      writeNoAuth(res);
      return false;
    }
    setAuthHeaders(res, this.d);
    return true;
  }

  private async handleRoles(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const name = this.piece(res, path);
    if (name === null) return this.baseRoles(req, res);
    if (name === undefined) {
      req.resume();
      return;
    }
    if (!(await this.admitNamed(req, res))) return;
    try {
      switch (req.method) {
        case 'GET':
          req.resume();
          return writeJson(res, 200, roleJson(await this.sec.getRole(name)) + '\n');
        case 'PUT': {
          let role: V2AuthRole;
          try {
            role = decodeRole(await readBody(req), false);
          } catch (e) {
            if (!(e instanceof GoJsonError)) throw e;
            return writeHttpError(res, 400, 'Invalid JSON in request body.');
          }
          if (role.role !== name) return writeHttpError(res, 400, 'Role JSON name does not match the name in the URL');
          const empty = (p: V2AuthRole['grant']) => p === null || ((p.kv.read ?? []).length === 0 && (p.kv.write ?? []).length === 0);
          if (empty(role.grant) && empty(role.revoke)) {
            await this.sec.createRole(role);
            return writeJson(res, 201, roleJson(role) + '\n');
          }
          if (!empty(role.permissions)) return writeHttpError(res, 400, 'Role JSON contains both permissions and grant/revoke');
          return writeJson(res, 200, roleJson(await this.sec.updateRole(role)) + '\n');
        }
        case 'DELETE':
          req.resume();
          await this.sec.deleteRole(name);
          return writeJson(res, 200, '');
      }
    } catch (e) {
      this.fail(res, e);
    }
  }

  private async baseUsers(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    if (!allowMethod(res, req.method, ['GET'])) return;
    if (!(await hasRootAccess(this.sec, req, this.d))) return writeNoAuth(res);
    setAuthHeaders(res, this.d);
    try {
      const names = await this.sec.allUsers();
      if (queryError(req) !== undefined) throw new Error('bad query');
      const users: string[] = [];
      for (const n of names) {
        const u = await this.sec.getUser(n);
        const roles: V2AuthRole[] = [];
        for (const r of u.roles ?? []) {
          try {
            roles.push(await this.sec.getRole(r));
          } catch (e) {
            if (e instanceof Error && e.name === 'GoPanic') throw e;
          }
        }
        users.push(userWithRolesJson(u.user, roles));
      }
      writeJson(res, 200, `{"users":${users.length ? `[${users.join(',')}]` : 'null'}}\n`);
    } catch (e) {
      this.fail(res, e);
    }
  }

  private async handleUsers(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const name = this.piece(res, path);
    if (name === null) return this.baseUsers(req, res);
    if (name === undefined) {
      req.resume();
      return;
    }
    if (!(await this.admitNamed(req, res))) return;
    try {
      switch (req.method) {
        case 'GET': {
          req.resume();
          const u = await this.sec.getUser(name);
          if (queryError(req) !== undefined) throw new Error('bad query');
          const roles: V2AuthRole[] = [];
          for (const r of u.roles ?? []) roles.push(await this.sec.getRole(r));
          return writeJson(res, 200, userWithRolesJson(u.user, roles) + '\n');
        }
        case 'PUT': {
          let u: V2AuthUser;
          try {
            u = decodeUser(await readBody(req), false);
          } catch (e) {
            if (!(e instanceof GoJsonError)) throw e;
            return writeHttpError(res, 400, 'Invalid JSON in request body.');
          }
          if (u.user !== name) return writeHttpError(res, 400, 'User JSON name does not match the name in the URL');
          let out: V2AuthUser;
          let created = false;
          if ((u.grant ?? []).length === 0 && (u.revoke ?? []).length === 0) {
            if ((u.roles ?? []).length !== 0) out = await this.sec.createUser(u);
            else ({ user: out, created } = await this.sec.createOrUpdateUser(u));
          } else {
            if ((u.roles ?? []).length !== 0) return writeHttpError(res, 400, 'User JSON contains both roles and grant/revoke');
            out = await this.sec.updateUser(u);
          }
          return writeJson(res, created ? 201 : 200, userJson({ ...out, password: '' }) + '\n');
        }
        case 'DELETE':
          req.resume();
          await this.sec.deleteUser(name);
          return writeJson(res, 200, '');
      }
    } catch (e) {
      this.fail(res, e);
    }
  }

  private async enableDisable(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    if (!allowMethod(res, req.method, ['GET', 'PUT', 'DELETE'])) return;
    if (!(await hasWriteRootAccess(this.sec, req, this.d))) return writeNoAuth(res);
    setAuthHeaders(res, this.d);
    const enabled = await this.sec.authEnabled();
    try {
      switch (req.method) {
        case 'GET':
          return writeJson(res, 200, `{"enabled":${enabled}}\n`);
        case 'PUT':
          await this.sec.enableAuth();
          return writeJson(res, 200, '');
        case 'DELETE':
          await this.sec.disableAuth();
          return writeJson(res, 200, '');
      }
    } catch (e) {
      this.fail(res, e);
    }
  }

  /** writeError, except that a Go panic drops the connection (net/http's recovery). */
  private fail(res: ServerResponse, e: unknown): void {
    if (e instanceof Error && e.name === 'GoPanic') throw e;
    writeAuthError(res, e, this.d.warn);
  }
}
