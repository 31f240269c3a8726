// `etcd gateway start`: etcd 3.4's L4 TCP proxy. The command line (help, flag errors,
// start checks) is compared byte for byte with the real etcd 3.4.23 binary; the proxy
// itself is used by the real etcdctl and by curl-like HTTP requests, in front of a
// dead endpoint and our server (the dead one is deactivated and logged as etcd does).

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ETCD_BIN, startOurEtcd, stopAll, type EtcdProcess } from '../../harness/etcd.js';
import { getFreePorts } from '../../harness/ports.js';
import { describeProc, procStderr, startProc, stopProc, waitFor, type Proc } from '../../harness/proc.js';
import { REAL, REPO_ROOT, runCli } from '../../harness/run.js';

const OUR_ETCD = path.join(REPO_ROOT, 'bin', 'etcd');

describe('etcd gateway: command line as etcd 3.4.23', () => {
  for (const args of [
    ['gateway'],
    ['gateway', 'bogus'],
    ['gateway', '--help'],
    ['gateway', 'start', '--help'],
    ['gateway', 'start', '-h', '--bogus'],
    ['gateway', 'start', '--bogus'],
    ['gateway', 'start', '--retry-delay=x'],
    ['gateway', 'start', '--listen-addr'],
    ['gateway', 'start', '--listen-addr', 'bad'],
    ['gateway', 'start', '--endpoints=nope', '--listen-addr=127.0.0.1:1'],
    ['gateway', 'start', '--listen-addr', '127.0.0.1:23799', '--endpoints', 'http://127.0.0.1:23799'],
    ['gateway', '--endpoints=127.0.0.1:2,127.0.0.1:23799', 'start', '--listen-addr', '127.0.0.1:23799'],
  ]) {
    it(args.join(' '), async () => {
      const real = await runCli(ETCD_BIN, args, { timeoutMs: 10_000 });
      const ours = await runCli(OUR_ETCD, args, { timeoutMs: 10_000 });
      assert.equal(real.timedOut, false);
      assert.deepEqual(
        { code: ours.code, stdout: ours.stdout.toString(), stderr: ours.stderr },
        { code: real.code, stdout: real.stdout.toString(), stderr: real.stderr },
      );
    });
  }
});

describe('etcd gateway start: proxies client connections', () => {
  let server: EtcdProcess;
  let gw: Proc | undefined;
  let listen: string;
  before(async () => {
    server = await startOurEtcd();
    const [port, dead] = await getFreePorts(2);
    listen = `127.0.0.1:${port}`;
    // the dead endpoint first: the first connection deactivates it
    gw = startProc(OUR_ETCD, ['gateway', `--endpoints=127.0.0.1:${dead},${server.clientURL}`, 'start', `--listen-addr=${listen}`, '--retry-delay=1h']);
    await waitFor(`gateway ready\n${describeProc('gateway', gw)}`, () => procStderr(gw!).includes('ready to proxy client requests'));
  });
  after(async () => {
    if (gw) await stopProc(gw, 'SIGKILL');
    await stopAll(server);
  });

  it('etcdctl put/get and the JSON gateway through it; the dead endpoint is deactivated', async () => {
    const ready = JSON.parse(procStderr(gw!).split('\n')[0]!) as Record<string, unknown>;
    assert.equal(ready.level, 'info');
    assert.equal(ready.caller, 'tcpproxy/userspace.go:90');
    assert.deepEqual(ready.endpoints, [(ready.endpoints as string[])[0], server.endpoint]);
    const put = await runCli(REAL, [`--endpoints=${listen}`, 'put', 'foo', 'bar'], { env: { ETCDCTL_API: '3' } });
    assert.equal(put.stdout.toString(), 'OK\n', put.stderr);
    const get = await runCli(REAL, [`--endpoints=${listen}`, 'get', 'foo'], { env: { ETCDCTL_API: '3' } });
    assert.equal(get.stdout.toString(), 'foo\nbar\n');
    const r = await fetch(`http://${listen}/v3/kv/range`, { method: 'POST', body: '{"key":"Zm9v"}' });
    assert.match(await r.text(), /"kvs":\[\{"key":"Zm9v",.*"value":"YmFy"\}\]/);
    const warn = procStderr(gw!).split('\n').find((l) => l.includes('deactivated endpoint'));
    assert.ok(warn, procStderr(gw!));
    const w = JSON.parse(warn) as Record<string, unknown>;
    assert.equal(w.level, 'warn');
    assert.equal(w.interval, 3600);
    assert.match(String(w.error), /^dial tcp 127\.0\.0\.1:\d+: connect: connection refused$/);
  });
});
