// The embedding API (src/embed, the package's main export) driven by the npm `etcd3`
// client, the most used Node etcd client: one member on free ports in a temporary data
// dir (put/get/delete, a transaction, a watch, a lease with keep-alive and its key,
// a lock, an election), a 3-member cluster (a write through one member is read through
// another), a given data dir kept after close, and a start-up failure reported with
// the member's log. Imported by the package's own name, as users import it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { startEtcd } from 'etcdctl-ts';

describe('startEtcd with the etcd3 client', () => {
  test('one member: kv, txn, watch, lease, lock, election', async () => {
    const etcd = await startEtcd();
    const client = new Etcd3({ hosts: etcd.clientUrls });
    try {
      assert.equal(etcd.members.length, 1);
      assert.match(etcd.endpoints[0]!, /^127\.0\.0\.1:\d+$/);
      await client.put('foo').value('bar');
      assert.equal(await client.get('foo').string(), 'bar');
      const tx = await client.if('foo', 'Value', '==', 'bar').then(client.put('foo').value('baz')).else(client.put('foo').value('no')).commit();
      assert.equal(tx.succeeded, true);
      assert.equal(await client.get('foo').string(), 'baz');

      const watcher = await client.watch().key('watched').create();
      const seen = new Promise<string>((resolve) => watcher.on('put', (kv) => resolve(kv.value.toString())));
      await client.put('watched').value('event');
      assert.equal(await seen, 'event');
      await watcher.cancel();

      const lease = client.lease(10);
      await lease.put('leased').value('x');
      assert.equal(await client.get('leased').string(), 'x');
      const ka = await lease.keepaliveOnce();
      assert.equal(String(ka.TTL), '10');
      const id = await lease.grant();
      const ttl = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true });
      assert.ok(Number(ttl.TTL) > 0 && Number(ttl.TTL) <= 10, `ttl ${ttl.TTL}`);
      assert.deepEqual(ttl.keys.map((k) => k.toString()), ['leased']);
      await lease.revoke();
      assert.equal(await client.get('leased').string(), null);

      const lock = client.lock('the-lock');
      await lock.acquire();
      const holders = await client.getAll().prefix('the-lock').keys();
      assert.equal(holders.length, 1);
      await lock.release();
      assert.deepEqual(await client.getAll().prefix('the-lock').keys(), []);

      const election = client.election('the-election');
      const campaign = election.campaign('candidate-1');
      await new Promise<void>((resolve, reject) => {
        campaign.on('elected', () => resolve());
        campaign.on('error', reject);
      });
      assert.equal(await election.leader(), 'candidate-1');
      await campaign.resign();

      await client.delete().key('foo');
      assert.equal(await client.get('foo').string(), null);
    } finally {
      client.close();
      await etcd.close();
    }
    const dir = etcd.members[0]!.dataDir;
    assert.equal(fs.existsSync(dir), false, 'the temporary data dir is removed');
  });

  test('a 3-member cluster: written through one member, read through another', async () => {
    const etcd = await startEtcd({ clusterSize: 3 });
    const a = new Etcd3({ hosts: [etcd.clientUrls[0]!] });
    const c = new Etcd3({ hosts: [etcd.clientUrls[2]!] });
    try {
      assert.deepEqual(etcd.members.map((m) => m.name), ['m1', 'm2', 'm3']);
      await a.put('k').value('v');
      assert.equal(await c.get('k').string(), 'v');
      const members = await c.cluster.memberList({});
      assert.deepEqual(members.members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
    } finally {
      a.close();
      c.close();
      await etcd.close();
    }
  });

  test('a given data dir is kept and reused; a failing start reports the log', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'embed-given-'));
    try {
      const first = await startEtcd({ dataDir });
      const c1 = new Etcd3({ hosts: first.clientUrls });
      await c1.put('kept').value('yes');
      c1.close();
      await first.close();
      assert.ok(fs.existsSync(path.join(dataDir, 'member')));
      const second = await startEtcd({ dataDir });
      const c2 = new Etcd3({ hosts: second.clientUrls });
      try {
        assert.equal(await c2.get('kept').string(), 'yes');
      } finally {
        c2.close();
        await second.close();
      }
      await assert.rejects(startEtcd({ args: ['--no-such-flag'] }), /exited during start-up[\s\S]*no-such-flag/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
