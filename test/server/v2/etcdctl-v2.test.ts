// The real etcdctl 3.4.23 in its v2 mode (ETCDCTL_API=2 /usr/bin/etcdctl) against real
// etcd --enable-v2 and against ours: the same commands in the same order, stdout, stderr
// and exit code compared (client ports normalised). Also the seed command of the v2
// docs, `curl -L http://127.0.0.1:PORT/v2/keys/message -XPUT -d value="Hello world"`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { EtcdProcess } from '../../harness/etcd.js';
import { runCli, REAL } from '../../harness/run.js';
import { useV2Pair } from './common.js';
import { v2Request } from './v2-http.js';

const pair = useV2Pair();

function norm(s: EtcdProcess, text: string): string {
  return text.split(s.clientURL).join('http://127.0.0.1:<port>').split(s.endpoint).join('127.0.0.1:<port>');
}

async function ctl(s: EtcdProcess, args: string[]): Promise<string> {
  const r = await runCli(REAL, ['--endpoints', s.clientURL, ...args], { env: { ETCDCTL_API: '2' } });
  return `${args.join(' ')}\n[${r.code}]\n${norm(s, r.stdout.toString('utf8'))}${norm(s, r.stderr)}`;
}

async function sequence(cmds: string[][]): Promise<void> {
  const diffs: string[] = [];
  for (const c of cmds) {
    const a = await ctl(pair.real!, c);
    const b = await ctl(pair.ours!, c);
    if (a !== b) diffs.push(`real:\n${a}\nours:\n${b}`);
  }
  assert.equal(diffs.join('\n----\n'), '');
}

test('curl -L .../v2/keys/message -XPUT -d value="Hello world" (the seed command)', async () => {
  const run = (s: EtcdProcess) =>
    new Promise<string>((resolve, reject) => {
      const c = spawn('curl', ['-sS', '-L', `${s.clientURL}/v2/keys/message`, '-XPUT', '-d', 'value=Hello world']);
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (out += d.toString()));
      c.on('error', reject);
      c.on('close', (code) => resolve(`${code} ${out}`));
    });
  const a = await run(pair.real!);
  const b = await run(pair.ours!);
  assert.equal(b, a);
  assert.match(a, /"value":"Hello world"/);
});

test('ETCDCTL_API=2 etcdctl: set/get/mk/mkdir/ls/update/rm/rmdir/ttl/errors, as against real etcd', async () => {
  await sequence([
    ['set', '/message', 'Hello world'],
    ['get', '/message'],
    ['-o', 'json', 'get', '/message'],
    ['-o', 'extended', 'get', '/message'],
    ['mkdir', '/dir1'],
    ['mkdir', '/dir1'],
    ['set', '/dir1/a', '1'],
    ['set', '/dir1/sub/b', '2'],
    ['ls', '--recursive', '-p', '--sort', '/'],
    ['ls', '/dir1/sub'],
    ['ls', '--recursive', '-p', '/dir1/sub'],
    ['update', '/message', 'updated'],
    ['update', '/nope', 'x'],
    ['mk', '/message', 'again'],
    ['mk', '/fresh', 'new'],
    ['get', '/nope'],
    ['get', '/dir1'],
    ['set', '/dir1', 'x'],
    ['set', '--swap-with-value', 'nope', '/fresh', 'y'],
    ['set', '--swap-with-value', 'new', '/fresh', 'y'],
    ['rm', '--with-value', 'x', '/fresh'],
    ['rm', '/fresh'],
    ['rm', '/fresh'],
    ['rmdir', '/dir1'],
    ['rm', '--recursive', '/dir1'],
    ['mkdir', '/empty'],
    ['rmdir', '/empty'],
    ['set', '--ttl', '100', '/ttlkey', 'temp'],
    ['update', '--ttl', '200', '/ttlkey', 'temp2'],
    ['updatedir', '--ttl', '100', '/ttlkey'],
    ['mkdir', '--ttl', '100', '/ttldir'],
    ['setdir', '/setdir'],
    ['ls', '--sort', '/'],
    ['rmdir', '/'],
    ['member', 'list'],
    ['cluster-health'],
  ]);
});

test('ETCDCTL_API=2 etcdctl watch and exec-watch see the next change', async () => {
  const run = async (s: EtcdProcess): Promise<string> => {
    const w = runCli(REAL, ['--endpoints', s.clientURL, 'watch', '/watched'], { env: { ETCDCTL_API: '2' }, timeoutMs: 15_000 });
    const wr = runCli(REAL, ['--endpoints', s.clientURL, 'watch', '--recursive', '/wdir'], { env: { ETCDCTL_API: '2' }, timeoutMs: 15_000 });
    // the watchers are up once the server counts them
    const deadline = Date.now() + 10_000;
    for (;;) {
      const st = JSON.parse((await v2Request(s.clientURL, 'GET', '/v2/stats/store')).body) as { watchers: number };
      if (st.watchers >= 2) break;
      if (Date.now() > deadline) throw new Error('watchers did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await runCli(REAL, ['--endpoints', s.clientURL, 'set', '/watched', 'seen'], { env: { ETCDCTL_API: '2' } });
    await runCli(REAL, ['--endpoints', s.clientURL, 'set', '/wdir/x', 'inner'], { env: { ETCDCTL_API: '2' } });
    const r = await w;
    const rr = await wr;
    return `[${r.code}] ${r.stdout.toString()}${r.stderr}\n[${rr.code}] ${rr.stdout.toString()}${rr.stderr}`;
  };
  const a = await run(pair.real!);
  const b = await run(pair.ours!);
  assert.equal(b, a);
  assert.match(a, /seen/);
});
