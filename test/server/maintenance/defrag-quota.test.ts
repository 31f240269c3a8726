// Defragmentation gives space back under the backend quota (etcd 3.4's e2e
// TestCtlV3Alarm flow), against real etcd 3.4.23 and ours, driven by the real
// etcdctl: fill a small --quota-backend-bytes until `database space exceeded`,
// compact, defrag (the file shrinks), disarm NOSPACE, and a put works again; the
// data survives the defrag (reopening a defragmented file: the backend unit test).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { startOurEtcd, startRealEtcd, stopAll, type EtcdProcess } from '../../harness/etcd.js';
import { REAL, runCli } from '../../harness/run.js';

const TARGETS: Array<{ name: string; start: typeof startRealEtcd }> = [
  { name: 'etcd 3.4.23', start: startRealEtcd },
  { name: 'ours (bin/etcd)', start: startOurEtcd },
];

for (const target of TARGETS) {
  describe(`defrag under the space quota: ${target.name}`, () => {
    let srv: EtcdProcess | undefined;
    after(() => stopAll(srv));

    test('fill to NOSPACE, compact, defrag shrinks the file, disarm, put again', async () => {
      srv = await target.start({ extraArgs: ['--quota-backend-bytes=2097152'] });
      const ctl = (...args: string[]) => runCli(REAL, [`--endpoints=${srv!.endpoint}`, ...args], { timeoutMs: 30_000 });
      const dbFile = path.join(srv.dataDir, 'member', 'snap', 'db');
      assert.equal((await ctl('put', 'keep', 'me')).code, 0);
      const page = 'b'.repeat(4096);
      let full = false;
      for (let i = 0; i < 2000 && !full; i++) {
        const r = await ctl('put', 'filler', page);
        if (r.code !== 0) {
          assert.match(r.stderr, /etcdserver: mvcc: database space exceeded/);
          full = true;
        }
      }
      assert.ok(full, 'the quota was never reached');
      assert.match((await ctl('alarm', 'list')).stdout.toString(), /alarm:NOSPACE/);
      const refused = await ctl('put', 'small', 'x');
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /database space exceeded/);

      const st = JSON.parse((await ctl('endpoint', 'status', '-w', 'json')).stdout.toString()) as Array<{ Status: { header: { revision: number } } }>;
      const rev = st[0]!.Status.header.revision;
      assert.equal((await ctl('compact', String(rev), '--physical')).code, 0);
      const before = fs.statSync(dbFile).size;
      const d = await ctl('defrag');
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout.toString(), /^Finished defragmenting etcd member\[/);
      const afterSize = fs.statSync(dbFile).size;
      assert.ok(afterSize < before / 2, `db file ${before} -> ${afterSize} bytes`);

      assert.equal((await ctl('alarm', 'disarm')).code, 0);
      const put = await ctl('put', '4th_test', 'a'.repeat(64));
      assert.equal(put.code, 0, put.stderr);
      assert.equal((await ctl('get', 'keep', '--print-value-only')).stdout.toString(), 'me\n');

    });
  });
}
