// With auth enabled, an expired lease is revoked by the leader and its keys are
// deleted (etcd revokeExpiredLeases proposes the revoke as root: authStore.WithRoot).
// Same steps with the real etcdctl against real etcd 3.4.23 and against ours.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOurEtcd, startRealEtcd, stopAll, type EtcdProcess } from '../../harness/etcd.js';
import { sleep } from '../../harness/proc.js';
import { REAL, runCli } from '../../harness/run.js';

const ROOT = ['--user=root:rootpw'];

/** Sets up auth, attaches keys to a 3 s lease as a non-root user, and waits for the expiry. */
async function scenario(s: EtcdProcess): Promise<Record<string, unknown>> {
  const ctl = async (args: string[]) => {
    const r = await runCli(REAL, [`--endpoints=${s.endpoint}`, ...args]);
    return { code: r.code, out: r.stdout.toString(), err: r.stderr };
  };
  for (const args of [
    ['user', 'add', 'root:rootpw'], ['user', 'grant-role', 'root', 'root'],
    ['role', 'add', 'w'], ['role', 'grant-permission', 'w', 'readwrite', 'k', '--prefix'],
    ['user', 'add', 'u:upw'], ['user', 'grant-role', 'u', 'w'], ['auth', 'enable'],
  ]) {
    const r = await ctl(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
  }
  const grant = await ctl(['--user=u:upw', 'lease', 'grant', '3']);
  const id = /lease ([0-9a-f]+) granted/.exec(grant.out)?.[1];
  assert.ok(id, grant.out + grant.err);
  assert.equal((await ctl(['--user=u:upw', 'put', 'k1', 'v', `--lease=${id}`])).out, 'OK\n');
  assert.equal((await ctl([...ROOT, 'put', 'k2', 'v', `--lease=${id}`])).out, 'OK\n');
  // bounded wait for the revoke (3 s TTL; real etcd checks every 500 ms)
  let keys = '';
  for (let i = 0; i < 60; i++) {
    keys = (await ctl([...ROOT, 'get', 'k', '--prefix', '--keys-only'])).out;
    if (keys === '') break;
    await sleep(250);
  }
  const ttl = await ctl([...ROOT, 'lease', 'timetolive', id]);
  return { keys, timetolive: ttl.out.replace(id, 'ID'), leases: (await ctl([...ROOT, 'lease', 'list'])).out };
}

describe('lease expiry with auth enabled, ours vs real etcd 3.4.23', () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  before(async () => {
    [real, ours] = await Promise.all([startRealEtcd(), startOurEtcd()]);
  });
  after(() => stopAll(real, ours));

  test('the expired lease is revoked and its keys deleted', async () => {
    const [want, got] = await Promise.all([scenario(real), scenario(ours)]);
    assert.equal(want.keys, '', 'real etcd deleted the keys');
    assert.deepEqual(got, want);
    assert.doesNotMatch(ours.log(), /failed to revoke/);
  });
});
