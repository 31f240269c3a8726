// The v2 store survives restarts: the same writes on real etcd 3.4.23 and on ours
// (--enable-v2, --snapshot-count=8 so raft snapshots, which carry the v2 store, are
// taken and the WAL after them replayed), then kill -9 and restart, more writes, a
// graceful stop (SIGTERM) and restart: the whole keyspace, X-Etcd-Index and a watch
// answered from the event history are compared after each restart. Also TTL expiry
// through the leader's SYNC requests: the key disappears and the `expire` event is in
// the history, as on real etcd.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerUnderTest, realTarget, oursTarget, type ServerTarget } from '../../harness/server-under-test.js';
import { v2Request } from './v2-http.js';

const url = (s: ServerUnderTest) => `http://${s.endpoint}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function norm(s: ServerUnderTest, text: string): string {
  return text
    .split(url(s))
    .join('<url>')
    .replace(/"expiration":"[^"]*"/g, '"expiration":"<time>"')
    .replace(/"ttl":-?\d+,/g, '');
}

async function dump(s: ServerUnderTest, historyIndex: number): Promise<string[]> {
  const all = await v2Request(url(s), 'GET', '/v2/keys/?recursive=true&sorted=true');
  const hist = await v2Request(url(s), 'GET', `/v2/keys/?wait=true&recursive=true&waitIndex=${historyIndex}`);
  const q = await v2Request(url(s), 'GET', '/v2/keys/d/e?quorum=true');
  return [String(all.status), String(all.headers['x-etcd-index']), norm(s, all.body), norm(s, hist.body), norm(s, q.body)];
}

async function sigterm(s: ServerUnderTest): Promise<void> {
  process.kill(s.pid!, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (!s.exitState()) {
    if (Date.now() > deadline) throw new Error('server did not exit on SIGTERM');
    await sleep(50);
  }
}

async function scenario(target: ServerTarget): Promise<string[]> {
  const s = await ServerUnderTest.start(target, { extraArgs: ['--enable-v2', '--snapshot-count=8'] });
  const out: string[] = [];
  try {
    const put = (p: string, body = '') => v2Request(url(s), 'PUT', p, { body });
    for (let i = 0; i < 6; i++) await put(`/v2/keys/k${i}`, `value=v${i}`);
    await put('/v2/keys/d/e', 'value=deep');
    await put('/v2/keys/dir?dir=true');
    await v2Request(url(s), 'POST', '/v2/keys/queue', { body: 'value=j1' });
    await v2Request(url(s), 'POST', '/v2/keys/queue', { body: 'value=j2' });
    await put('/v2/keys/ttl?ttl=10000', 'value=t');
    await put('/v2/keys/k1?prevValue=v1', 'value=swapped');
    await v2Request(url(s), 'DELETE', '/v2/keys/k2');
    await put('/v2/keys/_hidden', 'value=h');
    out.push(...(await dump(s, 8)));
    await s.kill9();
    await s.restart();
    out.push('after kill -9', ...(await dump(s, 8)));
    for (let i = 0; i < 10; i++) await put(`/v2/keys/more/m${i}`, `value=${i}`);
    await v2Request(url(s), 'DELETE', '/v2/keys/more?recursive=true');
    await sigterm(s);
    await s.restart();
    out.push('after SIGTERM', ...(await dump(s, 8)));
    // writes still work and continue the index
    const w = await put('/v2/keys/after', 'value=a');
    out.push(String(w.status), norm(s, w.body));
  } finally {
    await s.stop();
  }
  return out;
}

test('v2 store after kill -9 and restart, and after a graceful restart, as real etcd', async () => {
  const ours = oursTarget();
  assert.ok(ours, 'our server is not built');
  const [a, b] = await Promise.all([scenario(realTarget()), scenario(ours)]);
  assert.deepEqual(b, a);
  assert.match(a[2]!, /"key":"\/d"/);
});

async function expiry(target: ServerTarget): Promise<string[]> {
  const s = await ServerUnderTest.start(target, { extraArgs: ['--enable-v2'] });
  try {
    const w = await v2Request(url(s), 'PUT', '/v2/keys/short?ttl=1', { body: 'value=gone-soon' });
    await v2Request(url(s), 'PUT', '/v2/keys/tdir?dir=true&ttl=1');
    await v2Request(url(s), 'PUT', '/v2/keys/tdir/child', { body: 'value=c' });
    await v2Request(url(s), 'PUT', '/v2/keys/long?ttl=1000', { body: 'value=stays' });
    const idx = Number(w.headers['x-etcd-index']);
    const deadline = Date.now() + 20_000;
    let g = await v2Request(url(s), 'GET', '/v2/keys/short');
    while (g.status !== 404) {
      if (Date.now() > deadline) throw new Error(`key did not expire: ${g.body}`);
      await sleep(200);
      g = await v2Request(url(s), 'GET', '/v2/keys/short');
    }
    let d = await v2Request(url(s), 'GET', '/v2/keys/tdir');
    while (d.status !== 404) {
      if (Date.now() > deadline) throw new Error(`dir did not expire: ${d.body}`);
      await sleep(200);
      d = await v2Request(url(s), 'GET', '/v2/keys/tdir');
    }
    const ev = await v2Request(url(s), 'GET', `/v2/keys/short?wait=true&waitIndex=${idx + 1}`);
    const child = await v2Request(url(s), 'GET', `/v2/keys/tdir/child?wait=true&waitIndex=${idx + 3}`);
    const long = await v2Request(url(s), 'GET', '/v2/keys/long');
    const stats = JSON.parse((await v2Request(url(s), 'GET', '/v2/stats/store')).body) as { expireCount: number };
    return [norm(s, g.body).replace(/"index":\d+/, ''), norm(s, ev.body), norm(s, child.body), String(long.status), String(stats.expireCount)];
  } finally {
    await s.stop();
  }
}

test('v2 TTL expiry through the log: key and directory expire, expire events in the history, as real etcd', async () => {
  const ours = oursTarget();
  assert.ok(ours, 'our server is not built');
  const [a, b] = await Promise.all([expiry(realTarget()), expiry(ours)]);
  assert.deepEqual(b, a);
  assert.match(a[1]!, /"action":"expire"/);
});
