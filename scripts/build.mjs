// Builds the project:
// 1. tsc type-checks and compiles src/ and test/ into dist/ (tests run on this output);
// 2. esbuild bundles the CLI into one minified CommonJS file, dist/etcdctl.cjs; the
//    protobuf descriptors of src/gen are decoded here and embedded as JSON
//    (src/gen-support), which halves the work done at every start;
// 3. a V8 code cache for that bundle is written to dist/etcdctl.cjs.cache by running
//    the CLI once (a `get` against an unreachable endpoint exercises flag parsing,
//    printers, the gRPC client and error reporting). bin/etcdctl loads the bundle with
//    that cache, which removes most of the compile time from every cold start.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

/** esbuild plugin: generated *_pb.ts files load their descriptors from build-time JSON. */
const prebuiltDescriptors = {
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
      const helper = join(root, 'src/gen-support/file-desc-json.ts').replace(/\\/g, '/');
      text = `import { fileDescJson } from ${JSON.stringify(helper)};\n` + text;
      return { contents: text, loader: 'ts' };
    });
  },
};

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
  plugins: [prebuiltDescriptors, v2Separate],
  // native bindings: required from node_modules at run time (only `defrag --data-dir` loads it)
  external: ['lmdb'],
});
for (const f of [...v2Bundle.outputFiles, ...bundle.outputFiles]) {
  const tmp = `${f.path}.${process.pid}.tmp`;
  writeFileSync(tmp, f.contents);
  renameSync(tmp, f.path);
}
const warm = spawnSync(process.execPath, [join(root, 'bin/etcdctl'), '--endpoints=127.0.0.1:1', '--command-timeout=200ms', 'get', 'k'], {
  env: { ...process.env, ETCDTS_WRITE_CODE_CACHE: '1' },
  stdio: 'ignore',
});
if (warm.error) throw warm.error;
