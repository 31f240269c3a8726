// Our etcd started on a real etcd 3.4.23 member's data dir keeps its v2 keys: real
// etcd --enable-v2 --snapshot-count=10 writes v2 keys (so its .snap files hold the v2
// store and its WAL has v2 requests after them), then our bin/etcd --enable-v2 starts
// on the same dir (importing it) and serves the same v2 keyspace and event history as
// real etcd served on it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnEtcdProcess, type RawEtcdProcess } from '../../harness/cluster.js';
import { ETCD_BIN, OUR_ETCD_BIN } from '../../harness/etcd.js';
import { getFreePort } from '../../harness/ports.js';
import { v2Request } from './v2-http.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'v2-import-'));
const procs: RawEtcdProcess[] = [];
after(async () => {
  for (const p of procs) await p.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(binary: string, dataDir: string, client: number, peer: number): Promise<{ p: RawEtcdProcess; url: string }> {
  const url = `http://127.0.0.1:${client}`;
  const p = spawnEtcdProcess(binary, [
    '--name=n1',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-cluster=n1=http://127.0.0.1:${peer}`,
    '--enable-v2',
    '--snapshot-count=10',
  ]);
  procs.push(p);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const h = await v2Request(url, 'GET', '/health', { timeoutMs: 2000 }).catch(() => undefined);
    if (h?.body.includes('"health":"true"')) return { p, url };
    if (p.exited() || Date.now() > deadline) throw new Error(`${binary} did not start on ${dataDir}:\n${p.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function view(url: string): Promise<{ index: number; body: string; hist: string }> {
  const all = await v2Request(url, 'GET', '/v2/keys/?recursive=true&sorted=true');
  const hist = await v2Request(url, 'GET', '/v2/keys/q?wait=true&recursive=true&waitIndex=20');
  return { index: Number(all.headers['x-etcd-index']), body: all.body, hist: hist.body };
}

test('our etcd on a real etcd --enable-v2 data dir serves its v2 keys and history', async () => {
  const data = path.join(dir, 'member-dir');
  const client = await getFreePort();
  const peer = await getFreePort();
  const real = await start(ETCD_BIN, data, client, peer);
  for (let i = 0; i < 25; i++) await v2Request(real.url, 'PUT', `/v2/keys/k${i % 7}`, { body: `value=v${i}` });
  await v2Request(real.url, 'PUT', '/v2/keys/d/e?ttl=10000', { body: 'value=deep' });
  await v2Request(real.url, 'PUT', '/v2/keys/emptydir?dir=true');
  await v2Request(real.url, 'POST', '/v2/keys/q', { body: 'value=job' });
  await v2Request(real.url, 'DELETE', '/v2/keys/k3');
  await v2Request(real.url, 'PUT', '/v2/keys/_hidden', { body: 'value=h' });
  await real.p.kill();
  assert.ok(fs.readdirSync(path.join(data, 'member', 'snap')).some((n) => n.endsWith('.snap')), 'etcd saved raft snapshots');

  const again = await start(ETCD_BIN, data, client, peer);
  const want = await view(again.url);
  await again.p.kill();

  const ours = await start(OUR_ETCD_BIN, data, client, peer);
  const got = await view(ours.url);
  assert.ok(fs.existsSync(path.join(data, 'member.etcd-3.4')), 'the originals are kept');
  const norm = (t: string) => t.replace(/"expiration":"[^"]*","ttl":\d+/g, '"expiration":"<t>","ttl":<n>');
  assert.equal(norm(got.body), norm(want.body));
  assert.equal(got.hist, want.hist);
  assert.match(want.body, /"key":"\/d\/e","value":"deep"/);
  // both starts published the member's attributes once more (one index each)
  assert.equal(got.index, want.index + 1);
  const w = await v2Request(ours.url, 'PUT', '/v2/keys/after', { body: 'value=x' });
  assert.equal(w.headers['x-etcd-index'], String(want.index + 2));
  await ours.p.kill();
  // and again after a restart on our own format
  const ours2 = await start(OUR_ETCD_BIN, data, client, peer);
  const got2 = await view(ours2.url);
  assert.match(got2.body, /"key":"\/after","value":"x"/);
  assert.equal(got2.hist, want.hist);
});
