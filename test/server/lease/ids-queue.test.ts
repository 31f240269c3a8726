// ID generation (etcd pkg/idutil), the lease record codec and the expiry heap.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdGenerator, toLeaseId } from '../../../src/util/ids.js';
import { ManualClock, SystemClock } from '../../../src/util/clock.js';
import { LeaseExpiredNotifier } from '../../../src/server/lease/lease-queue.js';
import {
  LeaseRecordError,
  bytesToLeaseId,
  decodeLeaseRecord,
  encodeLeaseRecord,
  leaseIdToBytes,
} from '../../../src/server/lease/leasepb.js';

test('ids: member-prefixed, time-based, unique, and lease IDs are positive int64', () => {
  const g = new IdGenerator(0x8e9e05c52164694dn, 0x0190_0000_0000);
  assert.equal(g.next(), 0x694d_9000_0000_0001n);
  assert.equal(g.next(), 0x694d_9000_0000_0002n);
  const other = IdGenerator.fromClock(0x1234n, new ManualClock(0x0190_0000_0000));
  const seen = new Set<bigint>();
  for (let i = 0; i < 1000; i++) {
    const a = g.next();
    const c = other.next();
    assert.equal(a >> 48n, 0x694dn);
    assert.equal(c >> 48n, 0x1234n);
    seen.add(a).add(c);
  }
  assert.equal(seen.size, 2000);
  const hi = new IdGenerator(0xffffn, 5).next();
  assert.ok(hi >= 1n << 63n);
  assert.equal(toLeaseId(hi), hi - (1n << 63n));
});

test('clocks: manual clock moves only forward; system clock is monotonic', () => {
  const c = new ManualClock(10);
  c.advance(5);
  assert.equal(c.nowMs(), 15);
  assert.throws(() => c.advance(-1), RangeError);
  const s = new SystemClock();
  const a = s.nowMs();
  assert.ok(s.nowMs() >= a);
});

test('leasepb: etcd-compatible record encoding, strict decoding', () => {
  assert.deepEqual([...leaseIdToBytes(0x1234n)], [0, 0, 0, 0, 0, 0, 0x12, 0x34]);
  assert.equal(bytesToLeaseId(leaseIdToBytes(0x7fff_0000_1234_5678n)), 0x7fff_0000_1234_5678n);
  const v = encodeLeaseRecord({ id: 0x1234n, ttl: 10n, remainingTtl: 0n });
  assert.deepEqual([...v], [0x08, 0xb4, 0x24, 0x10, 0x0a]);
  const r = { id: 0x694d_9000_0000_0001n, ttl: 9_000_000_000n, remainingTtl: 42n };
  assert.deepEqual(decodeLeaseRecord(encodeLeaseRecord(r)), r);
  assert.deepEqual(decodeLeaseRecord(encodeLeaseRecord({ id: -5n, ttl: 1n, remainingTtl: 0n })).id, -5n);
  assert.throws(() => decodeLeaseRecord(Uint8Array.of(0x08, 0xff)), LeaseRecordError);
  assert.throws(() => decodeLeaseRecord(Uint8Array.of(0x22, 0x7f, 0x00)), LeaseRecordError);
  assert.throws(() => bytesToLeaseId(new Uint8Array(3)), LeaseRecordError);
  // unknown fields are skipped
  assert.deepEqual(decodeLeaseRecord(Uint8Array.of(0x20, 0x01, 0x10, 0x03)), { id: 0n, ttl: 3n, remainingTtl: 0n });
});

test('expiry heap: ordered by time then id, updated in place', () => {
  const q = new LeaseExpiredNotifier();
  const times = [50, 10, 40, 10, 30, 20, 60, 5];
  times.forEach((t, i) => q.registerOrUpdate(BigInt(i), t));
  q.registerOrUpdate(6n, 1); // 60 -> 1
  q.unregister(2n);
  assert.equal(q.len(), 7);
  const out: string[] = [];
  for (let it = q.pop(); it; it = q.pop()) out.push(`${it.id}@${it.timeMs}`);
  assert.deepEqual(out, ['6@1', '7@5', '1@10', '3@10', '5@20', '4@30', '0@50']);
  assert.equal(q.has(1n), false);
});
