// The short version of `npm run test:robustness`, part of `npm test`: five seeded
// fault runs against a 3-member cluster of ours (kill -9 of the leader, the leader cut
// off by a partition, every member restarted at once, the leader's last WAL record
// garbled before its restart, the leader's fsyncs failing), each checked for
// linearizability, watch guarantees and convergence. No traffic-rate minimum here (no
// timing assertions in tests; the machine may be loaded): the full runner enforces it.
// Runs main.js in a child (it re-runs itself in a private network namespace; needs root
// and strace).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');

test('robustness: seeded fault runs against a 3-member cluster of ours find no violation', { timeout: 360_000 }, (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root (unshare -n, ip netns, iptables)');
    return;
  }
  for (const tool of ['unshare', 'ip', 'iptables', 'strace']) {
    const w = spawnSync('sh', ['-c', `command -v ${tool}`]);
    assert.equal(w.status, 0, `${tool} is missing: install it (.ci/run installs iproute2, iptables and strace)`);
  }
  const r = spawnSync(process.execPath, [MAIN, '--target', 'ours', '--seeds', '0,4,6,10,11', '--min-rate', '0', '--clients', '12'], {
    encoding: 'utf8',
    timeout: 350_000,
    maxBuffer: 64 * 1024 * 1024,
    // main.js stays idle when it sees the test runner's NODE_TEST_CONTEXT (see main.ts)
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')),
  });
  const out = `${r.stdout}${r.stderr}`;
  for (const line of out.split('\n')) if (/^(ours|SUMMARY)/.test(line)) t.diagnostic(line);
  assert.equal(r.status, 0, `robustness runs failed:\n${out.slice(-20_000)}`);
  assert.match(out, /^SUMMARY ours: runs=5 .* violations=0 known=\d+ .* failed-runs=0/m, out.slice(-5000));
});
