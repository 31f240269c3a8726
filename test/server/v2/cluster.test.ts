// The v2 API on a 3-member cluster of our etcd (--enable-v2): writes through any
// member are replicated (the same keyspace and X-Etcd-Index on every member), quorum
// reads, TTL expiry proposed by the leader reaches every member, and a member that
// was down while the leader compacted its log past it (more than etcd's 5000
// catch-up entries) gets the v2 store in the snapshot it receives.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRealCluster, type RealCluster } from '../../harness/cluster.js';
import { OUR_ETCD_BIN } from '../../harness/etcd.js';
import { v2Request } from './v2-http.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let cluster: RealCluster | undefined;
after(() => cluster?.stopAll());

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

test('v2 API on a 3-member cluster: replication, quorum reads, expiry, snapshot to a lagging member', async () => {
  cluster = await startRealCluster(3, { binary: OUR_ETCD_BIN, extraArgs: ['--enable-v2', '--snapshot-count=100'] });
  await cluster.waitForLeader();
  const [m1, m2, m3] = cluster.members as [typeof cluster.members[0], typeof cluster.members[0], typeof cluster.members[0]];
  const put = (m: { clientURL: string }, p: string, body: string) => v2Request(m.clientURL, 'PUT', p, { body });

  // writes through different members
  assert.equal((await put(m1, '/v2/keys/a/x', 'value=1')).status, 201);
  assert.equal((await put(m2, '/v2/keys/a/y', 'value=2')).status, 201);
  assert.equal((await v2Request(m3.clientURL, 'POST', '/v2/keys/q', { body: 'value=job' })).status, 201);
  const last = await put(m3, '/v2/keys/a/x?prevValue=1', 'value=3');
  assert.equal(last.status, 200);
  const index = last.headers['x-etcd-index'];

  // quorum reads agree everywhere; local reads catch up to the same index and keyspace
  const q = await Promise.all([m1, m2, m3].map((m) => v2Request(m.clientURL, 'GET', '/v2/keys/?recursive=true&sorted=true&quorum=true')));
  for (const r of q) assert.equal(r.body, q[0]!.body);
  for (const m of [m1, m2, m3]) {
    const r = await waitFor('local read', async () => {
      const a = await v2Request(m.clientURL, 'GET', '/v2/keys/?recursive=true&sorted=true');
      return a.headers['x-etcd-index'] === index ? a : undefined;
    });
    assert.equal(r.body, q[0]!.body);
  }
  assert.match(q[0]!.body, /"key":"\/a\/x","value":"3"/);

  // expiry is proposed by the leader and applied on every member
  await put(m2, '/v2/keys/short?ttl=1', 'value=t');
  for (const m of [m1, m2, m3]) {
    await waitFor('expiry', async () => ((await v2Request(m.clientURL, 'GET', '/v2/keys/short')).status === 404 ? true : undefined));
  }

  // a member that misses more than the catch-up window gets a snapshot with the v2 store
  await m3.stop();
  // (a set is idempotent: one that timed out under load, 300 "request timed out", is sent again)
  const setRetrying = async (m: { clientURL: string }, p: string, body: string) => {
    for (let attempt = 0; ; attempt++) {
      const b = await put(m, p, body);
      if (b.status === 200 || b.status === 201) return;
      assert.ok(b.status === 500 && attempt < 5, b.body);
    }
  };
  for (let i = 0; i < 5200; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, j) => setRetrying(i % 2 ? m1 : m2, `/v2/keys/bulk/k${(i + j) % 50}`, `value=${i + j}`)));
  }
  const fin = await put(m1, '/v2/keys/final', 'value=done');
  await m3.restart();
  // (the restarted member publishes its attributes again: one more index, as in etcd)
  let want = await v2Request(m1.clientURL, 'GET', '/v2/keys/?recursive=true&sorted=true&quorum=true');
  const got = await waitFor(
    'lagging member to catch up',
    async () => {
      want = await v2Request(m1.clientURL, 'GET', '/v2/keys/?recursive=true&sorted=true&quorum=true');
      const a = await v2Request(m3.clientURL, 'GET', '/v2/keys/?recursive=true&sorted=true').catch(() => undefined);
      return a && a.headers['x-etcd-index'] === want.headers['x-etcd-index'] ? a : undefined;
    },
    60_000,
  );
  assert.equal(got.body, want.body);
  assert.match(m3.log(), /applied snapshot|applying snapshot/);
  // history and watches work on the caught-up member
  const w = await v2Request(m3.clientURL, 'GET', `/v2/keys/final?wait=true&waitIndex=${Number(fin.headers['x-etcd-index'])}`);
  assert.match(w.body, /"action":"set","node":\{"key":"\/final","value":"done"/);
});
