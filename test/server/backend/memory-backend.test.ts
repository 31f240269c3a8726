// The in-memory backend: the shared conformance suite plus its own batch-limit rules.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBackend } from '../../../src/server/backend/memory-backend.js';
import { runBackendSuite } from './backend.case.js';

runBackendSuite({
  name: 'memory',
  create: () => new MemoryBackend(),
  reopen: (be) => (be as MemoryBackend).reopenCommitted(),
});

const b = (s: string): Uint8Array => new TextEncoder().encode(s);

test('memory backend: commits by itself when the batch limit is reached at unlock', () => {
  const be = new MemoryBackend({ batchLimit: 3 });
  const tx = be.batchTx();
  tx.lock();
  tx.createBucket('kv');
  tx.put('kv', b('a'), b('1'));
  tx.unlock();
  assert.equal(be.commitCount(), 0);
  assert.equal(be.reopenCommitted().readTx().get('kv', b('a')), undefined);
  tx.lock();
  tx.put('kv', b('b'), b('2'));
  tx.unlock();
  assert.equal(be.commitCount(), 1);
  assert.equal(tx.pending(), 0);
  assert.deepEqual(be.reopenCommitted().readTx().get('kv', b('b')), b('2'));
});

test('memory backend: close commits, and a closed backend refuses work', () => {
  const be = new MemoryBackend();
  const tx = be.batchTx();
  tx.lock();
  tx.createBucket('kv');
  tx.put('kv', b('a'), b('1'));
  tx.unlock();
  be.close();
  assert.deepEqual(be.reopenCommitted().readTx().get('kv', b('a')), b('1'));
  assert.throws(() => be.readTx(), /closed/);
  assert.throws(() => tx.lock(), /closed/);
});

test('memory backend: a reopened copy and the original evolve independently', () => {
  const be = new MemoryBackend();
  const tx = be.batchTx();
  tx.lock();
  tx.createBucket('kv');
  tx.put('kv', b('a'), b('1'));
  tx.unlock();
  be.forceCommit();
  const copy = be.reopenCommitted();
  const ctx = copy.batchTx();
  ctx.lock();
  ctx.put('kv', b('a'), b('copy'));
  ctx.unlock();
  tx.lock();
  tx.put('kv', b('z'), b('orig'));
  tx.unlock();
  assert.deepEqual(be.readTx().get('kv', b('a')), b('1'));
  assert.equal(copy.readTx().get('kv', b('z')), undefined);
  assert.deepEqual(copy.readTx().get('kv', b('a')), b('copy'));
});
