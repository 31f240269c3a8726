/**
 * @module server/etcdserver/api/v2auth/auth
 * etcd 3.4's v2 auth store (etcdserver/api/v2auth: auth.go, auth_requests.go).
 * Users, roles and the on/off switch live in the v2 store under `/2`
 * (`/2/users/<name>` and `/2/roles/<name>` hold the User/Role JSON, `/2/enabled`
 * holds `true`/`false`), out of reach of /v2/keys (which is `/1`). Every change
 * is a v2 request through the member's Raft path like a /v2/keys write, so it is
 * in the WAL and snapshots and survives a restart; reads are local GETs, or
 * QGETs (through Raft) where etcd reads with quorum. The requests are the ones
 * etcd makes, in its order, so store and Raft indexes advance as etcd's do
 * (the first write of a process first creates `/2`, `/2/users/`, `/2/roles/`
 * and `/2/enabled`, each failing harmlessly once they exist).
 *
 * The root role is built in (read/write `/*`, never stored); a user named
 * root always has it. Enabling auth needs a root user and creates the guest
 * role (read/write `/*`) when there is none.
 */
import { posix } from 'node:path';
import bcrypt from 'bcryptjs';
import { V2Code, V2Error } from '../../../../util/v2store/errors.js';
import type { V2RequestInit, V2Response } from '../../v2-server.js';
import { decodeBool, decodeRole, decodeUser, roleJson, userJson, type V2AuthRole, type V2AuthUser, type V2Permissions, type V2RWPermission } from './json.js';

export type { V2AuthRole, V2AuthUser, V2Permissions, V2RWPermission } from './json.js';

/** Where the auth data lives in the v2 store (v2auth.StorePermsPrefix). */
export const STORE_PERMS_PREFIX = '/2';
/** The built-in role with every permission (v2auth.RootRoleName). */
export const ROOT_ROLE_NAME = 'root';
/** The role of requests without credentials (v2auth.GuestRoleName). */
export const GUEST_ROLE_NAME = 'guest';

const ROOT_ROLE: V2AuthRole = { role: ROOT_ROLE_NAME, permissions: { kv: { read: ['/*'], write: ['/*'] } }, grant: null, revoke: null };
const GUEST_ROLE: V2AuthRole = { role: GUEST_ROLE_NAME, permissions: { kv: { read: ['/*'], write: ['/*'] } }, grant: null, revoke: null };

/** bcrypt.DefaultCost. */
const BCRYPT_COST = 10;

/**
 * A v2auth.Error: answered as `{"message":...}` with `status`. The message
 * starts with "auth: ".
 */
export class V2AuthError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'V2AuthError';
  }
}

/**
 * Go's fmt.Sprintf of a format without arguments: `%%` is `%`, any other verb
 * is `%!v(MISSING)` (etcd passes some already formatted messages as the format).
 */
function sprintfNoArgs(s: string): string {
  return s.replace(/%(%|[-+# 0]*[0-9]*(?:\.[0-9]*)?([a-zA-Z])|[-+# 0]*[0-9]*(?:\.[0-9]*)?$)/g, (all, _x, verb: string | undefined) => {
    if (all === '%%') return '%';
    return verb === undefined ? '%!(NOVERB)' : `%!${verb}(MISSING)`;
  });
}

/** authErr: "auth: " + the message. */
function authErr(status: number, msg: string): V2AuthError {
  return new V2AuthError(status, 'auth: ' + msg);
}

/**
 * A Go panic in etcd's handler (a nil pointer dereference: a user or role name
 * that leads to a directory of the store). net/http then drops the connection
 * without an answer.
 */
export class GoPanic extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'GoPanic';
  }
}

/** Go's sort.Strings: byte order of the UTF-8 encodings. */
function sortStrings(l: string[]): string[] {
  return l.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** types.NewUnsafeSet(...).Values() sorted: a new non-nil slice. */
function sortedSet(s: Set<string>): string[] {
  return sortStrings([...s]);
}

/** reflect.DeepEqual of two []string (nil and empty differ). */
function sameList(a: string[] | null, b: string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function samePermissions(a: V2Permissions | null, b: V2Permissions | null): boolean {
  if (a === null || b === null) return a === b;
  return sameList(a.kv.read, b.kv.read) && sameList(a.kv.write, b.kv.write);
}

function sameUser(a: V2AuthUser, b: V2AuthUser): boolean {
  return a.user === b.user && a.password === b.password && sameList(a.roles, b.roles) && sameList(a.grant, b.grant) && sameList(a.revoke, b.revoke);
}

function sameRole(a: V2AuthRole, b: V2AuthRole): boolean {
  return a.role === b.role && samePermissions(a.permissions, b.permissions) && samePermissions(a.grant, b.grant) && samePermissions(a.revoke, b.revoke);
}

/** attachRootRole: the root user always has the root role. */
function attachRootRole(u: V2AuthUser): V2AuthUser {
  if (u.roles?.includes(ROOT_ROLE_NAME)) return u;
  return { ...u, roles: [...(u.roles ?? []), ROOT_ROLE_NAME] };
}

/** simpleMatch: a trailing `*` matches any suffix, otherwise the key itself. */
function simpleMatch(pattern: string, key: string): boolean {
  if (pattern.endsWith('*')) return key.startsWith(pattern.slice(0, -1));
  return key === pattern;
}

/** prefixMatch: only patterns ending in `*`, as a prefix. */
function prefixMatch(pattern: string, key: string): boolean {
  if (!pattern.endsWith('*')) return false;
  return key.startsWith(pattern.slice(0, -1));
}

/**
 * Role.HasKeyAccess (`recursive` false) or Role.HasRecursiveAccess: whether the
 * role may read (or write) `key` (a /v2/keys path without the prefix). The root
 * role may do anything.
 * @throws GoPanic when an empty pattern is reached (etcd indexes its last byte)
 */
export function roleHasAccess(r: V2AuthRole, key: string, write: boolean, recursive: boolean): boolean {
  if (r.role === ROOT_ROLE_NAME) return true;
  for (const p of (write ? r.permissions.kv.write : r.permissions.kv.read) ?? []) {
    if (p === '') throw new GoPanic('runtime error: index out of range [-1]');
    if (recursive ? prefixMatch(p, key) : simpleMatch(p, key)) return true;
  }
  return false;
}

/** RWPermission.Grant. @throws V2AuthError 409 on a duplicate */
function grantRW(rw: V2RWPermission, n: V2RWPermission): V2RWPermission {
  const read = new Set(rw.read ?? []);
  for (const r of n.read ?? []) {
    if (read.has(r)) throw authErr(409, `Granting duplicate read permission ${r}`);
    read.add(r);
  }
  const write = new Set(rw.write ?? []);
  for (const w of n.write ?? []) {
    if (write.has(w)) throw authErr(409, `Granting duplicate write permission ${w}`);
    write.add(w);
  }
  return { read: sortedSet(read), write: sortedSet(write) };
}

/** RWPermission.Revoke: permissions not granted are skipped. */
function revokeRW(rw: V2RWPermission, n: V2RWPermission): V2RWPermission {
  const read = new Set(rw.read ?? []);
  for (const r of n.read ?? []) read.delete(r);
  const write = new Set(rw.write ?? []);
  for (const w of n.write ?? []) write.delete(w);
  return { read: sortedSet(read), write: sortedSet(write) };
}

/** What the store needs from the member: EtcdServer.Do for v2 requests (V2Server.do). */
export interface V2AuthDoer {
  do(r: V2RequestInit): Promise<V2Response>;
}

function isV2Code(e: unknown, code: number): boolean {
  return e instanceof V2Error && e.errorCode === code;
}

/**
 * The v2 auth store (v2auth.store). Methods throw {@link V2AuthError} for what
 * etcd answers with an auth error, V2Error or the proposal's error otherwise.
 */
export class V2AuthStore {
  private ensuredOnce = false;

  constructor(private readonly server: V2AuthDoer) {}

  /** CheckPassword: whether `password` matches the user's bcrypt hash. */
  async checkPassword(user: V2AuthUser, password: string): Promise<boolean> {
    try {
      return await bcrypt.compare(password, user.password);
    } catch {
      return false;
    }
  }

  /** HashPassword: bcrypt with the default cost. */
  hashPassword(password: string): Promise<string> {
    return bcrypt.hash(password, BCRYPT_COST);
  }

  /** AllUsers: the user names, sorted ([] when there is no /2/users). */
  async allUsers(): Promise<string[]> {
    let resp: V2Response;
    try {
      resp = await this.requestResource('/users/', false);
    } catch (e) {
      if (isV2Code(e, V2Code.KeyNotFound)) return [];
      throw e;
    }
    return sortStrings((resp.event?.node?.nodes ?? []).map((n) => n.key.slice(n.key.lastIndexOf('/') + 1)));
  }

  /** GetUser (a local read). @throws V2AuthError 404 "User X does not exist." */
  getUser(name: string): Promise<V2AuthUser> {
    return this.getUserInternal(name, false);
  }

  /**
   * CreateOrUpdateUser: updates the user when a quorum read finds it, creates
   * it otherwise; `created` tells which.
   */
  async createOrUpdateUser(user: V2AuthUser): Promise<{ user: V2AuthUser; created: boolean }> {
    let exists = true;
    try {
      await this.getUserInternal(user.user, true);
    } catch {
      exists = false;
    }
    if (exists) return { user: await this.updateUser(user), created: false };
    return { user: await this.createUser(user), created: true };
  }

  /**
   * CreateUser: stores the user with its password hashed (root gets the root
   * role). Returns the stored user.
   * @throws V2AuthError 400 empty password, 409 the user exists
   */
  async createUser(user: V2AuthUser): Promise<V2AuthUser> {
    if (user.user === 'root') user = attachRootRole(user);
    if (user.password === '') throw authErr(400, `Cannot create user ${user.user} with an empty password`);
    user = { ...user, password: await this.hashPassword(user.password) };
    try {
      await this.createResource('/users/' + user.user, userJson(user));
    } catch (e) {
      if (isV2Code(e, V2Code.NodeExist)) throw authErr(409, `User ${user.user} already exists.`);
      throw e;
    }
    return user;
  }

  /** DeleteUser. @throws V2AuthError 403 root while auth is enabled, 404 no such user */
  async deleteUser(name: string): Promise<void> {
    if ((await this.authEnabled()) && name === 'root') throw authErr(403, 'Cannot delete root user while auth is enabled.');
    try {
      await this.deleteResource('/users/' + name);
    } catch (e) {
      if (isV2Code(e, V2Code.KeyNotFound)) throw authErr(404, `User ${name} does not exist`);
      throw e;
    }
  }

  /**
   * UpdateUser: merges a new password, grants and revokes into the stored user
   * (quorum read) and stores the result, which it returns.
   * @throws V2AuthError 404 no such user, 409 duplicate grant / ungranted revoke, 400 nothing changed
   */
  async updateUser(user: V2AuthUser): Promise<V2AuthUser> {
    let old: V2AuthUser;
    try {
      old = await this.getUserInternal(user.user, true);
    } catch (e) {
      if (isV2Code(e, V2Code.KeyNotFound)) throw authErr(404, `User ${user.user} doesn't exist.`);
      throw e;
    }
    const merged = await this.mergeUser(old, user);
    if (sameUser(old, merged)) throw authErr(400, 'User not updated. Use grant/revoke/password to update the user.');
    await this.updateResource('/users/' + user.user, userJson(merged));
    return merged;
  }

  /** User.merge. */
  private async mergeUser(ou: V2AuthUser, nu: V2AuthUser): Promise<V2AuthUser> {
    if (ou.user !== nu.user) throw authErr(409, `Merging user data with conflicting usernames: ${ou.user} ${nu.user}`);
    const password = nu.password !== '' ? await this.hashPassword(nu.password) : ou.password;
    const roles = new Set(ou.roles ?? []);
    for (const g of nu.grant ?? []) {
      if (roles.has(g)) throw new V2AuthError(409, 'auth: ' + sprintfNoArgs(`Granting duplicate role ${g} for user ${nu.user}`));
      roles.add(g);
    }
    for (const r of nu.revoke ?? []) {
      if (!roles.has(r)) throw new V2AuthError(409, 'auth: ' + sprintfNoArgs(`Revoking ungranted role ${r} for user ${nu.user}`));
      roles.delete(r);
    }
    return { user: ou.user, password, roles: sortedSet(roles), grant: null, revoke: null };
  }

  /** AllRoles: root and the stored role names, sorted. */
  async allRoles(): Promise<string[]> {
    const nodes = [ROOT_ROLE_NAME];
    let resp: V2Response;
    try {
      resp = await this.requestResource('/roles/', false);
    } catch (e) {
      if (isV2Code(e, V2Code.KeyNotFound)) return nodes;
      throw e;
    }
    for (const n of resp.event?.node?.nodes ?? []) nodes.push(n.key.slice(n.key.lastIndexOf('/') + 1));
    return sortStrings(nodes);
  }

  /** GetRole (a local read; root is built in). @throws V2AuthError 404 "Role X does not exist." */
  getRole(name: string): Promise<V2AuthRole> {
    return this.getRoleInternal(name, false);
  }

  /** CreateRole: stores `role` as given. @throws V2AuthError 403 root, 409 the role exists */
  async createRole(role: V2AuthRole): Promise<void> {
    if (role.role === ROOT_ROLE_NAME) throw authErr(403, `Cannot modify role ${role.role}: is root role.`);
    try {
      await this.createResource('/roles/' + role.role, roleJson(role));
    } catch (e) {
      if (isV2Code(e, V2Code.NodeExist)) throw authErr(409, `Role ${role.role} already exists.`);
      throw e;
    }
  }

  /** DeleteRole. @throws V2AuthError 403 root, 404 no such role */
  async deleteRole(name: string): Promise<void> {
    if (name === ROOT_ROLE_NAME) throw authErr(403, `Cannot modify role ${name}: is root role.`);
    try {
      await this.deleteResource('/roles/' + name);
    } catch (e) {
      if (isV2Code(e, V2Code.KeyNotFound)) throw authErr(404, `Role ${name} doesn't exist.`);
      throw e;
    }
  }

  /**
   * UpdateRole: applies the role's grant, then its revoke, to the stored role
   * (quorum read) and stores the result, which it returns.
   * @throws V2AuthError 403 root, 404 no such role, 409 duplicate grant, 400 nothing changed
   */
  async updateRole(role: V2AuthRole): Promise<V2AuthRole> {
    if (role.role === ROOT_ROLE_NAME) throw authErr(403, `Cannot modify role ${role.role}: is root role.`);
    let old: V2AuthRole;
    try {
      old = await this.getRoleInternal(role.role, true);
    } catch (e) {
      if (isV2Code(e, V2Code.KeyNotFound)) throw authErr(404, `Role ${role.role} doesn't exist.`);
      throw e;
    }
    if (old.role !== role.role) throw authErr(409, `Merging role with conflicting names: ${old.role} ${role.role}`);
    let permissions = old.permissions;
    if (role.grant !== null) permissions = { kv: grantRW(permissions.kv, role.grant.kv) };
    if (role.revoke !== null) permissions = { kv: revokeRW(permissions.kv, role.revoke.kv) };
    const merged: V2AuthRole = { role: old.role, permissions, grant: null, revoke: null };
    if (sameRole(old, merged)) throw authErr(400, 'Role not updated. Use grant/revoke to update the role.');
    await this.updateResource('/roles/' + role.role, roleJson(merged));
    return merged;
  }

  /** AuthEnabled: whether /2/enabled holds true (false when missing or unreadable). */
  async authEnabled(): Promise<boolean> {
    let resp: V2Response;
    try {
      resp = await this.requestResource('/enabled', false);
    } catch {
      return false;
    }
    try {
      return decodeBool(nodeValue(resp));
    } catch {
      return false;
    }
  }

  /**
   * EnableAuth: needs the root user; creates the guest role when missing.
   * @throws V2AuthError 409 "already enabled" / "No root user available, please create one"
   */
  async enableAuth(): Promise<void> {
    if (await this.authEnabled()) throw authErr(409, 'already enabled');
    try {
      await this.getUserInternal('root', true);
    } catch {
      throw authErr(409, 'No root user available, please create one');
    }
    let hasGuest = true;
    try {
      await this.getRoleInternal(GUEST_ROLE_NAME, true);
    } catch {
      hasGuest = false;
    }
    if (!hasGuest) await this.createRole(GUEST_ROLE);
    await this.updateResource('/enabled', 'true');
  }

  /** DisableAuth. @throws V2AuthError 409 "already disabled" */
  async disableAuth(): Promise<void> {
    if (!(await this.authEnabled())) throw authErr(409, 'already disabled');
    await this.updateResource('/enabled', 'false');
  }

  // ---- auth_requests.go ----

  private async getUserInternal(name: string, quorum: boolean): Promise<V2AuthUser> {
    let resp: V2Response;
    try {
      resp = await this.requestResource('/users/' + name, quorum);
    } catch (e) {
      if (isV2Code(e, V2Code.KeyNotFound)) throw authErr(404, `User ${name} does not exist.`);
      throw e;
    }
    const u = decodeUser(nodeValue(resp), true);
    return u.user === 'root' ? attachRootRole(u) : u;
  }

  private async getRoleInternal(name: string, quorum: boolean): Promise<V2AuthRole> {
    if (name === ROOT_ROLE_NAME) return ROOT_ROLE;
    let resp: V2Response;
    try {
      resp = await this.requestResource('/roles/' + name, quorum);
    } catch (e) {
      if (isV2Code(e, V2Code.KeyNotFound)) throw authErr(404, `Role ${name} does not exist.`);
      throw e;
    }
    return decodeRole(nodeValue(resp), true);
  }

  /** ensureAuthDirectories: creates /2, /2/users/, /2/roles/ and /2/enabled (false) once per process. */
  private async ensureAuthDirectories(): Promise<void> {
    if (this.ensuredOnce) return;
    for (const res of [STORE_PERMS_PREFIX, STORE_PERMS_PREFIX + '/users/', STORE_PERMS_PREFIX + '/roles/']) {
      try {
        await this.server.do({ method: 'PUT', path: res, dir: true, prevExist: false });
      } catch (e) {
        if (isV2Code(e, V2Code.NodeExist)) continue;
        throw e;
      }
    }
    try {
      await this.server.do({ method: 'PUT', path: STORE_PERMS_PREFIX + '/enabled', val: 'false', prevExist: false });
    } catch (e) {
      if (!isV2Code(e, V2Code.NodeExist)) throw e;
    }
    this.ensuredOnce = true;
  }

  private requestResource(res: string, quorum: boolean): Promise<V2Response> {
    return this.server.do({ method: 'GET', path: joinPath(res), quorum });
  }

  private updateResource(res: string, value: string): Promise<V2Response> {
    return this.setResource(res, value, true);
  }

  private createResource(res: string, value: string): Promise<V2Response> {
    return this.setResource(res, value, false);
  }

  private async setResource(res: string, value: string, prevExist: boolean): Promise<V2Response> {
    await this.ensureAuthDirectories();
    return this.server.do({ method: 'PUT', path: joinPath(res), val: value, prevExist });
  }

  private async deleteResource(res: string): Promise<void> {
    await this.ensureAuthDirectories();
    await this.server.do({ method: 'DELETE', path: joinPath(res), prevExist: true });
  }
}

/** path.Join(StorePermsPrefix, res). */
function joinPath(res: string): string {
  const j = posix.join(STORE_PERMS_PREFIX, res);
  return j.length > 1 && j.endsWith('/') ? j.slice(0, -1) : j;
}

/** *resp.Event.Node.Value: a directory has none, and etcd dereferences nil there. */
function nodeValue(resp: V2Response): string {
  const v = resp.event?.node?.value;
  if (v === undefined) throw new GoPanic('runtime error: invalid memory address or nil pointer dereference');
  return v;
}
