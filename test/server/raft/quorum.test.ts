// Pure helpers of the core: majority arithmetic (quorum/majority.go) and the inflights
// window (tracker/inflights.go).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { committedIndex, voteResult, VoteResult } from '../../../src/server/raft/quorum/majority.js';
import { Inflights } from '../../../src/server/raft/tracker/inflights.js';

test('committedIndex is the largest index acknowledged by a majority', () => {
  const voters = new Set([1n, 2n, 3n, 4n, 5n]);
  const acked = new Map([[1n, 9], [2n, 7], [3n, 7], [4n, 3], [5n, 2]]);
  assert.equal(committedIndex(voters, (id) => acked.get(id)), 7);
  // missing acknowledgements count as 0
  assert.equal(committedIndex(new Set([1n, 2n, 3n]), (id) => (id === 1n ? 5 : undefined)), 0);
  assert.equal(committedIndex(new Set([1n, 2n, 3n, 4n]), (id) => Number(id)), 2, 'even size: 3 of 4 needed');
  assert.equal(committedIndex(new Set(), () => 0), Infinity);
});

test('voteResult: won with a majority of yes, lost once a majority is impossible, pending otherwise', () => {
  const v = new Set([1n, 2n, 3n]);
  assert.equal(voteResult(v, new Map([[1n, true]])), VoteResult.VotePending);
  assert.equal(voteResult(v, new Map([[1n, true], [2n, true]])), VoteResult.VoteWon);
  assert.equal(voteResult(v, new Map([[1n, true], [2n, false]])), VoteResult.VotePending);
  assert.equal(voteResult(v, new Map([[1n, true], [2n, false], [3n, false]])), VoteResult.VoteLost);
  // votes of non-voters (learners) do not count
  assert.equal(voteResult(v, new Map([[1n, true], [9n, true]])), VoteResult.VotePending);
  assert.equal(voteResult(new Set(), new Map()), VoteResult.VoteWon);
});

test('Inflights: bounded window, freed up to an acknowledged index', () => {
  const w = new Inflights(3);
  w.add(5);
  w.add(8);
  w.add(9);
  assert.equal(w.full(), true);
  assert.throws(() => w.add(10), /Full/);
  w.freeLE(8);
  assert.equal(w.count(), 1);
  w.freeFirstOne();
  assert.equal(w.count(), 0);
});

test('Inflights: a byte limit fills the window before the message count does', () => {
  const w = new Inflights(9, 100);
  w.add(5, 60);
  assert.equal(w.full(), false);
  w.add(6, 50); // crosses the limit: sent, then full
  assert.equal(w.full(), true);
  assert.equal(w.bytes(), 110);
  w.freeLE(5);
  assert.deepEqual([w.full(), w.bytes(), w.count()], [false, 50, 1]);
  const c = w.clone();
  w.freeFirstOne();
  assert.deepEqual([w.bytes(), c.bytes(), c.maxBytes], [0, 50, 100]);
  w.add(7, 500);
  w.reset();
  assert.deepEqual([w.bytes(), w.count()], [0, 0]);
});
