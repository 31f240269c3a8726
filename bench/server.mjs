// Server benchmark: our server vs the real etcd 3.4.23, same loads, one run, ratios printed.
//
//   npm run bench:server                      (npm run bench runs this, the cluster and the CLI benches)
//   node bench/server.mjs --short                                  (a quick pass over every row)
//   node bench/server.mjs --rows=put,get,sget --duration-ms=2000 --rounds=1
//   node bench/server.mjs --duration-ms=5000 --rounds=2 --out=bench.json --md=bench.md
//
// Needs a build (npm run build): it uses dist/ for the generated protobuf messages and the
// process harness (test/harness/server-under-test.ts).
//
// Rows (--rows, comma-separated; default all). Every row is measured on real etcd and on
// ours in the same run; "in flight" = requests kept outstanding by the closed-loop generator.
//   put        KV.Put of random keys of the keyspace (--keys keys "bench/<n>", --value-size
//              bytes), --clients in flight: requests/s, p50/p99 latency
//   get        linearizable KV.Range of one random existing key, --clients in flight
//   sget       serializable KV.Range (Serializable=true) of one key, --clients in flight
//   put1       put latency p50/p99 of one client (1 in flight, 1 connection)
//   txn        KV.Txn: compare mod_revision(key) > 0, then put(key), --clients in flight
//   range1000  KV.Range of a prefix holding --range-keys (1000) keys (limit 0),
//              --range-clients (10) in flight: ranges/s
//   watch      --watchers (1000) watches on the prefix "watch/" (over --conns connections)
//              while puts of random "watch/<n>" keys run with --watch-clients (10) in flight:
//              events/s delivered to the watchers (counted by the generator; it waits for
//              every event of every put) and the puts/s meanwhile; the same puts without
//              watchers are measured right before (the "put/s, no watchers" line)
//   lease      --leases (10000) LeaseGrant calls (TTL --lease-ttl, 3 s) with --clients in
//              flight: grants/s; then clientv3 KeepAlive on all of them for --duration-ms
//              (one keepalive per lease every TTL/3): keepalive responses/s and the server's
//              CPU (cores) over that window. On a fresh server per target.
//   memory     VmRSS of the server (process tree, /proc/<pid>/status) fresh, after writing
//              --memory-keys (100000) keys of --value-size bytes, and after additionally
//              opening --memory-watchers (10000) watches (prefix of those keys, held open
//              1 s, RSS read at the end). On a fresh server per target.
//   recovery   --recovery-revisions (200000) puts over 10000 keys (one revision each), then
//              kill -9 and a restart on the same data dir: ms from spawning the process
//              until a linearizable Range succeeds (polled every 50 ms, so ±50 ms). On a
//              fresh server per target; the data dir size is printed.
// The rows up to watch run in --rounds rounds on one server per target (real, then ours,
// for each row: drift on a shared machine hits both), filled once; the other rows once,
// after those servers are stopped.
//
// What it prints: the saturation probe (below), a table per measured phase (requests/s,
// p50/p99 ms, errors, CPU in cores used by the server, the generator and the machine),
// ours/real ratios per round, then the summary table (one line per metric: real, ours,
// ours/real; the mean over the rounds), then everything as JSON (also written to
// --out=<file>); --md=<file> writes the summary as a markdown table (for bench/README.md).
//
// Saturation probe (real etcd, skip with --no-probe): puts and gets with 1 node worker x
// 100 in flight, 2 workers x 100, 2 workers x 200, and the Go generator at 100 and 200; for
// sget, txn and range1000 (when selected) the Go generator at 1x and 2x the row's requests
// in flight. If the generator were the bottleneck, more of it would raise real etcd's
// throughput. The watch row's generator CPU is in its phase line (it decodes every event).
//
// Options (flags, or environment variables BENCH_<NAME> e.g. BENCH_DURATION_MS=3000):
//   --duration-ms (5000) --rounds (3) --clients (100) --workers (2) --conns (4) --keys (10000)
//   --value-size (256) --targets (real[,ours]) --no-probe --out=<file> --md=<file>
//   --rows (all) --short --watchers (1000) --watch-clients (10) --range-keys (1000)
//   --range-clients (10) --leases (10000) --lease-ttl (3) --memory-keys (100000)
//   --memory-watchers (10000) --recovery-revisions (200000)
//   --short: defaults become --duration-ms=1000 --rounds=1 --no-probe --watchers=200
//   --leases=2000 --memory-keys=20000 --memory-watchers=2000 --recovery-revisions=20000
//   (flags given explicitly still win).
//   --generator (auto | node | go): go = bench/go/loadgen (etcd's clientv3, built offline by
//   bench/go/build.mjs); node = grpc-js worker threads (bench/lib/load-worker.mjs, put and
//   get only: the other rows are skipped); auto (default) = go when it can be built, else
//   node. Measured on a 2-core machine, the Node generator needs more CPU per request than
//   etcd itself (worker loops 100% busy) and reached about a quarter of the throughput the
//   Go generator gets from the same real etcd; the probe prints both.
//
// This machine may have few cores that the servers and the generator share (printed in the
// output): the numbers compare the two servers under identical conditions; they are not
// absolute etcd numbers.
import { cpus, loadavg } from 'node:os';
import { existsSync, readFileSync, writeFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
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
const short = option('short', 'false') === 'true';
/** An integer option; `def` is [full default, --short default] or one value for both. */
function intOption(name, def, min) {
  const d = Array.isArray(def) ? def[short ? 1 : 0] : def;
  const raw = option(name, String(d));
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench/server.mjs: --${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return v;
}
const ALL_ROWS = ['put', 'get', 'sget', 'put1', 'txn', 'range1000', 'watch', 'lease', 'memory', 'recovery'];
/** Rows run in rounds on the shared servers (the others get fresh servers, once). */
const ROUND_ROWS = ['put', 'get', 'sget', 'put1', 'txn', 'range1000', 'watch'];
const known = new Set(['duration-ms', 'rounds', 'clients', 'workers', 'conns', 'keys', 'value-size', 'targets', 'no-probe', 'out',
  'generator', 'md', 'rows', 'short', 'watchers', 'watch-clients', 'range-keys', 'range-clients', 'leases', 'lease-ttl',
  'memory-keys', 'memory-watchers', 'recovery-revisions']);
for (const a of process.argv.slice(2)) {
  const name = a.replace(/^--/, '').replace(/=.*$/, '');
  if (!a.startsWith('--') || !known.has(name)) {
    console.error(`bench/server.mjs: unknown argument ${JSON.stringify(a)} (known: ${[...known].map((k) => '--' + k).join(' ')})`);
    process.exit(2);
  }
}
const opts = {
  durationMs: intOption('duration-ms', [5000, 1000], 100),
  rounds: intOption('rounds', [3, 1], 1),
  clients: intOption('clients', 100, 1),
  workers: intOption('workers', 2, 1),
  conns: intOption('conns', 4, 1),
  keys: intOption('keys', 10000, 1),
  valueSize: intOption('value-size', 256, 0),
  probe: option('no-probe', short ? 'true' : 'false') !== 'true',
  out: option('out', ''),
  md: option('md', ''),
  generator: option('generator', 'auto'),
  short,
  rows: option('rows', ALL_ROWS.join(',')).split(',').filter(Boolean),
  watchers: intOption('watchers', [1000, 200], 1),
  watchClients: intOption('watch-clients', 10, 1),
  rangeKeys: intOption('range-keys', 1000, 1),
  rangeClients: intOption('range-clients', 10, 1),
  leases: intOption('leases', [10000, 2000], 1),
  leaseTtl: intOption('lease-ttl', 3, 1),
  memoryKeys: intOption('memory-keys', [100000, 20000], 1),
  memoryWatchers: intOption('memory-watchers', [10000, 2000], 0),
  recoveryRevisions: intOption('recovery-revisions', [200000, 20000], 1),
};
for (const r of opts.rows) if (!ALL_ROWS.includes(r)) {
  console.error(`bench/server.mjs: --rows: unknown row ${JSON.stringify(r)} (${ALL_ROWS.join(', ')})`);
  process.exit(2);
}
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
const skippedRows = [];
if (!loadgen) {
  // The Node generator has put and get only; every other row needs the Go generator.
  for (const r of opts.rows) if (r !== 'put' && r !== 'get') skippedRows.push(r);
  if (skippedRows.length) generatorNote += `; rows ${skippedRows.join(', ')} need the Go generator: skipped`;
  opts.rows = opts.rows.filter((r) => !skippedRows.includes(r));
}
const rowOn = (r) => opts.rows.includes(r);
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

/** Total size of the files under `dir`, bytes. */
function dirBytes(dir) {
  let total = 0;
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) total += dirBytes(p);
    else if (ent.isFile()) total += statSync(p).size;
  }
  return total;
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

/**
 * Runs the Go generator (bench/go/loadgen) once; resolves to one worker-shaped result (plus
 * `raw`, loadgen's whole JSON). `onMark(name)` is called, synchronously, for each "MARK <name>"
 * line loadgen writes to stderr (watchers-ready, keepalive-start, ...).
 */
function runGo(endpoint, kind, { conns, concurrency, durationMs, fill = false, keys = opts.keys, prefix = 'bench/', args = [], onMark }) {
  return new Promise((resolve, reject) => {
    const argv = [`--endpoint=${endpoint}`, `--kind=${kind}`, `--clients=${concurrency}`, `--conns=${conns}`,
      `--keys=${keys}`, `--prefix=${prefix}`, `--val-size=${opts.valueSize}`, fill ? '--fill' : `--duration=${durationMs}ms`, ...args];
    const child = spawn(loadgen, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    let pending = '';
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      err += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const l of lines) if (l.startsWith('MARK ')) onMark?.(l.slice(5).trim());
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`loadgen ${argv.slice(1).join(' ')} exited with ${code}: ${err.slice(-2000)}`));
      const r = JSON.parse(Buffer.concat(out).toString());
      resolve([{ ok: r.ok, errors: r.errors, errorSamples: r.errorSamples, latencies: Float64Array.from(r.latenciesMs ?? []),
        elapsedMs: r.elapsedMs, elu: NaN, cpuSeconds: r.cpuSeconds, raw: r }]);
    });
  });
}

/** One timed phase: the load plus CPU accounting. `row` labels it (default: the kind). */
async function phase(sut, kind, { workers = opts.workers, conns = opts.conns, concurrency = opts.clients, generator = opts.generator,
  durationMs = opts.durationMs, row = kind, keys, prefix, args } = {}) {
  const cpu0 = process.cpuUsage();
  const srv0 = sut.cpuSeconds();
  const m0 = machineTicks();
  const t0 = performance.now();
  const results = generator === 'go'
    ? await runGo(sut.endpoint, kind, { conns, concurrency, durationMs, keys, prefix, args })
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
  const raw = results[0].raw ?? {};
  const r = {
    target: sut.target.name, row, kind, generator, workers: generator === 'go' ? 1 : workers, conns, concurrency,
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
  if (kind === 'watch') {
    Object.assign(r, {
      watchers: raw.watchers, events: raw.events, eventsExpected: raw.eventsExpected,
      eventsPerSec: raw.eventsElapsedMs > 0 ? raw.events / (raw.eventsElapsedMs / 1000) : 0,
      watchErrors: raw.watchErrors,
    });
    if (raw.watchErrors > 0) r.errorSamples.push(...raw.watchErrorSamples.map((s) => `watch: ${s}`));
    if (raw.events < raw.eventsExpected) r.errorSamples.push(`watch: ${raw.events} of ${raw.eventsExpected} events delivered`);
  }
  return r;
}

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const mib = (b) => b / 1048576;

/** The rows that run in rounds: how each is loaded. A row may have several phases. */
function roundPhases(row) {
  switch (row) {
    case 'put': case 'get': case 'sget': case 'txn': return [{ kind: row }];
    case 'put1': return [{ kind: 'put', row: 'put1', concurrency: 1, conns: 1 }];
    case 'range1000': return [{ kind: 'range1000', concurrency: opts.rangeClients, keys: opts.rangeKeys, prefix: 'range/' }];
    case 'watch': return [
      { kind: 'watch', row: 'watch0', concurrency: opts.watchClients, keys: 1000, prefix: 'watch/', args: ['--watchers=0'] },
      { kind: 'watch', row: 'watch', concurrency: opts.watchClients, keys: 1000, prefix: 'watch/', args: [`--watchers=${opts.watchers}`] },
    ];
    default: return [];
  }
}

/** Starts a target; undefined (and the failure recorded) when it does not start. */
async function startTarget(t, what) {
  try {
    const sut = await ServerUnderTest.start(t, { startupTimeoutMs: 30_000 });
    servers.push(sut);
    return sut;
  } catch (e) {
    const why = String(e.message).split('\n')[0];
    console.log(`  ${t.name}: FAILED TO START for ${what} (${why}); continuing without it (log tail:\n${String(e.message).split('\n').slice(-6).join('\n')})`);
    failedTargets.push({ name: t.name, row: what, error: why });
    exitCode = 1;
    return undefined;
  }
}

/** Stops `sut` and forgets it. */
async function stopOne(sut) {
  await sut.stop();
  servers.splice(servers.indexOf(sut), 1);
}

/** Lease row on a fresh server: grants, then keepalives with the server's CPU over that window. */
async function leaseRow(t) {
  const sut = await startTarget(t, 'lease');
  if (!sut) return undefined;
  try {
    let k0;
    let k1;
    const sample = () => ({ t: performance.now(), cpu: sut.cpuSeconds() });
    const [res] = await runGo(sut.endpoint, 'lease', {
      conns: opts.conns, concurrency: opts.clients, durationMs: opts.durationMs,
      args: [`--leases=${opts.leases}`, `--lease-ttl=${opts.leaseTtl}`],
      onMark: (m) => { if (m === 'keepalive-start') k0 = sample(); else if (m === 'keepalive-end') k1 = sample(); },
    });
    const raw = res.raw;
    const lat = Float64Array.from(res.latencies).sort();
    const r = {
      target: t.name, leases: opts.leases, ttlSeconds: opts.leaseTtl, granted: raw.ok, grantErrors: raw.errors,
      errorSamples: raw.errorSamples,
      grantsPerSec: raw.ok / (raw.elapsedMs / 1000), grantP50ms: percentile(lat, 0.5), grantP99ms: percentile(lat, 0.99),
      keepAlives: raw.keepAlives, keepAlivesPerSec: raw.keepAlives / (raw.keepAliveElapsedMs / 1000), leasesLost: raw.leasesLost,
      keepAliveServerCpu: k0 && k1 ? (k1.cpu - k0.cpu) / ((k1.t - k0.t) / 1000) : NaN,
      generatorCpuSeconds: raw.cpuSeconds,
    };
    if (r.grantErrors > 0 || r.leasesLost > 0) exitCode = 1;
    console.log(`  lease ${t.name}: ${r.granted} grants at ${fmt(r.grantsPerSec)}/s (p99 ${fmt(r.grantP99ms, 2)} ms), ` +
      `${r.keepAlives} keepalive responses (${fmt(r.keepAlivesPerSec)}/s), server ${fmt(r.keepAliveServerCpu, 2)} cores during ` +
      `keepalive, ${r.leasesLost} leases lost, ${r.grantErrors} errors${r.errorSamples.length ? ` (${r.errorSamples.join('; ')})` : ''}`);
    return r;
  } finally {
    await stopOne(sut);
  }
}

/** Memory row on a fresh server: RSS fresh, after the keys, after the watchers too. */
async function memoryRow(t) {
  const sut = await startTarget(t, 'memory');
  if (!sut) return undefined;
  try {
    const settle = () => new Promise((r) => setTimeout(r, 500));
    await settle();
    const rssFresh = sut.rssBytes();
    const [f] = await runGo(sut.endpoint, 'put', { conns: opts.conns, concurrency: opts.clients, fill: true, keys: opts.memoryKeys, prefix: 'mem/' });
    if (f.errors > 0) throw new Error(`${t.name}: writing ${opts.memoryKeys} keys failed: ${f.errorSamples.join('; ')}`);
    await settle();
    const rssKeys = sut.rssBytes();
    let rssWatchers = NaN;
    if (opts.memoryWatchers > 0) {
      let atEnd;
      const [w] = await runGo(sut.endpoint, 'watch', {
        conns: opts.conns, concurrency: 0, durationMs: 1000, keys: 1, prefix: 'mem/', args: [`--watchers=${opts.memoryWatchers}`],
        onMark: (m) => { if (m === 'hold-end') atEnd = sut.rssBytes(); },
      });
      if (w.raw.watchErrors > 0) throw new Error(`${t.name}: opening ${opts.memoryWatchers} watches failed: ${w.raw.watchErrorSamples.join('; ')}`);
      rssWatchers = atEnd ?? NaN;
    }
    const r = { target: t.name, keys: opts.memoryKeys, valueSize: opts.valueSize, watchers: opts.memoryWatchers,
      rssFreshMiB: mib(rssFresh), rssKeysMiB: mib(rssKeys), rssWatchersMiB: mib(rssWatchers), writeSeconds: f.elapsedMs / 1000 };
    console.log(`  memory ${t.name}: RSS fresh ${fmt(r.rssFreshMiB, 1)} MiB, after ${opts.memoryKeys} keys ${fmt(r.rssKeysMiB, 1)} MiB ` +
      `(written in ${fmt(r.writeSeconds, 1)} s), with ${opts.memoryWatchers} watches open ${fmt(r.rssWatchersMiB, 1)} MiB`);
    return r;
  } finally {
    await stopOne(sut);
  }
}

/** Recovery row on a fresh server: N revisions, kill -9, restart until a linearizable get succeeds. */
async function recoveryRow(t) {
  const s0 = performance.now();
  const sut = await startTarget(t, 'recovery');
  if (!sut) return undefined;
  const freshStartMs = performance.now() - s0;
  try {
    const [f] = await runGo(sut.endpoint, 'put', { conns: opts.conns, concurrency: opts.clients, fill: true, keys: 10000, prefix: 'rec/',
      args: [`--count=${opts.recoveryRevisions}`] });
    if (f.errors > 0) throw new Error(`${t.name}: writing ${opts.recoveryRevisions} revisions failed: ${f.errorSamples.join('; ')}`);
    await sut.kill9();
    const dataBytes = dirBytes(sut.dataDir);
    const t0 = performance.now();
    await sut.restart();
    const restartMs = performance.now() - t0;
    const r = { target: t.name, revisions: opts.recoveryRevisions, writeSeconds: f.elapsedMs / 1000, dataDirMiB: mib(dataBytes), restartMs, freshStartMs };
    console.log(`  recovery ${t.name}: first start on an empty data dir ${fmt(freshStartMs)} ms; ${opts.recoveryRevisions} revisions ` +
      `written in ${fmt(r.writeSeconds, 1)} s, data dir ${fmt(r.dataDirMiB, 1)} MiB at kill -9; restart until a linearizable get ` +
      `succeeds: ${fmt(restartMs)} ms`);
    return r;
  } finally {
    await stopOne(sut);
  }
}

// ---- run ----
const started = Date.now();
const servers = [];
const failedTargets = [];
let exitCode = 0;
const stopAll = () => Promise.all(servers.map((s) => s.stop()));
process.on('SIGINT', async () => { await stopAll(); process.exit(130); });

const machine = { cores: cpus().length, model: cpus()[0]?.model, loadavgAtStart: loadavg() };
console.log(`server bench: ${targets.map((t) => `${t.name}=${t.binary}`).join(', ')}${oursNote ? `\n  (${oursNote})` : ''}`);
console.log(`  rows ${opts.rows.join(', ')}${opts.short ? ' (--short)' : ''}; ${opts.rounds} round(s) x ${opts.durationMs} ms per target and row; ` +
  `${opts.clients} requests in flight over ${opts.conns} connections from ` +
  `${opts.generator === 'go' ? 'the Go clientv3 generator' : `${opts.workers} node worker thread(s)`}; keyspace ${opts.keys} keys, values ${opts.valueSize} bytes`);
if (generatorNote) console.log(`  ${generatorNote}`);
console.log(`  machine: ${machine.cores} cores (${machine.model}), load average ${machine.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}; ` +
  'servers and generator share these cores.');

const phases = [];
const probe = [];
const leaseResults = [];
const memoryResults = [];
const recoveryResults = [];
const roundRows = ROUND_ROWS.filter(rowOn);
try {
  if (roundRows.length > 0) {
    for (const t of targets) {
      const sut = await startTarget(t, 'rounds');
      if (!sut) {
        if (targets.length === 1) throw new Error(`${t.name} did not start`);
        continue;
      }
      const f0 = performance.now();
      const fill = opts.generator === 'go'
        ? await runGo(sut.endpoint, 'put', { conns: opts.conns, concurrency: opts.clients, fill: true })
        : await runWorkers(sut.endpoint, 'put', { workers: opts.workers, conns: opts.conns, concurrency: opts.clients, fill: true });
      if (rowOn('range1000')) fill.push(...await runGo(sut.endpoint, 'put', { conns: opts.conns, concurrency: opts.clients, fill: true, keys: opts.rangeKeys, prefix: 'range/' }));
      const fillErrors = fill.reduce((a, r) => a + r.errors, 0);
      if (fillErrors > 0) throw new Error(`${t.name}: filling the keyspace failed: ${fill.flatMap((r) => r.errorSamples).join('; ')}`);
      console.log(`  ${t.name}: started on ${sut.endpoint}, keyspace filled in ${fmt(performance.now() - f0)} ms`);
    }
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
      const runs = [];
      for (const kind of ['put', 'get']) if (rowOn(kind)) for (const shape of shapes) runs.push({ kind, ...shape });
      for (const row of ['sget', 'txn', 'range1000']) {
        if (!rowOn(row)) continue;
        const p = roundPhases(row)[0];
        const c = p.concurrency ?? opts.clients;
        for (const concurrency of [c, c * 2]) runs.push({ ...p, generator: 'go', conns: opts.conns, concurrency });
      }
      for (const { kind, ...shape } of runs) {
        const r = await phase(real, kind, { ...shape, durationMs: probeMs });
        probe.push(r);
        const who = r.generator === 'go' ? 'go clientv3 generator' : `node, ${r.workers} worker(s)`;
        console.log(`  ${r.row} ${who}, ${r.conns} conns, ${r.concurrency} in flight: ${fmt(r.rps)} req/s, ` +
          `p50 ${fmt(r.p50ms, 2)} ms, p99 ${fmt(r.p99ms, 2)} ms, server ${fmt(r.serverCpu, 2)} cores, ` +
          `generator ${fmt(r.generatorCpu, 2)} cores${r.generator === 'node' ? ` (worker loop busy ${fmt(r.workerElu * 100)}%)` : ''}, ` +
          `machine ${fmt(r.machineCpu, 2)} cores`);
      }
    }
  }

  if (servers.length > 0) {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const row of roundRows) {
        for (const p of roundPhases(row)) {
          for (const sut of servers) {
            const { kind, ...shape } = p;
            const r = await phase(sut, kind, shape);
            r.round = round;
            phases.push(r);
            if (r.errors > 0 || r.watchErrors > 0 || r.events < r.eventsExpected) exitCode = 1;
          }
        }
      }
    }
  }
  await stopAll();
  servers.length = 0;

  const once = [['lease', leaseRow, leaseResults], ['memory', memoryRow, memoryResults], ['recovery', recoveryRow, recoveryResults]];
  for (const [row, run, into] of once) {
    if (!rowOn(row)) continue;
    console.log(`\n${row} (a fresh server per target):`);
    for (const t of targets) {
      try {
        const r = await run(t);
        if (r) into.push(r);
      } catch (e) {
        console.log(`  ${row} ${t.name}: FAILED: ${String(e.message).split('\n').slice(0, 3).join(' | ')}`);
        failedTargets.push({ name: t.name, row, error: String(e.message).split('\n')[0] });
        exitCode = 1;
      }
    }
  }
} catch (e) {
  console.error(`bench/server.mjs: ${e.stack ?? e}`);
  exitCode = 1;
} finally {
  await stopAll();
}

const rowLabel = (r) => (r.row === 'watch0' ? 'watch (no watchers)' : r.row === 'watch' ? `watch (${r.watchers} watchers)` : r.row);
if (phases.length > 0) {
  const table = new Table({
    head: ['round', 'load', 'in flight', 'target', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU', 'generator CPU', 'machine CPU', 'worker loop busy'],
    style: { head: [], border: [] },
  });
  for (const r of phases) {
    table.push([r.round, rowLabel(r), r.concurrency, r.target, fmt(r.rps), fmt(r.p50ms, 2), fmt(r.p99ms, 2), r.errors,
      fmt(r.serverCpu, 2), fmt(r.generatorCpu, 2), `${fmt(r.machineCpu, 2)} / ${machine.cores}`, r.generator === 'go' ? 'n/a (go)' : `${fmt(r.workerElu * 100)}%`]);
  }
  console.log('\nresults (CPU in cores; req/s of the watch rows = puts/s):');
  console.log(table.toString());
  for (const r of phases) {
    if (r.row === 'watch') {
      console.log(`  watch ${r.target} round ${r.round}: ${r.events} of ${r.eventsExpected} events delivered to ${r.watchers} watchers, ` +
        `${fmt(r.eventsPerSec)} events/s`);
    }
  }
  for (const r of phases) if (r.errorSamples.length) console.log(`  errors (${r.target} ${r.row} round ${r.round}): ${r.errorSamples.join('; ')}`);
}

const ratios = [];
if (phases.some((p) => p.target === 'ours') && phases.some((p) => p.target === 'real')) {
  const table = new Table({ head: ['round', 'load', 'req/s ours/real', 'p50 ours/real', 'p99 ours/real'], style: { head: [], border: [] } });
  for (let round = 1; round <= opts.rounds; round++) {
    for (const row of [...new Set(phases.map((p) => p.row))]) {
      const real = phases.find((p) => p.round === round && p.row === row && p.target === 'real');
      const o = phases.find((p) => p.round === round && p.row === row && p.target === 'ours');
      if (!real || !o) continue;
      const x = { round, kind: row, rps: o.rps / real.rps, p50: o.p50ms / real.p50ms, p99: o.p99ms / real.p99ms };
      ratios.push(x);
      table.push([round, rowLabel(real), fmt(x.rps, 2), fmt(x.p50, 2), fmt(x.p99, 2)]);
    }
  }
  console.log('\nours / real (req/s: higher is better for ours; latency: lower is better):');
  console.log(table.toString());
}

// ---- the summary: one line per metric, real / ours / ratio ----
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
/** Mean of `get(phase)` over the rounds of `row` on `target`. */
const phaseMean = (row, target, get) => mean(phases.filter((p) => p.row === row && p.target === target).map(get));
const summary = [];
function addLine(row, metric, better, digits, value) {
  const real = value('real');
  const o = value('ours');
  summary.push({ row, metric, better, digits, real, ours: o, ratio: o / real });
}
const perSec = (p) => p.rps;
if (rowOn('put')) addLine('put', `puts/s, ${opts.clients} in flight`, 'higher', 0, (t) => phaseMean('put', t, perSec));
if (rowOn('get')) addLine('get', `linearizable gets/s, ${opts.clients} in flight`, 'higher', 0, (t) => phaseMean('get', t, perSec));
if (rowOn('sget')) addLine('sget', `serializable gets/s, ${opts.clients} in flight`, 'higher', 0, (t) => phaseMean('sget', t, perSec));
if (rowOn('put1')) {
  addLine('put1', 'put latency p50 (ms), 1 client', 'lower', 2, (t) => phaseMean('put1', t, (p) => p.p50ms));
  addLine('put1', 'put latency p99 (ms), 1 client', 'lower', 2, (t) => phaseMean('put1', t, (p) => p.p99ms));
}
if (rowOn('txn')) addLine('txn', `txn/s (compare mod_revision, put), ${opts.clients} in flight`, 'higher', 0, (t) => phaseMean('txn', t, perSec));
if (rowOn('range1000')) addLine('range1000', `ranges of ${opts.rangeKeys} keys/s, ${opts.rangeClients} in flight`, 'higher', 0, (t) => phaseMean('range1000', t, perSec));
if (rowOn('watch')) {
  addLine('watch', `watch events/s delivered to ${opts.watchers} watchers`, 'higher', 0, (t) => phaseMean('watch', t, (p) => p.eventsPerSec));
  addLine('watch', `puts/s while ${opts.watchers} watch, ${opts.watchClients} in flight`, 'higher', 0, (t) => phaseMean('watch', t, perSec));
  addLine('watch', `puts/s, no watchers, ${opts.watchClients} in flight`, 'higher', 0, (t) => phaseMean('watch0', t, perSec));
}
const once = (list, target, get) => { const r = list.find((x) => x.target === target); return r ? get(r) : NaN; };
if (rowOn('lease')) {
  addLine('lease', `lease grants/s, ${opts.clients} in flight`, 'higher', 0, (t) => once(leaseResults, t, (r) => r.grantsPerSec));
  addLine('lease', `keepalive responses/s, ${opts.leases} leases (TTL ${opts.leaseTtl} s)`, 'higher', 0, (t) => once(leaseResults, t, (r) => r.keepAlivesPerSec));
  addLine('lease', `server CPU (cores) during keepalive of ${opts.leases} leases`, 'lower', 2, (t) => once(leaseResults, t, (r) => r.keepAliveServerCpu));
}
if (rowOn('memory')) {
  addLine('memory', 'RSS (MiB), fresh server', 'lower', 1, (t) => once(memoryResults, t, (r) => r.rssFreshMiB));
  addLine('memory', `RSS (MiB) after ${opts.memoryKeys} keys of ${opts.valueSize} B`, 'lower', 1, (t) => once(memoryResults, t, (r) => r.rssKeysMiB));
  if (opts.memoryWatchers > 0) {
    addLine('memory', `RSS (MiB) with ${opts.memoryWatchers} watchers too`, 'lower', 1, (t) => once(memoryResults, t, (r) => r.rssWatchersMiB));
  }
}
if (rowOn('recovery')) {
  addLine('recovery', `restart after kill -9, ${opts.recoveryRevisions} revisions (ms)`, 'lower', 0, (t) => once(recoveryResults, t, (r) => r.restartMs));
  addLine('recovery', 'first start on an empty data dir, for comparison (ms)', 'lower', 0, (t) => once(recoveryResults, t, (r) => r.freshStartMs));
  addLine('recovery', 'data dir at kill -9 (MiB, file sizes; real etcd preallocates 64 MB WAL files)', 'lower', 1, (t) => once(recoveryResults, t, (r) => r.dataDirMiB));
}
if (summary.length > 0) {
  const table = new Table({ head: ['row', 'metric', 'real etcd 3.4.23', 'ours', 'ours/real', 'better'], style: { head: [], border: [] } });
  for (const l of summary) table.push([l.row, l.metric, fmt(l.real, l.digits), fmt(l.ours, l.digits), fmt(l.ratio, 2), l.better]);
  console.log(`\nsummary (${opts.rounds > 1 ? `mean of ${opts.rounds} rounds; ` : ''}${opts.durationMs} ms per phase):`);
  console.log(table.toString());
}
if (opts.md) {
  const lines = [
    `${machine.cores} cores (${machine.model}), load average at start ${machine.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}; ` +
      `\`node bench/server.mjs ${process.argv.slice(2).join(' ')}\` (${opts.durationMs} ms per phase, ${opts.rounds} round(s)` +
      `${opts.rounds > 1 ? ', means' : ''}); generator: ${opts.generator === 'go' ? 'Go clientv3 (bench/go/loadgen)' : 'node grpc-js workers'}.`,
    '',
    '| row | metric | real etcd 3.4.23 | ours | ours/real | better |',
    '|---|---|---:|---:|---:|---|',
    ...summary.map((l) => `| ${l.row} | ${l.metric} | ${fmt(l.real, l.digits)} | ${fmt(l.ours, l.digits)} | ${fmt(l.ratio, 2)}× | ${l.better} |`),
  ];
  if (failedTargets.length) lines.push('', `Failed: ${failedTargets.map((f) => `${f.name} ${f.row ?? ''}: ${f.error}`).join('; ')}`);
  if (skippedRows.length) lines.push('', `Skipped (need the Go generator): ${skippedRows.join(', ')}`);
  mkdirSync(dirname(opts.md), { recursive: true });
  writeFileSync(opts.md, lines.join('\n') + '\n');
  console.log(`(markdown summary written to ${opts.md})`);
}

const report = {
  date: new Date().toISOString(), machine, options: opts,
  targets: targets.map((t) => ({ name: t.name, binary: t.binary })), note: oursNote || undefined,
  generatorNote: generatorNote || undefined, failedTargets, skippedRows,
  saturationProbe: probe, phases, ratios, lease: leaseResults, memory: memoryResults, recovery: recoveryResults,
  summary: summary.map(({ digits, ...l }) => l),
  totalSeconds: (Date.now() - started) / 1000,
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
