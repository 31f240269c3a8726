// `--discovery URL` (etcd 3.4's v2 discovery protocol, etcdserver/api/v2discovery), against
// real etcd 3.4.23 and ours with the same assertions. The discovery service is a real
// etcd 3.4.23 started by the test with --enable-v2; each case gets its own token
// (`/v2/keys/_etcd/registry/<token>`, `_config/size` written with curl's request).
//
// Checked: a 3-member cluster bootstraps (member list with etcd's member IDs for the
// discovery URL as token, one leader, a put on m1 read on m3) and a restarted member with
// a WAL ignores the token with etcd's warning; --discovery-proxy sends the requests
// through an HTTP proxy; the failures (size key missing / bad, cluster full with
// --discovery-fallback=exit, duplicate ID, duplicate name) log the same lines and exit 1;
// a full cluster with the default fallback (proxy) logs etcd's "falling back to proxy",
// after which real etcd runs its v2 proxy and ours, which has none, exits 1 with a clear
// error.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { computeMemberId, memberStatus, spawnEtcdProcess, type RawEtcdProcess } from '../../harness/cluster.js';
import { ETCD_BIN, OUR_ETCD_BIN } from '../../harness/etcd.js';
import { getFreePorts } from '../../harness/ports.js';
import { REAL, runCli } from '../../harness/run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SERVERS = [
  { name: 'etcd 3.4.23', kind: 'real', binary: ETCD_BIN },
  { name: 'ours (bin/etcd)', kind: 'ours', binary: OUR_ETCD_BIN },
];

let service: RawEtcdProcess | undefined;
let serviceUrl = '';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdts-v2disc-'));
let tokenSeq = 0;

/** A v2 keys request to the discovery service; resolves with status and body. */
function v2(method: string, key: string, form?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${serviceUrl}/v2/keys${key}`, { method, headers: form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {} }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(form);
  });
}

/** A fresh token; with `size` its `_config/size` is set (a string: written as is). */
async function newToken(size?: number | string): Promise<string> {
  const t = `tok-${process.pid}-${++tokenSeq}`;
  if (size !== undefined) {
    const r = await v2('PUT', `/_etcd/registry/${t}/_config/size`, `value=${size}`);
    assert.ok(r.status === 201 || r.status === 200, r.body);
  }
  return `${serviceUrl}/v2/keys/_etcd/registry/${t}`;
}

const zapLines = (log: string): Array<Record<string, unknown>> =>
  log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
/** A zap line without time, caller and stack; v2 indexes (`[12]`) and member IDs as placeholders. */
const norm = (e: Record<string, unknown>): Record<string, unknown> => {
  const { ts: _ts, caller: _c, stacktrace: _s, ...rest } = e;
  return JSON.parse(JSON.stringify(rest).replace(/ \[\d+\]\)/g, ' [N])')) as Record<string, unknown>;
};
const DISCOVERY_MSGS = new Set([
  'running proxy with discovery', 'found self from discovery server', 'found peer from discovery server', 'found peers from discovery server; waiting for more',
  'found all needed peers from discovery server', 'failed to start etcd', 'failed to bootstrap; discovery token was already used', 'do not reuse discovery token; generate a new one to bootstrap a cluster',
  'member has been registered with discovery service', 'but could not find valid cluster configuration', 'check data dir if previous bootstrap succeeded',
  'or use a new discovery token if previous bootstrap failed', 'member with duplicated name has already been registered', 'cURL the discovery token URL for details',
  'discovery cluster is full, falling back to proxy', 'discovery token is ignored since cluster already initialized; valid logs are found', 'discovery failed',
]);

/** Member arguments: name, data dir, loopback client/peer URLs on the given ports. */
function memberArgs(name: string, dir: string, client: number, peer: number): string[] {
  return ['--logger=zap', `--name=${name}`, `--data-dir=${dir}`, `--listen-client-urls=http://127.0.0.1:${client}`, `--advertise-client-urls=http://127.0.0.1:${client}`, `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`];
}

before(async () => {
  const [c, p] = await getFreePorts(2);
  serviceUrl = `http://127.0.0.1:${c}`;
  service = spawnEtcdProcess(ETCD_BIN, ['--enable-v2', `--data-dir=${path.join(tmp, 'service')}`, ...memberArgs('service', path.join(tmp, 'service'), c!, p!).slice(3), `--initial-cluster=default=http://127.0.0.1:${p}`]);
  const deadline = Date.now() + 60_000;
  while (!(await memberStatus(serviceUrl))) {
    assert.ok(!service.exited() && Date.now() < deadline, `the discovery service did not start:\n${service.log()}`);
    await sleep(200);
  }
});
after(async () => {
  await service?.kill();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs a member until it exits (bounded); its exit status and normalized discovery lines. */
async function runToExit(binary: string, args: string[]): Promise<{ status: number | null; lines: Array<Record<string, unknown>>; log: string }> {
  const r = spawnSync(binary, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, log: r.stderr, lines: zapLines(r.stderr).filter((e) => DISCOVERY_MSGS.has(e['msg'] as string)).map(norm) };
}

for (const s of SERVERS) {
  describe(`3-member cluster through --discovery: ${s.name}`, { timeout: 300_000 }, () => {
    const procs: RawEtcdProcess[] = [];
    after(async () => {
      for (const p of procs) await p.kill();
    });
    test('bootstraps; member IDs from the discovery URL; one leader; put on m1, get on m3; restart ignores the token', async () => {
      const durl = await newToken(3);
      const ports = await getFreePorts(6);
      const args = [1, 2, 3].map((i) => [...memberArgs(`m${i}`, path.join(tmp, `${s.kind}-m${i}`), ports[i - 1]!, ports[i + 2]!), `--discovery=${durl}`]);
      // start the next member only once the previous one has registered, so the order in
      // which the members find each other is fixed (a loaded machine could swap them)
      const token = new URL(durl).pathname.replace(/^\/v2\/keys/, '');
      for (const [i, a] of args.entries()) {
        const p = spawnEtcdProcess(s.binary, a);
        procs.push(p);
        const deadline = Date.now() + 60_000;
        for (;;) {
          const r = await v2('GET', `${token}?recursive=false`);
          const nodes = r.status === 200 ? ((JSON.parse(r.body) as { node?: { nodes?: Array<{ key: string }> } }).node?.nodes ?? []) : [];
          if (nodes.filter((n) => !n.key.endsWith('/_config')).length >= i + 1) break;
          assert.ok(!p.exited() && Date.now() < deadline, `member ${i + 1} did not register:\n${p.log()}`);
          await sleep(100);
        }
      }
      const eps = [0, 1, 2].map((i) => `http://127.0.0.1:${ports[i]}`);
      const waitLeader = async (): Promise<void> => {
        const deadline = Date.now() + 120_000;
        for (;;) {
          for (const p of procs) assert.ok(!p.exited(), `a member exited:\n${p.log()}`);
          const st = await Promise.all(eps.map((e) => memberStatus(e)));
          if (st.every((x) => x !== undefined) && new Set(st.map((x) => x!.leaderHex)).size === 1) return;
          assert.ok(Date.now() < deadline, `no common leader in time:\n${procs.map((p) => p.log().slice(-3000)).join('\n----\n')}`);
          await sleep(300);
        }
      };
      await waitLeader();
      const ml = await runCli(REAL, [`--endpoints=${eps[0]}`, 'member', 'list', '-w', 'json'], { timeoutMs: 30_000 });
      assert.equal(ml.code, 0, ml.stderr);
      const members = (JSON.parse(ml.stdout.toString()) as { members: Array<{ ID: number | string; name: string; peerURLs: string[] }> }).members;
      // (-w json prints IDs as JSON numbers: compare them as text of the exact value)
      const idsText = [...ml.stdout.toString().matchAll(/"ID":(\d+)/g)].map((m) => BigInt(m[1]!)).sort();
      assert.deepEqual(members.map((m) => [m.name, m.peerURLs]).sort(), [1, 2, 3].map((i) => [`m${i}`, [`http://127.0.0.1:${ports[i + 2]}`]]));
      assert.deepEqual(idsText, [1, 2, 3].map((i) => computeMemberId([`http://127.0.0.1:${ports[i + 2]}`], durl)).sort());
      const put = await runCli(REAL, [`--endpoints=${eps[0]}`, 'put', 'disc-key', 'v1'], { timeoutMs: 30_000 });
      assert.equal(put.code, 0, put.stderr);
      const get = await runCli(REAL, [`--endpoints=${eps[2]}`, 'get', 'disc-key'], { timeoutMs: 30_000 });
      assert.equal(get.stdout.toString(), 'disc-key\nv1\n', get.stderr);
      // the last member found the other two registered before it, then itself
      const last = zapLines(procs[2]!.log()).filter((e) => DISCOVERY_MSGS.has(e['msg'] as string)).map(norm);
      // (etcd lists the registrations in creation order: m1, then m2)
      const host = serviceUrl;
      assert.deepEqual(last, [
        ...[3, 4]
          .map((j) => computeMemberId([`http://127.0.0.1:${ports[j]}`], durl).toString(16))
          .map((peer) => ({ level: 'info', msg: 'found peer from discovery server', 'discovery-url': host, peer })),
        { level: 'info', msg: 'found self from discovery server', 'discovery-url': host, self: computeMemberId([`http://127.0.0.1:${ports[5]}`], durl).toString(16) },
        { level: 'info', msg: 'found all needed peers from discovery server', 'discovery-url': host, 'found-peers': 3 },
      ]);
      const first = zapLines(procs[0]!.log()).filter((e) => DISCOVERY_MSGS.has(e['msg'] as string)).map(norm);
      assert.deepEqual(first[0], { level: 'info', msg: 'found self from discovery server', 'discovery-url': host, self: computeMemberId([`http://127.0.0.1:${ports[3]}`], durl).toString(16) });
      assert.deepEqual(first.at(-1), { level: 'info', msg: 'found all needed peers from discovery server', 'discovery-url': host, 'found-peers': 3 });
      // restart m1 on its WAL: the token is ignored
      await procs[0]!.kill();
      procs[0] = spawnEtcdProcess(s.binary, args[0]!);
      await waitLeader();
      const warn = zapLines(procs[0]!.log()).filter((e) => DISCOVERY_MSGS.has(e['msg'] as string)).map(norm);
      assert.deepEqual(warn, [{ level: 'warn', msg: 'discovery token is ignored since cluster already initialized; valid logs are found', 'wal-dir': path.join(tmp, `${s.kind}-m1`, 'member', 'wal') }]);
    });
  });
}

describe('--discovery-proxy', { timeout: 120_000 }, () => {
  for (const s of SERVERS) {
    test(`requests go through the proxy: ${s.name}`, async () => {
      const seen: string[] = [];
      const proxy = http.createServer((req, res) => {
        seen.push(`${req.method} ${req.url}`);
        const up = http.request(req.url!, { method: req.method, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        req.pipe(up);
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      const pport = (proxy.address() as { port: number }).port;
      const procs: RawEtcdProcess[] = [];
      try {
        const durl = await newToken(1);
        const [c, p] = await getFreePorts(2);
        const proc = spawnEtcdProcess(s.binary, [...memberArgs('a', path.join(tmp, `${s.kind}-proxy`), c!, p!), `--discovery=${durl}`, `--discovery-proxy=127.0.0.1:${pport}`]);
        procs.push(proc);
        const deadline = Date.now() + 60_000;
        while (!(await memberStatus(`http://127.0.0.1:${c}`))) {
          assert.ok(!proc.exited() && Date.now() < deadline, proc.log());
          await sleep(200);
        }
        const lines = zapLines(proc.log()).filter((e) => e['msg'] === 'running proxy with discovery').map(norm);
        assert.deepEqual(lines, [{ level: 'info', msg: 'running proxy with discovery', 'proxy-url': `http://127.0.0.1:${pport}` }]);
        const token = new URL(durl).pathname;
        assert.ok(seen.includes(`GET ${serviceUrl}${token}/_config/size?quorum=false&recursive=false&sorted=false`), seen.join('\n'));
        assert.ok(seen.some((l) => l.startsWith(`PUT ${serviceUrl}${token}/`) && l.endsWith('?prevExist=false')), seen.join('\n'));
      } finally {
        for (const p of procs) await p.kill();
        proxy.closeAllConnections();
        await new Promise((r) => proxy.close(r));
      }
    });
  }
});

describe('--discovery failures (same log lines, exit 1)', { timeout: 300_000 }, () => {
  const cases: Array<{ name: string; token: (apurl: string) => Promise<string>; extra?: string[] }> = [
    { name: 'size key missing', token: () => newToken() },
    { name: 'size key not a number', token: () => newToken('abc') },
    { name: 'size key with a sign (+3)', token: () => newToken('%2B3') },
    {
      name: 'cluster full, --discovery-fallback=exit',
      token: async () => {
        const d = await newToken(1);
        await v2('PUT', `${new URL(d).pathname.replace(/^\/v2\/keys/, '')}/0123456789abcdef`, 'value=other=http://127.0.0.1:9');
        return d;
      },
      extra: ['--discovery-fallback=exit'],
    },
    {
      name: 'duplicate ID (registered before, no data dir)',
      token: async (apurl) => {
        const d = await newToken(1);
        await v2('PUT', `${new URL(d).pathname.replace(/^\/v2\/keys/, '')}/${computeMemberId([apurl], d).toString(16)}`, `value=a=${apurl}`);
        return d;
      },
    },
    {
      name: 'duplicate name',
      token: async () => {
        const d = await newToken(2);
        await v2('PUT', `${new URL(d).pathname.replace(/^\/v2\/keys/, '')}/0123456789abcdef`, 'value=a=http://127.0.0.1:9');
        return d;
      },
    },
    { name: 'not a v2 keys endpoint (bad discovery endpoint)', token: async () => serviceUrl },
    { name: '--initial-cluster-state=existing', token: () => newToken(1), extra: ['--initial-cluster-state=existing'] },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const [cp, pp] = await getFreePorts(2);
      const apurl = `http://127.0.0.1:${pp}`;
      const out = [];
      for (const s of SERVERS) {
        const durl = await c.token(apurl);
        const dir = path.join(tmp, 'fail');
        fs.rmSync(dir, { recursive: true, force: true });
        const r = await runToExit(s.binary, [...memberArgs('a', dir, cp!, pp!), `--discovery=${durl}`, ...(c.extra ?? [])]);
        const selfId = computeMemberId([apurl], durl).toString(16);
        out.push({ status: r.status, lines: JSON.parse(JSON.stringify(r.lines).split(durl).join('DURL').split(selfId).join('SELF-ID').replace(/tok-\d+-\d+/g, 'TOKEN')) as unknown });
        fs.rmSync(dir, { recursive: true, force: true });
        if (s.kind === 'real') assert.equal(r.status, 1, r.log);
      }
      assert.deepEqual(out[1], out[0]);
    });
  }

  test('capnslog (the default logger): the same etcdmain lines for a bad size key', async () => {
    const [cp, pp] = await getFreePorts(2);
    const out = [];
    for (const s of SERVERS) {
      const durl = await newToken('abc');
      const dir = path.join(tmp, 'capnslog');
      fs.rmSync(dir, { recursive: true, force: true });
      const r = spawnSync(s.binary, [...memberArgs('a', dir, cp!, pp!).slice(1), `--discovery=${durl}`], { encoding: 'utf8', timeout: 60_000 });
      out.push({ status: r.status, lines: r.stderr.split('\n').filter((l) => / [NECWI] \| (etcdmain|discovery): /.test(l) && !/default host|Deprecated|etcd Version|Git SHA|Go Version|Go OS|setting maximum/.test(l)).map((l) => l.replace(/^\S+ \S+ /, '').split(durl).join('DURL')) });
    }
    assert.equal(out[0]!.status, 1);
    assert.deepEqual(out[0]!.lines, ['E | etcdmain: failed to join discovery cluster (discovery: size key is bad)', 'I | etcdmain: discovery token DURL was used, but failed to bootstrap the cluster.', 'I | etcdmain: please generate a new discovery token and try to bootstrap again.']);
    assert.deepEqual(out[1], out[0]);
  });

  for (const what of ['unreachable', 'a URL without scheme']) {
  test(`discovery service ${what}: logged and retried after 2 s (then 4 s, ...)`, async () => {
    const [cp, pp, dead] = await getFreePorts(3);
    const out = [];
    const durl = what === 'unreachable' ? `http://127.0.0.1:${dead}/v2/keys/_etcd/registry/x` : 'foo';
    for (const s of SERVERS) {
      const dir = path.join(tmp, 'unreachable');
      fs.rmSync(dir, { recursive: true, force: true });
      const p = spawnEtcdProcess(s.binary, [...memberArgs('a', dir, cp!, pp!), `--discovery=${durl}`]);
      try {
        const deadline = Date.now() + 60_000;
        while (!zapLines(p.log()).some((e) => e['msg'] === 'retry connecting to discovery service')) {
          assert.ok(!p.exited() && Date.now() < deadline, p.log());
          await sleep(100);
        }
      } finally {
        await p.kill();
      }
      out.push(zapLines(p.log()).filter((e) => e['msg'] === 'failed to get from discovery server' || e['msg'] === 'retry connecting to discovery service').slice(0, 2).map(norm));
    }
    assert.deepEqual(out[1], out[0]);
    assert.equal((out[0]![1] as Record<string, unknown>)['backoff'], '2s');
  });
  }

  test('cluster full, default --discovery-fallback=proxy: etcd falls back to its v2 proxy, ours has none and exits 1', async () => {
    const [cp, pp] = await getFreePorts(2);
    const fallbackLine = { level: 'warn', msg: 'discovery cluster is full, falling back to proxy', 'fallback-proxy': 'proxy', error: 'failed to join discovery cluster (discovery: cluster is full)' };
    for (const s of SERVERS) {
      const durl = await newToken(1);
      await v2('PUT', `${new URL(durl).pathname.replace(/^\/v2\/keys/, '')}/0123456789abcdef`, 'value=other=http://127.0.0.1:9');
      const dir = fs.mkdtempSync(path.join(tmp, 'full-'));
      const p = spawnEtcdProcess(s.binary, [...memberArgs('a', dir, cp!, pp!), `--discovery=${durl}`]);
      try {
        const deadline = Date.now() + 60_000;
        while (!zapLines(p.log()).some((e) => e['msg'] === fallbackLine.msg) && !p.exited()) {
          assert.ok(Date.now() < deadline, p.log());
          await sleep(100);
        }
        assert.deepEqual(zapLines(p.log()).filter((e) => e['msg'] === fallbackLine.msg).map(norm), [fallbackLine]);
        if (s.kind === 'ours') {
          while (!p.exited()) await sleep(100);
          const fatal = zapLines(p.log()).filter((e) => e['level'] === 'fatal').map(norm);
          assert.deepEqual(fatal, [{ level: 'fatal', msg: 'failed to start the v2 proxy', error: '--discovery-fallback=proxy: the v2 proxy is not supported by this etcd (use --discovery-fallback=exit, or a new discovery token)' }]);
        } else {
          // real etcd: the v2 proxy starts
          while (!zapLines(p.log()).some((e) => e['msg'] === 'v2 API proxy starting')) {
            assert.ok(!p.exited() && Date.now() < deadline, p.log());
            await sleep(100);
          }
        }
      } finally {
        await p.kill();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
