// The v2 HTTP API (--enable-v2) of our etcd against real etcd 3.4.23: the same
// sequence of requests to a fresh member of each, and the status, etcd's headers
// (X-Etcd-Index, X-Raft-Index, X-Raft-Term, X-Etcd-Cluster-Id, Content-Type, Allow, Location) and the body
// compared byte for byte, with client ports and expiration times normalised. Both
// members are started with the same name, peer URL and token, so member and
// cluster IDs match. Also: without --enable-v2 both answer 404 on /v2/keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcd, stopAll, type EtcdProcess } from '../../harness/etcd.js';
import { useV2Pair } from './common.js';
import { normaliseV2, v2Headers, v2Request, v2Watch, type V2Answer } from './v2-http.js';

const pair = useV2Pair();

interface Req {
  method: string;
  path: string;
  body?: string;
  contentType?: string;
  /** compare only the status and headers (the body holds something else that differs) */
  noBody?: boolean;
  /** headers not to compare */
  skipHeaders?: string[];
}

function view(a: V2Answer, urls: string[], r: Req): unknown {
  const h = v2Headers(a);
  for (const k of r.skipHeaders ?? []) delete h[k];
  return { status: a.status, headers: h, body: r.noBody ? '' : normaliseV2(a.body, urls) };
}

async function both(r: Req): Promise<{ real: unknown; ours: unknown; realRaw: V2Answer }> {
  const urls = [pair.real!.clientURL, pair.ours!.clientURL];
  const opts = { ...(r.body !== undefined ? { body: r.body } : {}), ...(r.contentType !== undefined ? { contentType: r.contentType } : {}) };
  const a = await v2Request(pair.real!.clientURL, r.method, r.path, opts);
  const b = await v2Request(pair.ours!.clientURL, r.method, r.path, opts);
  return { real: view(a, urls, r), ours: view(b, urls, r), realRaw: a };
}

/** Runs `reqs` in order against both and asserts every answer is the same. */
async function sequence(reqs: Req[]): Promise<void> {
  const diffs: string[] = [];
  for (const r of reqs) {
    const x = await both(r);
    try {
      assert.deepEqual(x.ours, x.real);
    } catch {
      diffs.push(`${r.method} ${r.path} ${r.body ?? ''}\n  real: ${JSON.stringify(x.real)}\n  ours: ${JSON.stringify(x.ours)}`);
    }
  }
  assert.equal(diffs.join('\n'), '');
}

const form = (o: Record<string, string>) => new URLSearchParams(o).toString();

test('v2 keys: set/get/update/create/CAS/CAD/dirs/in-order keys/hidden keys, as real etcd', async () => {
  await sequence([
    { method: 'GET', path: '/v2/keys/' },
    { method: 'GET', path: '/v2/keys' },
    { method: 'PUT', path: '/v2/keys/message', body: 'value=Hello world' },
    { method: 'GET', path: '/v2/keys/message' },
    { method: 'PUT', path: '/v2/keys/message', body: form({ value: 'Hello etcd' }) },
    { method: 'HEAD', path: '/v2/keys/message' },
    { method: 'GET', path: '/v2/keys/message?quorum=true' },
    { method: 'PUT', path: '/v2/keys/dir1/a', body: form({ value: '1' }) },
    { method: 'GET', path: '/v2/keys/dir1' },
    { method: 'GET', path: '/v2/keys/dir1/?recursive=true&sorted=true' },
    { method: 'PUT', path: '/v2/keys/dir1', body: form({ value: 'x' }) },
    { method: 'GET', path: '/v2/keys/message/sub' },
    { method: 'PUT', path: '/v2/keys/message/sub', body: form({ value: 'x' }) },
    { method: 'PUT', path: '/v2/keys/dir2?dir=true' },
    { method: 'PUT', path: '/v2/keys/dir2?dir=true' },
    { method: 'PUT', path: '/v2/keys/dir2', body: form({ dir: 'true', prevExist: 'false' }) },
    { method: 'PUT', path: '/v2/keys/new?prevExist=false', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/new?prevExist=false', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/nope?prevExist=true', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/new?prevExist=true', body: form({ value: '2' }) },
    { method: 'PUT', path: '/v2/keys/new?prevValue=2', body: form({ value: '3' }) },
    { method: 'PUT', path: '/v2/keys/new?prevValue=2', body: form({ value: '4' }) },
    { method: 'PUT', path: '/v2/keys/new?prevIndex=1', body: form({ value: '4' }) },
    { method: 'PUT', path: '/v2/keys/new?prevIndex=1&prevValue=9', body: form({ value: '4' }) },
    { method: 'PUT', path: '/v2/keys/new?prevIndex=1&prevExist=true', body: form({ value: '4' }) },
    { method: 'PUT', path: '/v2/keys/dir1?prevValue=1', body: form({ value: '4' }) },
    { method: 'PUT', path: '/v2/keys/dir2?prevExist=true&dir=true' },
    { method: 'DELETE', path: '/v2/keys/new?prevValue=x' },
    { method: 'DELETE', path: '/v2/keys/new?prevIndex=2' },
    { method: 'DELETE', path: '/v2/keys/dir1?prevValue=x' },
    { method: 'DELETE', path: '/v2/keys/new?prevValue=3' },
    { method: 'DELETE', path: '/v2/keys/new' },
    { method: 'POST', path: '/v2/keys/queue', body: form({ value: 'job1' }) },
    { method: 'POST', path: '/v2/keys/queue', body: form({ value: 'job2' }) },
    { method: 'POST', path: '/v2/keys/queue?dir=true' },
    { method: 'GET', path: '/v2/keys/queue?recursive=true&sorted=true' },
    { method: 'POST', path: '/v2/keys/message', body: form({ value: 'x' }) },
    { method: 'DELETE', path: '/v2/keys/dir1' },
    { method: 'DELETE', path: '/v2/keys/dir1?dir=true' },
    { method: 'DELETE', path: '/v2/keys/dir1?recursive=true' },
    { method: 'DELETE', path: '/v2/keys/dir2?dir=true' },
    { method: 'DELETE', path: '/v2/keys/message?dir=true' },
    { method: 'DELETE', path: '/v2/keys/' },
    { method: 'DELETE', path: '/v2/keys/?recursive=true' },
    { method: 'PUT', path: '/v2/keys/', body: form({ value: 'x' }) },
    { method: 'PUT', path: '/v2/keys/_hidden', body: form({ value: 'h' }) },
    { method: 'PUT', path: '/v2/keys/d3/_h2', body: form({ value: 'h' }) },
    { method: 'GET', path: '/v2/keys/?recursive=true&sorted=true' },
    { method: 'GET', path: '/v2/keys/_hidden' },
    { method: 'PUT', path: '/v2/keys/esc', body: form({ value: '<a&b> \u00e9\u2028 "q" \\' }) },
    { method: 'GET', path: '/v2/keys/esc' },
    { method: 'PUT', path: '/v2/keys/empty', body: form({ value: '' }) },
    { method: 'PUT', path: '/v2/keys/a/../b/./c//d', body: form({ value: 'p' }) },
    { method: 'GET', path: '/v2/keys/a/../b' },
    { method: 'GET', path: '/v2/keys//b/?x=1' },
    { method: 'HEAD', path: '/v2/keys/./b' },
    { method: 'GET', path: '/v2/keys/b/c/d' },
    { method: 'GET', path: '/v2/keys/sp%20ace%2Fx' },
    { method: 'PUT', path: '/v2/keys/sp%20ace%2Fx', body: form({ value: 'enc' }) },
    { method: 'GET', path: '/v2/keys/sp%20ace/x' },
    { method: 'PUT', path: '/v2/keys/nv?noValueOnSuccess=true', body: form({ value: 'v' }) },
    { method: 'PUT', path: '/v2/keys/nv?noValueOnSuccess=true', body: form({ value: 'v2' }) },
    { method: 'DELETE', path: '/v2/keys/nv?noValueOnSuccess=true' },
    { method: 'PUT', path: '/v2/keys/q?value=fromquery' },
    { method: 'PUT', path: '/v2/keys/q?value=fromquery', body: form({ value: 'frombody' }) },
    { method: 'PUT', path: '/v2/keys/q', body: 'value=plain', contentType: 'text/plain' },
    { method: 'GET', path: '/v2/keys/q?value=x&recursive=1&sorted=T' },
    { method: 'PATCH', path: '/v2/keys/q' },
    { method: 'OPTIONS', path: '/v2/keys/q' },
  ]);
});

test('v2 keys: bad parameters give etcd\'s errors', async () => {
  await sequence([
    { method: 'GET', path: '/v2/keys/x?recursive=maybe' },
    { method: 'GET', path: '/v2/keys/x?sorted=2' },
    { method: 'GET', path: '/v2/keys/x?wait=yes' },
    { method: 'GET', path: '/v2/keys/x?quorum=' },
    { method: 'GET', path: '/v2/keys/x?stream=no' },
    { method: 'PUT', path: '/v2/keys/x?dir=nope' },
    { method: 'PUT', path: '/v2/keys/x?prevIndex=abc', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/x?prevIndex=-1', body: form({ value: '1' }) },
    { method: 'GET', path: '/v2/keys/x?waitIndex=1.5&wait=true' },
    { method: 'PUT', path: '/v2/keys/x?ttl=abc', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/x?ttl=-5', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/x?prevValue=', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/x?wait=true', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/x?prevExist=maybe', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/x?refresh=maybe', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/x?refresh=true&ttl=5', body: form({ value: '1' }) },
    { method: 'PUT', path: '/v2/keys/x?refresh=true' },
    { method: 'PUT', path: '/v2/keys/x?refresh=true&ttl=5' },
    { method: 'PUT', path: '/v2/keys/x?refresh=true&ttl=5&prevExist=true' },
    { method: 'PUT', path: '/v2/keys/x?noValueOnSuccess=maybe', body: form({ value: '1' }) },
    { method: 'GET', path: '/v2/keys/x?a=%zz' },
    { method: 'GET', path: '/v2/keys/x?a=1;b=2' },
    { method: 'PUT', path: '/v2/keys/x', body: 'value=%g1' },
    { method: 'DELETE', path: '/v2/keys/x?prevIndex=x' },
  ]);
});

test('v2 keys: TTLs and refresh, as real etcd (expiration times normalised)', async () => {
  // while keys have a TTL the leader proposes SYNCs on its own timer, so raft indexes differ
  await sequence(
    [
    { method: 'PUT', path: '/v2/keys/ttlkey?ttl=100', body: form({ value: 'v' }) },
    { method: 'GET', path: '/v2/keys/ttlkey' },
    { method: 'PUT', path: '/v2/keys/ttlkey?ttl=200&refresh=true&prevExist=true' },
    { method: 'PUT', path: '/v2/keys/ttlkey', body: form({ value: 'w', ttl: '' , prevExist: 'true' }) },
    { method: 'PUT', path: '/v2/keys/ttldir?dir=true&ttl=300' },
    { method: 'PUT', path: '/v2/keys/ttldir?dir=true&ttl=400&prevExist=true' },
    { method: 'GET', path: '/v2/keys/ttldir' },
    { method: 'PUT', path: '/v2/keys/ttldir?ttl=400&prevExist=true', body: form({ value: 'x' }) },
    ].map((r) => ({ ...r, skipHeaders: ['x-raft-index'] })),
  );
});

test('v2 members, machines and stats endpoints', async () => {
  await sequence([
    { method: 'GET', path: '/v2/members' },
    { method: 'GET', path: '/v2/members/' },
    { method: 'GET', path: '/v2/members/leader' },
    { method: 'GET', path: '/v2/members/zz' },
    { method: 'DELETE', path: '/v2/members' },
    { method: 'DELETE', path: '/v2/members/xyz' },
    { method: 'DELETE', path: '/v2/members/1234' },
    { method: 'PUT', path: '/v2/members/1234', body: '{"peerURLs":["http://127.0.0.1:2"]}', contentType: 'application/json' },
    { method: 'POST', path: '/v2/members', body: '{"peerURLs":["http://127.0.0.1:2"]}' },
    { method: 'POST', path: '/v2/members', body: '{"peerURLs":["ftp://127.0.0.1:2"]}', contentType: 'application/json' },
    { method: 'POST', path: '/v2/members', body: '{"peerURLs":["http://127.0.0.1:1"]}', contentType: 'application/json' },
    { method: 'PATCH', path: '/v2/members' },
    { method: 'GET', path: '/v2/machines' },
    { method: 'POST', path: '/v2/machines' },
    { method: 'GET', path: '/v2/stats/leader' },
    { method: 'POST', path: '/v2/stats/self' },
    { method: 'POST', path: '/v2/stats/store' },
    { method: 'GET', path: '/v2/stats/store', noBody: true },
    { method: 'GET', path: '/v2/stats/self', noBody: true },
    { method: 'GET', path: '/v2/stats' },
    { method: 'GET', path: '/v2/nothing' },
  ]);
  // self stats: same fields and member identity
  const urls = [pair.real!.clientURL, pair.ours!.clientURL];
  for (const s of [pair.real!, pair.ours!]) {
    const a = await v2Request(s.clientURL, 'GET', '/v2/stats/self');
    const o = JSON.parse(a.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(o), ['name', 'id', 'state', 'startTime', 'leaderInfo', 'recvAppendRequestCnt', 'sendAppendRequestCnt']);
    assert.equal(o.state, 'StateLeader');
    assert.equal(normaliseV2(String(o.id), urls), s.memberIdHex);
  }
});

test('v2 watches: long poll, waitIndex from the history, recursive, stream, as real etcd', async () => {
  const urls = [pair.real!.clientURL, pair.ours!.clientURL];
  const run = async (s: EtcdProcess): Promise<string[]> => {
    const out: string[] = [];
    const put = (p: string, v: string) => v2Request(s.clientURL, 'PUT', p, { body: form({ value: v }) });
    const w1 = await v2Watch(s.clientURL, '/v2/keys/w/k?wait=true');
    const w2 = await v2Watch(s.clientURL, '/v2/keys/w?wait=true&recursive=true');
    const w3 = await v2Watch(s.clientURL, '/v2/keys/w?wait=true');
    // (raft indexes differ by the SYNCs the TTL keys of the test above cause)
    const wh = v2Headers({ status: w1.status, headers: w1.headers, body: '' });
    delete wh['x-raft-index'];
    out.push(`w1 ${w1.status} ${JSON.stringify(wh)}`);
    const r = await put('/v2/keys/w/k', 'one');
    const idx = Number(r.headers['x-etcd-index']);
    out.push(...(await w1.lines(1)), ...(await w2.lines(1)));
    await w1.ended;
    // a past index is answered from the history at once
    const h = await v2Request(s.clientURL, 'GET', `/v2/keys/w/k?wait=true&waitIndex=${idx}`);
    out.push(`hist ${h.status} ${h.body}`);
    const h2 = await v2Request(s.clientURL, 'GET', `/v2/keys/w?wait=true&recursive=true&waitIndex=${idx - 1}`);
    out.push(`hist2 ${h2.status} ${h2.body}`);
    // stream: several events on one response
    const st = await v2Watch(s.clientURL, '/v2/keys/w?wait=true&recursive=true&stream=true');
    await put('/v2/keys/w/a', '1');
    await put('/v2/keys/w/b', '2');
    await v2Request(s.clientURL, 'DELETE', '/v2/keys/w?recursive=true');
    out.push(...(await st.lines(3)));
    st.close();
    // the non-recursive watch of the directory saw its deletion
    out.push(...(await w3.lines(1)));
    return out.map((l) => normaliseV2(l, urls));
  };
  const a = await run(pair.real!);
  const b = await run(pair.ours!);
  assert.deepEqual(b, a);
});

test('v2 watch: an index older than the 1000-event history is 401', async () => {
  const urls = [pair.real!.clientURL, pair.ours!.clientURL];
  const run = async (s: EtcdProcess): Promise<string[]> => {
    for (let i = 0; i < 1010; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => v2Request(s.clientURL, 'PUT', `/v2/keys/hist/k${(i + j) % 7}`, { body: 'value=v' })));
    }
    const a = await v2Request(s.clientURL, 'GET', '/v2/keys/hist/k1?wait=true&waitIndex=2');
    const cur = Number(a.headers['x-etcd-index']);
    return [String(a.status), JSON.stringify(v2Headers(a)), normaliseV2(a.body, urls), String(cur > 1000)];
  };
  const [a, b] = await Promise.all([run(pair.real!), run(pair.ours!)]);
  assert.deepEqual(b, a);
  assert.match(a[2]!, /"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared \[\d+\/2\]"/);
});

test('without --enable-v2 /v2/keys is 404 on both', async () => {
  const [r, o] = await Promise.all([startEtcd({ serverKind: 'real' }), startEtcd({ serverKind: 'ours' })]);
  try {
    for (const p of ['/v2/keys/', '/v2/members', '/v2/machines', '/v2/stats/self']) {
      const a = await v2Request(r.clientURL, 'GET', p);
      const b = await v2Request(o.clientURL, 'GET', p);
      assert.deepEqual({ s: b.status, b: b.body }, { s: a.status, b: a.body });
      assert.equal(a.status, 404);
    }
  } finally {
    await stopAll(r, o);
  }
});
