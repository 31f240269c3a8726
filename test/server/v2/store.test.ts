// Unit tests of the v2 store (src/util/v2store): etcd 3.4's
// semantics as read in etcdserver/api/v2store (store.go, node.go, watcher_hub.go,
// event_history.go) and checked against real etcd by keys-compare.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { V2Store, cleanPath } from '../../../src/util/v2store/store.js';
import { V2Error } from '../../../src/util/v2store/errors.js';
import { eventJson, rfc3339Nano, type V2Event } from '../../../src/util/v2store/event.js';
import { goDuration } from '../../../src/server/etcdserver/api/v2stats.js';

const SEC = 1_000_000_000n;
const T0 = 1_700_000_000n * SEC;

function store(now = T0): { s: V2Store; clock: { now: bigint } } {
  const clock = { now };
  return { s: new V2Store(['/0', '/1'], () => clock.now), clock };
}

function code(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof V2Error, String(e));
    return e.errorCode;
  }
  assert.fail('no error');
}

const perm = { expireTime: 0n };

test('set, get, indexes, prevNode, directories created on the way', () => {
  const { s } = store();
  const e = s.set('/1/a/b', false, 'v', perm);
  assert.equal(eventJson(e), '{"action":"set","node":{"key":"/1/a/b","value":"v","modifiedIndex":1,"createdIndex":1}}');
  const e2 = s.set('/1/a/b', false, 'w', perm);
  assert.equal(eventJson(e2), '{"action":"set","node":{"key":"/1/a/b","value":"w","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/1/a/b","value":"v","modifiedIndex":1,"createdIndex":1}}');
  const g = s.get('/1/a', false, false);
  assert.equal(eventJson(g), '{"action":"get","node":{"key":"/1/a","dir":true,"nodes":[{"key":"/1/a/b","value":"w","modifiedIndex":2,"createdIndex":2}],"modifiedIndex":1,"createdIndex":1}}');
  assert.equal(g.etcdIndex, 2);
  assert.equal(code(() => s.get('/1/a/b/c', false, false)), 104);
  assert.equal(code(() => s.get('/1/x', false, false)), 100);
  assert.equal(code(() => s.set('/1/a', false, 'x', perm)), 102);
});

test('create, unique in-order keys, update, compare-and-swap, compare-and-delete', () => {
  const { s } = store();
  s.create('/1/k', false, '1', false, perm);
  assert.equal(code(() => s.create('/1/k', false, '1', false, perm)), 105);
  const q = s.create('/1/q', false, 'job', true, perm);
  assert.equal(q.node!.key, '/1/q/00000000000000000002');
  assert.equal(code(() => s.update('/1/none', 'x', perm)), 100);
  s.update('/1/k', '2', perm);
  let err: V2Error | undefined;
  try {
    s.compareAndSwap('/1/k', 'nope', 0, 'x', perm);
  } catch (e) {
    err = e as V2Error;
  }
  assert.equal(err?.toJson(), '{"errorCode":101,"message":"Compare failed","cause":"[nope != 2]","index":3}');
  assert.equal(err?.statusCode(), 412);
  try {
    s.compareAndSwap('/1/k', 'nope', 9, 'x', perm);
  } catch (e) {
    err = e as V2Error;
  }
  assert.equal(err?.cause, '[nope != 2] [9 != 3]');
  const cas = s.compareAndSwap('/1/k', '2', 3, 'three', perm);
  assert.equal(cas.node!.modifiedIndex, 4);
  assert.equal(code(() => s.compareAndDelete('/1/k', 'x', 0)), 101);
  const cad = s.compareAndDelete('/1/k', 'three', 0);
  assert.equal(cad.action, 'compareAndDelete');
  assert.equal(code(() => s.compareAndSwap('/1/q', 'a', 0, 'b', perm)), 102);
});

test('delete: files, empty and non-empty directories, recursive; root and namespaces are read only', () => {
  const { s } = store();
  s.set('/1/d/x', false, '1', perm);
  s.set('/1/e', true, '', perm);
  assert.equal(code(() => s.delete('/1/d', false, false)), 102);
  assert.equal(code(() => s.delete('/1/d', true, false)), 108);
  assert.equal(new V2Error(108, '/d', 1).statusCode(), 403);
  const d = s.delete('/1/d', false, true);
  assert.equal(eventJson(d), '{"action":"delete","node":{"key":"/1/d","dir":true,"modifiedIndex":3,"createdIndex":1},"prevNode":{"key":"/1/d","dir":true,"modifiedIndex":1,"createdIndex":1}}');
  s.delete('/1/e', true, false);
  for (const p of ['/', '/1', '/0']) assert.equal(code(() => s.delete(p, true, true)), 107);
  assert.equal(code(() => s.set('/1', false, 'x', perm)), 107);
});

test('hidden nodes are left out of listings but can be read', () => {
  const { s } = store();
  s.set('/1/_h', false, 'h', perm);
  s.set('/1/v', false, 'v', perm);
  const g = s.get('/1', true, true);
  assert.deepEqual(g.node!.nodes!.map((n) => n.key), ['/1/v']);
  assert.equal(s.get('/1/_h', false, false).node!.value, 'h');
});

test('sorted listings by key; recursive includes grandchildren', () => {
  const { s } = store();
  for (const k of ['c', 'a', 'b/z', 'b/y']) s.set(`/1/${k}`, false, k, perm);
  const g = s.get('/1', true, true);
  assert.deepEqual(g.node!.nodes!.map((n) => n.key), ['/1/a', '/1/b', '/1/c']);
  assert.deepEqual(g.node!.nodes![1]!.nodes!.map((n) => n.key), ['/1/b/y', '/1/b/z']);
  assert.equal(s.get('/1', false, true).node!.nodes![1]!.nodes, undefined);
});

test('TTL: expiration and ttl shown, rounded up; expiry only through deleteExpiredKeys, oldest first', () => {
  const { s, clock } = store();
  s.set('/1/t', false, 'v', { expireTime: T0 + 10n * SEC });
  s.set('/1/u', false, 'v', { expireTime: T0 + 5n * SEC });
  clock.now = T0 + SEC / 2n;
  const g = s.get('/1/t', false, false);
  assert.equal(g.node!.ttl, 10);
  assert.equal(g.node!.expiration, rfc3339Nano(T0 + 10n * SEC));
  assert.ok(s.hasTTLKeys());
  s.deleteExpiredKeys(T0 + 4n * SEC);
  assert.equal(s.index(), 2);
  const w = s.watch('/1', true, false, 3);
  const seen: V2Event[] = [];
  w.onEvent((e) => seen.push(e));
  s.deleteExpiredKeys(T0 + 20n * SEC);
  assert.equal(s.index(), 4);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.action, 'expire');
  assert.equal(seen[0]!.node!.key, '/1/u');
  assert.ok(!s.hasTTLKeys());
  // an expiry time before 2000 means permanent
  s.set('/1/p', false, 'v', { expireTime: 5n });
  assert.equal(s.get('/1/p', false, false).node!.ttl, undefined);
  // refresh keeps the value and does not notify
  s.set('/1/r', false, 'keep', { expireTime: T0 + 100n * SEC });
  const w2 = s.watch('/1/r', false, false, 0);
  let notified = false;
  w2.onEvent(() => (notified = true));
  const r = s.set('/1/r', false, '', { expireTime: T0 + 200n * SEC, refresh: true });
  assert.equal(r.node!.value, 'keep');
  assert.equal(r.refresh, true);
  assert.equal(notified, false);
});

test('watch: waitIndex from the history, recursive, hidden, non-stream watchers fire once, 401 past the window', () => {
  const { s } = store();
  s.set('/1/a', false, '1', perm);
  const hist = s.watch('/1/a', false, false, 1);
  let got: V2Event | undefined;
  hist.onEvent((e) => (got = e));
  assert.equal(got?.node?.key, '/1/a');
  assert.equal(got?.etcdIndex, 1);
  const rec = s.watch('/1', true, false, 0);
  const hid = s.watch('/1', true, true, 0);
  const recEvents: string[] = [];
  const hidEvents: string[] = [];
  rec.onEvent((e) => recEvents.push(e.node!.key));
  hid.onEvent((e) => hidEvents.push(e.node!.key));
  s.set('/1/_x', false, 'h', perm);
  s.set('/1/b', false, '1', perm);
  s.set('/1/c', false, '1', perm);
  assert.deepEqual(recEvents, ['/1/b']);
  assert.deepEqual(hidEvents, ['/1/b', '/1/c']);
  assert.equal(s.watcherCount(), 1);
  for (let i = 0; i < 1000; i++) s.set('/1/many', false, String(i), perm);
  let err: V2Error | undefined;
  try {
    s.watch('/1/a', false, false, 2);
  } catch (e) {
    err = e as V2Error;
  }
  assert.equal(err?.toJson(), `{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [5/2]","index":1004}`);
  assert.equal(err?.statusCode(), 400);
  // a watcher of a key deleted with its directory sees the delete
  s.set('/1/dd/k', false, '1', perm);
  const kw = s.watch('/1/dd/k', false, false, 0);
  let del: V2Event | undefined;
  kw.onEvent((e) => (del = e));
  s.delete('/1/dd', true, true);
  assert.equal(del?.action, 'delete');
  assert.equal(del?.node?.key, '/1/dd');
});

test('save and recover: tree, index, TTLs, statistics and event history', () => {
  const { s } = store();
  s.set('/1/a/b', false, 'v', perm);
  s.set('/1/t', false, 'ttl', { expireTime: T0 + 60n * SEC });
  s.create('/1/q', false, 'j', true, perm);
  s.set('/0/version', false, '3.4.0', perm);
  const saved = s.save();
  const { s: r } = store();
  r.recover(saved);
  assert.equal(r.index(), s.index());
  assert.equal(eventJson(r.get('/1', true, true)), eventJson(s.get('/1', true, true)));
  assert.ok(r.hasTTLKeys());
  const w = r.watch('/1/a/b', false, false, 1);
  let got: V2Event | undefined;
  w.onEvent((e) => (got = e));
  assert.equal(got?.node?.value, 'v');
  assert.equal(JSON.parse(r.statsJson()).setsSuccess, JSON.parse(s.statsJson()).setsSuccess);
  r.deleteExpiredKeys(T0 + 61n * SEC);
  assert.equal(code(() => r.get('/1/t', false, false)), 100);
  assert.throws(() => r.recover('{"version":9}'), /unknown format/);
  r.reset();
  assert.equal(r.index(), 0);
  assert.equal(eventJson(r.get('/1', true, true)), '{"action":"get","node":{"key":"/1","dir":true}}');
  assert.ok(!r.hasTTLKeys());
});

test('paths are cleaned as Go path.Clean(path.Join("/", p)); times and durations as Go prints them', () => {
  assert.equal(cleanPath('a/../b//c/'), '/b/c');
  assert.equal(cleanPath('/'), '/');
  assert.equal(cleanPath('../..'), '/');
  assert.equal(rfc3339Nano(T0), '2023-11-14T22:13:20Z');
  assert.equal(rfc3339Nano(T0 + 123_400_000n), '2023-11-14T22:13:20.1234Z');
  assert.equal(goDuration(2_629_493_426n), '2.629493426s');
  assert.equal(goDuration(62_500_000_000n), '1m2.5s');
  assert.equal(goDuration(3_600_000_000_000n), '1h0m0s');
  assert.equal(goDuration(350_000_000n), '350ms');
  assert.equal(goDuration(1500n), '1.5µs');
});
