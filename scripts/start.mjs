// `npm start [-- etcd flags]`: runs the bundled etcd server (`bin/etcdctl serve`) with
// etcd's defaults (client URL http://localhost:2379, data dir ./default.etcd, as etcd
// itself), builds first when dist/ is missing or older than src/, waits until the
// server answers, prints how to talk to it, and runs until Ctrl-C (SIGINT/SIGTERM are
// passed to the server, which closes gracefully). With `--cluster-size N` (ours, not
// etcd's) the server is a launcher of N members (src/server/etcdmain/cluster-launcher.ts)
// that prints its own "how to talk to it" text with every member's client URL.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = [join(root, 'dist/etcdctl.cjs'), join(root, 'dist/etcd.cjs')];

/** Newest modification time (ms) of the files under `dir`. */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const stale = built.some((f) => !existsSync(f)) || newest(join(root, 'src')) > Math.min(...built.map((f) => statSync(f).mtimeMs));
if (stale) {
  console.log('building (dist/ is missing or older than src/) ...');
  const b = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const args = process.argv.slice(2);
const etcdctl = join(root, 'bin/etcdctl');
const cluster = args.some((a) => /^--?cluster-size(=|$)/.test(a));
const server = spawn(process.execPath, [etcdctl, 'serve', ...args], { stdio: 'inherit' });
let exited = false;
server.on('exit', (code, signal) => {
  exited = true;
  process.exitCode = code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1);
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => server.kill(sig));
// the launcher reports readiness (or what failed) itself
if (!cluster) await announce();

/** Waits (up to 60 s) until the single server answers, then prints how to talk to it. */
async function announce() {
  // the client URL the server advertises: --advertise-client-urls if given, else etcd's default
  // (`--advertise-client-urls=x`, `-advertise-client-urls x`, or the ETCD_ variable)
  function flagValue(name) {
    for (let i = 0; i < args.length; i++) {
      const m = new RegExp(`^--?${name}(?:=(.*))?$`).exec(args[i]);
      if (m) return m[1] ?? args[i + 1];
    }
    return undefined;
  }
  const endpoint = (flagValue('advertise-client-urls') ?? process.env.ETCD_ADVERTISE_CLIENT_URLS)?.split(',')[0] || 'http://localhost:2379';
  const epFlag = endpoint === 'http://localhost:2379' ? '' : ` --endpoints=${endpoint}`;

  const deadline = Date.now() + 60_000;
  while (!exited && Date.now() < deadline) {
    const r = spawnSync(process.execPath, [etcdctl, `--endpoints=${endpoint}`, '--command-timeout=1s', 'endpoint', 'health'], { encoding: 'utf8' });
    if (r.status === 0) {
      console.log(`
etcd is serving clients at ${endpoint} (data in ./default.etcd unless --data-dir was given).
Talk to it with:
  ./bin/etcdctl${epFlag} put foo bar
  ./bin/etcdctl${epFlag} get foo
  ./bin/etcdctl${epFlag} watch foo --prefix
Press Ctrl-C to stop it.
`);
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!exited && Date.now() >= deadline) console.error(`etcd did not answer at ${endpoint} within 60 s; it is still running (Ctrl-C stops it)`);
}
