import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SlotMap } from '../../src/util/slot-map.js';

test('SlotMap: set, get, has, take, values and drain behave as a Map', () => {
  const m = new SlotMap<bigint, string>();
  assert.equal(m.size, 0);
  assert.equal(m.take(1n), undefined);
  m.set(1n, 'a');
  m.set(2n, 'b');
  m.set(1n, 'c'); // replaces, keeps the insertion order
  assert.equal(m.size, 2);
  assert.equal(m.get(1n), 'c');
  assert.ok(m.has(2n));
  assert.deepEqual([...m.values()], ['c', 'b']);
  assert.equal(m.take(1n), 'c');
  assert.equal(m.has(1n), false);
  assert.equal(m.get(1n), undefined);
  m.set(3n, 'd');
  assert.deepEqual(m.drain(), [[2n, 'b'], [3n, 'd']]);
  assert.equal(m.size, 0);
});

/** V8's garbage collector, from a context made while --expose-gc is set. */
function exposedGc(): (o?: { type: 'major' | 'minor' }) => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as (o?: { type: 'major' | 'minor' }) => void;
}

/** Bytes in use in V8's old generation (old space and large objects). */
function oldBytes(): number {
  let n = 0;
  for (const sp of getHeapSpaceStatistics()) if (sp.space_name === 'old_space' || sp.space_name === 'large_object_space') n += sp.space_used_size;
  return n;
}

/**
 * Churns 20000 keys through a map whose table is in the old generation (100 live at a
 * time, as requests in flight), each value holding about 1 KiB, removes them all, and
 * returns how many bytes young-generation collections moved to the old generation
 * meanwhile. Values that are removed before a collection should not get there.
 */
function promotedByChurn(map: { set(k: number, v: object): void; take(k: number): void }): number {
  const gc = exposedGc();
  for (let i = 0; i < 1000; i++) map.set(-1 - i, {});
  for (let i = 0; i < 1000; i++) map.take(-1 - i);
  gc();
  gc(); // the map and its table are old now
  const before = oldBytes();
  for (let i = 0; i < 20000; i++) {
    map.set(i, { i, payload: new Array(128).fill(i) });
    if (i >= 100) map.take(i - 100);
  }
  for (let i = 19900; i < 20000; i++) map.take(i);
  gc({ type: 'minor' });
  gc({ type: 'minor' });
  return oldBytes() - before;
}

test('SlotMap: removed values are not kept alive by the tables a rehash leaves in the old generation (a Map\'s are)', (t) => {
  const plain = new Map<number, object>();
  const byMap = promotedByChurn({ set: (k, v) => plain.set(k, v), take: (k) => plain.delete(k) });
  const slots = new SlotMap<number, object>();
  const bySlotMap = promotedByChurn(slots);
  const mib = (n: number): string => (n / 2 ** 20).toFixed(2);
  t.diagnostic(`promoted: plain Map ${mib(byMap)} MiB, SlotMap ${mib(bySlotMap)} MiB`);
  // the premise: a plain Map's abandoned tables hold removed values through young collections
  assert.ok(byMap > 4 * 2 ** 20, `plain Map: ${mib(byMap)} MiB promoted`);
  assert.ok(bySlotMap < byMap / 4, `SlotMap: ${mib(bySlotMap)} MiB promoted, plain Map ${mib(byMap)} MiB`);
});
