// ReadIndexBatcher (read-index.ts): one raft ReadIndex per batch of linearizable reads,
// resolved once the read index is applied; an unanswered request is retried with a new
// context after 500 ms; failAll rejects everyone waiting.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadIndexBatcher, readU64be, u64be, type ReadIndexHost } from '../../../src/server/etcdserver/read-index.js';

function fakeHost() {
  let id = 100n;
  const asked: bigint[] = [];
  const applied: Array<{ index: number; release: () => void }> = [];
  const host: ReadIndexHost = {
    nextId: () => ++id,
    readIndex: (ctx) => void asked.push(readU64be(ctx)),
    waitApplied: (index) => new Promise<void>((r) => applied.push({ index, release: r })),
    stoppedError: () => new Error('stopped'),
  };
  return { host, asked, applied };
}

test('u64be / readU64be round-trip; other lengths are no ID', () => {
  assert.equal(readU64be(u64be(0xfedcba9876543210n)), 0xfedcba9876543210n);
  assert.equal(readU64be(new Uint8Array(3)), -1n);
});

test('reads waiting together share one ReadIndex; later ones form the next batch', async () => {
  const { host, asked, applied } = fakeHost();
  const b = new ReadIndexBatcher(host);
  const done: number[] = [];
  b.wait().then(() => done.push(1));
  await new Promise((r) => setImmediate(r));
  b.wait().then(() => done.push(2)); // arrives while the first ReadIndex is in flight
  assert.deepEqual(asked, [101n]);
  b.onReadStates([{ index: 7, requestCtx: u64be(999n) }]); // someone else's context: ignored
  assert.equal(applied.length, 0);
  b.onReadStates([{ index: 7, requestCtx: u64be(101n) }]);
  assert.deepEqual(applied.map((a) => a.index), [7]);
  assert.deepEqual(asked, [101n, 102n], 'the second batch asks at once');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(done, [], 'nothing resolves before the read index is applied');
  applied[0]!.release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(done, [1]);
  b.onReadStates([{ index: 9, requestCtx: u64be(102n) }]);
  applied[1]!.release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(done, [1, 2]);
});

test('an unanswered ReadIndex is retried with a new context; failAll rejects the waiters', async () => {
  const { host, asked } = fakeHost();
  const b = new ReadIndexBatcher(host);
  const p = b.wait();
  assert.deepEqual(asked, [101n]);
  await new Promise((r) => setTimeout(r, 650));
  assert.deepEqual(asked, [101n, 102n]);
  b.failAll(new Error('member stopped'));
  await assert.rejects(p, /member stopped/);
});

test('raft refusing the request rejects the batch with the stopped error', async () => {
  const { host } = fakeHost();
  const b = new ReadIndexBatcher({ ...host, readIndex: () => { throw new Error('raft node stopped'); } });
  await assert.rejects(b.wait(), /^Error: stopped$/);
});
