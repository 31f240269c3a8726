#!/usr/bin/env node
// Runs etcd 3.4.23's own end-to-end suite (tests/e2e of Debian's golang-etcd-server-dev,
// /usr/share/gocode/src/go.etcd.io/etcd) with a chosen etcd and etcdctl, one test per
// process, and records each test's verdict.
//
//   node scripts/etcd-e2e.mjs [--etcd PATH] [--etcdctl PATH] [--run REGEX] [--tests A,B,...]
//                             [--stall SECONDS] [--out DIR] [--cache DIR]
//
// --etcd     the server (default: bin/etcd of this repository)
// --etcdctl  the client (default: /usr/bin/etcdctl)
// --run      which tests, a Go regex for -test.list (default: DEFAULT_RUN below)
// --tests    exact test names instead of --run (comma separated)
// --stall    a test with no verdict after this many seconds gets SIGQUIT and is "STALL" (default 60)
// --out      where results.json ({test: PASS|FAIL|SKIP|STALL|CRASH}), e2e.log and args/<test>.txt (the
//            etcd and etcdctl command lines each test ran) go (default: a new /tmp dir)
// --cache    where the compiled suite (e2e.test) is kept (default: $ETCD_E2E_CACHE or /var/cache/etcd-e2e)
//
// The suite needs golang-go and golang-etcd-server-dev (it is compiled with `go test -c` in
// GOPATH mode on first use), plus curl for the TestV3Curl* tests. It uses fixed ports from
// 20000 upward and fixed /tmp paths: scripts/etcd-e2e.sh runs this in a private network
// namespace and /tmp so that several runs can go on at once.
//
// Every process a test starts inherits E2E_RUN_TAG=<random>; after each test, processes
// still carrying this run's tag (servers a failed or stalled test left behind) are ended
// by PID. The last line printed is "N passed, M failed, K skipped".
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = '/usr/share/gocode/src/go.etcd.io/etcd';
const E2E_DIR = `${SRC}/tests/e2e`;
const CERT_DIR = `${SRC}/integration/fixtures`;
/** The suites that exercise etcd and etcdctl (the proxy/gateway-only and upgrade suites aside). */
export const DEFAULT_RUN = '^(TestCtlV3|TestV3Curl|TestEtcd|TestCtlV2|TestV2|TestIssue|TestMetrics|TestGateway|TestV3CipherSuite)';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = {
    etcd: path.join(ROOT, 'bin/etcd'),
    etcdctl: '/usr/bin/etcdctl',
    run: DEFAULT_RUN,
    tests: undefined,
    stall: 60,
    out: undefined,
    cache: process.env.ETCD_E2E_CACHE || (process.getuid?.() === 0 ? '/var/cache/etcd-e2e' : path.join(os.homedir(), '.cache/etcd-e2e')),
  };
  for (let i = 0; i < argv.length; i++) {
    let [k, v] = argv[i].split(/=(.*)/s);
    const key = k.replace(/^--/, '');
    if (!(key in o) || !k.startsWith('--')) throw new Error(`etcd-e2e: unknown argument ${argv[i]}`);
    if (v === undefined) {
      if (i + 1 >= argv.length) throw new Error(`etcd-e2e: ${k} needs a value`);
      v = argv[++i];
    }
    o[key] = v;
  }
  o.stall = Number(o.stall);
  if (!(o.stall > 0)) throw new Error('etcd-e2e: --stall must be a positive number of seconds');
  return o;
}

/** Compiles the suite into `cache`/e2e.test unless it is there already; returns its path. */
function buildSuite(cache) {
  const bin = path.join(cache, 'e2e.test');
  if (fs.existsSync(bin)) return bin;
  if (!fs.existsSync(E2E_DIR)) throw new Error(`etcd-e2e: ${E2E_DIR} missing: apt-get install -y golang-go golang-etcd-server-dev`);
  fs.mkdirSync(cache, { recursive: true });
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: `/usr/share/gocode:${path.join(os.homedir(), 'go')}` };
  process.stderr.write(`etcd-e2e: compiling the suite into ${bin}\n`);
  const tmp = `${bin}.${process.pid}`;
  const r = spawnSync('go', ['test', '-c', '-o', tmp, '.'], { cwd: E2E_DIR, env, stdio: 'inherit' });
  if (r.error) throw new Error(`etcd-e2e: cannot run go (apt-get install -y golang-go): ${r.error.message}`);
  if (r.status !== 0) throw new Error('etcd-e2e: compiling the e2e suite failed');
  fs.renameSync(tmp, bin);
  return bin;
}

/** PIDs of processes whose environment holds `tag` (E2E_RUN_TAG=...). */
function taggedPids(tag) {
  const needle = Buffer.from(`E2E_RUN_TAG=${tag}\0`);
  const out = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/environ`).includes(needle)) out.push(Number(p));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Ends, by PID, the processes a test left behind (SIGTERM, then SIGKILL after a second). */
async function endLeftovers(tag) {
  for (const sig of ['SIGTERM', 'SIGKILL']) {
    const pids = taggedPids(tag);
    if (pids.length === 0) return;
    for (const p of pids) {
      try {
        process.kill(p, sig);
      } catch {
        // already gone
      }
    }
    await sleep(1000);
  }
}

/** Runs one test; resolves with its verdict and output. */
function runTest(suite, bindir, name, stallS, tag, argsLog) {
  return new Promise((resolve) => {
    const p = spawn(suite, ['-bin-dir', bindir, '-cert-dir', CERT_DIR, '-test.run', `^${name}$`, '-test.v', '-test.timeout', '30m'], {
      cwd: E2E_DIR,
      env: { ...process.env, E2E_RUN_TAG: tag, E2E_ARGS_LOG: argsLog },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks = [];
    p.stdout.on('data', (b) => chunks.push(b));
    p.stderr.on('data', (b) => chunks.push(b));
    let stalled = false;
    let killer;
    const timer = setTimeout(() => {
      stalled = true;
      p.kill('SIGQUIT'); // Go prints every goroutine's stack, then exits
      killer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    }, stallS * 1000);
    p.on('close', () => {
      clearTimeout(timer);
      clearTimeout(killer);
      const text = Buffer.concat(chunks).toString();
      const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const m = new RegExp(`^--- (PASS|FAIL|SKIP): ${esc} `, 'm').exec(text);
      resolve({ verdict: m ? m[1] : stalled ? 'STALL' : 'CRASH', text });
    });
  });
}

/** Removes the data dirs tests of this run left in /tmp (the suite's fixed names). */
function removeTestDirs(since) {
  for (const f of fs.readdirSync('/tmp')) {
    if (!/^(testname|testbackup).*\.etcd/.test(f)) continue;
    const p = path.join('/tmp', f);
    try {
      if (fs.statSync(p).mtimeMs >= since - 1000) fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // gone
    }
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const suite = buildSuite(o.cache);
  const out = path.resolve(o.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-e2e-')));
  fs.mkdirSync(path.join(out, 'args'), { recursive: true });
  // the suite runs "<bin-dir>/etcd" and "<bin-dir>/etcdctl"
  const bindir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-e2e-bin-'));
  for (const [name, target] of [['etcd', o.etcd], ['etcdctl', o.etcdctl]]) {
    const abs = path.resolve(target);
    if (!fs.existsSync(abs)) throw new Error(`etcd-e2e: --${name} ${abs} does not exist`);
    // each invocation's argv goes to <out>/args/<test>.txt (which servers and clients a test ran)
    const record = `[ -n "$E2E_ARGS_LOG" ] && printf '%s\\n' "${name} $*" >> "$E2E_ARGS_LOG"\n`;
    fs.writeFileSync(path.join(bindir, name), `#!/bin/sh\n${record}exec '${abs.replace(/'/g, `'\\''`)}' "$@"\n`, { mode: 0o755 });
  }
  let tests;
  if (o.tests) tests = o.tests.split(',').filter(Boolean);
  else {
    const l = spawnSync(suite, ['-test.list', o.run], { cwd: E2E_DIR, encoding: 'utf8' });
    if (l.status !== 0) throw new Error(`etcd-e2e: listing tests failed: ${l.stderr}`);
    // the upgrade tests need an etcd-last-release binary the suite does not have
    tests = l.stdout.split('\n').filter((t) => t.startsWith('Test') && !t.includes('ReleaseUpgrade'));
  }
  const results = {};
  const log = fs.openSync(path.join(out, 'e2e.log'), 'w');
  const tag = randomUUID();
  const t0 = Date.now();
  try {
    for (const name of tests) {
      const start = Date.now();
      const { verdict, text } = await runTest(suite, bindir, name, o.stall, tag, path.join(out, 'args', `${name}.txt`));
      fs.writeSync(log, `### ${name}\n${text}\n`);
      results[name] = verdict;
      process.stdout.write(`${verdict.padEnd(5)} ${name} (${((Date.now() - start) / 1000).toFixed(1)}s)\n`);
      await endLeftovers(tag);
      removeTestDirs(t0);
      fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(results, null, 1) + '\n');
    }
  } finally {
    fs.closeSync(log);
    fs.rmSync(bindir, { recursive: true, force: true });
  }
  fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  const v = Object.values(results);
  const passed = v.filter((x) => x === 'PASS').length;
  const skipped = v.filter((x) => x === 'SKIP').length;
  process.stdout.write(`results: ${out}/results.json, log: ${out}/e2e.log, ${Math.round((Date.now() - t0) / 1000)}s\n`);
  process.stdout.write(`${passed} passed, ${v.length - passed - skipped} failed, ${skipped} skipped\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(2);
});
