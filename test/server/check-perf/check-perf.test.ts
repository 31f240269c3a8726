// The real `etcdctl check perf --load=s` (60 s of rate-limited puts, then etcdctl's own
// PASS/FAIL thresholds on throughput, slowest request, stddev) against each server target:
// the real etcd 3.4.23 always, ours once dist/src/server/etcdmain/main.js exists (see
// test/harness/server-under-test.ts; OUR_ETCD_BIN overrides bin/etcd).
//
// Slow (over a minute per target): runs only with ETCDTS_SLOW=1, e.g.
//   ETCDTS_SLOW=1 node --test dist/test/server/check-perf/
// The heavier --load=m run is bench/check-perf.mjs (npm run bench:check-perf).
// etcdctl's thresholds are absolute: on a machine busy with other work even real etcd can
// FAIL; the failure message includes etcdctl's verdict lines and the load average.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { test } from 'node:test';
import { serverTargets, ServerUnderTest } from '../../harness/server-under-test.js';

const SLOW = process.env.ETCDTS_SLOW === '1';
/** etcdctl check perf's verdict lines (etcdctl/ctlv3/command/check.go). */
const VERDICT = /(?:PASS|FAIL)(?::[^\r\n]*)?|Slowest request took too long:[^\r\n]*|Stddev too high:[^\r\n]*/g;
const ETCDCTL = process.env.REAL_ETCDCTL || '/usr/bin/etcdctl';

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCDCTL_')) env[k] = v;
    const child = spawn(ETCDCTL, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

for (const target of serverTargets()) {
  test(`etcdctl check perf --load=s passes (${target.name})`, { skip: SLOW ? false : 'slow (60 s): set ETCDTS_SLOW=1', timeout: 150_000 }, async () => {
    const sut = await ServerUnderTest.start(target);
    try {
      const r = await run([`--endpoints=${sut.endpoint}`, 'check', 'perf', '--load=s'], 120_000);
      // The progress bar has no newline before the first verdict, and etcdctl prints two of
      // its failures without a "FAIL:" prefix (check.go): match the verdicts anywhere.
      const verdicts = r.stdout.match(VERDICT) ?? [];
      const ctx = `${target.name}: exit ${r.code}, verdicts ${JSON.stringify(verdicts)}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, stderr tail ${JSON.stringify(r.stderr.slice(-500))}`;
      assert.equal(r.code, 0, ctx);
      // etcdctl prints Throughput, Slowest request, Stddev and a final verdict.
      assert.ok(verdicts.length >= 4, `expected etcdctl's verdict lines (${ctx})`);
      assert.ok(verdicts.every((l) => l.startsWith('PASS')) && verdicts.at(-1) === 'PASS', ctx);
    } finally {
      await sut.stop();
    }
  });
}
