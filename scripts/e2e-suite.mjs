#!/usr/bin/env node
// etcd 3.4.23's e2e suite against this project, in both pairings, compared with a reference
// run (npm run test:e2e / test:e2e-quick):
//   1. our etcd (bin/etcd) with the real etcdctl (/usr/bin/etcdctl);
//   2. the real etcd (/usr/bin/etcd) with our etcdctl (bin/etcdctl).
//
//   node scripts/e2e-suite.mjs [--quick] [--ref REF.json | --ref-run] [--only etcd|etcdctl] [--out DIR]
//
// --quick    only the tests in scripts/e2e/quick.txt (a dozen single-member tests, for CI)
// --ref      reference results (default: scripts/e2e/reference-3.4.23.json, real etcd + real etcdctl)
// --ref-run  produce the reference now (real etcd + real etcdctl, same tests) instead
// --only     run one pairing: "etcd" (ours × real etcdctl) or "etcdctl" (real etcd × ours)
// --out      results go to DIR/<pairing>/ (default: e2e-out/suite-<time>)
//
// Each pairing runs through scripts/etcd-e2e.sh (private network namespace and /tmp when root).
// Prints per pairing the pass counts and, by name, each test that passes on the reference
// and not here; exits 1 if there is any such test (2 if a run could not be done).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_REF, compareResults, readResults, report } from './e2e-compare.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const QUICK = path.join(ROOT, 'scripts', 'e2e', 'quick.txt');
const REAL_ETCD = process.env.ETCD_BIN || '/usr/bin/etcd';
const REAL_ETCDCTL = process.env.REAL_ETCDCTL || '/usr/bin/etcdctl';

function parseArgs(argv) {
  const o = { quick: false, ref: undefined, refRun: false, only: undefined, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i].split(/=(.*)/s);
    const val = () => inline ?? argv[++i];
    if (k === '--quick') o.quick = true;
    else if (k === '--ref-run') o.refRun = true;
    else if (k === '--ref') o.ref = val();
    else if (k === '--only') o.only = val();
    else if (k === '--out') o.out = val();
    else throw new Error(`e2e-suite: unknown argument ${argv[i]}`);
  }
  if (o.only !== undefined && o.only !== 'etcd' && o.only !== 'etcdctl') throw new Error('e2e-suite: --only takes "etcd" or "etcdctl"');
  if (o.ref && o.refRun) throw new Error('e2e-suite: give --ref or --ref-run, not both');
  return o;
}

/** Test names of the quick subset: one per line, # comments. */
function quickTests() {
  return fs
    .readFileSync(QUICK, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

/** Runs the suite for one pairing into `out`; returns its results. Throws if no results were written. */
function runPairing(label, etcd, etcdctl, out, tests) {
  console.log(`== ${label}: etcd ${etcd}, etcdctl ${etcdctl}`);
  fs.mkdirSync(out, { recursive: true });
  const args = [path.join(ROOT, 'scripts', 'etcd-e2e.sh'), '--etcd', etcd, '--etcdctl', etcdctl, '--out', out];
  if (tests) args.push('--tests', tests.join(','));
  const r = spawnSync('sh', args, { cwd: ROOT, stdio: 'inherit' });
  const file = path.join(out, 'results.json');
  if (r.status !== 0 || !fs.existsSync(file)) throw new Error(`e2e-suite: the ${label} run failed (exit ${r.status ?? r.signal})`);
  return readResults(file);
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  for (const f of ['dist/etcd.cjs', 'dist/etcdctl.cjs']) {
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`e2e-suite: ${f} is missing: run npm run build`);
  }
  const tests = o.quick ? quickTests() : undefined;
  const out = path.resolve(o.out ?? path.join(ROOT, 'e2e-out', `suite-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  let ref;
  let refLabel = 'reference';
  if (o.refRun) {
    ref = runPairing('reference (real etcd × real etcdctl)', REAL_ETCD, REAL_ETCDCTL, path.join(out, 'reference'), tests);
  } else {
    ref = readResults(o.ref ?? DEFAULT_REF);
    refLabel = path.relative(ROOT, o.ref ?? DEFAULT_REF);
  }
  const pairings = [
    ['etcd', 'our etcd × real etcdctl', path.join(ROOT, 'bin', 'etcd'), REAL_ETCDCTL],
    ['etcdctl', 'real etcd × our etcdctl', REAL_ETCD, path.join(ROOT, 'bin', 'etcdctl')],
  ].filter(([k]) => !o.only || o.only === k);
  const compared = [];
  for (const [key, label, etcd, etcdctl] of pairings) {
    compared.push([label, compareResults(ref, runPairing(label, etcd, etcdctl, path.join(out, `ours-${key}`), tests))]);
  }
  console.log(`== compared with ${refLabel} (results in ${path.relative(process.cwd(), out) || '.'})`);
  let bad = 0;
  for (const [label, c] of compared) bad += report(label, c, 'real etcd');
  return bad > 0 ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(e.message);
  process.exitCode = 2;
}
