// keyIndex: generations, get at a revision, since, compact and keep (the cases of etcd's
// key_index_test.go, written as tables of generations).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyIndex } from '../../../src/server/mvcc/key-index.js';
import { ErrRevisionNotFound, MvccInvariantError } from '../../../src/server/mvcc/errors.js';
import { RevisionSet, type Revision } from '../../../src/server/mvcc/revision.js';

const key = new TextEncoder().encode('foo');
const fmt = (r: Revision): string => (r.sub === 0 ? `${r.main}` : `${r.main}.${r.sub}`);
/** Generations as arrays of "main" / "main.sub" strings. */
const gens = (ki: KeyIndex): string[][] => ki.generations.map((g) => g.revs.map(fmt));
const set = (s: RevisionSet): string[] => s.sorted().map(fmt);

/** The module comment's example: put 1, put 2, delete 3, put 4, delete 5. */
function docExample(): KeyIndex {
  const ki = new KeyIndex(key);
  ki.put(1, 0);
  ki.put(2, 0);
  ki.tombstone(3, 0);
  ki.put(4, 0);
  ki.tombstone(5, 0);
  return ki;
}

/** etcd's newTestKeyIndex: put 2, put 4, del 6, put 8, put 10, del 12, put 14, put 14.1, del 16. */
function testKeyIndex(): KeyIndex {
  const ki = new KeyIndex(key);
  ki.put(2, 0);
  ki.put(4, 0);
  ki.tombstone(6, 0);
  ki.put(8, 0);
  ki.put(10, 0);
  ki.tombstone(12, 0);
  ki.put(14, 0);
  ki.put(14, 1);
  ki.tombstone(16, 0);
  return ki;
}

describe('keyIndex: the worked example of the module comment', () => {
  test('generations after put 1, put 2, del 3, put 4, del 5', () => {
    const ki = docExample();
    assert.deepEqual(gens(ki), [['1', '2', '3'], ['4', '5'], []]);
    assert.deepEqual(ki.modified, { main: 5, sub: 0 });
    assert.equal(ki.generations[0]!.ver, 3);
    assert.deepEqual(ki.generations[1]!.created, { main: 4, sub: 0 });
  });

  test('get', () => {
    const ki = docExample();
    assert.deepEqual(ki.get(2), { modified: { main: 2, sub: 0 }, created: { main: 1, sub: 0 }, ver: 2 });
    assert.equal(ki.get(3), undefined);
    assert.deepEqual(ki.get(4), { modified: { main: 4, sub: 0 }, created: { main: 4, sub: 0 }, ver: 1 });
    assert.equal(ki.get(5), undefined);
    assert.equal(ki.get(0), undefined);
  });

  const cases: [number, string[][], string[]][] = [
    [2, [['2', '3'], ['4', '5'], []], ['2']],
    [4, [['4', '5'], []], ['4']],
    [5, [[]], []],
    [6, [[]], []],
  ];
  for (const [at, want, keep] of cases) {
    test(`compact(${at})`, () => {
      const ki = docExample();
      const avail = new RevisionSet();
      ki.compact(at, avail);
      assert.deepEqual(gens(ki), want);
      assert.deepEqual(set(avail), keep);
      assert.equal(ki.isEmpty(), want.length === 1 && want[0]!.length === 0);
    });
  }
});

describe('keyIndex', () => {
  test('get at every revision after compact(4)', () => {
    const ki = testKeyIndex();
    ki.compact(4, new RevisionSet());
    const want: Record<number, [string, string, number] | undefined> = {
      17: undefined, 16: undefined,
      15: ['14.1', '14', 2], 14: ['14.1', '14', 2],
      13: undefined, 12: undefined,
      11: ['10', '8', 2], 10: ['10', '8', 2],
      9: ['8', '8', 1], 8: ['8', '8', 1],
      7: undefined, 6: undefined,
      5: ['4', '2', 2], 4: ['4', '2', 2],
      3: undefined, 2: undefined, 1: undefined, 0: undefined,
    };
    for (let at = 17; at >= 0; at--) {
      const g = ki.get(at);
      const got = g ? [fmt(g.modified), fmt(g.created), g.ver] : undefined;
      assert.deepEqual(got, want[at], `get(${at})`);
    }
  });

  test('since: one revision per main revision (the highest sub), oldest first', () => {
    const ki = testKeyIndex();
    ki.compact(4, new RevisionSet());
    const all = ['4', '6', '8', '10', '12', '14.1', '16'];
    const want: [number, string[]][] = [
      [17, []], [16, all.slice(6)], [15, all.slice(6)], [14, all.slice(5)], [13, all.slice(5)],
      [12, all.slice(4)], [11, all.slice(4)], [10, all.slice(3)], [9, all.slice(3)], [8, all.slice(2)],
      [7, all.slice(2)], [6, all.slice(1)], [5, all.slice(1)], [4, all], [3, all], [0, all],
    ];
    for (const [at, revs] of want) assert.deepEqual(ki.since(at).map(fmt), revs, `since(${at})`);
  });

  test('put: creates a generation, counts versions, rejects an older revision', () => {
    const ki = new KeyIndex(key);
    ki.put(5, 0);
    assert.deepEqual(gens(ki), [['5']]);
    assert.deepEqual(ki.generations[0]!.created, { main: 5, sub: 0 });
    ki.put(7, 0);
    assert.equal(ki.generations[0]!.ver, 2);
    assert.throws(() => ki.put(7, 0), MvccInvariantError);
    assert.throws(() => ki.put(6, 3), MvccInvariantError);
    ki.put(7, 1);
    assert.deepEqual(ki.modified, { main: 7, sub: 1 });
  });

  test('tombstone: closes the generation; twice in a row is ErrRevisionNotFound; needs history', () => {
    const ki = new KeyIndex(key);
    assert.throws(() => ki.tombstone(1, 0), MvccInvariantError);
    ki.put(5, 0);
    ki.tombstone(7, 0);
    assert.deepEqual(gens(ki), [['5', '7'], []]);
    assert.throws(() => ki.tombstone(8, 0), ErrRevisionNotFound);
    ki.put(8, 0);
    ki.tombstone(9, 0);
    assert.deepEqual(gens(ki), [['5', '7'], ['8', '9'], []]);
  });

  test('restore: one generation from a stored revision', () => {
    const ki = new KeyIndex(key);
    ki.restore({ main: 5, sub: 0 }, { main: 7, sub: 0 }, 2);
    ki.tombstone(9, 0);
    assert.deepEqual(gens(ki), [['7', '9'], []]);
    assert.equal(ki.generations[0]!.ver, 3);
    assert.deepEqual(ki.get(8), { modified: { main: 7, sub: 0 }, created: { main: 5, sub: 0 }, ver: 2 });
    assert.throws(() => ki.restore({ main: 1, sub: 0 }, { main: 1, sub: 0 }, 1), MvccInvariantError);
  });

  // compact(at) on a fresh index: remaining generations and the revisions to keep
  const compactCases: [number, string[][], string[]][] = [
    [1, [['2', '4', '6'], ['8', '10', '12'], ['14', '14.1', '16'], []], []],
    [2, [['2', '4', '6'], ['8', '10', '12'], ['14', '14.1', '16'], []], ['2']],
    [3, [['2', '4', '6'], ['8', '10', '12'], ['14', '14.1', '16'], []], ['2']],
    [4, [['4', '6'], ['8', '10', '12'], ['14', '14.1', '16'], []], ['4']],
    [5, [['4', '6'], ['8', '10', '12'], ['14', '14.1', '16'], []], ['4']],
    [6, [['8', '10', '12'], ['14', '14.1', '16'], []], []],
    [7, [['8', '10', '12'], ['14', '14.1', '16'], []], []],
    [8, [['8', '10', '12'], ['14', '14.1', '16'], []], ['8']],
    [9, [['8', '10', '12'], ['14', '14.1', '16'], []], ['8']],
    [10, [['10', '12'], ['14', '14.1', '16'], []], ['10']],
    [11, [['10', '12'], ['14', '14.1', '16'], []], ['10']],
    [12, [['14', '14.1', '16'], []], []],
    [13, [['14', '14.1', '16'], []], []],
    [14, [['14.1', '16'], []], ['14.1']],
    [15, [['14.1', '16'], []], ['14.1']],
    [16, [[]], []],
    [17, [[]], []],
  ];

  test('compact at each revision, keep agrees with compact, and compacting step by step gives the same', () => {
    const stepwise = testKeyIndex();
    for (const [at, want, keep] of compactCases) {
      const fresh = testKeyIndex();
      const avail = new RevisionSet();
      fresh.compact(at, avail);
      assert.deepEqual(gens(fresh), want, `compact(${at}) generations`);
      assert.deepEqual(set(avail), keep, `compact(${at}) available`);
      // created and ver survive compaction
      for (const g of fresh.generations) if (!g.isEmpty()) assert.equal(g.ver, 3);

      const kept = new RevisionSet();
      const untouched = testKeyIndex();
      untouched.keep(at, kept);
      assert.deepEqual(set(kept), keep, `keep(${at})`);
      assert.ok(untouched.equal(testKeyIndex()), 'keep does not change the index');

      if (!stepwise.isEmpty()) {
        const s = new RevisionSet();
        stepwise.compact(at, s);
        assert.deepEqual(gens(stepwise), want, `stepwise compact(${at})`);
        assert.deepEqual(set(s), keep, `stepwise compact(${at}) available`);
      }
    }
  });

  test('compacting again at the same or an older revision changes nothing', () => {
    const ki = testKeyIndex();
    ki.compact(10, new RevisionSet());
    const before = gens(ki);
    for (const at of [10, 9, 4]) {
      const avail = new RevisionSet();
      ki.compact(at, avail);
      assert.deepEqual(gens(ki), before);
    }
  });

  test('findGeneration: the generation live at a revision, none in the gaps', () => {
    const ki = testKeyIndex();
    const created = (at: number): number | undefined => ki.findGeneration(at)?.created.main;
    assert.equal(created(0), undefined);
    assert.equal(created(1), undefined);
    assert.equal(created(2), 2);
    assert.equal(created(5), 2);
    assert.equal(created(6), undefined);
    assert.equal(created(7), undefined);
    assert.equal(created(8), 8);
    assert.equal(created(12), undefined);
    assert.equal(created(14), 14);
    assert.equal(created(15), 14);
    assert.equal(created(16), undefined);
    assert.equal(created(100), undefined);
  });

  test('isEmpty and the generation walk', () => {
    const ki = new KeyIndex(key);
    assert.ok(ki.isEmpty());
    ki.put(1, 0);
    assert.ok(!ki.isEmpty());
    const g = testKeyIndex().generations[0]!;
    const seen: number[] = [];
    assert.equal(g.walk((r) => (seen.push(r.main), r.main > 2)), 0);
    assert.deepEqual(seen, [6, 4, 2]);
    assert.equal(g.walk(() => true), -1);
  });
});
