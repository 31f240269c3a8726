// The lessor: TTL rules, expiry order, renew, revoke deleting keys through mvcc,
// promote/demote, checkpoints and recovery from the backend (etcd lessor_test.go
// cases), all on a ManualClock.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buckets } from '../../../src/server/backend/backend.js';
import { MemoryBackend } from '../../../src/server/backend/memory-backend.js';
import { Store } from '../../../src/server/mvcc/kvstore.js';
import {
  ErrLeaseExists,
  ErrLeaseNotFound,
  ErrLeaseTTLTooLarge,
  ErrNotPrimary,
  MAX_LEASE_TTL,
} from '../../../src/server/lease/errors.js';
import { Lessor, minLeaseTtl, remainingSeconds, type LeaseCheckpoint, type LessorConfig } from '../../../src/server/lease/lessor.js';
import { ManualClock } from '../../../src/util/clock.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string): Uint8Array => enc.encode(s);

function setup(cfg: Partial<LessorConfig> = {}): { le: Lessor; be: MemoryBackend; clock: ManualClock } {
  const be = new MemoryBackend();
  const clock = new ManualClock(1_000_000);
  const le = new Lessor({ backend: be, clock, minLeaseTtl: 2, ...cfg });
  return { le, be, clock };
}

/** Stored lease IDs in the backend's lease bucket. */
function storedIds(be: MemoryBackend): number {
  const r = be.readTx();
  let n = 0;
  r.forEach(Buckets.lease, () => void n++);
  r.release();
  return n;
}

describe('lessor: grant', () => {
  test('minLeaseTtl is 1.5 election timeouts rounded up to seconds', () => {
    assert.equal(minLeaseTtl(10, 100), 2); // 1500 ms
    assert.equal(minLeaseTtl(10, 200), 3);
    assert.equal(minLeaseTtl(5, 100), 1); // (3*5)/2 = 7 ticks (integer division) = 700 ms
    assert.equal(minLeaseTtl(20, 1000), 30);
  });

  test('TTLs below the minimum are raised; ID 0, duplicates and huge TTLs are refused', () => {
    const { le } = setup();
    assert.equal(le.grant(1n, 1).ttl, 2);
    assert.equal(le.grant(2n, 10).ttl, 10);
    assert.throws(() => le.grant(0n, 5), ErrLeaseNotFound);
    assert.throws(() => le.grant(1n, 5), ErrLeaseExists);
    assert.throws(() => le.grant(3n, MAX_LEASE_TTL + 1), (e: unknown) => e instanceof ErrLeaseTTLTooLarge && e.message === 'too large lease TTL');
    assert.equal(le.grant(3n, MAX_LEASE_TTL).ttl, MAX_LEASE_TTL);
    assert.equal(new ErrLeaseNotFound().message, 'lease not found');
  });

  test('a non-primary keeps leases forever; the primary tracks expiry from grant', () => {
    const { le, clock } = setup();
    const l = le.grant(1n, 5);
    assert.equal(l.expiryMs, Infinity);
    clock.advance(100_000);
    assert.deepEqual(le.expiredLeases(), []);
    le.promote(0);
    le.grant(2n, 5);
    assert.equal(le.lookup(2n)!.expiryMs, clock.nowMs() + 5000);
  });
});

describe('lessor: expiry', () => {
  test('expired leases come out earliest first, once per retry interval', () => {
    const { le, clock } = setup({ expiredLeaseRetryIntervalMs: 3000 });
    le.promote(0);
    le.grant(30n, 30);
    le.grant(10n, 10);
    le.grant(20n, 20);
    le.grant(11n, 10);
    clock.advance(9_999);
    assert.deepEqual(le.expiredLeases(), []);
    clock.advance(1);
    assert.deepEqual(le.expiredLeases().map((l) => l.id), [10n, 11n]);
    assert.deepEqual(le.expiredLeases(), [], 'not reported again before the retry interval');
    clock.advance(10_000);
    assert.deepEqual(le.expiredLeases(1).map((l) => l.id), [10n], 'limit');
    assert.deepEqual(le.expiredLeases().map((l) => l.id), [11n, 20n]);
    le.revoke(10n);
    le.revoke(11n);
    clock.advance(3000);
    assert.deepEqual(le.expiredLeases().map((l) => l.id), [20n], 'revoked leases are gone');
    clock.advance(7000);
    assert.deepEqual(le.expiredLeases().map((l) => l.id), [20n, 30n]);
  });

  test('leases() lists leases by expiry', () => {
    const { le } = setup();
    le.promote(0);
    le.grant(1n, 50);
    le.grant(2n, 5);
    le.grant(3n, 20);
    assert.deepEqual(le.leases().map((l) => l.id), [2n, 3n, 1n]);
  });
});

describe('lessor: renew', () => {
  test('renew restarts the TTL on the primary only', async () => {
    const { le, clock } = setup();
    le.grant(1n, 10);
    await assert.rejects(le.renew(1n), (e: unknown) => e instanceof ErrNotPrimary && e.message === 'not a primary lessor');
    le.promote(0);
    clock.advance(8000);
    assert.equal(await le.renew(1n), 10);
    assert.equal(le.lookup(1n)!.remainingMs(), 10_000);
    clock.advance(9000);
    assert.deepEqual(le.expiredLeases(), []);
    await assert.rejects(le.renew(99n), ErrLeaseNotFound);
  });

  test('renewing an expired lease waits for its revocation or a demotion', async () => {
    const { le, clock } = setup();
    le.promote(0);
    le.grant(1n, 5);
    le.grant(2n, 5);
    clock.advance(5000);
    const r1 = le.renew(1n);
    const r2 = le.renew(2n);
    le.revoke(1n);
    await assert.rejects(r1, ErrLeaseNotFound);
    le.demote();
    await assert.rejects(r2, ErrNotPrimary);
  });

  test('renew clears a checkpointed TTL through the checkpointer', async () => {
    const { le } = setup();
    const proposed: LeaseCheckpoint[][] = [];
    le.setCheckpointer((cps) => proposed.push(cps));
    le.grant(1n, 100);
    le.checkpoint(1n, 40);
    le.promote(0);
    assert.equal(le.lookup(1n)!.remainingMs(), 40_000);
    assert.equal(await le.renew(1n), 100);
    assert.deepEqual(proposed, [[{ id: 1n, remainingTtl: 0 }]]);
  });
});

describe('lessor: revoke', () => {
  test('revoke deletes the attached keys and the lease record in one transaction', () => {
    const be = new MemoryBackend();
    const clock = new ManualClock();
    const le = new Lessor({ backend: be, clock, minLeaseTtl: 1 });
    const s = new Store(be, { lessor: le, compactionSleepMs: 0 });
    le.setRangeDeleter(() => s.write());
    le.grant(7n, 10);
    le.grant(8n, 10);
    s.put(b('b'), b('1'), 7n);
    s.put(b('a'), b('1'), 7n);
    s.put(b('c'), b('1'), 8n);
    s.put(b('d'), b('1'), 7n);
    s.put(b('d'), b('2')); // moves d off the lease
    assert.deepEqual(le.lookup(7n)!.keys().map((k) => dec.decode(k)), ['a', 'b']);
    assert.equal(le.getLease(b('c')), 8n);
    const rev = s.rev();
    le.revoke(7n);
    assert.equal(s.rev(), rev + 1, 'one revision for all deletions');
    assert.deepEqual(s.range(b('a'), new Uint8Array(0)).kvs.map((kv) => dec.decode(kv.key)), ['c', 'd']);
    assert.equal(le.lookup(7n), undefined);
    assert.equal(le.getLease(b('a')), 0n);
    assert.equal(storedIds(be), 1);
    assert.throws(() => le.revoke(7n), ErrLeaseNotFound);
  });

  test('attach to an unknown lease fails; detach from one is ignored', () => {
    const { le } = setup();
    assert.throws(() => le.attach(5n, [b('x')]), ErrLeaseNotFound);
    le.detach(5n, [b('x')]);
  });
});

describe('lessor: promote and demote', () => {
  test('promote extends every remaining TTL by the given time', () => {
    const { le, clock } = setup();
    le.grant(1n, 10);
    le.grant(2n, 20);
    clock.advance(60_000);
    le.promote(1500);
    assert.equal(le.lookup(1n)!.remainingMs(), 11_500);
    assert.equal(le.lookup(2n)!.remainingMs(), 21_500);
    clock.advance(10_000);
    assert.deepEqual(le.expiredLeases(), []);
    clock.advance(1500);
    assert.deepEqual(le.expiredLeases().map((l) => l.id), [1n]);
    le.demote();
    assert.equal(le.isPrimary(), false);
    assert.equal(le.lookup(2n)!.expiryMs, Infinity);
    clock.advance(100_000);
    assert.deepEqual(le.expiredLeases(), []);
  });

  test('promote spreads out piled-up expiries below the revoke rate', () => {
    const { le, clock } = setup({ leaseRevokeRate: 8 });
    for (let i = 1n; i <= 12n; i++) le.grant(i, 10);
    le.promote(0);
    // target is 6 per second: 6 expire at 10 s, the rest later
    const byExpiry = le.leases().map((l) => l.expiryMs - clock.nowMs());
    assert.deepEqual(byExpiry.slice(0, 6), [10_000, 10_000, 10_000, 10_000, 10_000, 10_000]);
    assert.ok(byExpiry.slice(6).every((ms) => ms > 10_000), String(byExpiry));
    clock.advance(10_000);
    assert.equal(le.expiredLeases().length, 6);
  });
});

describe('lessor: checkpoints and recovery', () => {
  test('due checkpoints report the remaining TTL of long leases', () => {
    const { le, clock } = setup({ checkpointIntervalMs: 60_000 });
    le.promote(0);
    le.grant(1n, 300);
    le.grant(2n, 30); // shorter than the interval: never checkpointed
    assert.deepEqual(le.dueCheckpoints(), []);
    clock.advance(60_000);
    assert.deepEqual(le.dueCheckpoints(), [{ id: 1n, remainingTtl: 240 }]);
    le.checkpoint(1n, 240); // applied through raft; schedules the next one
    clock.advance(59_500);
    assert.deepEqual(le.dueCheckpoints(), []);
    clock.advance(500);
    assert.deepEqual(le.dueCheckpoints(), [{ id: 1n, remainingTtl: 180 }]);
  });

  test('leases survive a restart: checkpointed remaining TTL if any, else the full TTL', () => {
    const be = new MemoryBackend();
    const clock = new ManualClock();
    const le = new Lessor({ backend: be, clock, minLeaseTtl: 2 });
    le.grant(1n, 100);
    le.grant(2n, 50);
    le.grant(3n, 1);
    le.checkpoint(1n, 42);
    le.grant(4n, 10);
    le.revoke(4n);
    be.forceCommit();

    const le2 = new Lessor({ backend: be.reopenCommitted(), clock, minLeaseTtl: 5 });
    assert.deepEqual(le2.leases().map((l) => [l.id, l.ttl, l.remainingTtl]), [
      [1n, 100, 42],
      [2n, 50, 50],
      [3n, 5, 5], // raised to the new minimum
    ]);
    assert.equal(le2.lookup(1n)!.expiryMs, Infinity, 'expiry starts at promote');
    le2.promote(1000);
    assert.equal(le2.lookup(1n)!.remainingMs(), 43_000);
    assert.equal(le2.lookup(2n)!.remainingMs(), 51_000);
  });

  test('uncommitted grants are lost on a crash; recover() reloads from a new backend', () => {
    const be = new MemoryBackend();
    const clock = new ManualClock();
    const le = new Lessor({ backend: be, clock });
    le.grant(1n, 10);
    const crashed = be.reopenCommitted();
    assert.equal(new Lessor({ backend: crashed, clock }).leases().length, 0);
    be.forceCommit();
    le.recover(be.reopenCommitted());
    assert.deepEqual(le.leases().map((l) => l.id), [1n]);
  });
});

describe('lessor + mvcc at start (etcd NewServer: NewLessor, then mvcc.New)', () => {
  test('a restarted store re-attaches every key with a lease to the lessor created before it', () => {
    const be = new MemoryBackend();
    const clock = new ManualClock();
    const le = new Lessor({ backend: be, clock, minLeaseTtl: 2 });
    const s = new Store(be, { lessor: le, compactionSleepMs: 0 });
    le.setRangeDeleter(() => s.write());
    le.grant(1n, 100);
    le.grant(2n, 100);
    s.put(b('k1'), b('v'), 1n);
    s.put(b('k2'), b('v'), 2n);
    s.put(b('k3'), b('v'), 1n);
    s.put(b('k3'), b('w'), 2n); // moved to lease 2
    s.put(b('k4'), b('v'), 2n);
    s.deleteRange(b('k4'), undefined); // deleted: attached to nothing
    be.forceCommit();

    const be2 = be.reopenCommitted();
    const le2 = new Lessor({ backend: be2, clock, minLeaseTtl: 2 });
    const s2 = new Store(be2, { lessor: le2, compactionSleepMs: 0 });
    le2.setRangeDeleter(() => s2.write());
    assert.deepEqual(le2.lookup(1n)!.keys().map((k) => dec.decode(k)), ['k1']);
    assert.deepEqual(le2.lookup(2n)!.keys().map((k) => dec.decode(k)), ['k2', 'k3']);
    assert.equal(le2.getLease(b('k3')), 2n);
    le2.revoke(2n);
    assert.deepEqual(s2.range(b('k'), b('l')).kvs.map((kv) => dec.decode(kv.key)), ['k1']);
  });

  test('recover() reloads the leases without keys: only valid before the store restores (snapshot install)', () => {
    const be = new MemoryBackend();
    const clock = new ManualClock();
    const le = new Lessor({ backend: be, clock, minLeaseTtl: 2 });
    const s = new Store(be, { lessor: le, compactionSleepMs: 0 });
    le.grant(1n, 100);
    s.put(b('k1'), b('v'), 1n);
    be.forceCommit();
    // the order that lost keys in the server: recovering after the store attached them
    le.recover(be);
    assert.deepEqual(le.lookup(1n)!.keys(), []);
    // etcd applySnapshot: lessor.Recover, then kv.Restore re-attaches
    s.restore(be);
    assert.deepEqual(le.lookup(1n)!.keys().map((k) => dec.decode(k)), ['k1']);
  });
});

describe('remainingSeconds (etcd LeaseTimeToLive: int64(Remaining().Seconds()))', () => {
  test('truncates toward zero; an untracked expiry is MaxInt64 ns in seconds', () => {
    assert.equal(remainingSeconds(100_000), 100n);
    assert.equal(remainingSeconds(99_999.999), 99n); // right after a grant of 100 s
    assert.equal(remainingSeconds(0.5), 0n);
    assert.equal(remainingSeconds(-999), 0n); // int64(-0.999) = 0
    assert.equal(remainingSeconds(-1000), -1n);
    assert.equal(remainingSeconds(-2500), -2n);
    assert.equal(remainingSeconds(Infinity), 9223372036n); // math.MaxInt64 ns = 9223372036.854775807 s
  });
});
