// The Raft core in src/server/raft must stay pure (architecture.md §5, "Rules that keep
// the Raft core pure"): no I/O, clocks, randomness, timers or async code. Its own
// tsconfig (types: [], lib ES2022) already makes Node globals fail to compile; this test
// also catches what type-checking cannot: async/await, Promise, Date, Math.random,
// console and node: imports, which are all valid ES2022.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../../harness/run.js';

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tsFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** Removes block and line comments (docstrings may mention forbidden words). */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"\\])\/\/.*$/gm, '$1');
}

const FORBIDDEN: ReadonlyArray<[RegExp, string]> = [
  [/\basync\b/, 'async'],
  [/\bawait\b/, 'await'],
  [/\bPromise\b/, 'Promise'],
  [/\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/, 'timers'],
  [/\bDate\b/, 'Date'],
  [/\bperformance\b/, 'performance'],
  [/Math\.random/, 'Math.random'],
  [/\bprocess\./, 'process.'],
  [/\bBuffer\b/, 'Buffer'],
  [/\bconsole\./, 'console'],
  [/from\s+['"]node:/, "from 'node:"],
  [/\brequire\s*\(/, 'require('],
  [/\bimport\s*\(/, 'dynamic import'],
  [/from\s+['"](?!\.)/, 'package import (only relative imports are allowed)'],
];

test('src/server/raft uses no I/O, time, randomness or async code', () => {
  const root = REPO_ROOT;
  const files = tsFiles(join(root, 'src/server/raft'));
  assert.ok(files.length > 10, `expected the raft sources, found ${files.length} files`);
  const violations: string[] = [];
  for (const f of files) {
    const lines = stripComments(readFileSync(f, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      for (const [re, what] of FORBIDDEN) {
        if (re.test(line)) violations.push(`${relative(root, f)}:${i + 1}: ${what}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(violations, []);
});

test('src/server/raft/tsconfig.json compiles without Node types', () => {
  const cfg = JSON.parse(readFileSync(join(REPO_ROOT, 'src/server/raft/tsconfig.json'), 'utf8')) as {
    compilerOptions: { types: string[]; lib: string[]; noEmit: boolean };
  };
  assert.deepEqual(cfg.compilerOptions.types, []);
  assert.deepEqual(cfg.compilerOptions.lib, ['ES2022']);
  assert.equal(cfg.compilerOptions.noEmit, true);
});
