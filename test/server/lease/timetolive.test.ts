// `lease timetolive` right after `lease grant`: the remaining TTL is truncated to whole
// seconds as etcd does (v3_server.go LeaseTimeToLive: int64(le.Remaining().Seconds())),
// on the real etcd 3.4.23 and on ours, with the real etcdctl as the client.
//
// No timing assertion: between the start of the grant (t0) and the end of the
// timetolive reply (t1), the lease was granted and then read, so the time it had left
// lies strictly between TTL - (t1 - t0) and TTL. etcd's formula then gives a value in
// [floor(TTL - (t1 - t0)), TTL - 1]: 99 for a grant of 100 read within a second, never
// 100 (the old rounding up). Several rounds, in simple and json output.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli, REAL } from '../../harness/run.js';
import { serverTargets, ServerUnderTest } from '../../harness/server-under-test.js';

const TTL = 100;
const ROUNDS = 5;

for (const target of serverTargets()) {
  describe(`lease timetolive right after grant (${target.name})`, () => {
    test(`remaining TTL truncated like etcd, ${ROUNDS} rounds`, { timeout: 120_000 }, async () => {
      const sut = await ServerUnderTest.start(target);
      const ctl = async (args: string[]) => {
        const r = await runCli(REAL, [`--endpoints=${sut.endpoint}`, ...args]);
        assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
        return r.stdout.toString('utf8');
      };
      try {
        const seen: number[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          const json = i % 2 === 1;
          const t0 = performance.now();
          const g = /^lease ([0-9a-f]{16}) granted with TTL\(100s\)\n$/.exec(await ctl(['lease', 'grant', String(TTL)]));
          assert.ok(g, 'grant output');
          const id = g[1]!;
          const out = await ctl(json ? ['-w', 'json', 'lease', 'timetolive', id] : ['lease', 'timetolive', id]);
          const elapsedS = (performance.now() - t0) / 1000;
          const m = json
            ? /^\{"cluster_id":\d+,"member_id":\d+,"revision":\d+,"raft_term":\d+,"id":(\d+),"ttl":(-?\d+),"granted-ttl":100,"keys":null\}\n$/.exec(out)
            : /^lease ([0-9a-f]{16}) granted with TTL\(100s\), remaining\((-?\d+)s\)\n$/.exec(out);
          assert.ok(m, `unexpected timetolive output ${JSON.stringify(out)}`);
          assert.equal(json ? BigInt(m[1]!).toString(16).padStart(16, '0') : m[1], id);
          const remaining = Number(m[2]);
          const lower = Math.floor(TTL - elapsedS);
          assert.ok(remaining >= lower && remaining <= TTL - 1,
            `remaining ${remaining} for a ${TTL} s lease read ${elapsedS.toFixed(3)} s after the grant began: want [${lower}, ${TTL - 1}]`);
          seen.push(remaining);
          await ctl(['lease', 'revoke', id]);
        }
        process.stdout.write(`# ${target.name}: remaining right after grant ${TTL}: ${seen.join(', ')}\n`);
      } finally {
        await sut.stop();
      }
    });
  });
}
