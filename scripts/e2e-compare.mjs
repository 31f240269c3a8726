#!/usr/bin/env node
// Compares e2e results (scripts/etcd-e2e.mjs results.json: {test: PASS|FAIL|SKIP|STALL|CRASH})
// with a reference run (real etcd 3.4.23 + real etcdctl), over the tests both ran.
//
//   node scripts/e2e-compare.mjs [--ref REF.json] [--label TEXT] RESULTS.json
//
// Prints the counts, then every test that passes in the reference and not in RESULTS,
// by name with its verdict. Exit status: 0 when there is none, 1 otherwise, 2 for bad input.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checked-in reference: real etcd 3.4.23 with real etcdctl 3.4.23, the default test set. */
export const DEFAULT_REF = path.join(path.dirname(fileURLToPath(import.meta.url)), 'e2e', 'reference-3.4.23.json');

/** Reads a results.json; throws Error naming the file when it is not one. */
export function readResults(file) {
  let o;
  try {
    o = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${e.message}`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o) || !Object.values(o).every((v) => typeof v === 'string')) {
    throw new Error(`${file}: not an e2e results file ({"TestName": "PASS", ...})`);
  }
  return o;
}

/**
 * Compares `res` with `ref` over the tests in both.
 * @returns {{ compared: number, refPassed: number, passed: number, regressions: [string, string][], gained: string[] }}
 *   regressions: [test, verdict] passing in ref but not in res; gained: passing in res but not in ref.
 */
export function compareResults(ref, res) {
  const names = Object.keys(res).filter((t) => t in ref);
  const regressions = [];
  const gained = [];
  let refPassed = 0;
  let passed = 0;
  for (const t of names) {
    if (ref[t] === 'PASS') refPassed++;
    if (res[t] === 'PASS') passed++;
    if (ref[t] === 'PASS' && res[t] !== 'PASS') regressions.push([t, res[t]]);
    if (ref[t] !== 'PASS' && res[t] === 'PASS') gained.push(t);
  }
  return { compared: names.length, refPassed, passed, regressions, gained };
}

/** Prints the comparison; returns the number of regressions. */
export function report(label, c, refLabel = 'reference') {
  console.log(`${label}: ${c.passed}/${c.compared} passed (${refLabel}: ${c.refPassed}/${c.compared}); ${c.regressions.length} pass on real etcd and fail here${c.gained.length ? `; ${c.gained.length} pass here only` : ''}`);
  for (const [t, v] of c.regressions) console.log(`  ${v.padEnd(5)} ${t}`);
  return c.regressions.length;
}

function main(argv) {
  let ref = DEFAULT_REF;
  let label;
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--ref') ref = argv[++i];
    else if (a.startsWith('--ref=')) ref = a.slice(6);
    else if (a === '--label') label = argv[++i];
    else if (a.startsWith('--label=')) label = a.slice(8);
    else if (a.startsWith('--')) throw new Error(`e2e-compare: unknown flag ${a}`);
    else files.push(a);
  }
  if (files.length !== 1 || !ref) throw new Error('usage: e2e-compare [--ref REF.json] [--label TEXT] RESULTS.json');
  const c = compareResults(readResults(ref), readResults(files[0]));
  if (c.compared === 0) throw new Error(`e2e-compare: ${files[0]} has no test in common with ${ref}`);
  return report(label ?? files[0], c) > 0 ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exitCode = 2;
  }
}
