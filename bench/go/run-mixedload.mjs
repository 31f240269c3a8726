// Runs the Go clientv3 mixed-load program (bench/go/mixedload) against each server target:
// the real etcd 3.4.23 and ours (when dist/src/server/etcdmain/main.js exists), and prints
// PASS/FAIL per target (PASS = no errors, every read agreed with this client's writes, the
// watcher saw exactly the events of the acknowledged writes).
//
//   npm run bench:go                           (10 s per target, 32 clients)
//   node bench/go/run-mixedload.mjs --duration=20s --clients=64
//
// Needs `go` and Debian's golang-etcd-server-dev (see bench/go/build.mjs) and a build
// (dist/test/harness/server-under-test.js). Other arguments are passed to mixedload.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGo } from './build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const harness = join(root, 'dist', 'test', 'harness', 'server-under-test.js');
if (!existsSync(harness)) {
  console.error('bench/go/run-mixedload.mjs: dist/test/harness/server-under-test.js is missing: run `npm run build` first');
  process.exit(2);
}
const { serverTargets, ServerUnderTest } = await import(harness);
const t0 = Date.now();
const bin = buildGo('mixedload');
console.log(`mixedload built (${((Date.now() - t0) / 1000).toFixed(1)} s): ${bin}`);
const extra = process.argv.slice(2);
const args = [extra.some((a) => a.startsWith('--duration')) ? [] : ['--duration=10s'], ...extra].flat();

let allPass = true;
for (const target of serverTargets()) {
  const sut = await ServerUnderTest.start(target);
  try {
    console.log(`\n${target.name} (${target.binary}) on ${sut.endpoint}:`);
    const code = await new Promise((resolve, reject) => {
      const child = spawn(bin, [`--endpoints=${sut.endpoint}`, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.on('data', (b) => process.stdout.write(`JSON ${target.name}: ${b}`));
      child.once('error', reject);
      child.once('close', resolve);
    });
    const pass = code === 0;
    if (!pass) allPass = false;
    console.log(`${pass ? 'PASS' : 'FAIL'}: ${target.name}${pass ? '' : ` (mixedload exit code ${code})`}`);
  } finally {
    await sut.stop();
  }
}
if (!serverTargets().some((t) => t.name === 'ours')) console.log('\n(ours: not built, dist/src/server/etcdmain/main.js missing)');
process.exit(allPass ? 0 : 1);
