// The robustness runner's command line (fast; no servers).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgs, summarize } from './main.js';
import { FAULTS } from './runner.js';

test('robustness main: defaults, ROBUSTNESS_RUNS, flags and bad input', () => {
  const d = parseArgs([], {});
  assert.deepEqual(d.targets.map((t) => t.name), ['ours']);
  assert.equal(d.seeds.length, 36);
  assert.equal(d.minRate, 200);
  assert.equal(d.strictBookmarks, false);
  assert.equal(parseArgs([], { ROBUSTNESS_RUNS: '100' }).seeds.length, 100);
  const o = parseArgs(['--target', 'both', '--runs=3', '--seed', '10', '--fault', 'pause-leader', '--min-rate', '0'], {});
  assert.deepEqual(o.targets.map((t) => t.name), ['real', 'ours']);
  assert.deepEqual(o.seeds, [10, 11, 12]);
  assert.equal(o.fault, 'pause-leader');
  assert.deepEqual(parseArgs(['--seeds', '4,7'], {}).seeds, [4, 7]);
  assert.throws(() => parseArgs(['--target', 'x'], {}), /--target must be ours, real or both/);
  assert.throws(() => parseArgs(['--fault', 'x'], {}), /--fault must be one of/);
  assert.throws(() => parseArgs(['--runs', '-1'], {}), /non-negative integer/);
  assert.throws(() => parseArgs(['--bogus', '1'], {}), /unknown flag --bogus/);
  assert.throws(() => parseArgs(['--runs'], {}), /--runs needs a value/);
  assert.equal(FAULTS.length, 12);
  assert.deepEqual(summarize([]), { runs: 0, operations: 0, linearizabilityChecked: 0, watchEvents: 0, ambiguous: 0, faults: {}, violations: 0, known: 0, slowRuns: 0, rateRange: [0, 0], failedRuns: 0 });
});
