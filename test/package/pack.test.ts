// The npm package as users get it: `npm pack` (dist/ as built by the test command;
// --ignore-scripts so nothing rebuilds dist/ under the other tests), then
// `npm i -g ./<tarball>` into a clean prefix, outside the repository:
// - the tarball holds only what runs (bin/, the CLI bundle, the compiled dist/src,
//   README, package.json): no sources, tests or scripts;
// - the installed `etcdctl` and `etcd` commands work: versions, a server started from the
//   installed `etcd` answers the installed `etcdctl`;
// - a program outside the repository imports `startEtcd` by the package name;
// - `npx --package ./<tarball> etcdctl version` works.
// Dependencies come from npm's cache (filled by `npm ci`), the registry otherwise.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { getFreePorts } from '../harness/ports.js';
import { killAllProcs, startProc, stopProc } from '../harness/proc.js';
import { REPO_ROOT } from '../harness/run.js';

const run = promisify(execFile);
const NPM = { timeout: 180_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } };

let dir: string;
let tarball: string;
let prefix: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pack-test-'));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { ...NPM, cwd: REPO_ROOT });
  tarball = path.join(dir, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
  prefix = path.join(dir, 'prefix');
  await run('npm', ['i', '-g', '--prefix', prefix, '--prefer-offline', tarball], { ...NPM, cwd: dir });
});

after(() => {
  killAllProcs();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the npm package', { timeout: 300_000 }, () => {
  test('the tarball ships only what runs', async () => {
    const { stdout } = await run('tar', ['tzf', tarball]);
    const files = stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    assert.ok(files.includes('bin/etcdctl') && files.includes('bin/etcd') && files.includes('dist/etcdctl.cjs') && files.includes('dist/etcd.cjs') && files.includes('dist/etcd.cjs.cache'));
    assert.ok(files.includes('dist/etcdctl-v2.cjs'), 'the v2 client bundle (ETCDCTL_API=2)');
    assert.ok(files.includes('dist/src/server/etcdmain/main.js') && files.includes('dist/src/embed/index.js') && files.includes('dist/src/embed/index.d.ts'));
    const stray = files.filter((f) => /^(src|test|scripts|bench|proto|dist\/test)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts'));
    assert.deepEqual(stray, []);
  });

  test('the installed etcdctl and etcd work together', async () => {
    const bin = path.join(prefix, 'bin');
    const v = await run(path.join(bin, 'etcdctl'), ['version'], { cwd: dir });
    assert.equal(v.stdout, 'etcdctl version: 3.4.23\nAPI version: 3.4\n');
    const v2 = await run(path.join(bin, 'etcdctl'), ['--version'], { cwd: dir, env: { ...process.env, ETCDCTL_API: '2' } });
    assert.equal(v2.stdout, 'etcdctl version: 3.4.23\nAPI version: 2\n');
    const ev = await run(path.join(bin, 'etcd'), ['--version'], { cwd: dir });
    assert.match(ev.stdout, /^etcd Version: 3\.4\.23\n/);
    const [client, peer] = await getFreePorts(2);
    const c = `http://127.0.0.1:${client}`;
    const server = startProc(path.join(bin, 'etcd'), [`--data-dir=${path.join(dir, 'data')}`, `--listen-client-urls=${c}`, `--advertise-client-urls=${c}`, `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=default=http://127.0.0.1:${peer}`]);
    try {
      const ep = `--endpoints=127.0.0.1:${client}`;
      const deadline = Date.now() + 20_000;
      for (;;) {
        const h = await run(path.join(bin, 'etcdctl'), [ep, 'put', 'k', 'v'], { cwd: dir }).catch((e: unknown) => e as { stdout?: string });
        if (h.stdout === 'OK\n') break;
        assert.ok(Date.now() < deadline && !server.exited, `the installed etcd did not answer: ${Buffer.concat(server.err).toString()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal((await run(path.join(bin, 'etcdctl'), [ep, 'get', 'k', '--print-value-only'], { cwd: dir })).stdout, 'v\n');
    } finally {
      await stopProc(server, 'SIGTERM');
    }
  });

  test('a program outside the repository imports startEtcd by the package name', async () => {
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"type":"module"}\n');
    fs.symlinkSync(path.join(prefix, 'lib', 'node_modules'), path.join(app, 'node_modules'));
    fs.writeFileSync(
      path.join(app, 'main.js'),
      "import { startEtcd } from 'etcdctl-ts';\nconst e = await startEtcd();\nconst r = await fetch(e.clientUrls[0] + '/health');\nconsole.log(JSON.stringify(await r.json()));\nawait e.close();\n",
    );
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: app, timeout: 60_000 });
    assert.equal(stdout, '{"health":"true"}\n');
  });

  test('npx --package <tarball> etcdctl', async () => {
    const { stdout } = await run('npx', ['--yes', '--prefer-offline', '--package', tarball, '--', 'etcdctl', 'version'], { ...NPM, cwd: dir });
    assert.equal(stdout, 'etcdctl version: 3.4.23\nAPI version: 3.4\n');
  });
});
