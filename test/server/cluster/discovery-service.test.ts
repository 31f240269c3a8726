// Our server as the discovery service (as people run a private etcd for `--discovery`):
// bin/etcd --enable-v2 holds the registry; a 3-member cluster of real etcd 3.4.23 and one
// of ours bootstrap through it with `--discovery`, each with its own token. The same
// protocol against real etcd as the service is tested in discovery-v2.test.ts.
//
// Checked: every member registered itself under the token (its member ID as key, its
// `name=peerURL` as value, as etcd's discovery client writes it), the cluster forms (three
// started members, one leader) and a put on m1 is read on m3.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { computeMemberId, memberStatus, spawnEtcdProcess, type RawEtcdProcess } from '../../harness/cluster.js';
import { ETCD_BIN, OUR_ETCD_BIN } from '../../harness/etcd.js';
import { getFreePorts } from '../../harness/ports.js';
import { REAL, runCli } from '../../harness/run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdts-discsvc-'));
const procs: RawEtcdProcess[] = [];
let serviceUrl = '';

function memberArgs(name: string, dir: string, client: number, peer: number): string[] {
  return ['--logger=zap', `--name=${name}`, `--data-dir=${dir}`, `--listen-client-urls=http://127.0.0.1:${client}`, `--advertise-client-urls=http://127.0.0.1:${client}`, `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`];
}

before(async () => {
  const [c, p] = await getFreePorts(2);
  serviceUrl = `http://127.0.0.1:${c}`;
  const service = spawnEtcdProcess(OUR_ETCD_BIN, ['--enable-v2', ...memberArgs('service', path.join(tmp, 'service'), c!, p!), `--initial-cluster=service=http://127.0.0.1:${p}`]);
  procs.push(service);
  const deadline = Date.now() + 60_000;
  while (!(await memberStatus(serviceUrl))) {
    assert.ok(!service.exited() && Date.now() < deadline, `our discovery service did not start:\n${service.log()}`);
    await sleep(200);
  }
});
after(async () => {
  for (const p of procs) await p.kill();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('our bin/etcd --enable-v2 as the discovery service', { timeout: 300_000 }, () => {
  for (const [kind, binary] of [['real etcd 3.4.23', ETCD_BIN], ['ours', OUR_ETCD_BIN]] as const) {
    test(`a 3-member cluster of ${kind} bootstraps through it`, async () => {
      const token = `tok-${kind.split(' ')[0]}-${process.pid}`;
      const durl = `${serviceUrl}/v2/keys/_etcd/registry/${token}`;
      const size = await fetch(`${durl}/_config/size`, { method: 'PUT', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'value=3' });
      assert.equal(size.status, 201, await size.text());
      const ports = await getFreePorts(6);
      const mine: RawEtcdProcess[] = [];
      for (const i of [1, 2, 3]) {
        const p = spawnEtcdProcess(binary, [...memberArgs(`m${i}`, path.join(tmp, `${kind.split(' ')[0]}-m${i}`), ports[i - 1]!, ports[i + 2]!), `--discovery=${durl}`]);
        procs.push(p);
        mine.push(p);
      }
      const eps = [0, 1, 2].map((i) => `http://127.0.0.1:${ports[i]}`);
      const deadline = Date.now() + 120_000;
      for (;;) {
        for (const p of mine) assert.ok(!p.exited(), `a member exited:\n${p.log().slice(-4000)}`);
        const st = await Promise.all(eps.map((e) => memberStatus(e)));
        if (st.every((x) => x !== undefined) && new Set(st.map((x) => x!.leaderHex)).size === 1) break;
        assert.ok(Date.now() < deadline, `no common leader in time:\n${mine.map((p) => p.log().slice(-3000)).join('\n----\n')}`);
        await sleep(300);
      }
      // the registry as the members wrote it
      const reg = (await (await fetch(`${durl}?recursive=true&sorted=true`)).json()) as { node: { nodes: Array<{ key: string; value?: string; dir?: boolean }> } };
      const entries = reg.node.nodes.filter((n) => !n.dir).map((n) => [n.key.split('/').pop(), n.value]).sort();
      const want = [1, 2, 3].map((i) => [computeMemberId([`http://127.0.0.1:${ports[i + 2]}`], durl).toString(16), `m${i}=http://127.0.0.1:${ports[i + 2]}`]).sort();
      assert.deepEqual(entries, want);
      const ml = await runCli(REAL, [`--endpoints=${eps[1]}`, 'member', 'list'], { timeoutMs: 30_000 });
      assert.equal(ml.code, 0, ml.stderr);
      assert.equal(ml.stdout.toString().split('\n').filter((l) => l.includes(', started, ')).length, 3, ml.stdout.toString());
      const put = await runCli(REAL, [`--endpoints=${eps[0]}`, 'put', 'via-our-discovery', 'v'], { timeoutMs: 30_000 });
      assert.equal(put.code, 0, put.stderr);
      const get = await runCli(REAL, [`--endpoints=${eps[2]}`, 'get', 'via-our-discovery', '--print-value-only'], { timeoutMs: 30_000 });
      assert.equal(get.stdout.toString(), 'v\n', get.stderr);
    });
  }
});
