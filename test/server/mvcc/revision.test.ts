// Revisions: the 17-byte backend key, the tombstone mark, ordering.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareBytes } from '../../../src/server/backend/backend.js';
import {
  bytesToRev,
  compareRevisions,
  isTombstone,
  revGreaterThan,
  revToBytes,
  RevisionSet,
} from '../../../src/server/mvcc/revision.js';
import { MvccInvariantError } from '../../../src/server/mvcc/errors.js';

test('revision bytes: 8 bytes main, "_", 8 bytes sub, big-endian', () => {
  assert.deepEqual([...revToBytes({ main: 5, sub: 1 })], [0, 0, 0, 0, 0, 0, 0, 5, 0x5f, 0, 0, 0, 0, 0, 0, 0, 1]);
  const big = { main: 2 ** 40 + 258, sub: 2 ** 32 };
  assert.deepEqual([...revToBytes(big)], [0, 0, 1, 0, 0, 0, 1, 2, 0x5f, 0, 0, 0, 1, 0, 0, 0, 0]);
  assert.deepEqual(bytesToRev(revToBytes(big)), big);
  assert.deepEqual(bytesToRev(revToBytes({ main: Number.MAX_SAFE_INTEGER, sub: 0 })), { main: Number.MAX_SAFE_INTEGER, sub: 0 });
  assert.throws(() => revToBytes({ main: -1, sub: 0 }), MvccInvariantError);
  assert.throws(() => bytesToRev(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x5f, 0, 0, 0, 0, 0, 0, 0, 0)), MvccInvariantError);
});

test('tombstone mark: an 18th byte "t"', () => {
  const t = revToBytes({ main: 3, sub: 0 }, true);
  assert.equal(t.length, 18);
  assert.equal(t[17], 0x74);
  assert.ok(isTombstone(t));
  assert.ok(!isTombstone(revToBytes({ main: 3, sub: 0 })));
  assert.deepEqual(bytesToRev(t), { main: 3, sub: 0 });
});

test('byte order of encoded revisions is revision order', () => {
  const revs = [
    { main: 1, sub: 0 }, { main: 1, sub: 1 }, { main: 1, sub: 256 }, { main: 2, sub: 0 },
    { main: 255, sub: 0 }, { main: 256, sub: 0 }, { main: 2 ** 33, sub: 0 },
  ];
  for (let i = 0; i + 1 < revs.length; i++) {
    const [a, b] = [revs[i]!, revs[i + 1]!];
    assert.ok(compareBytes(revToBytes(a), revToBytes(b)) < 0);
    assert.ok(compareRevisions(a, b) < 0);
    assert.ok(revGreaterThan(b, a) && !revGreaterThan(a, b) && !revGreaterThan(a, a));
    // a tombstone key sorts right after the plain key of the same revision, before the next revision
    assert.ok(compareBytes(revToBytes(a, true), revToBytes(b)) < 0);
  }
});

test('RevisionSet', () => {
  const s = new RevisionSet();
  s.add({ main: 2, sub: 1 });
  s.add({ main: 1, sub: 0 });
  s.add({ main: 2, sub: 1 });
  assert.equal(s.size, 2);
  assert.ok(s.has({ main: 2, sub: 1 }));
  assert.deepEqual(s.sorted(), [{ main: 1, sub: 0 }, { main: 2, sub: 1 }]);
  s.delete({ main: 1, sub: 0 });
  assert.ok(!s.has({ main: 1, sub: 0 }));
});
