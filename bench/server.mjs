// Server throughput benchmark: our server vs the real etcd 3.4.23, same load, one run.
//
//   npm run bench:server                      (npm run bench runs this, then the CLI cold-start bench)
//   node bench/server.mjs --duration-ms=5000 --rounds=2 --clients=100 --workers=2 --conns=4
//
// Needs a build (npm run build): it uses dist/ for the generated protobuf messages and the
// process harness (test/harness/server-under-test.ts).
//
// What it does:
//   1. Starts each target on free loopback ports with a temp data dir (removed at the end):
//      real = /usr/bin/etcd (or $ETCD_BIN); ours = bin/etcd (or $OUR_ETCD_BIN), included when
//      dist/src/server/etcdmain/main.js exists (or forced with --targets=real,ours).
//   2. Fills the keyspace (--keys keys "bench/<n>", 256-byte values) on each target.
//   3. Saturation probe on real etcd (skip with --no-probe): puts with 1 worker x 100 in flight,
//      2 workers x 100, 2 workers x 200. If the generator were the bottleneck, more workers
//      or more requests in flight would raise real etcd's throughput.
//   4. Rounds (--rounds): in each round, for each workload (put, get), every target in turn
//      (real, ours) gets the same load for --duration-ms:
//        put: KV.Put of random keys of the keyspace, 256-byte values, --clients in flight
//        get: linearizable KV.Range of one random existing key, --clients in flight
//      The load comes from the generator (--generator) over --conns gRPC connections in total.
//   5. Prints per target and round: requests/s, p50/p99 latency (ms), errors, CPU used (in
//      cores) by the server, by this generator and by the whole machine, the workers' event
//      loop utilization; then ours/real ratios per round; then everything as JSON (also
//      written to --out=<file> if given).
//
// Options (flags, or environment variables BENCH_<NAME> e.g. BENCH_DURATION_MS=3000):
//   --duration-ms (5000) --rounds (2) --clients (100) --workers (2) --conns (4) --keys (10000)
//   --value-size (256) --targets (real[,ours]) --no-probe --out=<file>
//   --generator (auto | node | go): go = bench/go/loadgen (etcd's clientv3, built offline by
//   bench/go/build.mjs); node = grpc-js worker threads (bench/lib/load-worker.mjs); auto (default)
//   = go when it can be built, else node. Measured on a 2-core machine, the Node generator needs
//   more CPU per request than etcd itself (worker loops 100% busy) and reached about a quarter
//   of the throughput the Go generator gets from the same real etcd; the probe prints both.
//
// This machine may have few cores that the servers and the generator share (printed in the
// output): the numbers compare the two servers under identical conditions; they are not
// absolute etcd numbers.
import { cpus, loadavg } from 'node:os';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import Table from 'cli-table3';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const harnessPath = join(root, 'dist', 'test', 'harness', 'server-under-test.js');
if (!existsSync(harnessPath) || !existsSync(join(root, 'dist', 'src', 'gen', 'etcdserverpb', 'rpc_pb.js'))) {
  console.error('bench/server.mjs: dist/ is missing pieces (server-under-test.js, rpc_pb.js): run `npm run build` first');
  process.exit(2);
}
const { realTarget, oursTarget, ServerUnderTest } = await import(harnessPath);

// ---- options ----
function option(name, def) {
  const flag = process.argv.slice(2).find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (flag !== undefined) return flag.includes('=') ? flag.slice(flag.indexOf('=') + 1) : 'true';
  const env = process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  return env ?? def;
}
function intOption(name, def, min) {
  const raw = option(name, String(def));
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench/server.mjs: --${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return v;
}
const known = new Set(['duration-ms', 'rounds', 'clients', 'workers', 'conns', 'keys', 'value-size', 'targets', 'no-probe', 'out', 'generator']);
for (const a of process.argv.slice(2)) {
  const name = a.replace(/^--/, '').replace(/=.*$/, '');
  if (!a.startsWith('--') || !known.has(name)) {
    console.error(`bench/server.mjs: unknown argument ${JSON.stringify(a)} (known: ${[...known].map((k) => '--' + k).join(' ')})`);
    process.exit(2);
  }
}
const opts = {
  durationMs: intOption('duration-ms', 5000, 100),
  rounds: intOption('rounds', 2, 1),
  clients: intOption('clients', 100, 1),
  workers: intOption('workers', 2, 1),
  conns: intOption('conns', 4, 1),
  keys: intOption('keys', 10000, 1),
  valueSize: intOption('value-size', 256, 0),
  probe: option('no-probe', 'false') !== 'true',
  out: option('out', ''),
  generator: option('generator', 'auto'),
};
if (!['auto', 'node', 'go'].includes(opts.generator)) {
  console.error(`bench/server.mjs: --generator must be auto, node or go, got ${JSON.stringify(opts.generator)}`);
  process.exit(2);
}
// The Go generator (bench/go/loadgen, clientv3): used for the rounds with --generator=go, and
// in the saturation probe whenever it can be built (to compare with the Node generator).
const { goAvailable, buildGo } = await import('./go/build.mjs');
let loadgen;
let generatorNote = '';
if (opts.generator !== 'node' && (opts.generator === 'go' || goAvailable())) {
  try {
    loadgen = buildGo('loadgen');
  } catch (e) {
    if (opts.generator === 'go') {
      console.error(`bench/server.mjs: --generator=go: ${e.message}`);
      process.exit(2);
    }
    generatorNote = `Go generator unavailable (${e.message.split('\n')[0]})`;
  }
} else if (opts.generator === 'auto') {
  generatorNote = 'Go generator unavailable (no go or no /usr/share/gocode clientv3)';
}
if (opts.generator === 'auto') opts.generator = loadgen ? 'go' : 'node';
if (opts.generator === 'node') {
  generatorNote += `${generatorNote ? '; ' : ''}WARNING: the Node (grpc-js) generator costs more CPU per request than ` +
    'etcd itself and does not saturate real etcd on a small machine (see the probe)';
}
const probeMs = Math.min(opts.durationMs, 3000);
if (opts.conns < opts.workers) opts.conns = opts.workers;

const targets = [];
const wanted = option('targets', '').split(',').filter(Boolean);
for (const w of wanted) if (w !== 'real' && w !== 'ours') {
  console.error(`bench/server.mjs: --targets: unknown target ${JSON.stringify(w)} (real, ours)`);
  process.exit(2);
}
const ours = oursTarget() ?? (wanted.includes('ours')
  ? { name: 'ours', binary: process.env.OUR_ETCD_BIN || join(root, 'bin', 'etcd') } : undefined);
if (wanted.length === 0 || wanted.includes('real')) targets.push(realTarget());
if (ours && (wanted.length === 0 || wanted.includes('ours'))) targets.push(ours);
const oursNote = ours ? '' : 'ours: not built (dist/src/server/etcdmain/main.js missing): real etcd only';

// ---- measurement helpers ----
/** Busy and total jiffies of the whole machine (/proc/stat "cpu" line). */
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3] + (f[4] ?? 0);
  return { busy: total - idle, total };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Runs `workers` load workers against `endpoint` and waits for all of them. */
function runWorkers(endpoint, kind, { workers, conns, concurrency, durationMs, fill = false }) {
  const jobs = [];
  for (let w = 0; w < workers; w++) {
    const share = (n) => Math.floor(n / workers) + (w < n % workers ? 1 : 0);
    const c = share(concurrency);
    if (c === 0) continue;
    jobs.push(new Promise((resolve, reject) => {
      const worker = new Worker(join(root, 'bench', 'lib', 'load-worker.mjs'), {
        workerData: {
          endpoint, kind, conns: Math.max(1, share(conns)), concurrency: c, keys: opts.keys, prefix: 'bench/',
          valueSize: opts.valueSize, durationMs, seed: (Math.random() * 2 ** 31) | 0, fill, worker: w, workers,
        },
      });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => { if (code !== 0) reject(new Error(`load worker exited with code ${code}`)); });
    }));
  }
  return Promise.all(jobs);
}

/** Runs the Go generator (bench/go/loadgen) once; resolves to one worker-shaped result. */
function runGo(endpoint, kind, { conns, concurrency, durationMs, fill = false }) {
  return new Promise((resolve, reject) => {
    const args = [`--endpoint=${endpoint}`, `--kind=${kind}`, `--clients=${concurrency}`, `--conns=${conns}`,
      `--keys=${opts.keys}`, '--prefix=bench/', `--val-size=${opts.valueSize}`, fill ? '--fill' : `--duration=${durationMs}ms`];
    const child = spawn(loadgen, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`loadgen exited with ${code}: ${Buffer.concat(err)}`));
      const r = JSON.parse(Buffer.concat(out).toString());
      resolve([{ ok: r.ok, errors: r.errors, errorSamples: r.errorSamples, latencies: Float64Array.from(r.latenciesMs ?? []),
        elapsedMs: r.elapsedMs, elu: NaN, cpuSeconds: r.cpuSeconds }]);
    });
  });
}

/** One timed phase: the load plus CPU accounting. */
async function phase(sut, kind, { workers = opts.workers, conns = opts.conns, concurrency = opts.clients, generator = opts.generator, durationMs = opts.durationMs } = {}) {
  const cpu0 = process.cpuUsage();
  const srv0 = sut.cpuSeconds();
  const m0 = machineTicks();
  const t0 = performance.now();
  const results = generator === 'go'
    ? await runGo(sut.endpoint, kind, { conns, concurrency, durationMs })
    : await runWorkers(sut.endpoint, kind, { workers, conns, concurrency, durationMs });
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (generator === 'go') { cpu.user = results[0].cpuSeconds * 1e6; cpu.system = 0; }
  const srv1 = sut.cpuSeconds();
  const m1 = machineTicks();
  const n = results.reduce((a, r) => a + r.ok, 0);
  const all = new Float64Array(results.reduce((a, r) => a + r.latencies.length, 0));
  let off = 0;
  for (const r of results) { all.set(r.latencies, off); off += r.latencies.length; }
  all.sort();
  const elapsedS = Math.max(...results.map((r) => r.elapsedMs)) / 1000;
  const ncpu = cpus().length;
  return {
    target: sut.target.name, kind, generator, workers: generator === 'go' ? 1 : workers, conns, concurrency,
    requests: n,
    rps: n / elapsedS,
    p50ms: percentile(all, 0.5),
    p99ms: percentile(all, 0.99),
    errors: results.reduce((a, r) => a + r.errors, 0),
    errorSamples: results.flatMap((r) => r.errorSamples).slice(0, 5),
    // CPU in cores (1.0 = one core busy for the whole phase); includes worker setup/teardown.
    serverCpu: (srv1 - srv0) / wallS,
    generatorCpu: (cpu.user + cpu.system) / 1e6 / wallS,
    machineCpu: ((m1.busy - m0.busy) / (m1.total - m0.total)) * ncpu,
    workerElu: Math.max(...results.map((r) => r.elu)), // NaN for the Go generator (not measured)
  };
}

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

// ---- run ----
const started = Date.now();
const servers = [];
const stopAll = () => Promise.all(servers.map((s) => s.stop()));
process.on('SIGINT', async () => { await stopAll(); process.exit(130); });

const machine = { cores: cpus().length, model: cpus()[0]?.model, loadavgAtStart: loadavg() };
console.log(`server bench: ${targets.map((t) => `${t.name}=${t.binary}`).join(', ')}${oursNote ? `\n  (${oursNote})` : ''}`);
console.log(`  ${opts.rounds} round(s) x {put, get} x ${opts.durationMs} ms per target; ${opts.clients} requests in flight over ` +
  `${opts.conns} connections from ${opts.generator === 'go' ? 'the Go clientv3 generator' : `${opts.workers} node worker thread(s)`}; keyspace ${opts.keys} keys, values ${opts.valueSize} bytes`);
if (generatorNote) console.log(`  ${generatorNote}`);
console.log(`  machine: ${machine.cores} cores (${machine.model}), load average ${machine.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}; ` +
  'servers and generator share these cores.');

const phases = [];
const probe = [];
const failedTargets = [];
let exitCode = 0;
try {
  for (const t of targets) {
    let sut;
    try {
      sut = await ServerUnderTest.start(t, { startupTimeoutMs: 30_000 });
    } catch (e) {
      // Still measure the other target(s); the run fails at the end.
      if (targets.length === 1) throw e;
      const why = String(e.message).split('\n')[0];
      console.log(`  ${t.name}: FAILED TO START (${why}); continuing without it (log tail:\n${String(e.message).split('\n').slice(-6).join('\n')})`);
      failedTargets.push({ name: t.name, error: why });
      exitCode = 1;
      continue;
    }
    servers.push(sut);
    const f0 = performance.now();
    const fill = opts.generator === 'go'
      ? await runGo(sut.endpoint, 'put', { conns: opts.conns, concurrency: opts.clients, fill: true })
      : await runWorkers(sut.endpoint, 'put', { workers: opts.workers, conns: opts.conns, concurrency: opts.clients, fill: true });
    const fillErrors = fill.reduce((a, r) => a + r.errors, 0);
    if (fillErrors > 0) throw new Error(`${t.name}: filling the keyspace failed: ${fill.flatMap((r) => r.errorSamples).join('; ')}`);
    console.log(`  ${t.name}: started on ${sut.endpoint}, keyspace filled in ${fmt(performance.now() - f0)} ms`);
  }

  if (opts.probe) {
    const real = servers.find((s) => s.target.name === 'real');
    if (real) {
      console.log(`\nsaturation probe (real etcd, ${probeMs} ms each): does more generator capacity raise its throughput?`);
      const shapes = [
        { generator: 'node', workers: 1, conns: Math.max(1, Math.floor(opts.conns / 2)), concurrency: opts.clients },
        { generator: 'node', workers: opts.workers, conns: opts.conns, concurrency: opts.clients },
        { generator: 'node', workers: opts.workers, conns: opts.conns, concurrency: opts.clients * 2 },
      ];
      if (loadgen) {
        shapes.push({ generator: 'go', conns: opts.conns, concurrency: opts.clients });
        shapes.push({ generator: 'go', conns: opts.conns, concurrency: opts.clients * 2 });
      }
      for (const kind of ['put', 'get']) {
        for (const shape of shapes) {
          const r = await phase(real, kind, { ...shape, durationMs: probeMs });
          probe.push(r);
          const who = r.generator === 'go' ? 'go clientv3 generator' : `node, ${r.workers} worker(s)`;
          console.log(`  ${kind} ${who}, ${r.conns} conns, ${r.concurrency} in flight: ${fmt(r.rps)} req/s, ` +
            `p50 ${fmt(r.p50ms, 2)} ms, p99 ${fmt(r.p99ms, 2)} ms, server ${fmt(r.serverCpu, 2)} cores, ` +
            `generator ${fmt(r.generatorCpu, 2)} cores${r.generator === 'node' ? ` (worker loop busy ${fmt(r.workerElu * 100)}%)` : ''}, ` +
            `machine ${fmt(r.machineCpu, 2)} cores`);
        }
      }
    }
  }

  for (let round = 1; round <= opts.rounds; round++) {
    for (const kind of ['put', 'get']) {
      for (const sut of servers) {
        const r = await phase(sut, kind);
        r.round = round;
        phases.push(r);
        if (r.errors > 0) exitCode = 1;
      }
    }
  }
} catch (e) {
  console.error(`bench/server.mjs: ${e.stack ?? e}`);
  exitCode = 1;
} finally {
  await stopAll();
}

if (phases.length > 0) {
  const table = new Table({
    head: ['round', 'load', 'target', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU', 'generator CPU', 'machine CPU', 'worker loop busy'],
    style: { head: [], border: [] },
  });
  for (const r of phases) {
    table.push([r.round, r.kind, r.target, fmt(r.rps), fmt(r.p50ms, 2), fmt(r.p99ms, 2), r.errors,
      fmt(r.serverCpu, 2), fmt(r.generatorCpu, 2), `${fmt(r.machineCpu, 2)} / ${machine.cores}`, r.generator === 'go' ? 'n/a (go)' : `${fmt(r.workerElu * 100)}%`]);
  }
  console.log(`\nresults (CPU in cores; ${opts.clients} requests in flight):`);
  console.log(table.toString());
  for (const r of phases) if (r.errorSamples.length) console.log(`  errors (${r.target} ${r.kind} round ${r.round}): ${r.errorSamples.join('; ')}`);
}

const ratios = [];
if (servers.some((s) => s.target.name === 'ours') && servers.some((s) => s.target.name === 'real')) {
  const table = new Table({ head: ['round', 'load', 'req/s ours/real', 'p50 ours/real', 'p99 ours/real'], style: { head: [], border: [] } });
  for (let round = 1; round <= opts.rounds; round++) {
    for (const kind of ['put', 'get']) {
      const real = phases.find((p) => p.round === round && p.kind === kind && p.target === 'real');
      const o = phases.find((p) => p.round === round && p.kind === kind && p.target === 'ours');
      if (!real || !o) continue;
      const x = { round, kind, rps: o.rps / real.rps, p50: o.p50ms / real.p50ms, p99: o.p99ms / real.p99ms };
      ratios.push(x);
      table.push([round, kind, fmt(x.rps, 2), fmt(x.p50, 2), fmt(x.p99, 2)]);
    }
  }
  console.log('\nours / real (req/s: higher is better for ours; latency: lower is better):');
  console.log(table.toString());
}

const report = {
  date: new Date().toISOString(), machine, options: opts,
  targets: targets.map((t) => ({ name: t.name, binary: t.binary })), note: oursNote || undefined,
  generatorNote: generatorNote || undefined, failedTargets,
  saturationProbe: probe, phases, ratios, totalSeconds: (Date.now() - started) / 1000,
};
const json = JSON.stringify(report);
console.log(`\nJSON: ${json}`);
if (opts.out) {
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
  console.log(`(written to ${opts.out})`);
}
console.log(`total ${fmt(report.totalSeconds, 1)} s`);
process.exit(exitCode);
