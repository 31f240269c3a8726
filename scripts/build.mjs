// Builds the project:
// 1. tsc type-checks and compiles src/ and test/ into dist/ (tests run on this output);
// 2. esbuild bundles the CLI into one minified CommonJS file, dist/etcdctl.cjs; the
//    protobuf descriptors of src/gen are decoded here and embedded as JSON
//    (src/gen-support), which halves the work done at every start;
// 3. a V8 code cache for that bundle is written to dist/etcdctl.cjs.cache by running
//    the CLI once (a `get` against an unreachable endpoint exercises flag parsing,
//    printers, the gRPC client and error reporting). bin/etcdctl loads the bundle with
//    that cache, which removes most of the compile time from every cold start;
// 4. the server is bundled the same way into dist/etcd.cjs (not minified; with
//    dist/etcd.cjs.modules.json, the logger's table of its modules), and its code cache
//    written by starting a member on a scratch data dir (bin/etcd, bin/load-bundle.cjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

/**
 * esbuild plugin: generated *_pb.ts files load their descriptors from build-time JSON.
 * With `lazy` (the CLI bundle), every descriptor the module exports is also built on its
 * first use instead of when the module loads (src/gen-support/lazy-desc.ts).
 */
function prebuiltDescriptors({ lazy }) {
  return {
    name: 'prebuilt-descriptors',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]gen[\\/].*_pb\.ts$/ }, (args) => {
        let text = readFileSync(args.path, 'utf8');
        let n = 0;
        text = text.replace(/\bfileDesc\("([A-Za-z0-9+/=]+)"/g, (_m, b64) => {
          n++;
          return `fileDescJson(${JSON.stringify(packDescriptor(b64))}`;
        });
        if (n !== 1) throw new Error(`${args.path}: expected one fileDesc() call, found ${n}`);
        const support = (f) => JSON.stringify(join(root, 'src/gen-support', f).replace(/\\/g, '/'));
        let header = `import { fileDescJson } from ${support('file-desc-json.ts')};\n`;
        if (lazy) {
          text = wrapDescriptorCalls(text, args.path);
          header += `import { lazyDesc } from ${support('lazy-desc.ts')};\n`;
        }
        return { contents: header + text, loader: 'ts' };
      });
    },
  };
}

/**
 * Rewrites each `/*@__PURE__*\/ <fileDescJson|messageDesc|enumDesc|serviceDesc>(...)` of
 * a generated module into `/*@__PURE__*\/ lazyDesc(() => <the call>)`. The call's end is
 * found by counting brackets outside string literals (the descriptor JSON is one).
 * @throws Error when a descriptor call of the file is left unwrapped (the generator's
 *   output changed shape)
 */
function wrapDescriptorCalls(text, path) {
  const start = /\/\*@__PURE__\*\/\s*(fileDescJson|messageDesc|enumDesc|serviceDesc)\(/g;
  let out = '';
  let from = 0;
  let wrapped = 0;
  for (let m; (m = start.exec(text)); ) {
    const open = m.index + m[0].length - 1;
    let depth = 0;
    let i = open;
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      } else if (c === '(' || c === '[') depth++;
      else if (c === ')' || c === ']') {
        if (--depth === 0) break;
      }
    }
    const callStart = m.index + m[0].indexOf(m[1]);
    out += text.slice(from, callStart) + `lazyDesc(() => ${text.slice(callStart, i + 1)})`;
    from = i + 1;
    start.lastIndex = from;
    wrapped++;
  }
  out += text.slice(from);
  const calls = (text.match(/\b(fileDescJson|messageDesc|enumDesc|serviceDesc)\(/g) ?? []).length;
  if (wrapped !== calls) throw new Error(`${path}: wrapped ${wrapped} of ${calls} descriptor calls`);
  return out;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
const { packDescriptor } = await import(pathToFileURL(join(root, 'dist/src/gen-support/pack-descriptor.js')).href);
// the embedding API's type declarations (package.json "exports" types)
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.embed.json')], { stdio: 'inherit' });
// the pure Raft core compiles without Node's types (no timers, process, Buffer, node:*)
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'src/server/raft/tsconfig.json')], { stdio: 'inherit' });
/**
 * esbuild plugin: `import('./v2/main.js')` of src/cli/main.ts stays a run-time require of
 * the separate v2 bundle, so the v3 CLI neither parses nor compiles the v2 client.
 */
const v2Separate = {
  name: 'v2-separate',
  setup(b) {
    b.onResolve({ filter: /^\.\/v2\/main\.js$/ }, (args) =>
      args.importer.endsWith(join('src', 'cli', 'main.ts')) ? { path: './etcdctl-v2.cjs', external: true } : undefined);
  },
};
/** Options both CLI bundles share. */
const cliBundle = {
  // written below with a rename, so a CLI starting during a build never reads half a file
  write: false,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};
const v2Bundle = await build({
  ...cliBundle,
  entryPoints: [join(root, 'src/cli/v2/main.ts')],
  outfile: join(root, 'dist/etcdctl-v2.cjs'),
});
const bundle = await build({
  ...cliBundle,
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: join(root, 'dist/etcdctl.cjs'),
  // the code cache is only used with the bundle it was made from (bin/etcdctl checks this id)
  banner: { js: `// build ${randomUUID()}` },
  // keep gRPC's module initialisation lazy: import() becomes a deferred require()
  supported: { 'dynamic-import': false },
  plugins: [prebuiltDescriptors({ lazy: true }), v2Separate],
  // native bindings: required from node_modules at run time (only `defrag --data-dir` loads it)
  external: ['lmdb'],
});
/**
 * esbuild plugin: `import.meta.url` of a src/ module (a CommonJS bundle has none) becomes
 * the URL its compiled file has under dist/ (dist/src/...js), computed from the bundle's
 * own directory at run time, so paths relative to it (bin/etcd, the logger's caller
 * names) stay what they are unbundled.
 */
const importMetaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => {
      if (/[\\/]src[\\/]gen[\\/].*_pb\.ts$/.test(args.path)) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const rel = relative(root, args.path).replace(/\.ts$/, '.js').split(sep).join('/');
      const url = `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(rel)})).href`;
      return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};
// the server (bin/etcd, `etcdctl serve`): one file instead of ~300 ES modules cuts its
// start from ~0.65 s to ~0.1 s. Not minified: the logger names a log line's caller from
// the `// src/...` module comments esbuild writes (src/server/logger.ts).
const serverBundle = await build({
  ...cliBundle,
  minify: false,
  entryPoints: [join(root, 'src/server/etcdmain/main.ts')],
  outfile: join(root, 'dist/etcd.cjs'),
  banner: { js: `// build ${randomUUID()}` },
  supported: { 'dynamic-import': false },
  plugins: [prebuiltDescriptors({ lazy: false }), importMetaUrl],
  external: ['lmdb'],
});
// the server bundle's module table for the logger's caller names: [first line, module]
// from the `// src/...` comment esbuild writes before each module (src/server/logger.ts)
const serverModules = [];
serverBundle.outputFiles[0].text.split('\n').forEach((l, i) => {
  if (/^\/\/ (src|node_modules)\/\S+$/.test(l)) serverModules.push([i + 1, l.slice(3)]);
});
writeFileSync(join(root, 'dist/etcd.cjs.modules.json'), JSON.stringify(serverModules));
for (const f of [...v2Bundle.outputFiles, ...bundle.outputFiles, ...serverBundle.outputFiles]) {
  const tmp = `${f.path}.${process.pid}.tmp`;
  writeFileSync(tmp, f.contents);
  renameSync(tmp, f.path);
}
// the CLI's code cache, written while the server above serves (warmServer): one process
// runs the commands people run most (put, get, endpoint health) and a get against an
// unreachable endpoint (the error path), so the cache holds what a cold start needs
// instead of compiling it (bin/etcdctl get against a member: ~2.5 ms less in main)
await warmServer(warmCli);

/**
 * Runs the CLI bundle's main() for a few commands in one process with
 * ETCDTS_WRITE_CODE_CACHE set (the cache is written at its exit). `endpoint` is a
 * serving member's host:port, or undefined when none started (only the error path then).
 */
function warmCli(endpoint) {
  const runs = [['--endpoints=127.0.0.1:1', '--command-timeout=200ms', 'get', 'k']];
  if (endpoint) {
    const ep = `--endpoints=${endpoint}`;
    runs.push([ep, 'put', 'k', 'v'], [ep, 'get', 'k'], [ep, 'get', 'k', '--prefix', '-w', 'json'], [ep, 'endpoint', 'health'], [ep, 'del', 'k']);
  }
  const script = `
    const ex = require(${JSON.stringify(join(root, 'bin/load-bundle.cjs'))}).loadBundle(${JSON.stringify(join(root, 'dist/etcdctl.cjs'))});
    (async () => { for (const argv of ${JSON.stringify(runs)}) await ex.main(argv, process.env); process.exit(0); })();`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ETCDTS_WRITE_CODE_CACHE: '1' }, stdio: 'ignore', timeout: 30_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) process.stderr.write(`build: writing the CLI's code cache failed (exit ${r.status}); it starts without one\n`);
}

/**
 * Starts bin/etcd with ETCDTS_WRITE_CODE_CACHE on free loopback ports (bounded to 30 s),
 * calls `whileServing(host:port)` once it serves (`whileServing(undefined)` if it never
 * does), then stops it with SIGTERM, which writes the server's code cache.
 */
async function warmServer(whileServing) {
  const { createServer } = await import('node:net');
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const freePort = () =>
    new Promise((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    });
  const [c, p] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'etcdts-warm-'));
  const child = spawn(
    process.execPath,
    [join(root, 'bin/etcd'), `--data-dir=${dir}`, `--listen-client-urls=http://127.0.0.1:${c}`, `--advertise-client-urls=http://127.0.0.1:${c}`, `--listen-peer-urls=http://127.0.0.1:${p}`, `--initial-advertise-peer-urls=http://127.0.0.1:${p}`, `--initial-cluster=default=http://127.0.0.1:${p}`],
    { env: { ...process.env, ETCDTS_WRITE_CODE_CACHE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = new Promise((resolve) => {
    child.stderr.on('data', (d) => {
      log += d;
      if (log.includes('ready to serve client requests')) resolve(true);
    });
    exited.then(() => resolve(false));
    setTimeout(() => resolve(false), 30_000).unref();
  });
  const ok = await ready;
  whileServing(ok ? `127.0.0.1:${c}` : undefined);
  child.kill(ok ? 'SIGTERM' : 'SIGKILL');
  await exited;
  rmSync(dir, { recursive: true, force: true });
  if (!ok) process.stderr.write(`build: the server did not start for its code cache (it runs without one):\n${log.slice(-2000)}\n`);
}
