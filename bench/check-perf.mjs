// `etcdctl check perf` against each server: the real etcd 3.4.23 and ours (when built).
//
//   npm run bench:check-perf                       (--load=m, 60 s per target)
//   node bench/check-perf.mjs --load=s             (s | m | l | xl, as etcdctl)
//
// Runs the real etcdctl 3.4.23 (/usr/bin/etcdctl, or $REAL_ETCDCTL) against a fresh member of
// each target (test/harness/server-under-test.ts, via dist/: run `npm run build` first) and
// prints etcdctl's own verdict lines and one PASS/FAIL line per target. Exit code 0 only when
// every target passes. The machine's cores are shared by the server and etcdctl's load.
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const harness = join(root, 'dist', 'test', 'harness', 'server-under-test.js');
if (!existsSync(harness)) {
  console.error('bench/check-perf.mjs: dist/test/harness/server-under-test.js is missing: run `npm run build` first');
  process.exit(2);
}
const { serverTargets, ServerUnderTest } = await import(harness);
const etcdctl = process.env.REAL_ETCDCTL || '/usr/bin/etcdctl';

let load = 'm';
for (const a of process.argv.slice(2)) {
  const m = /^--load=(s|m|l|xl)$/.exec(a);
  if (!m) {
    console.error(`bench/check-perf.mjs: unknown argument ${JSON.stringify(a)} (usage: --load=s|m|l|xl)`);
    process.exit(2);
  }
  load = m[1];
}

/** Runs etcdctl check perf; resolves to { code, stdout, stderr }. */
function checkPerf(endpoint) {
  return new Promise((resolve, reject) => {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCDCTL_')) env[k] = v;
    const child = spawn(etcdctl, [`--endpoints=${endpoint}`, 'check', 'perf', `--load=${load}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

console.log(`etcdctl check perf --load=${load}; machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const verdicts = [];
for (const target of serverTargets()) {
  let sut;
  try {
    sut = await ServerUnderTest.start(target);
  } catch (e) {
    verdicts.push({ target: target.name, pass: false });
    console.log(`\n${target.name} (${target.binary}): failed to start: ${String(e.message).split('\n')[0]}\nFAIL: ${target.name}`);
    continue;
  }
  try {
    const r = await checkPerf(sut.endpoint);
    // The progress bar has no newline before the first verdict, and etcdctl prints two of its
    // failures without a "FAIL:" prefix (etcdctl/ctlv3/command/check.go): match verdicts anywhere.
    const lines = r.stdout.match(/(?:PASS|FAIL)(?::[^\r\n]*)?|Slowest request took too long:[^\r\n]*|Stddev too high:[^\r\n]*/g) ?? [];
    const pass = r.code === 0 && lines.at(-1) === 'PASS' && lines.every((l) => l.startsWith('PASS'));
    verdicts.push({ target: target.name, pass });
    console.log(`\n${target.name} (${target.binary}):`);
    for (const l of lines) console.log(`  ${l.trim()}`);
    if (r.code !== 0) console.log(`  etcdctl exit code ${r.code}${r.stderr ? `; stderr: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
    console.log(`${pass ? 'PASS' : 'FAIL'}: ${target.name}`);
  } finally {
    await sut.stop();
  }
}
if (!serverTargets().some((t) => t.name === 'ours')) console.log('\n(ours: not built, dist/src/server/etcdmain/main.js missing)');
process.exit(verdicts.every((v) => v.pass) ? 0 : 1);
