// An expired lease is revoked, with its keys, while auth is enabled (etcd 3.4
// revokeExpiredLeases revokes as root: authStore.WithRoot). etcd's e2e test
// TestCtlV3AuthLeaseTestTimeToLiveExpired checks this. Runs the same steps with the
// real etcdctl against real etcd 3.4.23 and against our server, side by side.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcd, stopAll, type EtcdProcess, type ServerKind } from '../../harness/etcd.js';
import { REAL, runCli } from '../../harness/run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Enables auth (root user), grants a 2 s lease, puts a key with it as root, then asks
 * `lease timetolive` until the lease is reported expired (at most 40 tries, 0.5 s apart).
 * Resolves with the last timetolive line and the `get` output afterwards.
 */
async function expireUnderAuth(s: EtcdProcess): Promise<{ ttl: string; get: string }> {
  const ctl = (...args: string[]) => runCli(REAL, [`--endpoints=${s.endpoint}`, ...args]);
  for (const args of [['user', 'add', 'root:root'], ['auth', 'enable']]) {
    const r = await ctl(...args);
    assert.equal(r.code, 0, r.stderr);
  }
  const g = await ctl('--user=root:root', 'lease', 'grant', '2');
  assert.equal(g.code, 0, g.stderr);
  const id = /^lease ([0-9a-f]+) granted/.exec(g.stdout.toString())![1];
  const p = await ctl('--user=root:root', 'put', 'key', 'val', `--lease=${id}`);
  assert.equal(p.code, 0, p.stderr);
  let ttl = '';
  for (let i = 0; i < 40; i++) {
    const r = await ctl('--user=root:root', 'lease', 'timetolive', id);
    ttl = r.stdout.toString().replace(id, '<ID>');
    if (ttl.includes('already expired')) break;
    await sleep(500);
  }
  const get = await ctl('--user=root:root', 'get', 'key');
  return { ttl, get: get.stdout.toString() };
}

test('an expired lease is revoked while auth is enabled (keys deleted), as real etcd', async () => {
  const servers: EtcdProcess[] = [];
  try {
    const got: Record<string, { ttl: string; get: string }> = {};
    await Promise.all(
      (['real', 'ours'] as ServerKind[]).map(async (kind) => {
        const s = await startEtcd({ serverKind: kind });
        servers.push(s);
        got[kind] = await expireUnderAuth(s);
      }),
    );
    assert.equal(got.real.ttl, 'lease <ID> already expired\n');
    assert.equal(got.real.get, '');
    assert.deepEqual(got.ours, got.real);
  } finally {
    await stopAll(...servers);
  }
});
