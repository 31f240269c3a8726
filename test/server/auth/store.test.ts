// The auth store: enable rules, password hashing, users/roles/permissions,
// permission checks (keys, ranges, prefixes, from-key), root, auth revision and
// simple tokens on a ManualClock (etcd auth/store_test.go, range_perm_cache_test.go).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Permission_Type } from '../../../src/gen/authpb/auth_pb.js';
import { Buckets } from '../../../src/server/backend/backend.js';
import { MemoryBackend } from '../../../src/server/backend/memory-backend.js';
import {
  ErrAuthFailed,
  ErrAuthNotEnabled,
  ErrAuthOldRevision,
  ErrInvalidAuthMgmt,
  ErrPermissionDenied,
  ErrPermissionNotGranted,
  ErrRoleNotFound,
  ErrRoleNotGranted,
  ErrRootRoleNotExist,
  ErrRootUserNotExist,
  ErrUserAlreadyExist,
  ErrUserEmpty,
} from '../../../src/server/auth/errors.js';
import { AuthStore } from '../../../src/server/auth/store.js';
import { SimpleTokenProvider } from '../../../src/server/auth/token-simple.js';
import { ManualClock } from '../../../src/util/clock.js';

const enc = new TextEncoder();
const b = (s: string): Uint8Array => enc.encode(s);
const Z = Uint8Array.of(0);
const { READ, WRITE, READWRITE } = Permission_Type;

function setup(be = new MemoryBackend()): { as: AuthStore; be: MemoryBackend; clock: ManualClock; tp: SimpleTokenProvider } {
  const clock = new ManualClock();
  const tp = new SimpleTokenProvider({ clock, ttlMs: 10_000 });
  return { as: new AuthStore({ backend: be, tokenProvider: tp, bcryptCost: 4 }), be, clock, tp };
}

/** A store with root enabled and user `u` holding role `r`. */
async function enabledWithUser(): Promise<ReturnType<typeof setup>> {
  const s = setup();
  s.as.userAdd('root', { hashedPassword: await s.as.hashPassword('rootpw') });
  s.as.userGrantRole('root', 'root');
  s.as.userAdd('u', { hashedPassword: await s.as.hashPassword('upw') });
  s.as.roleAdd('r');
  s.as.userGrantRole('u', 'r');
  s.as.authEnable();
  return s;
}

function bucketBytes(be: MemoryBackend, bucket: string): Buffer {
  const r = be.readTx();
  const parts: Buffer[] = [];
  r.forEach(bucket, (k, v) => void parts.push(Buffer.from(k), Buffer.from(v)));
  r.release();
  return Buffer.concat(parts);
}

describe('auth: enable', () => {
  test('enable needs root with the root role; disable drops tokens', async () => {
    const { as } = setup();
    assert.throws(() => as.authEnable(), (e: unknown) => e instanceof ErrRootUserNotExist && e.message === 'auth: root user does not exist');
    as.userAdd('root', { hashedPassword: await as.hashPassword('pw') });
    assert.throws(() => as.authEnable(), (e: unknown) => e instanceof ErrRootRoleNotExist && e.message === 'auth: root user does not have root role');
    as.userGrantRole('root', 'root'); // the root role needs not exist
    as.authEnable();
    assert.equal(as.isAuthEnabled(), true);
    as.authEnable(); // no-op
    const token = await as.authenticate('root', 5n, as.genTokenPrefix());
    assert.match(token, /^[a-zA-Z]{16}\.5$/);
    assert.equal((await as.authInfoFromToken(token))?.username, 'root');
    as.authDisable();
    assert.equal(as.isAuthEnabled(), false);
    assert.equal(await as.authInfoFromToken(token), undefined);
    await assert.rejects(as.checkPassword('root', 'pw'), ErrAuthNotEnabled);
  });

  test('root user and root role are protected while enabled', async () => {
    const { as } = await enabledWithUser();
    assert.throws(() => as.userDelete('root'), (e: unknown) => e instanceof ErrInvalidAuthMgmt && e.message === 'auth: invalid auth management');
    assert.throws(() => as.userRevokeRole('root', 'root'), ErrInvalidAuthMgmt);
    assert.throws(() => as.roleDelete('root'), ErrInvalidAuthMgmt);
    as.authDisable();
    as.userRevokeRole('root', 'root');
    as.userDelete('root');
  });

  test('the enabled flag, users and revision survive a reopen', async () => {
    const { as, be } = await enabledWithUser();
    const rev = as.revision();
    be.forceCommit();
    const again = setup(be.reopenCommitted()).as;
    assert.equal(again.isAuthEnabled(), true);
    assert.equal(again.revision(), rev);
    assert.deepEqual(again.userList(), ['root', 'u']);
  });
});

describe('auth: users and passwords', () => {
  test('passwords are stored as bcrypt hashes, never in plaintext', async () => {
    const { as, be } = await enabledWithUser();
    const stored = bucketBytes(be, Buckets.authUsers);
    assert.equal(stored.includes('rootpw'), false);
    assert.equal(stored.includes('upw'), false);
    assert.ok(stored.includes('$2b$04$'), 'bcrypt hash at the configured cost');
    assert.equal(typeof (await as.checkPassword('u', 'upw')), 'bigint');
    await assert.rejects(as.checkPassword('u', 'wrong'), ErrAuthFailed);
    await assert.rejects(as.checkPassword('nobody', 'upw'), ErrAuthFailed);
    as.userChangePassword('u', await as.hashPassword('new secret'));
    await assert.rejects(as.checkPassword('u', 'upw'), ErrAuthFailed);
    await as.checkPassword('u', 'new secret');
    assert.equal(bucketBytes(be, Buckets.authUsers).includes('new secret'), false);
  });

  test('user add/get/list/delete and role grant/revoke errors', async () => {
    const { as } = setup();
    assert.equal(as.bcryptCost(), 4);
    assert.throws(() => as.userAdd('', { noPassword: true }), ErrUserEmpty);
    as.userAdd('b', { noPassword: true });
    as.userAdd('a', { noPassword: true });
    assert.throws(() => as.userAdd('a', { noPassword: true }), ErrUserAlreadyExist);
    assert.throws(() => as.userGrantRole('a', 'nope'), ErrRoleNotFound);
    as.roleAdd('z');
    as.roleAdd('y');
    as.userGrantRole('a', 'z');
    as.userGrantRole('a', 'y');
    as.userGrantRole('a', 'y');
    assert.deepEqual(as.userGet('a'), ['y', 'z']);
    assert.deepEqual(as.userList(), ['a', 'b']);
    assert.deepEqual(as.roleList(), ['y', 'z']);
    assert.throws(() => as.userRevokeRole('b', 'z'), ErrRoleNotGranted);
    as.roleDelete('z');
    assert.deepEqual(as.userGet('a'), ['y'], 'deleting a role revokes it from users');
    as.userDelete('b');
    assert.deepEqual(as.userList(), ['a']);
    assert.equal(new AuthStore({ backend: new MemoryBackend(), tokenProvider: new SimpleTokenProvider({ clock: new ManualClock() }), bcryptCost: 99 }).bcryptCost(), 10);
  });

  test('every change bumps the auth revision; stale tokens are refused', async () => {
    const { as } = await enabledWithUser();
    as.roleGrantPermission('r', { key: b('k'), permType: READ });
    const token = await as.authenticate('u', 10n, as.genTokenPrefix());
    const info = (await as.authInfoFromToken(token))!;
    as.isRangePermitted(info, b('k'), undefined);
    const rev = as.revision();
    as.roleAdd('other');
    assert.equal(as.revision(), rev + 1n);
    const stale = { username: 'u', revision: rev };
    assert.throws(() => as.isRangePermitted(stale, b('k'), undefined), (e: unknown) => e instanceof ErrAuthOldRevision);
    assert.throws(() => as.isRangePermitted(undefined, b('k'), undefined), ErrUserEmpty);
    as.isRangePermitted((await as.authInfoFromToken(token))!, b('k'), undefined); // a token lookup gives the current revision
  });
});

describe('auth: permissions', () => {
  test('keys, ranges, prefixes and from-key ranges must be fully covered', async () => {
    const { as } = await enabledWithUser();
    as.roleGrantPermission('r', { key: b('a'), rangeEnd: b('c'), permType: READ });
    as.roleGrantPermission('r', { key: b('c'), rangeEnd: b('d'), permType: READ }); // prefix "c"
    as.roleGrantPermission('r', { key: b('w'), permType: WRITE });
    as.roleGrantPermission('r', { key: b('x'), rangeEnd: Z, permType: READWRITE }); // every key >= x
    const ok = (k: string, e: Uint8Array | undefined, t: Permission_Type): boolean => as.isRangeOpPermitted('u', b(k), e, t);
    assert.equal(ok('a', undefined, READ), true);
    assert.equal(ok('bzzz', undefined, READ), true);
    assert.equal(ok('a', b('d'), READ), true, 'adjacent ranges join');
    assert.equal(ok('a', b('e'), READ), false);
    assert.equal(ok('c', b('d'), READ), true);
    assert.equal(ok('d', undefined, READ), false);
    assert.equal(ok('a', Z, READ), false, 'from-key is checked as [a, +inf), not as key a');
    assert.equal(ok('a', b('c'), WRITE), false);
    assert.equal(ok('w', undefined, WRITE), true);
    assert.equal(ok('w', undefined, READ), false);
    assert.equal(ok('w', b('w\0'), WRITE), true);
    assert.equal(ok('w', b('wa'), WRITE), false, 'a single-key permission is not a prefix');
    assert.equal(ok('x', Z, READ), true);
    assert.equal(ok('y', Z, WRITE), true);
    assert.equal(ok('zzz', b('zzzz'), WRITE), true);
    assert.equal(ok('c', b('a'), READ), true, 'an inverted range is checked as its first key');
    assert.equal(ok('d', b('a'), READ), false);

    const info = (await as.authInfoFromToken(await as.authenticate('u', 1n, as.genTokenPrefix())))!;
    as.isPutPermitted(info, b('w'));
    assert.throws(() => as.isPutPermitted(info, b('a')), (e: unknown) => e instanceof ErrPermissionDenied && e.message === 'auth: permission denied');
    assert.throws(() => as.isDeleteRangePermitted(info, b('a'), Z), ErrPermissionDenied);
    assert.throws(() => as.isAdminPermitted(info), ErrPermissionDenied);
  });

  test('root bypasses key checks; checks pass when auth is disabled', async () => {
    const { as } = await enabledWithUser();
    const root = (await as.authInfoFromToken(await as.authenticate('root', 1n, as.genTokenPrefix())))!;
    as.isRangePermitted(root, b('anything'), Z);
    as.isPutPermitted(root, b('k'));
    as.isAdminPermitted(root);
    assert.equal(as.isRangeOpPermitted('root', b('k'), undefined, READ), false, 'the cache itself knows no root bypass');
    as.authDisable();
    as.isPutPermitted(undefined, b('k'));
    as.isAdminPermitted(undefined);
  });

  test('grant merges by key and range end; revoking a permission or role takes effect at once', async () => {
    const { as } = await enabledWithUser();
    as.roleGrantPermission('r', { key: b('m'), permType: READ });
    as.roleGrantPermission('r', { key: b('b'), rangeEnd: b('c'), permType: READ });
    as.roleGrantPermission('r', { key: b('m'), permType: READWRITE }); // same key+end: type replaced
    as.roleGrantPermission('r', { key: b('b'), permType: WRITE });
    assert.deepEqual(
      as.roleGet('r').map((p) => `${Buffer.from(p.key)}-${Buffer.from(p.rangeEnd)}:${p.permType}`),
      ['b-c:0', 'b-:1', 'm-:2'],
    );
    assert.equal(as.isRangeOpPermitted('u', b('m'), undefined, WRITE), true);
    as.roleRevokePermission('r', b('m'));
    assert.equal(as.isRangeOpPermitted('u', b('m'), undefined, READ), false);
    assert.throws(() => as.roleRevokePermission('r', b('m')), ErrPermissionNotGranted);
    assert.equal(as.isRangeOpPermitted('u', b('bb'), undefined, READ), true);
    as.userRevokeRole('u', 'r');
    assert.equal(as.isRangeOpPermitted('u', b('bb'), undefined, READ), false);
    as.userGrantRole('u', 'r');
    assert.equal(as.isRangeOpPermitted('u', b('bb'), undefined, READ), true);
    as.roleDelete('r');
    assert.equal(as.isRangeOpPermitted('u', b('bb'), undefined, READ), false);
  });
});

describe('auth: simple tokens', () => {
  test('tokens expire after the TTL of inactivity and die with user changes', async () => {
    const { as, clock, tp } = await enabledWithUser();
    const t1 = await as.authenticate('u', 7n, as.genTokenPrefix());
    clock.advance(9_000);
    assert.equal((await as.authInfoFromToken(t1))?.username, 'u', 'use restarts the TTL');
    clock.advance(9_000);
    assert.ok(await as.authInfoFromToken(t1));
    clock.advance(10_001);
    assert.equal(await as.authInfoFromToken(t1), undefined, 'expired');

    const t2 = await as.authenticate('u', 8n, as.genTokenPrefix());
    const t3 = await as.authenticate('root', 9n, as.genTokenPrefix());
    as.userChangePassword('u', await as.hashPassword('x'));
    assert.equal(await as.authInfoFromToken(t2), undefined, 'password change invalidates');
    assert.ok(await as.authInfoFromToken(t3));
    clock.advance(20_000);
    assert.equal(tp.sweep(), 1);
    assert.equal(tp.size(), 0);
    assert.equal(await as.authInfoFromToken('garbage'), undefined);
    assert.equal(await as.authInfoFromToken('abc.def'), undefined);
  });

  test('a token is not valid before its raft index is applied', () => {
    let applied = 5n;
    const tp = new SimpleTokenProvider({ clock: new ManualClock(), appliedIndex: () => applied });
    tp.enable();
    const t = tp.assign('u', 1n, 6n, tp.genTokenPrefix());
    assert.equal(tp.info(t, 1n), undefined);
    applied = 6n;
    assert.deepEqual(tp.info(t, 1n), { username: 'u', revision: 1n });
    assert.notEqual(tp.genTokenPrefix(), tp.genTokenPrefix());
  });
});
