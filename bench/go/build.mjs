// Builds the Go programs under bench/go (mixedload, loadgen) offline, against the etcd 3.4.23
// clientv3 sources of Debian's golang-etcd-server-dev:
//   GOPATH=/usr/share/gocode GO111MODULE=off go build
// Needs `go` (apt-get install -y golang-go golang-etcd-server-dev). Binaries go to
// $TMPDIR/etcdts-bench-go/<name> and are rebuilt only when main.go is newer.
//
//   node bench/go/build.mjs [mixedload|loadgen ...]     (default: both)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const GO_PROGRAMS = ['mixedload', 'loadgen'];
const GOPATH = process.env.ETCDTS_GOPATH || '/usr/share/gocode';

/** True when `go` runs and the clientv3 sources are installed. */
export function goAvailable() {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  return r.status === 0 && existsSync(join(GOPATH, 'src', 'go.etcd.io', 'etcd', 'clientv3'));
}

/**
 * Builds bench/go/<name> and returns the binary's path.
 * @throws Error with go's output when go is missing or the build fails.
 */
export function buildGo(name) {
  if (!GO_PROGRAMS.includes(name)) throw new Error(`buildGo: unknown program ${name} (${GO_PROGRAMS.join(', ')})`);
  const src = join(here, name);
  const outDir = join(tmpdir(), 'etcdts-bench-go');
  const out = join(outDir, name);
  if (existsSync(out) && statSync(out).mtimeMs > statSync(join(src, 'main.go')).mtimeMs) return out;
  mkdirSync(outDir, { recursive: true });
  const r = spawnSync('go', ['build', '-o', out, '.'], {
    cwd: src,
    encoding: 'utf8',
    env: { ...process.env, GOPATH, GO111MODULE: 'off', GOFLAGS: '', GOCACHE: join(outDir, 'cache') },
    timeout: 600_000,
  });
  if (r.error) throw new Error(`go build ${name}: ${r.error.message} (install: apt-get install -y golang-go golang-etcd-server-dev)`);
  if (r.status !== 0) throw new Error(`go build ${name} failed:\n${r.stdout}${r.stderr}`);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const name of process.argv.length > 2 ? process.argv.slice(2) : GO_PROGRAMS) {
    const t = Date.now();
    console.log(`${name}: ${buildGo(name)} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  }
}
