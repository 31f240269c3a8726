// The auth applier (etcd 3.4 apply_auth.go): admin requests, put (prev_kv,
// lease attach), range, delete (prev_kv), txn (compares, both branches, nested
// txns), lease revoke, old auth revisions, UserGet/RoleGet of oneself, and the
// read-path helpers.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { Permission_Type, PermissionSchema } from '../../../../src/gen/authpb/auth_pb.js';
import { Compare_CompareResult as R, type AuthenticateResponse } from '../../../../src/gen/etcdserverpb/rpc_pb.js';
import { ErrAuthOldRevision, ErrPermissionDenied, ErrUserEmpty } from '../../../../src/server/auth/errors.js';
import { checkRangePermitted, checkTxnAuth, needAdminPermission } from '../../../../src/server/etcdserver/apply/auth.js';
import { b, cmpValue, del, opDel, opPut, opRange, opTxn, put, rng, setup, txn, type Fixture } from './fixture.js';

const utf8d = new TextDecoder();

/**
 * Auth enabled through applied requests: root (root role), user `u` with role
 * `r` = readwrite [a, b), read-only [r, s), write-only [w, x).
 */
async function enabled(): Promise<Fixture & { as_: (user: string) => { username: string; authRevision: bigint } }> {
  const f = setup();
  const hash = utf8d.decode(await f.as.hashPassword('pw'));
  const must = (fields: Parameters<Fixture['apply']>[0]): void => {
    const r = f.apply(fields);
    assert.equal(r.err, undefined, r.err?.message);
  };
  must({ authUserAdd: { name: 'root', password: hash } });
  must({ authUserGrantRole: { user: 'root', role: 'root' } });
  must({ authUserAdd: { name: 'u', password: hash } });
  must({ authRoleAdd: { name: 'r' } });
  for (const [k, e, t] of [['a', 'b', Permission_Type.READWRITE], ['r', 's', Permission_Type.READ], ['w', 'x', Permission_Type.WRITE]] as const) {
    must({ authRoleGrantPermission: { name: 'r', perm: create(PermissionSchema, { key: b(k), rangeEnd: b(e), permType: t }) } });
  }
  must({ authUserGrantRole: { user: 'u', role: 'r' } });
  must({ authEnable: {} });
  const as_ = (user: string) => ({ username: user, authRevision: f.as.revision() });
  return Object.assign(f, { as_ });
}

describe('auth applier', () => {
  test('admin requests need root; without a header the user is empty', async () => {
    const f = await enabled();
    assert.ok(f.apply({ authRoleAdd: { name: 'x' } }).err instanceof ErrUserEmpty);
    assert.ok(f.apply({ header: f.as_('u'), authRoleAdd: { name: 'x' } }).err instanceof ErrPermissionDenied);
    assert.equal(f.apply({ header: f.as_('root'), authRoleAdd: { name: 'x' } }).err, undefined);
    assert.equal(needAdminPermission({ authUserList: {} } as never), true);
    assert.equal(needAdminPermission({ authUserGet: { name: 'u' } } as never), false);
  });

  test('UserGet of oneself and RoleGet of a held role pass without root', async () => {
    const f = await enabled();
    assert.equal(f.apply({ header: f.as_('u'), authUserGet: { name: 'u' } }).err, undefined);
    assert.ok(f.apply({ header: f.as_('u'), authUserGet: { name: 'root' } }).err instanceof ErrPermissionDenied);
    assert.equal(f.apply({ header: f.as_('u'), authRoleGet: { role: 'r' } }).err, undefined);
    assert.ok(f.apply({ header: f.as_('u'), authRoleGet: { role: 'root' } }).err instanceof ErrPermissionDenied);
  });

  test('put needs write; prev_kv also read (write-only key denied); range needs read; delete prev_kv needs read', async () => {
    const f = await enabled();
    const h = f.as_('u');
    assert.equal(f.apply({ header: h, put: put('a1', 'v') }).err, undefined);
    assert.ok(f.apply({ header: h, put: put('r1', 'v') }).err instanceof ErrPermissionDenied);
    assert.equal(f.apply({ header: h, put: put('w1', 'v') }).err, undefined);
    assert.ok(f.apply({ header: h, put: put('w1', 'v', { prevKv: true }) }).err instanceof ErrPermissionDenied);
    assert.equal(f.apply({ header: h, range: rng('r1') }).err, undefined);
    assert.ok(f.apply({ header: h, range: rng('w1') }).err instanceof ErrPermissionDenied);
    assert.ok(f.apply({ header: h, range: rng('a', { rangeEnd: b('c') }) }).err instanceof ErrPermissionDenied);
    assert.equal(f.apply({ header: h, deleteRange: del('w1') }).err, undefined);
    assert.ok(f.apply({ header: h, deleteRange: del('w1', { prevKv: true }) }).err instanceof ErrPermissionDenied);
    assert.ok(f.apply({ header: h, deleteRange: del('r1') }).err instanceof ErrPermissionDenied);
    assert.equal(f.kv.range(b('r1'), undefined).count, 0, 'denied requests wrote nothing');
  });

  test('a request checked at an older auth revision fails with ErrAuthOldRevision', async () => {
    const f = await enabled();
    const old = f.as_('u');
    assert.equal(f.apply({ header: f.as_('root'), authRoleAdd: { name: 'other' } }).err, undefined);
    assert.ok(f.apply({ header: old, put: put('a1', 'v') }).err instanceof ErrAuthOldRevision);
    assert.equal(f.apply({ header: f.as_('u'), put: put('a1', 'v') }).err, undefined);
  });

  test('attaching a lease whose keys the user cannot write is denied; so is revoking it', async () => {
    const f = await enabled();
    assert.equal(f.apply({ header: f.as_('root'), leaseGrant: { ID: 9n, TTL: 60n } }).err, undefined);
    assert.equal(f.apply({ header: f.as_('root'), put: put('r1', 'v', { lease: 9n }) }).err, undefined);
    assert.ok(f.apply({ header: f.as_('u'), put: put('a1', 'v', { lease: 9n }) }).err instanceof ErrPermissionDenied);
    assert.ok(f.apply({ header: f.as_('u'), leaseRevoke: { ID: 9n } }).err instanceof ErrPermissionDenied);
    assert.equal(f.apply({ header: f.as_('root'), leaseRevoke: { ID: 9n } }).err, undefined);
  });

  test('txn: compares need read, both branches are checked, nested txns too (etcd 3.4.23 skips nested ones)', async () => {
    const f = await enabled();
    const h = f.as_('u');
    assert.equal(f.apply({ header: h, txn: txn([cmpValue('r1', R.EQUAL, 'x')], [opPut('a1', '1')], [opRange('r1')]) }).err, undefined);
    assert.ok(f.apply({ header: h, txn: txn([cmpValue('w1', R.EQUAL, 'x')], [opPut('a1', '1')]) }).err instanceof ErrPermissionDenied);
    assert.ok(f.apply({ header: h, txn: txn([], [opPut('a1', '1')], [opPut('r1', '1')]) }).err instanceof ErrPermissionDenied, 'failure branch checked');
    assert.ok(f.apply({ header: h, txn: txn([], [opDel('w1', { prevKv: true })]) }).err instanceof ErrPermissionDenied);
    assert.ok(f.apply({ header: h, txn: txn([], [opPut('w1', '1', { prevKv: true })]) }).err instanceof ErrPermissionDenied);
    const nested = txn([], [opTxn(txn([], [opTxn(txn([], [opPut('r1', 'sneaky')]))]))]);
    assert.ok(f.apply({ header: h, txn: nested }).err instanceof ErrPermissionDenied);
    assert.equal(f.kv.range(b('r1'), undefined).count, 0);
  });

  test('authenticate applies the proposer token prefix and the entry index', async () => {
    const f = await enabled();
    const r = f.apply({ authenticate: { name: 'u', simpleToken: 'abcdefghijklmnop' } });
    assert.equal(r.err, undefined);
    const token = (r.resp as AuthenticateResponse).token;
    assert.match(token, /^abcdefghijklmnop\.\d+$/);
    assert.equal((await f.as.authInfoFromToken(token))?.username, 'u');
  });

  test('read-path helpers throw the auth errors; pass when auth is disabled', async () => {
    const f = await enabled();
    const info = { username: 'u', revision: f.as.revision() };
    checkRangePermitted(f.as, info, rng('r1'));
    assert.throws(() => checkRangePermitted(f.as, info, rng('w1')), ErrPermissionDenied);
    assert.throws(() => checkTxnAuth(f.as, info, txn([], [opTxn(txn([], [opRange('w1')]))])), ErrPermissionDenied);
    assert.throws(() => checkRangePermitted(f.as, undefined, rng('r1')), ErrUserEmpty);
    const plain = setup();
    checkRangePermitted(plain.as, undefined, rng('anything'));
    checkTxnAuth(plain.as, undefined, txn([], [opPut('x', '1')]));
  });
});
