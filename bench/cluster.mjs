// 3-member cluster benchmark: a 3-member cluster of ours (bin/etcd) against a 3-member
// real etcd 3.4.23 cluster, same load, one run, ratios printed.
//
//   npm run bench:cluster              (npm run bench runs it after the single-member rows)
//   node bench/cluster.mjs --duration=5s --rounds=2 --clients=100 --out=cluster.json
//
// Needs a build (dist/test/harness/cluster.js) and the Go generator (bench/go/loadgen,
// etcd's clientv3, built offline by bench/go/build.mjs). Each cluster runs on free loopback
// ports with temp data dirs (removed at the end). The load goes to all three members
// (connection i to member i mod 3), so followers forward puts to the leader and serve
// linearizable gets through ReadIndex, as clients spread over a cluster do.
//   put: KV.Put of random keys of a 10000-key keyspace, 256-byte values, --clients in flight
//   get: linearizable KV.Range of one random existing key, --clients in flight
// Rounds alternate real and ours per workload, so drift on a shared machine hits both.
// The machine's cores are shared by six servers and the generator: compare the ratios,
// not the absolute numbers.
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const harness = join(root, 'dist', 'test', 'harness', 'cluster.js');
const etcdHarness = join(root, 'dist', 'test', 'harness', 'etcd.js');
if (!existsSync(harness)) {
  console.error('bench/cluster.mjs: dist/test/harness/cluster.js is missing: run `npm run build` first');
  process.exit(2);
}
const { startRealCluster } = await import(harness);
const { ETCD_BIN, OUR_ETCD_BIN } = await import(etcdHarness);
const { buildGo } = await import('./go/build.mjs');

function option(name, def) {
  const a = process.argv.slice(2).find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}
const opts = {
  duration: option('duration', '5s'),
  rounds: Number(option('rounds', '2')),
  clients: Number(option('clients', '100')),
  keys: Number(option('keys', '10000')),
  out: option('out', ''),
};
for (const a of process.argv.slice(2)) {
  if (!/^--(duration|rounds|clients|keys|out)=/.test(a)) {
    console.error(`bench/cluster.mjs: unknown argument ${a} (--duration=5s --rounds=2 --clients=100 --keys=10000 --out=FILE)`);
    process.exit(2);
  }
}

const loadgen = buildGo('loadgen');

/** Runs loadgen once; resolves to its JSON result. Rejects when it fails. */
function run(endpoints, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(loadgen, [`--endpoint=${endpoints.join(',')}`, `--conns=${endpoints.length * 2}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`loadgen exited ${code}: ${err}`))));
  });
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

const clusters = [];
const stopAll = () => Promise.all(clusters.map((c) => c.stopAll()));
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

const results = [];
try {
  const targets = [
    { name: 'real', binary: ETCD_BIN },
    { name: 'ours', binary: OUR_ETCD_BIN },
  ];
  for (const t of targets) {
    const c = await startRealCluster(3, { binary: t.binary, startupTimeoutMs: 60_000 });
    clusters.push(c);
    t.cluster = c;
    t.endpoints = c.members.map((m) => m.endpoint);
    const f = await run(t.endpoints, ['--kind=put', '--fill', `--keys=${opts.keys}`, '--clients=100', '--prefix=bench/']);
    if (f.errors) throw new Error(`${t.name}: ${f.errors} errors while filling: ${f.errorSamples.join('; ')}`);
  }
  console.log(`3-member clusters: real etcd 3.4.23 vs ours, ${opts.clients} in flight over 6 connections to all members, ` +
    `${opts.duration} per phase, ${opts.rounds} round(s); ${cpus().length} cores shared by 6 servers and the generator`);
  for (let round = 1; round <= opts.rounds; round++) {
    for (const kind of ['put', 'get']) {
      for (const t of targets) {
        const r = await run(t.endpoints, [`--kind=${kind}`, `--duration=${opts.duration}`, `--clients=${opts.clients}`, `--keys=${opts.keys}`, '--prefix=bench/']);
        const row = { round, kind, target: t.name, rps: r.ok / (r.elapsedMs / 1000), p50: pct(r.latenciesMs, 50), p99: pct(r.latenciesMs, 99), errors: r.errors };
        results.push(row);
        console.log(`  round ${round} ${kind} ${t.name.padEnd(4)} ${row.rps.toFixed(0).padStart(7)} req/s  p50 ${row.p50.toFixed(2)} ms  p99 ${row.p99.toFixed(2)} ms  errors ${r.errors}`);
      }
    }
  }
} finally {
  await stopAll();
}

const ratios = {};
for (const kind of ['put', 'get']) {
  const sum = (name) => results.filter((r) => r.kind === kind && r.target === name).reduce((a, r) => a + r.rps, 0);
  ratios[kind] = sum('ours') / sum('real');
}
console.log(`\nours / real (3 members): puts ${ratios.put.toFixed(2)}x, linearizable gets ${ratios.get.toFixed(2)}x`);
const json = { machine: { cores: cpus().length }, opts, results, ratios };
if (opts.out) writeFileSync(opts.out, JSON.stringify(json, null, 2) + '\n');
if (results.some((r) => r.errors > 0)) {
  console.error('bench/cluster.mjs: some requests failed (see errors above)');
  process.exitCode = 1;
}
