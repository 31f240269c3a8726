// Cold-start benchmark for the CLI (npm run bench:cli).
// Starts a real etcd on a free loopback port, then measures, alternating in one run, the
// wall time of `node -e 0` and of `get k`, `put k v`, `endpoint health` and `version`
// with our bin/etcdctl and with the real etcdctl (stdout and stderr are pipes, as in a
// script). Reports the median and 10th percentile of each, and ours / `node -e 0`
// (target <= 1.4x for get). BENCH_RUNS (default 30) sets the runs; `--out=FILE` also
// writes the results as JSON, `--md` prints a markdown table.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 30);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startEtcd() {
  const [cport, pport] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'bench-etcd-'));
  const url = `http://127.0.0.1:${cport}`;
  const proc = spawn('etcd', [
    '--name', 'bench', '--data-dir', dir,
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${pport}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${pport}`,
    '--initial-cluster', `bench=http://127.0.0.1:${pport}`,
    '--logger=zap', '--log-outputs=stderr',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr.resume();
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const r = spawnSync('etcdctl', [`--endpoints=127.0.0.1:${cport}`, 'put', 'k', 'v'], { encoding: 'utf8' });
    if (r.status === 0) return { endpoint: `127.0.0.1:${cport}`, stop: () => { proc.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); } };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error('etcd did not start');
}

function timeOnce(cmd, args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) * p)]; };

const etcd = await startEtcd();
try {
  const ep = `--endpoints=${etcd.endpoint}`;
  const commands = {
    'get k': [ep, 'get', 'k'],
    'put k v': [ep, 'put', 'k', 'v'],
    'endpoint health': [ep, 'endpoint', 'health'],
    version: ['version'],
  };
  const cases = { 'node -e 0': [process.execPath, ['-e', '0']] };
  for (const [name, args] of Object.entries(commands)) {
    cases[`bin/etcdctl ${name}`] = [join(root, 'bin/etcdctl'), args];
    cases[`etcdctl (real) ${name}`] = ['etcdctl', args];
  }
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const [, [c, a]] of Object.entries(cases)) timeOnce(c, a); // warm the page cache
  for (let i = 0; i < RUNS; i++) for (const [k, [c, a]] of Object.entries(cases)) times[k].push(timeOnce(c, a));
  const base = median(times['node -e 0']);
  const rows = Object.entries(times).map(([k, xs]) => ({ case: k, medianMs: +median(xs).toFixed(1), p10Ms: +pct(xs, 0.1).toFixed(1), vsNode: +(median(xs) / base).toFixed(2) }));
  console.log(`cold start, ${RUNS} alternating runs (ms):`);
  console.log(`  ${'case'.padEnd(30)} ${'median'.padStart(7)} ${'p10'.padStart(7)}   vs node -e 0`);
  for (const r of rows) console.log(`  ${r.case.padEnd(30)} ${r.medianMs.toFixed(1).padStart(7)} ${r.p10Ms.toFixed(1).padStart(7)}   ${r.vsNode.toFixed(2)}x`);
  const ratio = median(times['bin/etcdctl get k']) / base;
  console.log(`ratio bin/etcdctl get / node -e 0 = ${ratio.toFixed(2)} (target 1.4)`);
  if (process.argv.includes('--md')) {
    console.log('\n| command | ours (ms) | real etcdctl (ms) | ours / `node -e 0` |\n|---|---|---|---|');
    console.log(`| \`node -e 0\` | ${base.toFixed(1)} | | 1.00× |`);
    for (const name of Object.keys(commands)) {
      const o = median(times[`bin/etcdctl ${name}`]);
      console.log(`| \`${name}\` | ${o.toFixed(1)} | ${median(times[`etcdctl (real) ${name}`]).toFixed(1)} | ${(o / base).toFixed(2)}× |`);
    }
  }
  const out = process.argv.find((a) => a.startsWith('--out='))?.slice(6);
  if (out) writeFileSync(out, JSON.stringify({ runs: RUNS, node: process.version, rows, getRatio: +ratio.toFixed(2) }, null, 2) + '\n');
} finally {
  etcd.stop();
}
