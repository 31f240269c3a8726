/**
 * @module server/auth/store
 * The auth store (etcd auth/store.go, 3.4 semantics): users, roles and key
 * permissions kept in the backend, auth enable/disable, the auth revision,
 * permission checks and tokens.
 *
 * Storage (same layout as etcd, so a bolt file from etcd reads the same):
 * - bucket `authUsers`: user name → `authpb.User` (name, bcrypt hash, sorted roles, options);
 * - bucket `authRoles`: role name → `authpb.Role` (name, permissions sorted by key);
 * - bucket `auth`: `authEnabled` → `0x01`/`0x00`, `authRevision` → 8-byte big-endian uint64.
 *
 * Passwords: the store never sees a plaintext password except in
 * {@link AuthStore.hashPassword} and {@link AuthStore.checkPassword}, which
 * hash/compare it with bcrypt (pure-JS `bcryptjs`, cost from config, default 10)
 * and do not keep or log it. Mutations take the hash, which is what must go
 * through raft (GHSA-528j-9r78-wffx: never put plaintext in the WAL). bcryptjs
 * writes `$2b$` hashes and reads Go's `$2a$` ones; like bcrypt itself it only
 * uses the first 72 bytes of a password.
 *
 * Every mutation bumps the auth revision and rebuilds the permission cache, in
 * the same batch transaction as the change, as etcd does (role add does not
 * rebuild the cache: a new role is granted to nobody).
 */

import { createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  PermissionSchema,
  RoleSchema,
  UserAddOptionsSchema,
  UserSchema,
  Permission_Type,
  type Permission,
  type Role,
  type User,
} from '../../gen/authpb/auth_pb.js';
import { Buckets, bytesEqual, compareBytes, type Backend, type BatchTx } from '../backend/backend.js';
import {
  ErrAuthFailed,
  ErrAuthNotEnabled,
  ErrAuthOldRevision,
  ErrInvalidAuthMgmt,
  ErrNoPasswordUser,
  ErrPermissionDenied,
  ErrPermissionNotGranted,
  ErrRoleAlreadyExist,
  ErrRoleEmpty,
  ErrRoleNotFound,
  ErrRoleNotGranted,
  ErrRootRoleNotExist,
  ErrRootUserNotExist,
  ErrUserAlreadyExist,
  ErrUserEmpty,
  ErrUserNotFound,
} from './errors.js';
import { UnifiedRangePermissions } from './range-perm-cache.js';
import type { AuthInfo, TokenProvider } from './token-simple.js';

/** The special user and role names. */
export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

/** Matched (hash, password) pairs checkPassword remembers. */
const VERIFIED_CACHE_SIZE = 1024;

/** bcrypt cost bounds and default (Go's bcrypt.MinCost/MaxCost/DefaultCost). */
export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 31;
export const BCRYPT_DEFAULT_COST = 10;

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();
const ENABLE_FLAG_KEY = utf8.encode('authEnabled');
const REVISION_KEY = utf8.encode('authRevision');
const AUTH_ENABLED = Uint8Array.of(1);
const AUTH_DISABLED = Uint8Array.of(0);

/** Configuration of an {@link AuthStore}. */
export interface AuthStoreConfig {
  readonly backend: Backend;
  readonly tokenProvider: TokenProvider;
  /** bcrypt cost (`--bcrypt-cost`); outside 4..31 the default 10 is used, as etcd does. */
  readonly bcryptCost?: number;
}

/** Options of {@link AuthStore.userAdd}. */
export interface UserAddOptions {
  /** The bcrypt hash from {@link AuthStore.hashPassword}; required unless `noPassword`. */
  readonly hashedPassword?: Uint8Array;
  /** A user that can only authenticate by TLS common name. */
  readonly noPassword?: boolean;
}

/** The auth store (etcd `authStore`). Synchronous except password hashing and checking. */
export class AuthStore {
  private backend: Backend;
  private readonly tp: TokenProvider;
  private readonly cost: number;
  private enabled = false;
  private rev = 0n;
  private permCache = new Map<string, UnifiedRangePermissions>();
  /** HMACs of (bcrypt hash, password) pairs that matched (checkPassword), oldest first. */
  private readonly verified = new Set<string>();
  private readonly verifiedKey = randomBytes(32);

  /**
   * Opens the store on `cfg.backend`: creates the buckets, reads the enabled
   * flag and revision (writing revision 1 on a new backend), builds the cache.
   */
  constructor(cfg: AuthStoreConfig) {
    this.backend = cfg.backend;
    this.tp = cfg.tokenProvider;
    const c = cfg.bcryptCost ?? BCRYPT_DEFAULT_COST;
    this.cost = Number.isInteger(c) && c >= BCRYPT_MIN_COST && c <= BCRYPT_MAX_COST ? c : BCRYPT_DEFAULT_COST;
    this.withTx((tx) => {
      tx.createBucket(Buckets.auth);
      tx.createBucket(Buckets.authUsers);
      tx.createBucket(Buckets.authRoles);
      this.load(tx);
      if (this.rev === 0n) this.commitRevision(tx);
    });
    this.backend.forceCommit();
  }

  /** The bcrypt cost in use. */
  bcryptCost(): number {
    return this.cost;
  }

  /** The current auth revision. */
  revision(): bigint {
    return this.rev;
  }

  /** True if auth is enabled. */
  isAuthEnabled(): boolean {
    return this.enabled;
  }

  /**
   * Enables auth; requires user `root` holding role `root` (throws
   * {@link ErrRootUserNotExist} / {@link ErrRootRoleNotExist}). A no-op if
   * already enabled. Like etcd, enabling does not bump the revision.
   */
  authEnable(): void {
    if (this.enabled) return;
    try {
      this.withTx((tx) => {
        const u = getUser(tx, ROOT_USER);
        if (!u) throw new ErrRootUserNotExist();
        if (!hasRootRole(u)) throw new ErrRootRoleNotExist();
        tx.put(Buckets.auth, ENABLE_FLAG_KEY, AUTH_ENABLED);
        this.enabled = true;
        this.tp.enable();
        this.refreshPermCache(tx);
        this.rev = getRevision(tx);
      });
    } finally {
      this.backend.forceCommit();
    }
  }

  /** Disables auth (dropping all tokens) and bumps the revision; a no-op if disabled. */
  authDisable(): void {
    if (!this.enabled) return;
    this.withTx((tx) => {
      tx.put(Buckets.auth, ENABLE_FLAG_KEY, AUTH_DISABLED);
      this.commitRevision(tx);
    });
    this.backend.forceCommit();
    this.enabled = false;
    this.tp.disable();
  }

  /** Hashes `password` with bcrypt at the configured cost (done before proposing). */
  async hashPassword(password: string): Promise<Uint8Array> {
    return utf8.encode(await bcrypt.hash(password, this.cost));
  }

  /**
   * Checks `name`'s password; resolves to the auth revision at the check.
   * Throws {@link ErrAuthNotEnabled}, {@link ErrAuthFailed} (unknown user or wrong
   * password: the same error, so user names do not leak) or
   * {@link ErrNoPasswordUser}.
   */
  async checkPassword(name: string, password: string): Promise<bigint> {
    if (!this.enabled) throw new ErrAuthNotEnabled();
    const { user, rev } = this.withTx((tx) => ({ user: getUser(tx, name), rev: getRevision(tx) }));
    if (!user) throw new ErrAuthFailed();
    if (user.options?.noPassword) throw new ErrNoPasswordUser();
    // bcryptjs takes ~4x as long as Go's bcrypt (0.1-0.4 s at cost 10): a (hash, password)
    // pair that matched once is remembered, under an HMAC with a per-process key, so a
    // client authenticating again does not pay it again. A changed password has a new hash.
    const key = createHmac('sha256', this.verifiedKey).update(user.password).update('\0').update(password).digest('base64');
    if (this.verified.has(key)) return rev;
    let ok = false;
    try {
      ok = await bcrypt.compare(password, utf8d.decode(user.password));
    } catch {
      ok = false;
    }
    if (!ok) throw new ErrAuthFailed();
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.values().next().value!);
    this.verified.add(key);
    return rev;
  }

  /**
   * Applies an Authenticate entry (raft `index`, token `prefix` chosen by the
   * receiving member) after {@link checkPassword} passed: returns the token,
   * or a promise of it when the provider signs tokens (JWT; it rejects
   * ErrVerifyOnly on a member without a private key).
   */
  authenticate(name: string, index: bigint, prefix: string): string | Promise<string> {
    if (!this.enabled) throw new ErrAuthNotEnabled();
    const user = this.withTx((tx) => getUser(tx, name));
    if (!user || user.options?.noPassword) throw new ErrAuthFailed();
    return this.tp.assign(name, this.rev, index, prefix);
  }

  /**
   * The user and revision of `token`, or undefined if invalid or expired. The
   * revision is the store's for simple tokens and the one signed into the
   * token for JWT (an older one fails permission checks with ErrAuthOldRevision).
   */
  async authInfoFromToken(token: string): Promise<AuthInfo | undefined> {
    return this.tp.info(token, this.rev);
  }

  /** A random simple-token prefix for an Authenticate proposal. */
  genTokenPrefix(): string {
    return this.tp.genTokenPrefix();
  }

  /** Adds user `name` with an already hashed password (or none). */
  userAdd(name: string, opts: UserAddOptions): void {
    if (name.length === 0) throw new ErrUserEmpty();
    const noPassword = opts.noPassword ?? false;
    if (!noPassword && !opts.hashedPassword?.length) {
      throw new TypeError('auth: userAdd needs a hashed password (see hashPassword) or noPassword');
    }
    this.mutate((tx) => {
      if (getUser(tx, name)) throw new ErrUserAlreadyExist();
      putUser(
        tx,
        create(UserSchema, {
          name: utf8.encode(name),
          password: noPassword ? new Uint8Array(0) : opts.hashedPassword!.slice(),
          options: create(UserAddOptionsSchema, { noPassword }),
        }),
      );
    });
  }

  /** Deletes user `name` and its tokens; `root` cannot be deleted while auth is enabled. */
  userDelete(name: string): void {
    if (this.enabled && name === ROOT_USER) throw new ErrInvalidAuthMgmt();
    this.mutate((tx) => {
      if (!getUser(tx, name)) throw new ErrUserNotFound();
      tx.delete(Buckets.authUsers, utf8.encode(name));
    });
    this.tp.invalidateUser(name);
  }

  /** Replaces `name`'s password hash and drops its tokens. */
  userChangePassword(name: string, hashedPassword: Uint8Array): void {
    if (hashedPassword.length === 0) throw new TypeError('auth: userChangePassword needs a hashed password');
    this.mutate((tx) => {
      const u = getUser(tx, name);
      if (!u) throw new ErrUserNotFound();
      u.password = hashedPassword.slice();
      putUser(tx, u);
    });
    this.tp.invalidateUser(name);
  }

  /** Grants `role` to `name` (the `root` role needs not exist); granting twice is a no-op. */
  userGrantRole(name: string, role: string): void {
    this.withTx((tx) => {
      const u = getUser(tx, name);
      if (!u) throw new ErrUserNotFound();
      if (role !== ROOT_ROLE && !getRole(tx, role)) throw new ErrRoleNotFound();
      if (u.roles.includes(role)) return;
      u.roles.push(role);
      u.roles.sort(compareStrings);
      putUser(tx, u);
      this.commitRevision(tx);
      this.refreshPermCache(tx);
    });
  }

  /** Revokes `role` from `name`; `root` keeps the `root` role while auth is enabled. */
  userRevokeRole(name: string, role: string): void {
    if (this.enabled && name === ROOT_USER && role === ROOT_ROLE) throw new ErrInvalidAuthMgmt();
    this.mutate((tx) => {
      const u = getUser(tx, name);
      if (!u) throw new ErrUserNotFound();
      const roles = u.roles.filter((r) => r !== role);
      if (roles.length === u.roles.length) throw new ErrRoleNotGranted();
      u.roles = roles;
      putUser(tx, u);
    });
  }

  /** The roles of `name`, sorted. */
  userGet(name: string): string[] {
    const u = this.withTx((tx) => getUser(tx, name));
    if (!u) throw new ErrUserNotFound();
    return [...u.roles];
  }

  /** All user names, sorted. */
  userList(): string[] {
    return this.withTx((tx) => names(tx, Buckets.authUsers));
  }

  /** Adds role `name` (no permissions). */
  roleAdd(name: string): void {
    if (name.length === 0) throw new ErrRoleEmpty();
    this.withTx((tx) => {
      if (getRole(tx, name)) throw new ErrRoleAlreadyExist();
      putRole(tx, create(RoleSchema, { name: utf8.encode(name) }));
      this.commitRevision(tx);
    });
  }

  /** Deletes role `name` and revokes it from every user; not `root` while auth is enabled. */
  roleDelete(name: string): void {
    if (this.enabled && name === ROOT_ROLE) throw new ErrInvalidAuthMgmt();
    this.mutate((tx) => {
      if (!getRole(tx, name)) throw new ErrRoleNotFound();
      tx.delete(Buckets.authRoles, utf8.encode(name));
      for (const u of allUsers(tx)) {
        const roles = u.roles.filter((r) => r !== name);
        if (roles.length === u.roles.length) continue;
        u.roles = roles;
        putUser(tx, u);
      }
    });
  }

  /** The permissions of role `name`, sorted by key. */
  roleGet(name: string): Permission[] {
    const r = this.withTx((tx) => getRole(tx, name));
    if (!r) throw new ErrRoleNotFound();
    return r.keyPermission;
  }

  /** All role names, sorted. */
  roleList(): string[] {
    return this.withTx((tx) => names(tx, Buckets.authRoles));
  }

  /**
   * Grants a permission to role `name`. A permission with the same key and
   * range end has its type replaced; otherwise it is added and the list is
   * re-sorted by key (etcd's merge rule; ranges are not coalesced).
   */
  roleGrantPermission(name: string, perm: { key: Uint8Array; rangeEnd?: Uint8Array; permType: Permission_Type }): void {
    const rangeEnd = perm.rangeEnd ?? new Uint8Array(0);
    this.mutate((tx) => {
      const r = getRole(tx, name);
      if (!r) throw new ErrRoleNotFound();
      const same = r.keyPermission.find((p) => bytesEqual(p.key, perm.key) && bytesEqual(p.rangeEnd, rangeEnd));
      if (same) {
        same.permType = perm.permType;
      } else {
        r.keyPermission.push(create(PermissionSchema, { key: perm.key.slice(), rangeEnd: rangeEnd.slice(), permType: perm.permType }));
        r.keyPermission.sort((a, b) => compareBytes(a.key, b.key)); // stable; Go's sort.Sort is too for up to 12 items (insertion sort)
      }
      putRole(tx, r);
    });
  }

  /** Removes the permission with exactly `key` and `rangeEnd` from role `name`. */
  roleRevokePermission(name: string, key: Uint8Array, rangeEnd: Uint8Array = new Uint8Array(0)): void {
    this.mutate((tx) => {
      const r = getRole(tx, name);
      if (!r) throw new ErrRoleNotFound();
      const kept = r.keyPermission.filter((p) => !bytesEqual(p.key, key) || !bytesEqual(p.rangeEnd, rangeEnd));
      if (kept.length === r.keyPermission.length) throw new ErrPermissionNotGranted();
      r.keyPermission = kept;
      putRole(tx, r);
    });
  }

  /**
   * True if user `name`'s roles cover `[key, rangeEnd)` for `type` (READ or
   * WRITE), from the cache. `rangeEnd` has the wire semantics of
   * range-perm-cache.ts (undefined/empty: one key; `"\0"`: from key): pass the
   * request's range_end as received, never a normalized one. Does not look at
   * the root role; see {@link isOpPermitted}.
   */
  isRangeOpPermitted(name: string, key: Uint8Array, rangeEnd: Uint8Array | undefined, type: Permission_Type): boolean {
    return this.permCache.get(name)?.isPermitted(key, rangeEnd, type) ?? false;
  }

  /**
   * The permission check of a request (etcd `isOpPermitted`): passes when auth
   * is disabled; else throws {@link ErrUserEmpty} without auth info,
   * {@link ErrAuthOldRevision} if the token's revision is older than the
   * store's, {@link ErrPermissionDenied} for an unknown user or a missing
   * permission. Users with the `root` role pass.
   */
  isOpPermitted(info: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array | undefined, type: Permission_Type): void {
    if (!this.enabled) return;
    if (!info || info.revision === 0n) throw new ErrUserEmpty();
    if (info.revision < this.rev) throw new ErrAuthOldRevision();
    const u = this.withTx((tx) => getUser(tx, info.username));
    if (!u) throw new ErrPermissionDenied();
    if (hasRootRole(u)) return;
    if (!this.isRangeOpPermitted(info.username, key, rangeEnd, type)) throw new ErrPermissionDenied();
  }

  /** Write permission on one key (etcd `IsPutPermitted`). */
  isPutPermitted(info: AuthInfo | undefined, key: Uint8Array): void {
    this.isOpPermitted(info, key, undefined, Permission_Type.WRITE);
  }

  /** Read permission on a range (etcd `IsRangePermitted`); wire `rangeEnd`. */
  isRangePermitted(info: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array | undefined): void {
    this.isOpPermitted(info, key, rangeEnd, Permission_Type.READ);
  }

  /** Write permission on a range (etcd `IsDeleteRangePermitted`); wire `rangeEnd`. */
  isDeleteRangePermitted(info: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array | undefined): void {
    this.isOpPermitted(info, key, rangeEnd, Permission_Type.WRITE);
  }

  /**
   * Admin operations (auth/user/role management, maintenance) need the `root`
   * role when auth is enabled: throws {@link ErrUserEmpty},
   * {@link ErrUserNotFound} or {@link ErrPermissionDenied}.
   */
  isAdminPermitted(info: AuthInfo | undefined): void {
    if (!this.enabled) return;
    if (!info || info.username === '') throw new ErrUserEmpty();
    const u = this.withTx((tx) => getUser(tx, info.username));
    if (!u) throw new ErrUserNotFound();
    if (!hasRootRole(u)) throw new ErrPermissionDenied();
  }

  /**
   * The credentials of the server's own requests (etcd `WithRoot`): user
   * `root` at the current auth revision while auth is enabled, else undefined
   * (no user, as etcd leaves the context alone). Used for the leader's revoke
   * of expired leases, which must pass the apply-time permission check of the
   * keys attached to the lease.
   */
  rootAuthInfo(): AuthInfo | undefined {
    return this.enabled ? { username: ROOT_USER, revision: this.rev } : undefined;
  }

  /** True if `user` exists and has `role`. */
  hasRole(user: string, role: string): boolean {
    const u = this.withTx((tx) => getUser(tx, user));
    return u !== undefined && u.roles.includes(role);
  }

  /** Switches to `backend` (after a snapshot) and reloads flag, revision and cache (etcd `Recover`). */
  recover(backend: Backend): void {
    this.backend = backend;
    const wasEnabled = this.enabled;
    this.withTx((tx) => this.load(tx));
    if (this.enabled && !wasEnabled) this.tp.enable();
    if (!this.enabled && wasEnabled) this.tp.disable();
  }

  /** Stops accepting tokens. */
  close(): void {
    if (this.enabled) this.tp.disable();
  }

  private load(tx: BatchTx): void {
    const flag = tx.get(Buckets.auth, ENABLE_FLAG_KEY);
    this.enabled = flag !== undefined && bytesEqual(flag, AUTH_ENABLED);
    this.rev = getRevision(tx);
    this.refreshPermCache(tx);
    if (this.enabled) this.tp.enable();
  }

  /** Runs `f` in the locked batch tx. */
  private withTx<T>(f: (tx: BatchTx) => T): T {
    const tx = this.backend.batchTx();
    tx.lock();
    try {
      return f(tx);
    } finally {
      tx.unlock();
    }
  }

  /** Runs a mutation, then bumps the revision and rebuilds the cache in the same tx. */
  private mutate(f: (tx: BatchTx) => void): void {
    this.withTx((tx) => {
      f(tx);
      this.commitRevision(tx);
      this.refreshPermCache(tx);
    });
  }

  private commitRevision(tx: BatchTx): void {
    this.rev += 1n;
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, this.rev, false);
    tx.put(Buckets.auth, REVISION_KEY, b);
  }

  private refreshPermCache(tx: BatchTx): void {
    const cache = new Map<string, UnifiedRangePermissions>();
    const roles = new Map<string, Role | undefined>();
    for (const u of allUsers(tx)) {
      const perms: Permission[] = [];
      for (const rn of u.roles) {
        if (!roles.has(rn)) roles.set(rn, getRole(tx, rn));
        perms.push(...(roles.get(rn)?.keyPermission ?? []));
      }
      cache.set(utf8d.decode(u.name), new UnifiedRangePermissions(perms));
    }
    this.permCache = cache;
  }
}

function compareStrings(a: string, b: string): number {
  return compareBytes(utf8.encode(a), utf8.encode(b));
}

function hasRootRole(u: User): boolean {
  return u.roles.includes(ROOT_ROLE);
}

function getRevision(tx: BatchTx): bigint {
  const v = tx.get(Buckets.auth, REVISION_KEY);
  if (!v || v.length !== 8) return 0n;
  return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, false);
}

function getUser(tx: BatchTx, name: string): User | undefined {
  const v = tx.get(Buckets.authUsers, utf8.encode(name));
  return v ? fromBinary(UserSchema, v) : undefined;
}

function allUsers(tx: BatchTx): User[] {
  const out: User[] = [];
  tx.forEach(Buckets.authUsers, (_k, v) => void out.push(fromBinary(UserSchema, v)));
  return out;
}

function putUser(tx: BatchTx, u: User): void {
  tx.put(Buckets.authUsers, u.name, toBinary(UserSchema, u));
}

function getRole(tx: BatchTx, name: string): Role | undefined {
  const v = tx.get(Buckets.authRoles, utf8.encode(name));
  return v ? fromBinary(RoleSchema, v) : undefined;
}

function putRole(tx: BatchTx, r: Role): void {
  tx.put(Buckets.authRoles, r.name, toBinary(RoleSchema, r));
}

/** The keys of `bucket` as strings, in byte order. */
function names(tx: BatchTx, bucket: string): string[] {
  const out: string[] = [];
  tx.forEach(bucket, (k) => void out.push(utf8d.decode(k)));
  return out;
}
