// DNS SRV discovery, against real etcd/etcdctl 3.4.23 and ours, with the same assertions:
// - the server's `--discovery-srv DOMAIN [--discovery-srv-name NAME]` (etcd embed
//   PeerURLsMapAndToken + pkg/srv GetCluster): a 3-member cluster over TLS peers from
//   `_etcd-server-ssl._tcp` records; the 3.4.23 quirk that `_etcd-server._tcp` (http)
//   records alone fail; the local member missing from the records; a scheme mismatch;
// - etcdctl's `--discovery-srv` (pkg/srv GetClient): endpoints from `_etcd-client._tcp`
//   records, `--discovery-srv-name`, `--insecure-discovery=false` dropping http
//   endpoints, `dns lookup errors: ...` for NXDOMAIN and REFUSED.
//
// The records are served by dnsmasq on 127.0.0.1:53 in a private mount+network namespace
// where /etc/resolv.conf is bind-mounted to `nameserver 127.0.0.1`: the file re-runs
// itself under `unshare -m -n` (root, `unshare`, `ip`, /usr/sbin/dnsmasq) with
// ETCDTS_DNSNS=1 and the outer test reports the inner run's result. dnsmasq runs in the
// foreground as the test's child and is stopped by its PID.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { memberStatus, spawnEtcdProcess, type RawEtcdProcess } from '../../harness/cluster.js';
import { makeLeafCert, makeTestCerts } from '../../harness/certs.js';
import { ETCD_BIN, OUR_ETCD_BIN } from '../../harness/etcd.js';
import { getFreePorts } from '../../harness/ports.js';
import { OURS, REAL, runCli } from '../../harness/run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const THIS_FILE = fileURLToPath(import.meta.url);
const DNSMASQ = '/usr/sbin/dnsmasq';

const SERVERS = [
  { name: 'etcd 3.4.23', binary: ETCD_BIN },
  { name: 'ours (bin/etcd)', binary: OUR_ETCD_BIN },
];
const CLIS = [
  { name: 'etcdctl 3.4.23', binary: REAL },
  { name: 'ours (bin/etcdctl)', binary: OURS },
];

if (process.env['ETCDTS_DNSNS'] !== '1') {
  test('DNS SRV discovery (run inside a private mount+network namespace with dnsmasq)', { timeout: 900_000 }, (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root (unshare -m -n, a bind mount over /etc/resolv.conf, dnsmasq on port 53)');
      return;
    }
    for (const tool of ['unshare', 'ip', 'mount', DNSMASQ]) {
      const w = spawnSync('sh', ['-c', `command -v ${tool}`]);
      assert.equal(w.status, 0, `${tool} is missing: install it (.ci/run installs iproute2 and dnsmasq)`);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdts-dns-'));
    const resolv = path.join(dir, 'resolv.conf');
    fs.writeFileSync(resolv, 'nameserver 127.0.0.1\n');
    try {
      const r = spawnSync('unshare', ['-m', '-n', 'sh', '-c', 'ip link set lo up && mount --bind "$2" /etc/resolv.conf && exec "$0" --test --test-reporter=tap "$1"', process.execPath, THIS_FILE, resolv], {
        // (without NODE_TEST_CONTEXT, set by the outer runner, the inner `node --test` runs its file)
        env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), ETCDTS_DNSNS: '1', NODE_TEST_REPORTER: 'tap' },
        encoding: 'utf8',
        timeout: 880_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      const out = `${r.stdout}${r.stderr}`;
      for (const line of out.split('\n')) if (/^\s*(?:not )?ok \d+ - /.test(line)) t.diagnostic(line.trim());
      assert.equal(r.status, 0, `the DNS SRV tests failed inside the namespace:\n${out.slice(-20000)}`);
      assert.match(out, /^# pass [1-9]/m, out.slice(-3000));
      assert.match(out, /^# fail 0$/m, out.slice(-3000));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
} else {
  let dnsmasq: ChildProcess | undefined;
  const stopDns = async (): Promise<void> => {
    const p = dnsmasq;
    dnsmasq = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    process.kill(p.pid!, 'SIGTERM');
    await gone;
  };
  /**
   * (Re)starts dnsmasq with `records` (dnsmasq options such as `--srv-host=...`); names
   * under .test that it does not know are NXDOMAIN (`--local=/test/`), others REFUSED.
   */
  const startDns = async (records: string[]): Promise<void> => {
    await stopDns();
    const p = spawn(DNSMASQ, ['--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces', '--listen-address=127.0.0.1', '--port=53', '--pid-file=', '--user=root', '--local=/test/', ...records], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    dnsmasq = p;
    // ready once it answers
    for (let i = 0; i < 100; i++) {
      if (p.exitCode !== null) throw new Error(`dnsmasq exited: ${err}`);
      const r = spawnSync(process.execPath, ['-e', 'require("dns").promises.resolve4("probe.example.test").then(()=>process.exit(0),(e)=>process.exit(e.code==="ENOTFOUND"||e.code==="ENODATA"?0:1))'], { timeout: 5000 });
      if (r.status === 0) return;
      await sleep(100);
    }
    throw new Error(`dnsmasq did not answer: ${err}`);
  };
  after(async () => {
    await stopDns();
  });

  const hostRecords = ['--host-record=m1.example.test,127.0.0.1', '--host-record=m2.example.test,127.0.0.1', '--host-record=m3.example.test,127.0.0.1'];

  /** zap JSON lines of a log. */
  const zapLines = (log: string): Array<Record<string, unknown>> =>
    log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const withoutTs = (e: Record<string, unknown>) => {
    const { ts: _ts, caller: _caller, stacktrace: _st, ...rest } = e;
    return rest;
  };

  /** Runs `binary args` until it exits (bounded); returns its exit status and log. */
  const runToExit = async (binary: string, args: string[]): Promise<{ status: number | null; log: string }> => {
    const r = spawnSync(binary, args, { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, log: r.stderr };
  };

  describe('server --discovery-srv failures', { timeout: 300_000 }, () => {
    const cases: Array<{ name: string; records: (p: number) => string[]; args: (p: number, c: number) => string[] }> = [
      {
        name: 'only _etcd-server._tcp (http) records: 3.4.23 does not use them',
        records: (p) => [...hostRecords, `--srv-host=_etcd-server._tcp.example.test,m1.example.test,${p}`],
        args: (p) => ['--name=m1', `--initial-advertise-peer-urls=http://m1.example.test:${p}`, `--listen-peer-urls=http://127.0.0.1:${p}`],
      },
      {
        name: 'scheme mismatch of the local member',
        records: (p) => [...hostRecords, `--srv-host=_etcd-server-ssl._tcp.example.test,m1.example.test,${p}`],
        args: (p) => ['--name=m1', `--initial-advertise-peer-urls=http://127.0.0.1:${p}`, `--listen-peer-urls=http://127.0.0.1:${p}`],
      },
      {
        name: 'local member not in the records',
        records: (p) => [...hostRecords, `--srv-host=_etcd-server-ssl._tcp.example.test,m2.example.test,${p + 1}`],
        args: (p) => ['--name=m1', `--initial-advertise-peer-urls=http://127.0.0.1:${p}`, `--listen-peer-urls=http://127.0.0.1:${p}`],
      },
      {
        name: '--discovery-srv-name with no such records (NXDOMAIN)',
        records: () => [...hostRecords],
        args: (p) => ['--name=m1', '--discovery-srv-name=foo', `--initial-advertise-peer-urls=http://127.0.0.1:${p}`, `--listen-peer-urls=http://127.0.0.1:${p}`],
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const [p, cp] = await getFreePorts(2);
        await startDns(c.records(p!));
        const results: Array<{ status: number | null; lines: Array<Record<string, unknown>> }> = [];
        for (const s of SERVERS) {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdts-srv-'));
          try {
            const r = await runToExit(s.binary, ['--logger=zap', `--data-dir=${dir}`, '--discovery-srv=example.test', ...c.args(p!, cp!), `--listen-client-urls=http://127.0.0.1:${cp}`, `--advertise-client-urls=http://127.0.0.1:${cp}`]);
            const wanted = new Set(['get cluster for etcd-server-ssl SRV', 'get cluster for etcd-server SRV', 'failed to resolve during SRV discovery', 'got bootstrap from DNS for etcd-server', 'failed to start etcd', 'discovery failed']);
            results.push({ status: r.status, lines: zapLines(r.log).filter((e) => wanted.has(e['msg'] as string)).map(withoutTs) });
          } finally {
            fs.rmSync(dir, { recursive: true, force: true });
          }
        }
        assert.equal(results[0]!.status, 1, JSON.stringify(results[0]));
        assert.ok(results[0]!.lines.some((e) => e['msg'] === 'discovery failed'), JSON.stringify(results[0]));
        assert.equal(results[1]!.status, results[0]!.status);
        assert.deepEqual(results[1]!.lines, results[0]!.lines);
      });
    }
  });

  test('capnslog (the default logger): the same error lines', { timeout: 120_000 }, async () => {
    const [p, cp] = await getFreePorts(2);
    await startDns([...hostRecords, `--srv-host=_etcd-server-ssl._tcp.example.test,m1.example.test,${p}`]);
    const out = [];
    for (const s of SERVERS) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdts-srv-'));
      try {
        const r = await runToExit(s.binary, ['--name=m1', `--data-dir=${dir}`, '--discovery-srv=example.test', `--initial-advertise-peer-urls=http://127.0.0.1:${p}`, `--listen-peer-urls=http://127.0.0.1:${p}`, `--listen-client-urls=http://127.0.0.1:${cp}`, `--advertise-client-urls=http://127.0.0.1:${cp}`]);
        out.push({ status: r.status, lines: r.log.split('\n').filter((l) => / [NECW] \| (embed|etcdmain): /.test(l) && !/default host|Deprecated/.test(l)).map((l) => l.replace(/^\S+ \S+ /, '')) });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    assert.equal(out[0]!.status, 1);
    assert.ok(out[0]!.lines.length >= 2, JSON.stringify(out[0]));
    assert.deepEqual(out[1], out[0]);
  });

  for (const s of SERVERS) {
    describe(`3-member cluster from _etcd-server-ssl SRV records: ${s.name}`, { timeout: 300_000 }, () => {
      const procs: RawEtcdProcess[] = [];
      const dirs: string[] = [];
      after(async () => {
        for (const p of procs) await p.kill();
        for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
      });
      test('bootstraps over TLS peers, one leader, a put on m1 is read on m3', async () => {
        const certs = await makeTestCerts();
        const leaf = await makeLeafCert(certs, 'srv-peer', { cn: 'etcd-srv-peer', dns: ['m1.example.test', 'm2.example.test', 'm3.example.test', 'example.test'], ips: ['127.0.0.1'] });
        const ports = await getFreePorts(6);
        const peer = ports.slice(0, 3);
        const client = ports.slice(3);
        await startDns([
          ...hostRecords,
          ...[1, 2, 3].map((i) => `--srv-host=_etcd-server-ssl._tcp.example.test,m${i}.example.test,${peer[i - 1]},${i}`),
        ]);
        for (const i of [1, 2, 3]) {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdts-srv-'));
          dirs.push(dir);
          // m1 advertises its IP: etcd matches it with its record by resolving both (GetCluster, VerifyBootstrap)
          const ap = i === 1 ? `https://127.0.0.1:${peer[0]}` : `https://m${i}.example.test:${peer[i - 1]}`;
          procs.push(spawnEtcdProcess(s.binary, [
            '--logger=zap', `--name=m${i}`, `--data-dir=${dir}`, '--discovery-srv=example.test',
            `--initial-advertise-peer-urls=${ap}`, `--listen-peer-urls=https://127.0.0.1:${peer[i - 1]}`,
            `--peer-cert-file=${leaf.cert}`, `--peer-key-file=${leaf.key}`, `--peer-trusted-ca-file=${certs.caCert}`, '--peer-client-cert-auth',
            `--listen-client-urls=http://127.0.0.1:${client[i - 1]}`, `--advertise-client-urls=http://127.0.0.1:${client[i - 1]}`,
          ]));
        }
        const eps = client.map((c) => `http://127.0.0.1:${c}`);
        const deadline = Date.now() + 120_000;
        for (;;) {
          for (const p of procs) assert.ok(!p.exited(), `a member exited:\n${p.log()}`);
          const st = await Promise.all(eps.map((e) => memberStatus(e)));
          if (st.every((x) => x !== undefined) && new Set(st.map((x) => x!.leaderHex)).size === 1) break;
          assert.ok(Date.now() < deadline, `no common leader in time:\n${procs.map((p) => p.log().slice(-4000)).join('\n----\n')}`);
          await sleep(300);
        }
        // each member logs the three members it found; m1 finds itself under its name
        const boot = zapLines(procs[0]!.log()).filter((e) => e['msg'] === 'got bootstrap from DNS for etcd-server').map((e) => e['node']);
        assert.deepEqual(boot, [`m1=https://m1.example.test:${peer[0]}`, `0=https://m2.example.test:${peer[1]}`, `1=https://m3.example.test:${peer[2]}`]);
        const ssl = zapLines(procs[1]!.log()).find((e) => e['msg'] === 'get cluster for etcd-server-ssl SRV');
        assert.deepEqual(ssl && withoutTs(ssl), {
          level: 'info', msg: 'get cluster for etcd-server-ssl SRV', 'service-scheme': 'https', 'service-name': 'etcd-server-ssl', 'server-name': 'm2',
          'discovery-srv': 'example.test', 'advertise-peer-urls': [`https://m2.example.test:${peer[1]}`],
          'found-cluster': [`0=https://m1.example.test:${peer[0]}`, `m2=https://m2.example.test:${peer[1]}`, `1=https://m3.example.test:${peer[2]}`],
        });
        const ml = await runCli(REAL, [`--endpoints=${eps[0]}`, 'member', 'list', '-w', 'json'], { timeoutMs: 30_000 });
        assert.equal(ml.code, 0, ml.stderr);
        const members = (JSON.parse(ml.stdout.toString()) as { members: Array<{ name: string; peerURLs: string[] }> }).members;
        assert.deepEqual(members.map((m) => [m.name, m.peerURLs]).sort(), [1, 2, 3].map((i) => [`m${i}`, [`https://m${i}.example.test:${peer[i - 1]}`]]));
        const put = await runCli(REAL, [`--endpoints=${eps[0]}`, 'put', 'srv-key', 'v1'], { timeoutMs: 30_000 });
        assert.equal(put.code, 0, put.stderr);
        const get = await runCli(REAL, [`--endpoints=${eps[2]}`, 'get', 'srv-key'], { timeoutMs: 30_000 });
        assert.equal(get.stdout.toString(), 'srv-key\nv1\n', get.stderr);
      });
    });
  }

  for (const s of SERVERS) {
    describe(`SRV https members without --peer-trusted-ca-file: the peer TLS server name is the domain: ${s.name}`, { timeout: 300_000 }, () => {
      const procs: RawEtcdProcess[] = [];
      const dirs: string[] = [];
      after(async () => {
        for (const p of procs) await p.kill();
        for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
      });
      test('peers verify certificates naming only example.test (system roots: the test CA)', async () => {
        const certs = await makeTestCerts();
        // no SAN for m1..m3: verification passes only with the server name example.test
        const leaf = await makeLeafCert(certs, 'srv-domain-peer', { cn: 'etcd-srv-domain-peer', dns: ['example.test'] });
        const ports = await getFreePorts(6);
        const peer = ports.slice(0, 3);
        const client = ports.slice(3);
        await startDns([...hostRecords, ...[1, 2, 3].map((i) => `--srv-host=_etcd-server-ssl._tcp.example.test,m${i}.example.test,${peer[i - 1]},${i}`)]);
        // the test CA as the system roots: Go reads SSL_CERT_FILE, Node NODE_EXTRA_CA_CERTS
        const saved = { a: process.env['SSL_CERT_FILE'], b: process.env['NODE_EXTRA_CA_CERTS'] };
        process.env['SSL_CERT_FILE'] = certs.caCert;
        process.env['NODE_EXTRA_CA_CERTS'] = certs.caCert;
        try {
          for (const i of [1, 2, 3]) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdts-srv-'));
            dirs.push(dir);
            procs.push(spawnEtcdProcess(s.binary, [
              '--logger=zap', `--name=m${i}`, `--data-dir=${dir}`, '--discovery-srv=example.test',
              `--initial-advertise-peer-urls=https://m${i}.example.test:${peer[i - 1]}`, `--listen-peer-urls=https://127.0.0.1:${peer[i - 1]}`,
              `--peer-cert-file=${leaf.cert}`, `--peer-key-file=${leaf.key}`,
              `--listen-client-urls=http://127.0.0.1:${client[i - 1]}`, `--advertise-client-urls=http://127.0.0.1:${client[i - 1]}`,
            ]));
          }
        } finally {
          for (const [k, v] of [['SSL_CERT_FILE', saved.a], ['NODE_EXTRA_CA_CERTS', saved.b]] as const) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
          }
        }
        const eps = client.map((c) => `http://127.0.0.1:${c}`);
        const deadline = Date.now() + 120_000;
        for (;;) {
          for (const p of procs) assert.ok(!p.exited(), `a member exited:\n${p.log()}`);
          const st = await Promise.all(eps.map((e) => memberStatus(e)));
          if (st.every((x) => x !== undefined) && new Set(st.map((x) => x!.leaderHex)).size === 1) break;
          assert.ok(Date.now() < deadline, `no common leader in time:\n${procs.map((p) => p.log().slice(-4000)).join('\n----\n')}`);
          await sleep(300);
        }
        const put = await runCli(REAL, [`--endpoints=${eps[0]}`, 'put', 'srv-key', 'v2'], { timeoutMs: 30_000 });
        assert.equal(put.code, 0, put.stderr);
        const get = await runCli(REAL, [`--endpoints=${eps[2]}`, 'get', 'srv-key'], { timeoutMs: 30_000 });
        assert.equal(get.stdout.toString(), 'srv-key\nv2\n', get.stderr);
      });
    });
  }

  describe('etcdctl --discovery-srv', { timeout: 300_000 }, () => {
    let server: RawEtcdProcess | undefined;
    let cport = 0;
    let tport = 0;
    let caCert = '';
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdts-srvctl-'));
    after(async () => {
      await server?.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const startServer = async (): Promise<void> => {
      if (server) return;
      const [c, p, t] = await getFreePorts(3);
      cport = c!;
      tport = t!;
      const certs = await makeTestCerts();
      caCert = certs.caCert;
      // the https listener's certificate names the domain: etcdctl's TLS server name is the --discovery-srv domain
      const leaf = await makeLeafCert(certs, 'srv-client', { cn: 'etcd-srv-client', dns: ['example.test'], ips: ['127.0.0.1'] });
      server = spawnEtcdProcess(ETCD_BIN, ['--logger=zap', `--data-dir=${dir}`, `--listen-client-urls=http://127.0.0.1:${c},https://127.0.0.1:${t}`, `--advertise-client-urls=http://127.0.0.1:${c}`, `--cert-file=${leaf.cert}`, `--key-file=${leaf.key}`, `--listen-peer-urls=http://127.0.0.1:${p}`, `--initial-advertise-peer-urls=http://127.0.0.1:${p}`, `--initial-cluster=default=http://127.0.0.1:${p}`]);
      const deadline = Date.now() + 60_000;
      while (!(await memberStatus(`http://127.0.0.1:${c}`))) {
        assert.ok(!server.exited() && Date.now() < deadline, server.log());
        await sleep(200);
      }
      const r = await runCli(REAL, [`--endpoints=127.0.0.1:${c}`, 'put', 'k', 'v'], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
    };
    const cases: Array<{ name: string; records: () => string[]; args: () => string[]; want?: string; env?: Record<string, string> }> = [
      { name: 'endpoints from _etcd-client._tcp', records: () => [...hostRecords, `--srv-host=_etcd-client._tcp.example.test,m1.example.test,${cport}`], args: () => ['--discovery-srv=example.test', 'get', 'k'], want: 'k\nv\n' },
      { name: 'ETCDCTL_DISCOVERY_SRV and ETCDCTL_DISCOVERY_SRV_NAME', records: () => [...hostRecords, `--srv-host=_etcd-client-bar._tcp.example.test,m1.example.test,${cport}`], args: () => ['get', 'k'], want: 'k\nv\n', env: { ETCDCTL_DISCOVERY_SRV: 'example.test', ETCDCTL_DISCOVERY_SRV_NAME: 'bar' } },
      { name: '--discovery-srv-name', records: () => [...hostRecords, `--srv-host=_etcd-client-foo._tcp.example.test,m1.example.test,${cport}`], args: () => ['-d', 'example.test', '--discovery-srv-name=foo', 'get', 'k'], want: 'k\nv\n' },
      { name: 'https endpoints from _etcd-client-ssl._tcp, TLS server name = the domain', records: () => [...hostRecords, `--srv-host=_etcd-client-ssl._tcp.example.test,m1.example.test,${tport}`], args: () => ['--discovery-srv=example.test', '--insecure-discovery=false', `--cacert=${caCert}`, 'get', 'k'], want: 'k\nv\n' },
      { name: '--insecure-discovery=false ignores http endpoints; --endpoints is used (over TLS)', records: () => [...hostRecords, `--srv-host=_etcd-client._tcp.example.test,m1.example.test,${cport},1`, `--srv-host=_etcd-client._tcp.example.test,m2.example.test,${cport},0`], args: () => ['--discovery-srv=example.test', '--insecure-discovery=false', `--endpoints=127.0.0.1:${cport}`, 'get', 'k'] },
      { name: 'NXDOMAIN for both services', records: () => [...hostRecords], args: () => ['--discovery-srv=nothere.test', 'get', 'k'] },
      { name: 'REFUSED (server misbehaving)', records: () => [...hostRecords], args: () => ['--discovery-srv=example.org', '--discovery-srv-name=x', 'get', 'k'] },
      { name: 'no SRV data for the name (no such host)', records: () => [...hostRecords, '--txt-record=_etcd-client-ssl._tcp.example.test,x', '--txt-record=_etcd-client._tcp.example.test,x'], args: () => ['--discovery-srv=example.test', 'put', 'a', 'b'] },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        await startServer();
        await startDns(c.records());
        const res = [];
        for (const cli of CLIS) {
          const r = await runCli(cli.binary, ['--dial-timeout=2s', '--command-timeout=3s', ...c.args()], { timeoutMs: 30_000, ...(c.env ? { env: c.env } : {}) });
          // (ours adds `Reason: ...` lines after a connection failure: a documented difference)
          const stderr = r.stderr.split('\n').filter((l) => !l.startsWith('Reason: ')).map((l) => (l.startsWith('{') ? (JSON.parse(l) as { msg: string }).msg : l)).join('\n');
          res.push({ code: r.code, stdout: r.stdout.toString(), stderr });
        }
        assert.deepEqual(res[1], res[0], `${CLIS[0]!.name} vs ${CLIS[1]!.name}`);
        if (c.want !== undefined) assert.equal(res[0]!.stdout, c.want, JSON.stringify(res[0]));
      });
    }
  });
}
