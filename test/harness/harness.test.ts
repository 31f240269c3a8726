// Smoke tests for the test harness. Uses only the real etcdctl (as both
// "real" and "ours") so it does not depend on our CLI.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { makeTestCerts } from './certs.js';
import { startRealEtcd, startTwinEtcds, stopAll, type RealEtcd } from './etcd.js';
import { getFreePort, getFreePorts } from './ports.js';
import {
  REAL,
  compareCli,
  composeNormalizers,
  errorLine,
  newRunContext,
  normalizeDbSize,
  normalizeDurations,
  normalizeEndpoint,
  normalizeLeaseIds,
  runCli,
  runScenario,
} from './run.js';

describe('ports', () => {
  test('free ports are distinct and never 2379/2380', async () => {
    const ports = await getFreePorts(20);
    assert.equal(new Set(ports).size, 20);
    for (const p of ports) {
      assert.ok(p > 0 && p < 65536);
      assert.ok(p !== 2379 && p !== 2380);
    }
    assert.ok(!ports.includes(await getFreePort()));
  });
});

describe('runCli / errorLine', () => {
  test('errorLine picks the last Error: line', () => {
    assert.equal(errorLine('{"level":"warn"}\nError: a\nfoo\nError: b\n'), 'Error: b');
    assert.equal(errorLine('nothing here\n'), '');
  });

  test('timeout kills the process', async () => {
    const r = await runCli('/bin/sleep', ['10'], { timeoutMs: 200 });
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
  });

  test('ETCDCTL_* variables are not inherited, opts.env is passed', async () => {
    process.env.ETCDCTL_HARNESS_PROBE = 'x';
    try {
      const r = await runCli('/usr/bin/env', [], { env: { ETCDCTL_DIAL_TIMEOUT: '3s' } });
      const out = r.stdout.toString();
      assert.ok(!out.includes('ETCDCTL_HARNESS_PROBE'));
      assert.ok(out.includes('ETCDCTL_DIAL_TIMEOUT=3s'));
    } finally {
      delete process.env.ETCDCTL_HARNESS_PROBE;
    }
  });

  test('stdin is written, or closed immediately', async () => {
    const r1 = await runCli('/bin/cat', [], { stdin: 'hello' });
    assert.equal(r1.stdout.toString(), 'hello');
    const r2 = await runCli('/bin/cat', [], { timeoutMs: 5000 });
    assert.equal(r2.timedOut, false);
    assert.equal(r2.stdout.length, 0);
  });
});

describe('normalizers', () => {
  test('normalizeLeaseIds maps hex and decimal forms in order of first appearance', () => {
    const ctx = newRunContext('real');
    const a = 0x694d77aa9e38260fn;
    const b = 0x0f80a1fb40bd7f0bn;
    assert.equal(
      normalizeLeaseIds(`lease ${b.toString(16).padStart(16, '0')} granted with TTL(100s)\n`, ctx),
      'lease <LEASE1> granted with TTL(100s)\n',
    );
    assert.equal(
      normalizeLeaseIds(`{"cluster_id":1,"member_id":2,"revision":3,"raft_term":2,"ID":${a},"TTL":60}\n`, ctx),
      '{"cluster_id":1,"member_id":2,"revision":3,"raft_term":2,"ID":<LEASE2>,"TTL":60}\n',
    );
    assert.equal(
      normalizeLeaseIds(`"Key" : "k"\n"Lease" : ${b}\n"Lease" : 0\n`, ctx),
      '"Key" : "k"\n"Lease" : <LEASE1>\n"Lease" : 0\n',
    );
    assert.equal(
      normalizeLeaseIds(`found 2 leases\n${a.toString(16)}\n${b.toString(16).padStart(16, '0')}\n`, ctx),
      'found 2 leases\n<LEASE2>\n<LEASE1>\n',
    );
    // member IDs in a non-lease JSON context are left alone
    assert.equal(
      normalizeLeaseIds('{"header":{"member_id":123},"members":[{"ID":820920847895855839}]}', ctx),
      '{"header":{"member_id":123},"members":[{"ID":820920847895855839}]}',
    );
  });

  test('normalizeDurations', () => {
    assert.equal(
      normalizeDurations('127.0.0.1:1 is healthy: successfully committed proposal: took = 5.363145ms\n', newRunContext('real')),
      '127.0.0.1:1 is healthy: successfully committed proposal: took = <DURATION>\n',
    );
    assert.equal(
      normalizeDurations('[{"endpoint":"x","health":true,"took":"850.1µs"}]', newRunContext('real')),
      '[{"endpoint":"x","health":true,"took":"<DURATION>"}]',
    );
    assert.equal(normalizeDurations('TTL(100s)', newRunContext('real')), 'TTL(100s)');
  });

  test('normalizeDbSize', () => {
    const ctx = newRunContext('real');
    assert.equal(
      normalizeDbSize('127.0.0.1:1, 58a88bf978398f80, 3.4.23, 20 kB, true, false, 2, 4, 4, \n', ctx),
      '127.0.0.1:1, 58a88bf978398f80, 3.4.23, <DBSIZE>, true, false, 2, 4, 4, \n',
    );
    assert.equal(normalizeDbSize('|  3.4.23 |   20 kB |      true |', ctx), '|  3.4.23 |   <DBSIZE> |      true |');
    assert.equal(
      normalizeDbSize('"dbSize":20480,"leader":1,"dbSizeInUse":16384}', ctx),
      '"dbSize":<DBSIZE>,"leader":1,"dbSizeInUse":<DBSIZE>}',
    );
    assert.equal(normalizeDbSize('"DBSize" : 20480\n', ctx), '"DBSize" : <DBSIZE>\n');
  });
});

describe('real etcd', () => {
  let s: RealEtcd;
  before(async () => {
    s = await startRealEtcd();
  });
  after(async () => {
    await s?.stop();
  });

  test('put / get with real etcdctl', async () => {
    const ep = `--endpoints=${s.endpoint}`;
    const put = await runCli(REAL, [ep, 'put', 'a', 'b']);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout.toString(), 'OK\n');
    const get = await runCli(REAL, [ep, 'get', 'a']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout.toString(), 'a\nb\n');
    // value from stdin
    const put2 = await runCli(REAL, [ep, 'put', 'k'], { stdin: 'from-stdin' });
    assert.equal(put2.stdout.toString(), 'OK\n');
    const get2 = await runCli(REAL, [ep, 'get', 'k', '--print-value-only']);
    assert.equal(get2.stdout.toString(), 'from-stdin\n');
  });

  test('usage error: Error line and exit code 128', async () => {
    const r = await runCli(REAL, [`--endpoints=${s.endpoint}`, 'get']);
    assert.equal(r.code, 128);
    assert.equal(errorLine(r.stderr), 'Error: get command needs one argument as key and an optional argument as range_end');
  });

  test('compareCli (real vs real)', async () => {
    await compareCli(['get', 'a', '-w', 'json'], { server: s, oursBin: REAL });
    await compareCli(['get', '--prefix', ''], { server: s, oursBin: REAL });
    await compareCli(['endpoint', 'health'], {
      server: s, oursBin: REAL, stderr: 'nonLog', normalize: normalizeDurations,
    });
    await compareCli(['--endpoints', s.endpoint, 'get', 'a'], { endpoints: false, oursBin: REAL });
    await compareCli(['version'], { endpoints: false, oursBin: REAL });
  });

  test('compareCli reports differences', async () => {
    await assert.rejects(
      compareCli(['put', 'x', 'y'], { endpoints: false, realBin: '/bin/echo', oursBin: '/bin/true' }),
      (err: Error) => err.message.includes('REAL') && err.message.includes('OURS'),
    );
  });

  test('data dir is under os.tmpdir() and removed on stop', async () => {
    const t = await startRealEtcd({ name: 'tmp' });
    assert.ok(fs.existsSync(t.dataDir));
    await t.stop();
    assert.ok(!fs.existsSync(t.dataDir));
    assert.throws(() => process.kill(t.pid, 0));
  });
});

describe('twin servers', () => {
  let a: RealEtcd;
  let b: RealEtcd;
  before(async () => {
    [a, b] = await startTwinEtcds();
  });
  after(async () => {
    await stopAll(a, b);
  });

  test('identical IDs, headers and raft state after the same mutations', async () => {
    assert.equal(a.memberIdHex, b.memberIdHex);
    assert.equal(a.clusterIdHex, b.clusterIdHex);
    assert.notEqual(a.endpoint, b.endpoint);
    const status = async (s: RealEtcd) => {
      const r = await runCli(REAL, [`--endpoints=${s.endpoint}`, '-w', 'json', 'endpoint', 'status']);
      assert.equal(r.code, 0, r.stderr);
      const [st] = JSON.parse(r.stdout.toString()) as Array<{ Endpoint: string; Status: Record<string, unknown> }>;
      // dbSize / dbSizeInUse depend on backend commit timing: not deterministic.
      const { dbSize: _s, dbSizeInUse: _u, ...rest } = st!.Status;
      return rest;
    };
    const [sa0, sb0] = [await status(a), await status(b)];
    assert.deepEqual(sa0, sb0);
    assert.equal(sa0.raftIndex, 4); // etcd 3.4.23 after startup: conf change, leader entry, publish, cluster version
    for (const s of [a, b]) {
      for (const args of [['put', 'x', '1'], ['put', 'y', '2'], ['del', 'x'], ['put', 'y', '3'], ['txn']]) {
        const r = await runCli(REAL, [`--endpoints=${s.endpoint}`, ...args], { stdin: args[0] === 'txn' ? '\nput z 9\n\n\n' : undefined });
        assert.equal(r.code, 0, r.stderr);
      }
    }
    const get = async (s: RealEtcd) =>
      (await runCli(REAL, [`--endpoints=${s.endpoint}`, '-w', 'json', 'get', '--prefix', ''])).stdout.toString();
    const ga = await get(a);
    assert.equal(ga, await get(b));
    assert.match(ga, /"revision":6,"raft_term":2/);
    const [sa1, sb1] = [await status(a), await status(b)];
    assert.deepEqual(sa1, sb1);
    assert.equal(sa1.raftIndex, (sa0.raftIndex as number) + 5);
  });

  test('runScenario with lease placeholders (real vs real)', async (t) => {
    const servers = await startTwinEtcds({ name: 'scenario' });
    t.after(() => stopAll(...servers));
    const res = await runScenario(
      [
        { args: ['lease', 'grant', '300'] },
        { args: ['put', 'lk', 'lv', '--lease={{lease1}}'] },
        { args: ['-w', 'json', 'get', 'lk'] },
        { args: ['-w', 'fields', 'get', 'lk'] },
        { args: ['-w', 'json', 'lease', 'grant', '60'] },
        { args: ['lease', 'timetolive', '{{lease2}}'] },
        { args: ['-w', 'json', 'lease', 'list'] },
        { args: ['lease', 'revoke', '{{lease1}}'] },
        { args: ['get', 'lk'] },
        { args: ['lease', 'revoke', '{{lease1}}'] },
        { args: ['-w', 'json', 'endpoint', 'status'], normalize: composeNormalizers(normalizeEndpoint, normalizeDbSize) },
        { args: ['endpoint', 'status'], normalize: composeNormalizers(normalizeEndpoint, normalizeDbSize) },
        { args: ['-w', 'fields', 'lease', 'list'] },
        { args: ['endpoint', 'health'], stderr: 'nonLog', normalize: composeNormalizers(normalizeEndpoint, normalizeDurations) },
        { args: ['put', 'nolease', 'v', '--lease=1234'] },
      ],
      { servers, normalize: normalizeLeaseIds, oursBin: REAL },
    );
    const out = res.real.map((r) => r.stdout.toString());
    assert.match(out[0]!, /^lease [0-9a-f]{16} granted with TTL\(300s\)\n$/);
    // {{lease1}} was substituted with each side's own lease ID
    assert.equal(res.real[1]!.code, 0);
    assert.equal(res.ours[1]!.code, 0);
    assert.equal(errorLine(res.real[9]!.stderr), 'Error: failed to revoke lease (etcdserver: requested lease not found)');
    assert.equal(res.real[14]!.code, 1);
  });
});

describe('TLS', () => {
  test('client cert auth with the test PKI', async () => {
    const c = await makeTestCerts();
    assert.equal(await makeTestCerts(), c, 'cached');
    const s = await startRealEtcd({
      tls: { certFile: c.serverCert, keyFile: c.serverKey, trustedCAFile: c.caCert, clientCertAuth: true },
    });
    try {
      assert.match(s.clientURL, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ep = `--endpoints=${s.endpoint}`;
      const ok = await runCli(REAL, [ep, '--cacert', c.caCert, '--cert', c.clientCert, '--key', c.clientKey, 'put', 'a', 'b']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.toString(), 'OK\n');
      const bad = await runCli(REAL, [
        ep, '--command-timeout=1s', '--cacert', c.caCert, '--cert', c.otherClientCert, '--key', c.otherClientKey, 'get', 'a',
      ]);
      assert.equal(bad.code, 1);
      assert.equal(errorLine(bad.stderr), 'Error: context deadline exceeded');
    } finally {
      await s.stop();
    }
  });
});
