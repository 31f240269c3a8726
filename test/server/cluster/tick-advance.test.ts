// --initial-election-tick-advance (etcd 3.4 EtcdServer.adjustTicks), against real etcd
// 3.4.23 and ours with the same assertions: every member of a 3-member cluster restarted
// at once logs etcd's "initialized peer connections; fast-forwarding election ticks" line
// (8 of 10 ticks, once both other peers are active) and the cluster elects a leader;
// with --initial-election-tick-advance=false each member logs that it skips instead and
// never fast-forwards.
//
// Real etcd 3.4 counts the cluster's members when adjustTicks starts (etcdserver/server.go);
// a member restarted without a snapshot rebuilds its membership by applying the WAL's
// ConfChange entries after it started, so on a loaded machine it may count one member and
// take the single-node path instead ("started as single-node; fast-forwarding election
// ticks", 9 ticks). That is accepted for real etcd only: ours restores the membership from
// its backend before it starts and must always take the multi-member path.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startRealCluster, type RealCluster } from '../../harness/cluster.js';
import { ETCD_BIN, OUR_ETCD_BIN } from '../../harness/etcd.js';

const TARGETS = [
  { name: 'etcd 3.4.23', binary: ETCD_BIN },
  { name: 'ours (bin/etcd)', binary: OUR_ETCD_BIN },
];
const TICK_MSGS = new Set([
  'starting initial election tick advance',
  'skipping initial election tick advance',
  'initialized peer connections; fast-forwarding election ticks',
  'started as single-node; fast-forwarding election ticks',
]);

/** The tick-advance lines of a zap log, without ts, caller and the member ID. */
function tickLines(log: string): Array<Record<string, unknown>> {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => TICK_MSGS.has(e['msg'] as string))
    .map(({ ts: _t, caller: _c, 'local-member-id': _id, ...rest }) => rest);
}

for (const t of TARGETS) {
  describe(`initial election tick advance: ${t.name}`, { timeout: 240_000 }, () => {
    const clusters: RealCluster[] = [];
    after(async () => {
      await Promise.all(clusters.map((c) => c.stopAll()));
    });

    test('a cluster restarted at once fast-forwards 8 of 10 election ticks on every member', async () => {
      const c = await startRealCluster(3, { binary: t.binary });
      clusters.push(c);
      await c.waitForLeader(30_000);
      await Promise.all(c.members.map((m) => m.stop()));
      await Promise.all(c.members.map((m) => m.restart()));
      await c.waitForLeader(30_000);
      for (const m of c.members) {
        // the log of the restarted process only
        const log = m.log();
        const lines = tickLines(log);
        if (t.binary === ETCD_BIN && lines.length === 1 && lines[0]!['msg'] === 'started as single-node; fast-forwarding election ticks') {
          assert.deepEqual(lines, [{ level: 'info', msg: 'started as single-node; fast-forwarding election ticks', 'forward-ticks': 9, 'forward-duration': '900ms', 'election-ticks': 10, 'election-timeout': '1s' }], m.name);
          continue;
        }
        assert.deepEqual(lines, [
          { level: 'info', msg: 'starting initial election tick advance', 'election-ticks': 10 },
          { level: 'info', msg: 'initialized peer connections; fast-forwarding election ticks', 'forward-ticks': 8, 'forward-duration': '800ms', 'election-ticks': 10, 'election-timeout': '1s', 'active-remote-members': 2 },
        ], `${m.name}:\n${log.slice(-4000)}`);
      }
    });

    test('--initial-election-tick-advance=false: every member says it skips, none fast-forwards', async () => {
      const c = await startRealCluster(3, { binary: t.binary, extraArgs: ['--initial-election-tick-advance=false'] });
      clusters.push(c);
      await c.waitForLeader(30_000);
      for (const m of c.members) {
        assert.deepEqual(tickLines(m.log()), [{ level: 'info', msg: 'skipping initial election tick advance', 'election-ticks': 10 }], m.name);
      }
    });
  });
}
