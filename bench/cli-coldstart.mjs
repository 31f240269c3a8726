// Cold-start benchmark for the CLI (npm run bench:cli).
// Starts a real etcd on a free loopback port, then measures, alternating in one run,
// the wall time of: `node -e 0`, our `bin/etcdctl get k`, and the real `etcdctl get k`.
// Reports the median of each and the ratio ours / node (target <= 1.4x, limit 1.8x).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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

const etcd = await startEtcd();
try {
  const cases = {
    'node -e 0': [process.execPath, ['-e', '0']],
    'bin/etcdctl get k': [join(root, 'bin/etcdctl'), [`--endpoints=${etcd.endpoint}`, 'get', 'k']],
    'bin/etcdctl version': [join(root, 'bin/etcdctl'), ['version']],
    'etcdctl (real) get k': ['etcdctl', [`--endpoints=${etcd.endpoint}`, 'get', 'k']],
  };
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const [, [c, a]] of Object.entries(cases)) timeOnce(c, a); // warm the page cache
  for (let i = 0; i < RUNS; i++) for (const [k, [c, a]] of Object.entries(cases)) times[k].push(timeOnce(c, a));
  const base = median(times['node -e 0']);
  console.log(`cold start, median of ${RUNS} alternating runs (ms):`);
  for (const [k, xs] of Object.entries(times)) {
    console.log(`  ${k.padEnd(24)} ${median(xs).toFixed(1).padStart(7)}   ${(median(xs) / base).toFixed(2)}x node`);
  }
  const ratio = median(times['bin/etcdctl get k']) / base;
  console.log(`ratio bin/etcdctl get / node -e 0 = ${ratio.toFixed(2)} (target 1.4, limit 1.8)`);
} finally {
  etcd.stop();
}
